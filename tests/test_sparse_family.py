"""Sparse families (their non-empty cells only) equal dense ones: counts, CPDs, scores,
held-out log-likelihoods, the target's Markov-blanket factors and posterior, and a whole
session's report after edits.

A family whose table is much larger than the training rows (PATHFINDER's ``Fault``
after a few reversals: 63 states x 138,240 parent configurations) is counted, scored and
turned into the held-out factors from its non-empty cells (:class:`SparseCounts`); the
small random families here are forced through that path (``sparse=True``, or the
thresholds lowered to 0) and compared with the dense path to 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg_editor.errors import KGEditorError
from kg_editor.model import fit as fit_module
from kg_editor.model.fit import (
    CodeTable,
    Family,
    SparseCounts,
    family_counts,
    fit_family,
    sampled_cohort,
    sparse_family_counts,
    use_sparse,
)
from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge
from kg_editor.model.metrics import (
    bdeu_term,
    bic_term,
    blanket_index,
    blanket_logits,
    blanket_table,
    family_row_loglik,
    fixed_blanket_table,
    loglik_term,
    markov_blanket_factor,
    posterior_from_factors,
    posterior_from_logits,
    sparse_blanket,
)

TOL = 1e-9


def _close_arrays(a: np.ndarray, b: np.ndarray, tol: float = TOL) -> None:
    """Equal to ``tol`` (relative and absolute), ``-inf`` at the same places."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    fa, fb = np.isfinite(a), np.isfinite(b)
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(a[~fa], b[~fb])
    np.testing.assert_allclose(a[fa], b[fb], rtol=tol, atol=tol)


def random_tables(seed: int, n: int, r_target: int, n_parents: int, n_children: int, weights: str):
    """Training and held-out tables around a target ``t`` with parents ``a0..`` and
    children ``c0..`` (each with the target and one more parent ``e0..``), rows drawn so
    that many cells stay empty; ``weights``: ``rows``, ``int`` or ``float`` patterns."""
    rng = np.random.default_rng(seed)
    cards: dict[str, int] = {"t": r_target}
    cols: dict[str, np.ndarray] = {}
    parents: dict[str, tuple[str, ...]] = {"t": ()}
    for j in range(n_parents):
        a = f"a{j}"
        cards[a] = int(rng.integers(2, 6))
        cols[a] = rng.integers(0, cards[a], n)
        parents[a] = ()
    parents["t"] = tuple(f"a{j}" for j in range(n_parents))
    mix = sum((cols[p] for p in parents["t"]), np.zeros(n, dtype=np.int64))
    cols["t"] = np.where(rng.random(n) < 0.7, mix % r_target, rng.integers(0, r_target, n))
    for j in range(n_children):
        e, c = f"e{j}", f"c{j}"
        cards[e] = int(rng.integers(2, 5))
        cards[c] = int(rng.integers(2, 6))
        cols[e] = rng.integers(0, cards[e], n)
        cols[c] = np.where(
            rng.random(n) < 0.6, (cols["t"] + cols[e]) % cards[c], rng.integers(0, cards[c], n)
        )
        parents[e] = ()
        parents[c] = ("t", e) if j % 2 == 0 else (e, "t")
    frame = pd.DataFrame({k: v.astype(np.int8) for k, v in cols.items()})
    split = max(1, n * 2 // 3)
    train_frame, test_frame = frame.iloc[:split], frame.iloc[split:]
    if weights == "rows":
        train = CodeTable.from_frame(train_frame, cards)
    else:
        grouped = train_frame.value_counts().reset_index()
        codes = grouped[list(frame.columns)].to_numpy()
        w = grouped["count"].to_numpy()
        if weights == "float":
            w = w * rng.uniform(0.5, 1.5, w.size)
        train = CodeTable.from_patterns(codes, list(frame.columns), cards, w)
    test = CodeTable.from_frame(test_frame, cards)
    return train, test, parents, rng


specs = st.tuples(
    st.integers(0, 10_000),  # seed
    st.integers(6, 300),  # patients
    st.integers(2, 7),  # target states
    st.integers(0, 3),  # target's parents
    st.integers(0, 3),  # children
    st.sampled_from(["rows", "int", "float"]),  # rows or weighted patterns
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.sampled_from(["bdeu", "mle"]), st.sampled_from([10.0, 1.0, 0.3]))
def test_sparse_family_equals_the_dense_one(spec, estimator, ess):
    train, test, parents, _ = random_tables(*spec)
    for node, pa in parents.items():
        dense = fit_family(
            train, node, pa, estimator=estimator, equivalent_sample_size=ess, sparse=False
        )
        sparse = fit_family(
            train, node, pa, estimator=estimator, equivalent_sample_size=ess, sparse=True
        )
        assert sparse.sparse is not None and dense.sparse is None
        sp = sparse.sparse
        # counts and CPD: the dense table built on demand is the dense path's, exactly
        np.testing.assert_array_equal(sparse.counts, dense.counts)
        np.testing.assert_array_equal(sparse.cpd, dense.cpd)
        assert sparse.n_parameters == dense.n_parameters
        assert np.all(sp.values > 0) and np.all(np.diff(sp.keys) > 0)
        _close_arrays(sp.totals, dense.counts.sum(axis=0)[sp.configs])
        # scores over the non-empty cells
        n = train.n
        assert math.isclose(loglik_term(sp), loglik_term(dense.counts), rel_tol=TOL, abs_tol=TOL)
        assert math.isclose(bic_term(sp, n), bic_term(dense.counts, n), rel_tol=TOL, abs_tol=TOL)
        assert math.isclose(
            bdeu_term(sp, ess), bdeu_term(dense.counts, ess), rel_tol=TOL, abs_tol=TOL
        )
        # every cell's probability, looked up among the non-empty cells
        r, q = dense.counts.shape
        s_all, j_all = np.divmod(np.arange(r * q), q)
        _close_arrays(sparse.log_prob(s_all, j_all), dense.log_cpd[s_all, j_all])
        _close_arrays(sparse.log_cpd, dense.log_cpd)
        assert sparse.all_finite == bool(np.isfinite(dense.log_cpd).all())
        # held-out log-likelihood per row
        _close_arrays(family_row_loglik(sparse, test), family_row_loglik(dense, test))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.sampled_from(["bdeu", "mle"]))
def test_sparse_blanket_factors_and_posterior_equal_the_dense_ones(spec, estimator):
    train, test, parents, rng = random_tables(*spec)
    mb_nodes = ["t", *sorted(n for n, pa in parents.items() if "t" in pa)]
    dense = [fit_family(train, n, parents[n], estimator=estimator, sparse=False) for n in mb_nodes]
    sparse = [fit_family(train, n, parents[n], estimator=estimator, sparse=True) for n in mb_nodes]
    for d, s in zip(dense, sparse, strict=True):
        row_level = markov_blanket_factor(s, "t", test)
        _close_arrays(row_level, markov_blanket_factor(d, "t", test))
        table, index = sparse_blanket(s, "t", test)
        # one row per local configuration held by the test rows, never more than dense
        assert table.shape[0] <= min(test.n_rows, blanket_table(d, "t").shape[0])
        np.testing.assert_array_equal(table[index], row_level.T)  # the same numbers
        assert table is blanket_table(s, "t", test) and index is blanket_index(s, "t", test)
        assert (fixed_blanket_table(s, "t", test) is None) == (fixed_blanket_table(d, "t") is None)
    # the target's posterior: sparse, dense and mixed families give the same one
    exact = posterior_from_factors([markov_blanket_factor(f, "t", test) for f in dense])
    mixed = [s if k % 2 else d for k, (d, s) in enumerate(zip(dense, sparse, strict=True))]
    for fams in (sparse, mixed):
        fixed = all(fixed_blanket_table(f, "t", test) is not None for f in fams)
        logits = blanket_logits(fams, "t", test, fixed=fixed)
        np.testing.assert_allclose(posterior_from_logits(logits).T, exact, rtol=0, atol=TOL)
    # an edit's update (swap one factor for its sparse twin) is bit-equal to a fresh sum
    if all(f.all_finite for f in dense):
        k = int(rng.integers(0, len(dense)))
        swapped = [*dense[:k], sparse[k], *dense[k + 1 :]]
        logits = blanket_logits(dense, "t", test, fixed=True)
        blanket_logits([dense[k]], "t", test, out=logits, sign=-1.0, fixed=True)
        blanket_logits([sparse[k]], "t", test, out=logits, fixed=True)
        np.testing.assert_array_equal(logits, blanket_logits(swapped, "t", test, fixed=True))


def test_sparse_counts_without_rows_and_with_zero_weights():
    keys = np.array([5, 1, 5, 2], dtype=np.int64)
    sp = SparseCounts.from_keys(keys, (2, 3), weights=np.array([1, 0, 2, 0]))
    assert sp.keys.tolist() == [5] and sp.values.tolist() == [3]
    assert sp.configs.tolist() == [2] and sp.totals.tolist() == [3]
    np.testing.assert_array_equal(sp.dense(), [[0, 0, 0], [0, 0, 3]])
    empty = SparseCounts.from_keys(np.zeros(0, dtype=np.int64), (3, 4))
    assert empty.dense().sum() == 0 and empty.configs.size == 0
    fam = Family(
        "x",
        ("p",),
        3,
        (4,),
        strides=(1,),
        sparse=empty,
        estimator="bdeu",
        equivalent_sample_size=10.0,
    )
    np.testing.assert_allclose(np.exp(fam.log_prob(np.array([0, 2]), np.array([1, 3]))), 1 / 3)


def test_sparse_is_chosen_for_large_mostly_empty_tables_only():
    assert use_sparse(63 * 138_240, 79_997)  # PATHFINDER's Fault with five parents
    assert not use_sparse(8_064, 79_997)  # its largest child family
    assert not use_sparse(70_000, 79_997)  # large, but not mostly empty
    rng = np.random.default_rng(0)
    cards = {"y": 9, "p0": 9, "p1": 9, "p2": 9, "p3": 9}
    frame = pd.DataFrame({c: rng.integers(0, k, 400) for c, k in cards.items()})
    table = CodeTable.from_frame(frame, cards)
    big = fit_family(table, "y", ("p0", "p1", "p2", "p3"))  # 59,049 cells
    small = fit_family(table, "y", ("p0",))
    assert big.sparse is None and small.sparse is None  # below SPARSE_MIN_CELLS
    cards["p4"] = 9
    frame["p4"] = rng.integers(0, 9, 400)
    table = CodeTable.from_frame(frame, cards)
    huge = fit_family(table, "y", ("p0", "p1", "p2", "p3", "p4"))  # 531,441 cells
    assert huge.sparse is not None
    np.testing.assert_array_equal(
        sparse_family_counts(table, "y", huge.parents).dense(),
        family_counts(table, "y", huge.parents),
    )
    with pytest.raises(AttributeError):
        huge.card = 3  # type: ignore[misc]


def test_unsupported_sparse_requests_and_too_many_configurations_are_clear_errors():
    frame = pd.DataFrame({"y": [0, 1, 1], "p": [0, 1, 0]})
    table = CodeTable.from_frame(frame, {"y": 2, "p": 2})
    with pytest.raises(KGEditorError, match="sparsely"):
        fit_family(table, "y", ("p",), equivalent_sample_size=0.0, sparse=True)
    many = {f"v{i}": 120 for i in range(10)}
    wide = CodeTable.from_frame(pd.DataFrame({c: [0, 1] for c in many}), many)
    with pytest.raises(KGEditorError, match="remove some of its parents"):
        fit_family(wide, "v0", [f"v{i}" for i in range(1, 10)])
    with pytest.raises(KGEditorError, match="held-out patients"):
        blanket_table(fit_family(table, "y", ("p",), sparse=True), "p")


# ----------------------------------------------------------------------------------
# a whole session with every family sparse equals one with every family dense
# ----------------------------------------------------------------------------------
def _close(a, b, path=""):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        if math.isnan(a):
            assert math.isnan(b), path
        else:
            assert math.isclose(a, b, rel_tol=TOL, abs_tol=TOL), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _session(monkeypatch, sparse: bool, estimator: str, patterns: bool):
    from kg_editor.model.fit import bundled_network
    from kg_editor.model.session import EditSession

    monkeypatch.setattr(fit_module, "SPARSE_MIN_CELLS", 0 if sparse else 1 << 62)
    monkeypatch.setattr(fit_module, "SPARSE_ROW_RATIO", 0)
    cohort = sampled_cohort("child", 1200, target="Disease", seed=7)  # 6-state target
    truth = bundled_network("child")
    graph = CausalGraph.from_edges(list(truth.edges()), nodes=cohort.codes, provenance="distilled")
    return EditSession(cohort, graph, bootstrap=30, estimator=estimator, patterns=patterns)


@pytest.mark.parametrize(
    ("estimator", "patterns"), [("bdeu", False), ("mle", False), ("bdeu", True)]
)
def test_session_on_sparse_families_equals_the_dense_session(monkeypatch, estimator, patterns):
    dense = _session(monkeypatch, False, estimator, patterns)
    sparse = _session(monkeypatch, True, estimator, patterns)
    assert all(f.sparse is None for f in dense.families.values())
    assert all(f.sparse is not None for f in sparse.families.values())
    _close(dense.report.to_dict(), sparse.report.to_dict())
    edits = [
        ReverseEdge("Disease", "LungParench"),
        AddEdge("CO2Report", "Disease"),
        AddEdge("Disease", "GruntingReport"),
        RemoveEdge("LungParench", "HypoxiaInO2"),
        ReverseEdge("Disease", "Sick"),
        AddEdge("Grunting", "Disease"),
        RemoveEdge("Disease", "LVH"),
    ]
    for edit in edits:
        deltas = [s.apply(edit).to_dict() for s in (dense, sparse)]
        _close(deltas[0], deltas[1])  # reports, changes and bootstrap CIs
        _close(dense.report.to_dict(), sparse.report.to_dict())
        np.testing.assert_allclose(
            sparse.posterior_table("Disease"), dense.posterior_table("Disease"), atol=TOL
        )
    while dense.can_undo:
        _close(dense.undo().to_dict(), sparse.undo().to_dict())
