"""Counting engines equal a brute-force reference and each other; CI tests and local
scores equal pgmpy's."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kg_editor.discovery.counting import (
    cooccurrence_duckdb,
    cooccurrence_events,
    count_pairs,
    count_pairs_duckdb,
    precedence_counts,
)
from kg_editor.discovery.evidence import compute_pair_statistics, pair_evidence
from kg_editor.discovery.independence import ci_test, local_bic, positivity_violation


@st.composite
def state_frames(draw, max_rows=60, max_cols=5):
    n = draw(st.integers(min_value=1, max_value=max_rows))
    p = draw(st.integers(min_value=1, max_value=max_cols))
    cards = draw(st.lists(st.integers(min_value=2, max_value=4), min_size=p, max_size=p))
    cols = {}
    for j, k in enumerate(cards):
        cols[f"v{j}"] = draw(arrays(np.int8, n, elements=st.integers(min_value=0, max_value=k - 1)))
    states = {
        f"v{j}": tuple(["absent", *[f"s{i}" for i in range(1, k)]]) for j, k in enumerate(cards)
    }
    return pd.DataFrame(cols), states


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(state_frames())
def test_contingency_tables_equal_brute_force_for_both_engines(frame_states):
    frame, states = frame_states
    dense = count_pairs(frame, states, engine="dense")
    compiled = count_pairs(frame, states, engine="numba")
    np.testing.assert_array_equal(dense.matrix, compiled.matrix)
    for a in frame.columns:
        for b in frame.columns:
            ka, kb = len(states[a]), len(states[b])
            ref = np.zeros((ka, kb), np.int64)
            for x, y in zip(frame[a], frame[b], strict=True):
                ref[x, y] += 1
            if a == b:
                ref = np.diag(np.bincount(frame[a], minlength=ka))
            np.testing.assert_array_equal(dense.table(a, b), ref)
            n11 = int(((frame[a] != 0) & (frame[b] != 0)).sum())
            if a != b:
                assert dense.cells(a, b)[0] == n11
                assert sum(dense.cells(a, b)) == len(frame)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 9)), min_size=1, max_size=200),
)
def test_event_counts_equal_brute_force_and_duckdb(events):
    patient = np.array([e[0] for e in events], dtype=np.int64)
    item = np.array([e[1] for e in events], dtype=np.int64)
    ours = cooccurrence_events(patient, item, n_patients=31, n_items=10)
    sets = {}
    for p, i in events:
        sets.setdefault(p, set()).add(i)
    ref = np.zeros((10, 10), np.int64)
    for s in sets.values():
        for a in s:
            for b in s:
                ref[a, b] += 1
    np.testing.assert_array_equal(ours, ref)
    order = np.argsort(patient, kind="stable")  # the sorted fast path
    np.testing.assert_array_equal(cooccurrence_events(patient[order], item[order], 31, 10), ref)
    frame = pd.DataFrame({"patient_id": patient, "code": [f"c{i}" for i in item]})
    _names, duck = cooccurrence_duckdb(frame, items=[f"c{i}" for i in range(10)])
    np.testing.assert_array_equal(duck, ref)


def test_duckdb_pair_counts_from_a_parquet_file_equal_the_cohort_counts(tmp_path, asia_synthetic):
    from kg_editor.data.cohort import build_cohort

    cohort = build_cohort(asia_synthetic.source, min_patients=5)
    ev = asia_synthetic.source.events
    path = tmp_path / "events.parquet"
    ev.to_parquet(path)
    train_ids = cohort.train.index.tolist()
    codes = [c for c in cohort.codes if cohort.variables[c].domain != "demographic"]
    duck = count_pairs_duckdb(path, codes, cohort.states, patients=train_ids)
    mem = count_pairs(cohort.train[codes], cohort.states, engine="numba")
    assert duck.n == mem.n
    np.testing.assert_array_equal(duck.matrix, mem.matrix)
    frame_duck = count_pairs_duckdb(ev, codes, cohort.states, patients=train_ids)
    np.testing.assert_array_equal(frame_duck.matrix, mem.matrix)


def test_precedence_counts_equal_brute_force():
    rng = np.random.default_rng(3)
    n, p = 200, 4
    days = rng.integers(0, 30, size=(n, p)).astype(float)
    days[rng.random((n, p)) < 0.3] = np.nan
    dates = pd.DataFrame(
        {
            f"v{j}": pd.to_datetime("2020-01-01") + pd.to_timedelta(days[:, j], unit="D")
            for j in range(p)
        }
    )
    first, ties = precedence_counts(dates)
    for a in range(p):
        for b in range(p):
            both = ~np.isnan(days[:, a]) & ~np.isnan(days[:, b])
            assert first[a, b] == int((days[both, a] < days[both, b]).sum())
            assert ties[a, b] == int((days[both, a] == days[both, b]).sum())


@pytest.fixture(scope="module")
def categorical_data():
    rng = np.random.default_rng(7)
    n = 3000
    z = rng.integers(0, 3, n)
    w = rng.integers(0, 2, n)
    x = (z + (rng.random(n) < 0.3)) % 3
    y = ((z > 0).astype(int) ^ (rng.random(n) < 0.2)) + w * (rng.random(n) < 0.3)
    y = np.minimum(y, 1)
    v = rng.integers(0, 2, n) * (z > 1)  # a variable constant in two strata of z
    return pd.DataFrame({"x": x, "y": y, "z": z, "w": w, "v": v}).astype(np.int64)


@pytest.mark.parametrize("method", ["g", "chi2"])
@pytest.mark.parametrize(
    "x,y,z",
    [
        ("x", "y", []),
        ("x", "y", ["z"]),
        ("x", "y", ["z", "w"]),
        ("v", "y", ["z"]),
        ("y", "w", ["x", "v"]),
    ],
)
def test_ci_test_equals_pgmpy(categorical_data, method, x, y, z):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.ci_tests import ChiSquare, GSq
    ref_cls = GSq if method == "g" else ChiSquare
    ref = ref_cls(data=categorical_data)
    ref(X=x, Y=y, Z=z, significance_level=0.05)
    cols = list(categorical_data.columns)
    codes = categorical_data.to_numpy()
    cards = codes.max(axis=0) + 1
    ours = ci_test(
        codes, cards, cols.index(x), cols.index(y), [cols.index(c) for c in z], method=method
    )
    if not np.isfinite(float(ref.statistic_)):
        # pgmpy 1.1.2's G test turns NaN when an empty stratum meets Yates' correction;
        # ours drops empty strata (they carry no information) and stays finite.
        assert method == "g" and np.isfinite(ours.statistic) and ours.dof == int(ref.dof_)
        return
    assert ours.statistic == pytest.approx(float(ref.statistic_), rel=1e-9, abs=1e-9)
    assert ours.dof == int(ref.dof_)
    assert ours.p == pytest.approx(float(ref.p_value_), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize(
    "child,parents", [("y", []), ("y", ["z"]), ("x", ["z", "w"]), ("w", ["x", "y", "z"])]
)
def test_local_bic_equals_pgmpy(categorical_data, child, parents):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.structure_score import BIC
    cols = list(categorical_data.columns)
    codes = categorical_data.to_numpy()
    cards = codes.max(axis=0) + 1
    ref = BIC(categorical_data).local_score(child, tuple(parents))
    ours = local_bic(codes, cards, cols.index(child), [cols.index(p) for p in parents])
    assert ours == pytest.approx(float(ref), rel=1e-10)


def test_positivity_violation_detects_nested_codes():
    rng = np.random.default_rng(0)
    broad = (rng.random(2000) < 0.3).astype(np.int64)
    nested = broad * (rng.random(2000) < 0.5)
    indep = (rng.random(2000) < 0.3).astype(np.int64)
    d = np.column_stack([nested, broad, indep])
    assert positivity_violation(d, [2, 2, 2], 0, [1])
    assert not positivity_violation(d, [2, 2, 2], 1, [0])  # broad occurs in both strata of nested
    assert not positivity_violation(d, [2, 2, 2], 2, [1])


def test_pair_statistics_table_and_evidence():
    rng = np.random.default_rng(1)
    n = 500
    a = (rng.random(n) < 0.3).astype(np.int8)
    b = np.where(a == 1, rng.random(n) < 0.6, rng.random(n) < 0.1).astype(np.int8)
    c = rng.integers(0, 3, n).astype(np.int8)
    frame = pd.DataFrame({"a": a, "b": b, "c": c})
    dates = pd.DataFrame(
        {
            "a": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(np.where(a == 1, 0, np.nan), unit="D"),
            "b": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(np.where(b == 1, 5, np.nan), unit="D"),
            "c": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(np.where(c > 0, 2, np.nan), unit="D"),
        }
    )
    ps = compute_pair_statistics(frame, {"c": ("absent", "x", "y")}, dates)
    assert len(ps.table) == 3
    row, flipped = ps.row("b", "a")
    assert flipped and int(row["n11"]) == int(((a == 1) & (b == 1)).sum())
    assert row["precedence_share"] == 1.0  # a always first
    ac = ps.row("a", "c")[0]
    assert ac["dof"] == 2  # full 2x3 table tested
    ev_ab, ev_ba = (
        pair_evidence(ps, "a", "b", suppress=False),
        pair_evidence(ps, "b", "a", suppress=False),
    )
    assert ev_ab["counts"]["n10"] == ev_ba["counts"]["n01"]
    assert (
        ev_ab["precedence"]["share_source_first"] == 1.0
        and ev_ba["precedence"]["share_source_first"] == 0.0
    )
    assert ev_ab["measures"]["relative_risk"]["estimate"] != pytest.approx(
        ev_ba["measures"]["relative_risk"]["estimate"]
    )
    small = pd.DataFrame({"a": [1] * 5 + [0] * 95, "b": [1] * 3 + [0] * 97}, dtype="int8")
    ev = pair_evidence(compute_pair_statistics(small), "a", "b")
    # complementary suppression (issue 13): beside its margins, n00 = 95 would give the
    # small cells back, so the whole table is hidden
    assert ev["counts"]["n11"] == "<11" and ev["counts"]["n00"] == "suppressed"
    assert (
        pair_evidence(compute_pair_statistics(small), "a", "b", suppress=False)["counts"]["n00"]
        == 95
    )
    with pytest.raises(KeyError):
        pair_evidence(ps, "a", "zzz")


def test_sparse_ci_test_equals_the_dense_table():
    """Tables too large to hold densely are tested over observed cells only (issue 12)."""
    import kg_editor.discovery.independence as ind

    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(20, 2000))
        cards = [int(c) for c in rng.integers(2, 6, 6)]
        codes = np.column_stack([rng.integers(0, c, n) for c in cards]).astype(np.int64)
        if trial % 2:
            codes[:, 1] = (codes[:, 0] + (rng.random(n) < 0.3)) % cards[1]
        z = list(range(2, 2 + int(rng.integers(1, 4))))
        zi = np.zeros(n, np.int64)
        for c in z:
            zi = zi * cards[c] + codes[:, c]
        for method in ("g", "chi2"):
            for yates in (True, False):
                dense = ind.ci_test(codes, cards, 0, 1, z, method=method, yates=yates)
                sparse = ind._sparse_ci_test(
                    zi, codes[:, 0], codes[:, 1], cards[0], cards[1], method, yates
                )
                assert dense.dof == sparse.dof
                assert np.isclose(dense.statistic, sparse.statistic, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 400),
    k=st.integers(2, 9),
    n_z=st.integers(0, 4),
    weighted=st.sampled_from(["none", "counts", "fractional"]),
)
def test_ci_test_columns_equals_ci_test(seed, n, k, n_z, weighted):
    """The compiled count of the graph check's re-tests gives exactly ``ci_test``'s test:
    the same table cell for cell (weights summed in row order), with and without
    conditioning, weights, Yates; large tables go to the sparse path."""
    from kg_editor.discovery.independence import ci_test_columns

    rng = np.random.default_rng(seed)
    p = 2 + n_z + 1
    cards = [int(c) for c in rng.integers(2, k + 1, p)]
    cols = np.vstack([rng.integers(0, c, n) for c in cards]).astype(np.int16)
    if n > 1:  # some dependence, so that tests are not all null
        cols[1] = np.where(rng.random(n) < 0.5, cols[0] % cards[1], cols[1])
    weights = {
        "none": None,
        "counts": rng.integers(1, 50, n).astype(np.float64),
        "fractional": rng.random(n) * 3,
    }[weighted]
    z = list(range(2, 2 + n_z))
    for method in ("g", "chi2"):
        for yates in (True, False):
            ours = ci_test_columns(
                cols, cards, 0, 1, z, method=method, yates=yates, weights=weights
            )
            ref = ci_test(cols.T, cards, 0, 1, z, method=method, yates=yates, weights=weights)
            assert ours.dof == ref.dof
            assert ours.statistic == ref.statistic or (
                np.isnan(ours.statistic) and np.isnan(ref.statistic)
            )
            assert ours.p == ref.p or (np.isnan(ours.p) and np.isnan(ref.p))


def test_ci_test_columns_leaves_huge_tables_to_the_sparse_path():
    from kg_editor.discovery.independence import ci_test_columns

    rng = np.random.default_rng(3)
    cols = rng.integers(0, 60, (6, 5_000)).astype(np.int16)  # 60**6 cells
    cols[1] = np.where(rng.random(5_000) < 0.5, cols[0], cols[1])
    for method in ("g", "chi2"):
        ours = ci_test_columns(cols, [60] * 6, 0, 1, [2, 3, 4, 5], method=method)
        ref = ci_test(cols.T, [60] * 6, 0, 1, [2, 3, 4, 5], method=method)
        assert (ours.statistic, ours.dof, ours.p) == (ref.statistic, ref.dof, ref.p)
        assert ours.dof > 0


def test_ci_test_memory_stays_linear_with_many_states():
    import resource

    from kg_editor.discovery.independence import ci_test

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 60, (20_000, 6)).astype(np.int64)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = ci_test(codes, [60] * 6, 0, 1, [2, 3, 4, 5])  # 60**6 cells as a dense table
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.dof >= 0 and grown_mb < 200


def test_cmh_test_equals_statsmodels_on_two_by_two_strata():
    from statsmodels.stats.contingency_tables import StratifiedTable

    from kg_editor.discovery.independence import cmh_test

    rng = np.random.default_rng(2)
    n = 3000
    z = rng.integers(0, 6, n)
    x = rng.random(n) < 0.2 + 0.05 * (z % 3)
    y = rng.random(n) < 0.15 + 0.05 * x + 0.02 * z
    d = np.column_stack([x, y, z]).astype(np.int64)
    ours = cmh_test(d, [2, 2, 6], 0, 1, [2])
    tables = [
        np.array([[np.sum((x == i) & (y == j) & (z == s)) for j in (0, 1)] for i in (0, 1)])
        for s in range(6)
    ]
    ref = StratifiedTable(tables).test_null_odds(correction=False)
    assert ours.dof == 1
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("n_strata", [1, 6])
def test_mantel_haenszel_log_odds_equals_statsmodels(n_strata):
    from statsmodels.stats.contingency_tables import StratifiedTable

    from kg_editor.discovery.independence import mantel_haenszel_log_odds

    rng = np.random.default_rng(7)
    n = 2500
    z = rng.integers(0, n_strata, n)
    x = rng.random(n) < 0.2 + 0.05 * (z % 3)
    y = rng.random(n) < 0.1 + 0.2 * x + 0.02 * z
    d = np.column_stack([x, y, z]).astype(np.int64)
    w = rng.integers(1, 4, n).astype(np.float64)
    ours = mantel_haenszel_log_odds(d, [2, 2, n_strata], 0, 1, [2] if n_strata > 1 else [])
    weighted = mantel_haenszel_log_odds(d, [2, 2, n_strata], 0, 1, [2], weights=w)
    tables, wtables = [], []
    for s in range(n_strata):
        cell = [[(x == i) & (y == j) & (z == s) for j in (0, 1)] for i in (0, 1)]
        tables.append(np.array([[m.sum() for m in row] for row in cell], dtype=float))
        wtables.append(np.array([[w[m].sum() for m in row] for row in cell]))
    assert ours == pytest.approx(StratifiedTable(tables).logodds_pooled, rel=1e-9)
    assert weighted == pytest.approx(StratifiedTable(wtables).logodds_pooled, rel=1e-9)
    # not defined for more than two states
    assert np.isnan(mantel_haenszel_log_odds(d, [3, 2, n_strata], 0, 1))


def test_cmh_test_on_larger_tables_is_the_stratified_pearson_statistic_for_one_stratum():
    from scipy.stats import chi2_contingency

    from kg_editor.discovery.independence import cmh_test

    rng = np.random.default_rng(4)
    n = 900
    x = rng.integers(0, 3, n)
    y = (x + rng.integers(0, 3, n) * (rng.random(n) < 0.7)) % 4
    d = np.column_stack([x, y, np.zeros(n, np.int64)]).astype(np.int64)
    ours = cmh_test(d, [3, 4, 1], 0, 1, [2])
    table = np.array([[np.sum((x == i) & (y == j)) for j in range(4)] for i in range(3)])
    chi2, _p, dof, _e = chi2_contingency(table, correction=False)
    # with one stratum the generalized CMH statistic is (n - 1) / n times Pearson's
    assert ours.dof == dof == 6
    assert ours.statistic == pytest.approx(chi2 * (n - 1) / n, rel=1e-9)


def test_positivity_violation_columns_equals_the_row_version():
    from kg_editor.discovery.independence import (
        positivity_violation,
        positivity_violation_columns,
    )

    rng = np.random.default_rng(11)
    n = 3000
    z1 = rng.integers(0, 3, n)
    z2 = rng.integers(0, 2, n)
    nested = np.where(z1 == 2, rng.random(n) < 0.4, 0)  # occurs only where z1 == 2
    free = rng.random(n) < 0.2
    codes = np.column_stack([nested, free, z1, z2]).astype(np.int8)
    cols = np.ascontiguousarray(codes.T)
    w = rng.integers(1, 6, n).astype(np.float64)
    seen = set()
    for x in (0, 1):
        for z in ([2], [3], [2, 3]):
            for weights in (None, w):
                for m in (1.0, 10.0, 500.0):
                    want = positivity_violation(codes, [2, 2, 3, 2], x, z, m, weights=weights)
                    got = positivity_violation_columns(cols, [2, 2, 3, 2], x, z, m, weights=weights)
                    assert got == want
                    seen.add(want)
    assert seen == {True, False}
