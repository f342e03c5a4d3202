"""Association measures and tests against scipy, statsmodels and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import mutual_info_score
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests

from kg_editor.discovery import measures as M

TABLES = [(30, 70, 20, 880), (5, 0, 12, 40), (0, 10, 7, 3), (120, 340, 95, 2001), (1, 1, 1, 1)]


@pytest.mark.parametrize("t", TABLES)
def test_odds_ratio_and_ci_match_statsmodels_with_haldane(t):
    res = M.MEASURES["odds_ratio"].compute(*t)
    # Haldane-Anscombe: 0.5 added to every cell of a table with a zero cell
    cells = np.array([[t[0], t[1]], [t[2], t[3]]], dtype=float)
    ref = Table2x2(cells + 0.5 * (cells == 0).any(), shift_zeros=False)
    assert res["estimate"] == pytest.approx(ref.oddsratio, rel=1e-10)
    lo, hi = ref.oddsratio_confint(alpha=0.05)
    assert (res["ci_low"], res["ci_high"]) == (
        pytest.approx(lo, rel=1e-10),
        pytest.approx(hi, rel=1e-10),
    )


@pytest.mark.parametrize("t", TABLES)
def test_relative_risk_and_ci_match_statsmodels(t):
    res = M.MEASURES["relative_risk"].compute(*t)
    cells = np.array([[t[0], t[1]], [t[2], t[3]]], dtype=float)
    ref = Table2x2(cells + 0.5 * (cells == 0).any(), shift_zeros=False)
    assert res["estimate"] == pytest.approx(ref.riskratio, rel=1e-10)
    lo, hi = ref.riskratio_confint(alpha=0.05)
    assert (res["ci_low"], res["ci_high"]) == (
        pytest.approx(lo, rel=1e-10),
        pytest.approx(hi, rel=1e-10),
    )


def _vectors(t):
    a, b, c, d = t
    x = np.array([1] * (a + b) + [0] * (c + d))
    y = np.array([1] * a + [0] * b + [1] * c + [0] * d)
    return x, y


@pytest.mark.parametrize(
    "t", [t for t in TABLES if min(t[0] + t[1], t[2] + t[3], t[0] + t[2], t[1] + t[3]) > 0]
)
def test_phi_mi_lift_npmi_match_references(t):
    x, y = _vectors(t)
    phi = M.MEASURES["phi"].compute(*t)["estimate"]
    assert phi == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-10)
    mi = M.MEASURES["mutual_information"].compute(*t)["estimate"]
    assert mi == pytest.approx(mutual_info_score(x, y), rel=1e-10, abs=1e-12)
    n = sum(t)
    p11, pa, pb = t[0] / n, (t[0] + t[1]) / n, (t[0] + t[2]) / n
    assert M.MEASURES["lift"].compute(*t)["estimate"] == pytest.approx(p11 / (pa * pb))
    if t[0] > 0:
        assert M.MEASURES["pmi"].compute(*t)["estimate"] == pytest.approx(np.log(p11 / (pa * pb)))
        assert M.MEASURES["npmi"].compute(*t)["estimate"] == pytest.approx(
            np.log(p11 / (pa * pb)) / -np.log(p11)
        )
    table = np.array([[t[0], t[1]], [t[2], t[3]]])
    assert M.cramers_v(table) == pytest.approx(
        stats.contingency.association(table, method="cramer"), rel=1e-10
    )
    assert M.mutual_information_table(table) == pytest.approx(
        mutual_info_score(x, y), rel=1e-10, abs=1e-12
    )


def test_npmi_is_minus_one_when_never_together():
    assert M.MEASURES["npmi"].compute(0, 10, 7, 3)["estimate"] == -1.0


@pytest.mark.parametrize("method,lam", [("chi2", "pearson"), ("g", "log-likelihood")])
def test_2x2_tests_match_scipy(method, lam):
    for t in TABLES[:4]:
        table = np.array([[t[0], t[1]], [t[2], t[3]]])
        stat, p, names = M.independence_test(*t, method=method, fisher_below=0.0)
        ref = stats.chi2_contingency(table, correction=False, lambda_=lam)
        assert stat[0] == pytest.approx(ref.statistic, rel=1e-9)
        assert p[0] == pytest.approx(ref.pvalue, rel=1e-9)
        assert names[0] == method


def test_fisher_used_for_small_expected_counts():
    stat, p, names = M.independence_test([2, 200], [8, 100], [10, 100], [80, 600])
    assert list(names) == ["fisher", "chi2"]
    assert np.isnan(stat[0])
    assert p[0] == pytest.approx(stats.fisher_exact([[2, 8], [10, 80]]).pvalue)


def test_table_test_matches_scipy_on_rxc():
    t = np.array([[10, 20, 30, 0], [15, 5, 25, 0], [40, 10, 5, 0]])
    for method, lam in (("chi2", "pearson"), ("g", "log-likelihood")):
        s, d, p = M.table_test(t, method)
        ref = stats.chi2_contingency(t[:, :3], correction=False, lambda_=lam)
        assert (s, d, p) == (pytest.approx(ref.statistic), ref.dof, pytest.approx(ref.pvalue))
    assert M.cramers_v(t) == pytest.approx(stats.contingency.association(t[:, :3], method="cramer"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=80))
def test_bh_qvalues_match_statsmodels(p):
    ours = M.bh_qvalues(p)
    ref = multipletests(np.array(p), method="fdr_bh")[1]
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


def test_bh_keeps_nan():
    q = M.bh_qvalues([0.01, np.nan, 0.02])
    assert np.isnan(q[1]) and q[0] == pytest.approx(0.02)


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=1, max_value=400), st.data())
def test_binomial_matches_scipy_binomtest(n, data):
    k = data.draw(st.integers(min_value=0, max_value=n))
    ours = float(M.binomial_two_sided(k, n))
    assert ours == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_precedence_share_and_registry_extension():
    share, p = M.precedence_test([30, 0], [10, 0])
    assert share[0] == 0.75 and np.isnan(share[1]) and np.isnan(p[1])

    @M.register_measure("jaccard", "Jaccard", "n11 / (n11 + n10 + n01)")
    def jaccard(n11, n10, n01, n00):
        return {"estimate": np.asarray(n11, float) / (np.asarray(n11) + n10 + n01)}

    try:
        assert M.compute_measures(2, 1, 1, 10)["jaccard"]["estimate"] == pytest.approx(0.5)
    finally:
        del M.MEASURES["jaccard"]
