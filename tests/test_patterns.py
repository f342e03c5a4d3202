"""Weighted patterns equal the row-level path to 1e-9: family counts, scores, held-out
likelihood, AUROC, Brier, calibration, ROC, subgroups, the paired bootstrap, the edit
session (report, deltas, CIs, suggestions) and pooling across sites."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg_editor.engines import Patterns, compress_rows, pattern_bootstrap_weights
from kg_editor.model.fit import CodeTable, family_counts, fit_family
from kg_editor.model.metrics import (
    auroc,
    bdeu_term,
    bootstrap_auroc,
    bootstrap_weights,
    brier,
    calibration,
    family_row_loglik,
    group_codes,
    loglik_term,
    roc_points,
    subgroup_metrics,
    target_metrics,
)

TOL = 1e-9
#: The session sums bootstrap resamples in float32 (both paths, as the UI computes them),
#: so the CIs agree to float32 precision; every other figure to 1e-9.
CI_TOL = 1e-5


def random_frame(seed: int, n: int, cards: list[int]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    prev = np.zeros(n, np.int64)
    for j, k in enumerate(cards):
        # dependent columns so that families have structure and patterns repeat
        noise = rng.integers(0, k, n)
        col = np.where(rng.random(n) < 0.6, prev % k, noise)
        cols[f"x{j}"] = col.astype(np.int8)
        prev = col
    return pd.DataFrame(cols)


cohorts = st.tuples(
    st.integers(0, 10_000),
    st.integers(5, 300),
    st.lists(st.integers(2, 4), min_size=2, max_size=5),
)


def compressed(frame: pd.DataFrame, extra=None):
    cards = {c: int(frame[c].max()) + 2 for c in frame.columns}
    pats, inv = Patterns.from_frame(frame, cards, extra, return_inverse=True)
    return cards, pats, inv


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts, st.data())
def test_family_counts_and_scores_from_patterns_equal_rows(spec, data):
    seed, n, cards_list = spec
    frame = random_frame(seed, n, cards_list)
    cards, pats, inv = compressed(frame)
    assert pats.n == n and pats.k <= n
    np.testing.assert_array_equal(pats.codes[inv], frame.to_numpy())  # lossless
    rows = CodeTable.from_frame(frame, cards)
    wt = CodeTable.from_patterns(pats.codes, pats.columns, pats.cards, pats.weights)
    assert wt.n == rows.n and wt.n_rows == pats.k
    cols = list(frame.columns)
    node = data.draw(st.sampled_from(cols))
    parents = data.draw(st.lists(st.sampled_from([c for c in cols if c != node]), unique=True))
    a = family_counts(rows, node, parents)
    b = family_counts(wt, node, parents)
    np.testing.assert_array_equal(a, b)
    assert b.dtype == np.int64
    assert math.isclose(loglik_term(a), loglik_term(b), abs_tol=TOL)
    assert math.isclose(bdeu_term(a), bdeu_term(b), abs_tol=TOL)
    fa = fit_family(rows, node, parents)
    fb = fit_family(wt, node, parents)
    la = family_row_loglik(fa, rows).sum()
    lb = wt.total(family_row_loglik(fb, wt))
    assert math.isclose(la, lb, rel_tol=TOL, abs_tol=TOL)


scores = st.tuples(st.integers(0, 10_000), st.integers(2, 400), st.integers(1, 12))


@settings(max_examples=60, deadline=None)
@given(scores, st.booleans())
def test_weighted_subgroups_equal_a_loop_over_the_groups(spec, fractional):
    """The one-pass weighted subgroup figures equal AUROC and Brier computed group by
    group on the group's own rows, with integer or fractional weights."""
    seed, n, levels = spec
    rng = np.random.default_rng(seed)
    p = rng.integers(0, levels + 1, n) / levels
    y = rng.random(n) < 0.2 + 0.6 * p
    w = rng.random(n) * 4 if fractional else rng.integers(1, 30, n).astype(float)
    band = rng.choice(np.array(["18-39", "40-64", "65+", "80+"]), n)
    labels, codes = group_codes(band)
    rows = subgroup_metrics(y, p, {"age_band": (labels, codes)}, weights=w, min_size=2)
    expected = []
    for j, v in enumerate(labels):
        sel = codes == j
        n_g, n1 = round(float(w[sel].sum())), round(float(w[sel & y].sum()))
        if n_g < 2:
            continue
        au = auroc(y[sel], p[sel], weights=w[sel]) if 0 < n1 < n_g else float("nan")
        expected.append((v, n_g, n1, au, brier(y[sel], p[sel], w[sel])))
    assert [(r["group"], r["n"], r["positives"]) for r in rows] == [e[:3] for e in expected]
    for r, e in zip(rows, expected, strict=True):
        assert (np.isnan(r["auroc"]) and np.isnan(e[3])) or math.isclose(
            r["auroc"], e[3], rel_tol=1e-12, abs_tol=TOL
        )
        assert math.isclose(r["brier"], e[4], rel_tol=1e-12, abs_tol=TOL)


@settings(max_examples=80, deadline=None)
@given(scores)
def test_discrimination_and_calibration_from_patterns_equal_rows(spec):
    seed, n, levels = spec
    rng = np.random.default_rng(seed)
    # few distinct scores: ties everywhere, as with discrete Markov blankets
    p = rng.integers(0, levels + 1, n) / levels
    y = (rng.random(n) < 0.2 + 0.6 * p).astype(np.int64)
    sex = rng.choice(np.array(["F", "M", "U"]), n)
    band = rng.choice(np.array(["18-39", "40-64", "65+"]), n)
    key = np.round(p * levels).astype(np.int64)
    frame = pd.DataFrame({"s": key, "y": y})
    pats, inv = Patterns.from_frame(
        frame, {"s": levels + 1, "y": 2}, {"sex": sex, "age_band": band}, return_inverse=True
    )
    w = pats.weights
    py = pats.codes[:, 0].astype(float) / levels
    yy = pats.codes[:, 1].astype(np.int64)
    ref_auc, got_auc = auroc(y, p), auroc(yy, py, weights=w)
    assert (np.isnan(ref_auc) and np.isnan(got_auc)) or math.isclose(ref_auc, got_auc, abs_tol=TOL)
    assert math.isclose(brier(y, p), brier(yy, py, w), abs_tol=TOL)
    e1, r1 = calibration(y, p)
    e2, r2 = calibration(yy, py, weights=w)
    assert math.isclose(e1, e2, abs_tol=TOL)
    assert [r["count"] for r in r1] == [r["count"] for r in r2]
    for a, b in zip(r1, r2, strict=True):
        for k in ("mean_predicted", "observed_rate"):
            assert (a[k] is None and b[k] is None) or math.isclose(a[k], b[k], abs_tol=TOL)
    ra, rb = roc_points(y, p), roc_points(yy, py)  # unweighted shape sanity
    assert len(ra["fpr"]) >= 1 or len(rb["fpr"]) == 0
    groups_rows = {"sex": group_codes(sex), "age_band": group_codes(band)}
    groups_pats = {
        "sex": group_codes(pats.extra["sex"]),
        "age_band": group_codes(pats.extra["age_band"]),
    }
    sa = subgroup_metrics(y, p, groups_rows)
    sb = subgroup_metrics(yy, py, groups_pats, weights=w)
    assert [(r["attribute"], r["group"], r["n"], r["positives"]) for r in sa] == [
        (r["attribute"], r["group"], r["n"], r["positives"]) for r in sb
    ]
    for a, b in zip(sa, sb, strict=True):
        for k in ("auroc", "brier"):
            assert (np.isnan(a[k]) and np.isnan(b[k])) or math.isclose(a[k], b[k], abs_tol=TOL)
    # the whole target block, with the ROC curve
    post_rows = np.vstack([1 - p, p])
    post_pats = np.vstack([1 - py, py])
    ba, _, _ = target_metrics(y, post_rows, groups_rows)
    bb, _, _ = target_metrics(yy, post_pats, groups_pats, weights=w)
    for k in ("n", "prevalence", "auroc", "brier", "accuracy", "ece"):
        x, z = ba[k], bb[k]
        assert (x != x and z != z) or math.isclose(x, z, abs_tol=TOL), k
    np.testing.assert_allclose(ba["roc"]["fpr"], bb["roc"]["fpr"], atol=TOL)
    np.testing.assert_allclose(ba["roc"]["tpr"], bb["roc"]["tpr"], atol=TOL)
    # the paired bootstrap: row-level draws summed per pattern give the same resamples
    wrow = bootstrap_weights(n, 30, seed=seed)
    wpat = np.zeros((pats.k, 30), np.float32)
    np.add.at(wpat, inv, wrow)
    ea = bootstrap_auroc(y, p, wrow)
    eb = bootstrap_auroc(yy, py, wpat)
    np.testing.assert_allclose(ea, eb, atol=TOL, equal_nan=True)
    sq_rows = (p - y) ** 2
    sq_pats = (py - yy) ** 2
    np.testing.assert_allclose(
        np.einsum("ib,i->b", wrow.astype(float), sq_rows),
        np.einsum("ib,i->b", wpat.astype(float), sq_pats),
        rtol=TOL,
    )


def test_pattern_bootstrap_weights_have_the_row_level_distribution():
    w = np.array([50, 30, 15, 5])
    m = pattern_bootstrap_weights(w, 4000, seed=2)
    assert (m.sum(axis=0) == w.sum()).all()  # multinomial: n patients per resample
    np.testing.assert_allclose(m.mean(axis=1), w, rtol=0.05)
    # row-level multinomial draws have variance n p (1 - p) per pattern
    np.testing.assert_allclose(m.var(axis=1), w * (1 - w / w.sum()), rtol=0.12)
    pz = pattern_bootstrap_weights(w, 4000, seed=2, kind="poisson")
    np.testing.assert_allclose(pz.var(axis=1), w, rtol=0.12)  # Poisson(w)
    with pytest.raises(Exception, match="multinomial"):
        pattern_bootstrap_weights(w, 2, kind="jackknife")


def test_compress_rows_falls_back_when_keys_overflow():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, (500, 45))  # 3**45 > 2**62
    u, inv = compress_rows(codes, [3] * 45)
    np.testing.assert_array_equal(u[inv], codes)
    assert len(np.unique(codes, axis=0)) == len(u)


# --------------------------------------------------------------------------------------
# the edit session
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def asia():
    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources.synthetic import network_events
    from kg_editor.model.graph import CausalGraph

    syn = network_events("asia", 1500, seed=3)
    cohort = build_cohort(syn.source, target="lung", min_patients=5)
    edges = [(u, v) for u, v in syn.true_edges if u in cohort.variables and v in cohort.variables]
    graph = CausalGraph.from_edges(edges, nodes=cohort.codes, labels=cohort.labels)
    return cohort, graph


def _close(a, b, path="", tol=TOL):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}", tol)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, z) in enumerate(zip(a, b, strict=True)):
            _close(x, z, f"{path}[{i}]", tol)
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            assert a is b, path
        elif a != a:
            assert b != b, path
        else:
            assert math.isclose(a, b, rel_tol=tol, abs_tol=tol), (path, a, b)
    else:
        assert a == b, path


@pytest.mark.slow  # ~10 s: two sessions, edits, suggestions and CIs
def test_weighted_session_equals_row_level_session_edit_by_edit():
    from kg_editor.model.session import EditSession

    cohort, graph = asia()
    rows = EditSession(cohort, graph, targets=["lung", "bronc"], bootstrap=40)
    pats = EditSession(cohort, graph, targets=["lung", "bronc"], bootstrap=40, patterns=True)
    assert pats._test.n_rows < pats._test.n  # compressed
    # the same bootstrap resamples: the row-level draws summed per held-out pattern
    test = cohort.test[list(graph.nodes)]
    persons = cohort.test_persons
    keys = {a: persons[a].astype(str).to_numpy() for a in ("sex", "age_band")}
    _, inv = Patterns.from_frame(test, cohort.cardinalities, keys, return_inverse=True)
    wrow = rows._bootstrap()
    assert wrow is not None
    wpat = np.zeros((pats._test.n_rows, wrow.shape[1]), np.float32)
    np.add.at(wpat, inv, wrow)
    pats._weights = wpat
    _close(rows.report.to_dict(), pats.report.to_dict())
    for edit in (("smoke", "dysp"), ("either", "xray")):
        da = rows.add(*edit) if not rows.graph.has_edge(*edit) else rows.remove(*edit)
        db = pats.add(*edit) if not pats.graph.has_edge(*edit) else pats.remove(*edit)
        _close(rows.report.to_dict(), pats.report.to_dict())
        _close(da.ci, db.ci, tol=CI_TOL)
    da, db = rows.remove("lung", "either"), pats.remove("lung", "either")
    _close(rows.report.to_dict(), pats.report.to_dict())
    _close(da.ci, db.ci, tol=CI_TOL)
    sa = [(s.id, s.score_gain, s.loglik_gain) for s in rows.suggestions(5)]
    sb = [(s.id, s.score_gain, s.loglik_gain) for s in pats.suggestions(5)]
    assert [s[0] for s in sa] == [s[0] for s in sb]
    for a, b in zip(sa, sb, strict=True):
        assert math.isclose(a[1], b[1], rel_tol=1e-6) and math.isclose(a[2], b[2], rel_tol=1e-6)
    # persisted and replayed, the setting survives
    from kg_editor.model.session import EditSession as ES

    again = ES.from_dict(pats.to_dict(), cohort)
    assert again.patterns and again._test.n_rows == pats._test.n_rows


def test_weighted_session_bootstrap_draws_per_pattern():
    from kg_editor.model.session import EditSession

    cohort, graph = asia()
    s = EditSession(cohort, graph, targets=["lung"], bootstrap=25, patterns=True)
    w = s._bootstrap()
    assert w is not None and w.shape == (s._test.n_rows, 25)
    assert (w.sum(axis=0) == s._test.n).all()
    d = s.add("smoke", "dysp")
    lo, hi = d.ci["loglik_per_patient"]
    assert lo <= hi and np.isfinite([lo, hi]).all()


@pytest.mark.parametrize("patterns", [False, True])
def test_session_bootstrap_is_the_seeded_draw_made_once_at_open(patterns):
    """The resamples drawn in the background at open are exactly the seeded draw, the
    same matrix serves every edit (paired), and an edit's CIs equal those of a session
    handed that draw directly."""
    from kg_editor.model.session import EditSession

    cohort, graph = asia()
    s = EditSession(cohort, graph, targets=["lung"], bootstrap=30, seed=5, patterns=patterns)
    direct = (
        pattern_bootstrap_weights(s._test.weights, 30, seed=5)
        if patterns
        else bootstrap_weights(s._test.n, 30, seed=5)
    )
    ref = EditSession(cohort, graph, targets=["lung"], bootstrap=30, seed=5, patterns=patterns)
    ref._weights = direct.copy()
    w = s._bootstrap()
    assert w is not None and np.array_equal(w, direct)
    for edit in (("smoke", "dysp"), ("lung", "either")):
        da = s.remove(*edit) if s.graph.has_edge(*edit) else s.add(*edit)
        db = ref.remove(*edit) if ref.graph.has_edge(*edit) else ref.add(*edit)
        assert s._bootstrap() is w  # drawn once, reused before and after every edit
        assert da.ci == db.ci


# --- weighted patterns through main's trusted-graph check and merge/split -------------
def test_ci_test_on_weighted_patterns_equals_the_row_level_test():
    from kg_editor.discovery.independence import _sparse_ci_test, ci_test

    rng = np.random.default_rng(5)
    n = 4000
    z1 = rng.integers(0, 3, n)
    z2 = rng.integers(0, 2, n)
    x = (z1 + (rng.random(n) < 0.2)) % 3
    y = ((z1 + z2) % 2) ^ (rng.random(n) < 0.3)
    codes = np.column_stack([x, y, z1, z2]).astype(np.int64)
    cards = [3, 2, 3, 2]
    uniq, cnt = np.unique(codes, axis=0, return_counts=True)
    for method in ("g", "chi2"):
        for zs in ([], [2], [2, 3]):
            a = ci_test(codes, cards, 0, 1, zs, method=method)
            b = ci_test(uniq, cards, 0, 1, zs, method=method, weights=cnt)
            assert a.dof == b.dof and math.isclose(a.statistic, b.statistic, rel_tol=1e-9)
        zi_rows = codes[:, 2] * 2 + codes[:, 3]
        zi_pats = uniq[:, 2] * 2 + uniq[:, 3]
        a = _sparse_ci_test(zi_rows, codes[:, 0], codes[:, 1], 3, 2, method, True)
        b = _sparse_ci_test(zi_pats, uniq[:, 0], uniq[:, 1], 3, 2, method, True, weights=cnt)
        assert a.dof == b.dof and math.isclose(a.statistic, b.statistic, rel_tol=1e-9)


@pytest.mark.slow  # two sessions refitted twice each: ~10-15 s on a shared machine
def test_weighted_session_merge_and_split_equal_the_row_level_session():
    from kg_editor.model.session import EditSession

    cohort, graph = asia()
    rows = EditSession(cohort, graph, targets=["lung"], bootstrap=0)
    pats = EditSession(cohort, graph, targets=["lung"], bootstrap=0, patterns=True)
    _close(rows.report.to_dict(), pats.report.to_dict())
    rows.merge(["tub", "lung"], "tub or lung")
    pats.merge(["tub", "lung"], "tub or lung")
    assert pats.patterns and pats._test.weights is not None
    _close(rows.report.to_dict(), pats.report.to_dict())
    rows.split("concept:tub or lung")
    pats.split("concept:tub or lung")
    _close(rows.report.to_dict(), pats.report.to_dict())
