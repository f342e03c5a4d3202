"""Distillation from counts made inside an engine (issue 16): weighted patterns and
precedence counts of the training patients give the row-level distillation -- the same
edges, directions, rules, pruning and evidence (to 1e-9) -- on the demo and on a synthetic
cohort with a categorical variable, undated events and persons without events."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from kg_editor.data.cohort import build_cohort
from kg_editor.discovery.counting import count_pairs, precedence_counts
from kg_editor.discovery.distill import Distiller
from kg_editor.engines import (
    EngineSource,
    PatternCohort,
    Patterns,
    SparkEngine,
    open_engine,
    variables_of,
)
from kg_editor.engines.counts import patterns_from_words, unpack_words
from kg_editor.engines.queries import pack_layout
from kg_editor.errors import SchemaError
from tests.test_engines import synthetic_source


def _engine(kind: str, request: pytest.FixtureRequest):
    if kind == "duckdb":
        return open_engine("duckdb://")
    if kind == "spark":
        return SparkEngine(session=request.getfixturevalue("spark_session"))
    return open_engine(request.getfixturevalue("pg_engine_url"))


def _engine_cohort(src: EngineSource, rows) -> PatternCohort:
    """The row cohort's training patients as counted inside the engine: weighted patterns
    and precedence counts (no patient row comes back)."""
    vs = variables_of(rows.states, rows.codes)
    train_ids = rows.data.index[~np.asarray(rows.is_test, dtype=bool)]
    test_ids = rows.data.index[np.asarray(rows.is_test, dtype=bool)]
    return PatternCohort(
        variables=dict(rows.variables),
        train_patterns=src.patterns(vs, patients=list(train_ids)),
        test_patterns=src.patterns(vs, patients=list(test_ids)),
        target=rows.target,
        source_name=rows.source_name,
        settings=dict(rows.settings),
        precedence=src.precedence(vs, patients=list(train_ids))
        if rows.first_dates is not None
        else None,
    )


def _close(a, b, path="") -> None:
    """Recursive equality, floats to 1e-9."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        if math.isnan(a):
            assert math.isnan(float(b)), path
        else:
            assert b == pytest.approx(a, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def assert_same_distillation(a: Distiller, b: Distiller) -> None:
    ga, gb = a.graph_, b.graph_
    assert sorted(ga.edges) == sorted(gb.edges)
    assert sorted(ga.unresolved_edges) == sorted(gb.unresolved_edges)
    for u, v in ga.edges:
        ea, eb = ga.edge_attrs(u, v), gb.edge_attrs(u, v)
        assert ea["orientation"] == eb["orientation"]
        _close(ea["evidence"], eb["evidence"], f"{u}->{v}")
        assert ea["weight"] == pytest.approx(eb["weight"], rel=1e-9)
    ta, tb = a.stats_.table, b.stats_.table
    assert list(ta.columns) == list(tb.columns)
    for c in ta.columns:
        if pd.api.types.is_numeric_dtype(ta[c]):
            np.testing.assert_allclose(ta[c].to_numpy(float), tb[c].to_numpy(float), rtol=1e-9)
        else:
            assert ta[c].tolist() == tb[c].tolist()
    ra, rb = a.report_, b.report_
    for k in ("pruned", "funnel", "orientation_rules", "cycle_breaks", "capped_nodes"):
        _close(ra[k], rb[k], k)
    assert ra["patients_train"] == rb["patients_train"]


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_source(n=600, seed=11)


@pytest.mark.parametrize(
    "kind", ["duckdb", "postgres", pytest.param("spark", marks=pytest.mark.slow)]
)
def test_engine_distillation_equals_the_row_level_one_on_a_synthetic_cohort(
    kind, request, synthetic
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = build_cohort(synthetic, target="C0", min_patients=10, include_demographics=False)
    assert rows.first_dates is not None and any(len(s) > 2 for s in rows.states.values())
    src = EngineSource.from_frames(_engine(kind, request), synthetic.events, synthetic.persons)
    pc = _engine_cohort(src, rows)
    assert pc.train_patterns.k < pc.train_patterns.n  # compressed
    for method in ("pc", "hc"):
        settings = {"alpha": 0.05, "min_count": 5, "min_effect": 0.01, "method": method}
        a = Distiller(**settings).fit(rows)
        b = Distiller(**settings).fit(pc)
        assert a.graph_.edges, "the comparison needs edges"
        assert_same_distillation(a, b)
    src.engine.close()


def test_engine_distillation_equals_the_row_level_one_on_the_demo(demo_source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = build_cohort(
            demo_source, target="Gastrointestinal hemorrhage", include_demographics=False
        )
    src = EngineSource.from_frames("duckdb://", demo_source.events, demo_source.persons)
    pc = _engine_cohort(src, rows)
    a = Distiller().fit(rows)
    b = Distiller().fit(pc)
    assert len(a.graph_.edges) >= 5
    assert a.report_["orientation_rules"].get("precedence", 0) > 0  # dates are used
    assert_same_distillation(a, b)
    src.engine.close()


def test_engine_precedence_and_pair_counts_equal_the_cohort_counts(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = build_cohort(synthetic, target="C0", min_patients=10, include_demographics=False)
    src = EngineSource.from_frames("duckdb://", synthetic.events, synthetic.persons)
    vs = variables_of(rows.states, rows.codes)
    first, ties = src.precedence(vs)
    want_first, want_ties = precedence_counts(rows.first_dates[rows.codes])
    np.testing.assert_array_equal(first, want_first)
    np.testing.assert_array_equal(ties, want_ties)
    pats = src.patterns(vs)
    weighted = count_pairs(
        pd.DataFrame(pats.codes, columns=rows.codes), rows.states, weights=pats.weights
    )
    direct = count_pairs(rows.data[rows.codes], rows.states)
    np.testing.assert_array_equal(weighted.matrix, direct.matrix)
    assert weighted.n == direct.n
    src.engine.close()


def test_packed_patterns_equal_the_patterns_of_the_rows():
    """The packed words (first variable in the most significant bits) give the patterns,
    in Patterns' order, of random rows with binary and many-state variables spread over
    several words."""
    from kg_editor.engines import Var

    rng = np.random.default_rng(5)
    cards = [2] * 70 + [3, 5, 9] + [2] * 60
    vs = [Var(f"v{j}", tuple(f"s{k}" for k in range(c))) for j, c in enumerate(cards)]
    codes = np.column_stack([rng.integers(0, c, 3000) for c in cards]).astype(np.int64)
    codes[:1500, 80:] = 0  # repeated rows
    slots = pack_layout(vs)
    assert max(s.word for s in slots) == 2
    words = np.zeros((codes.shape[0], 3), np.int64)
    for j, s in enumerate(slots):
        words[:, s.word] += codes[:, j] << s.shift
    np.testing.assert_array_equal(unpack_words(list(words.T), vs), codes)
    frame = pd.DataFrame(words, columns=["w0", "w1", "w2"])
    frame["g"] = rng.choice(["a", "b"], codes.shape[0])
    frame["n"] = 1
    got = patterns_from_words(frame, vs, ("g",))
    want = Patterns.from_frame(
        pd.DataFrame(codes, columns=[v.code for v in vs]),
        {v.code: len(v.states) for v in vs},
        {"g": frame["g"].to_numpy()},
    )
    np.testing.assert_array_equal(got.codes, want.codes)
    np.testing.assert_array_equal(got.weights, want.weights)
    np.testing.assert_array_equal(got.extra["g"], want.extra["g"])


def test_stability_on_engine_patterns_is_refused_with_what_to_do(synthetic):
    src = EngineSource.from_frames("duckdb://", synthetic.events, synthetic.persons)
    pc = src.pattern_cohort(target="C0", min_patients=10, dates=True)
    assert pc.precedence is not None
    with pytest.raises(SchemaError, match="stability=0"):
        Distiller(stability=5).fit(pc)
    assert Distiller().fit(pc).graph_.nodes  # without stability it distils
    src.engine.close()


@pytest.mark.parametrize("weighted", [False, True])
def test_graph_check_marginal_tests_from_pair_counts_equal_the_row_tests(weighted):
    """The graph-versus-data check takes its marginal tests from pair counts (one pass);
    each equals the test over the rows (or weighted patterns)."""
    import networkx as nx

    from kg_editor.discovery.independence import ci_test
    from kg_editor.model.checks import ImpliedIndependencies

    rng = np.random.default_rng(2)
    n = 4000
    z = rng.integers(0, 3, n)
    cols = {
        "a": (z + rng.integers(0, 2, n)) % 3,
        "b": (rng.random(n) < 0.2 + 0.2 * z).astype(np.int64),
        "c": rng.integers(0, 2, n),
        "d": (rng.random(n) < 0.05).astype(np.int64),
        "z": z,
    }
    cards = {"a": 3, "b": 2, "c": 2, "d": 2, "z": 3}
    names = sorted(cols)
    codes = np.column_stack([cols[c] for c in names])
    weights = None
    if weighted:
        pats = Patterns.from_frame(pd.DataFrame(codes, columns=names), cards)
        codes, weights = pats.codes.astype(np.int64), pats.weights
    g = nx.DiGraph()
    g.add_nodes_from(names)
    g.add_edges_from([("z", "a"), ("z", "b")])
    chk = ImpliedIndependencies(alpha=0.05).fit(
        g, {c: codes[:, j] for j, c in enumerate(names)}, cards, weights=weights
    )
    marginal = [r for r in chk.results_ if not r.given]
    assert len(marginal) >= 6 and any(r.given for r in chk.results_)
    for r in marginal:
        want = ci_test(
            codes,
            [cards[c] for c in names],
            names.index(r.x),
            names.index(r.y),
            method="chi2",
            weights=None if weights is None else weights.astype(float),
        )
        assert (r.statistic, r.dof) == (pytest.approx(want.statistic, rel=1e-12), want.dof)
        assert r.p == pytest.approx(want.p, rel=1e-12, abs=1e-300)
