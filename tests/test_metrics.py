"""Metrics equal their library references: sklearn, pgmpy structure scores, VariableElimination."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

from kg_editor.model.fit import CodeTable, fit_families, pgmpy_fit, sampled_cohort
from kg_editor.model.graph import CausalGraph
from kg_editor.model.metrics import (
    auroc,
    bdeu_term,
    bic_term,
    bootstrap_auroc,
    bootstrap_weights,
    brier,
    calibration,
    group_codes,
    interpretability,
    largest_gap,
    markov_blanket_factor,
    pgmpy_posterior,
    pgmpy_structure_score,
    posterior_from_factors,
    precedence_contradiction,
    roc_points,
    subgroup_metrics,
)


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.booleans(), min_size=2, max_size=60),
    levels=st.integers(2, 8),
    seed=st.integers(0, 1000),
)
def test_auroc_equals_sklearn_with_ties(y, levels, seed):
    y = np.array(y)
    if y.all() or not y.any():
        assert np.isnan(auroc(y, np.zeros(y.size)))
        return
    s = np.random.default_rng(seed).integers(0, levels, y.size) / levels  # many ties
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert brier(y, s) == pytest.approx(brier_score_loss(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    pts = roc_points(y, s)
    np.testing.assert_allclose(pts["fpr"], fpr, atol=1e-12)
    np.testing.assert_allclose(pts["tpr"], tpr, atol=1e-12)


def test_roc_points_are_thinned_but_keep_the_ends():
    rng = np.random.default_rng(0)
    s = rng.random(5000)
    y = rng.random(5000) < s
    pts = roc_points(y, s, max_points=50)
    assert len(pts["fpr"]) <= 50 and pts["fpr"][0] == 0.0 and pts["fpr"][-1] == 1.0


def test_calibration_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    p = rng.random(1000)
    y = rng.random(1000) < p**2
    ece, bins = calibration(y, p, bins=10)
    ref = 0.0
    for b in range(10):
        m = (p >= b / 10) & (p < (b + 1) / 10)
        if m.any():
            ref += m.mean() * abs(y[m].mean() - p[m].mean())
    assert ece == pytest.approx(ref, abs=1e-12)
    assert sum(b["count"] for b in bins) == 1000
    assert ece > 0.05  # p**2 is badly calibrated against p


def test_subgroups_equal_sklearn_per_group_and_gap_is_flagged():
    rng = np.random.default_rng(2)
    n = 2000
    sex = rng.choice(np.array(["F", "M"]), n)
    y = rng.random(n) < 0.3
    p = np.where(sex == "F", y * 0.5 + rng.random(n) * 0.5, rng.random(n))  # informative only for F
    rows = subgroup_metrics(y, p, {"sex": group_codes(sex)})
    for r in rows:
        m = sex == r["group"]
        assert r["auroc"] == pytest.approx(roc_auc_score(y[m], p[m]), abs=1e-12)
        assert r["brier"] == pytest.approx(brier_score_loss(y[m], p[m]), abs=1e-12)
    gap = largest_gap(rows)
    assert gap["flagged"] and gap["attribute"] == "sex" and gap["auroc_gap"]["worst"] == "M"


@pytest.mark.slow
def test_bootstrap_auroc_equals_auroc_of_each_resample():
    rng = np.random.default_rng(3)
    n = 300
    y = rng.random(n) < 0.4
    s = np.round(rng.random(n) + y * 0.3, 1)
    w = bootstrap_weights(n, 15, seed=4)
    assert w.shape == (n, 15)
    boot = bootstrap_auroc(y, s, w)
    rs = np.random.default_rng(4)
    for b in range(15):
        idx = rs.integers(0, n, n)
        assert boot[b] == pytest.approx(roc_auc_score(y[idx], s[idx]), abs=1e-9)


@pytest.mark.slow
def test_scores_equal_pgmpy_structure_scores():
    c = sampled_cohort("asia", 800, target="lung", seed=5)
    states = c.states
    edges = [
        ("smoke", "lung"),
        ("smoke", "bronc"),
        ("lung", "either"),
        ("tub", "either"),
        ("either", "xray"),
        ("bronc", "dysp"),
        ("either", "dysp"),
    ]
    nodes = c.codes
    parents = {v: [u for u, w in edges if w == v] for v in nodes}
    fams = fit_families(CodeTable.from_frame(c.train, c.cardinalities), parents)
    model = pgmpy_fit(c.labelled(c.train), edges, states, nodes=nodes)
    train = c.labelled(c.train).astype(str)
    n = int((~c.is_test).sum())
    assert sum(bic_term(f.counts, n) for f in fams.values()) == pytest.approx(
        pgmpy_structure_score(model, train, "bic", states), abs=1e-9
    )
    assert sum(bdeu_term(f.counts, 7.0) for f in fams.values()) == pytest.approx(
        pgmpy_structure_score(model, train, "bdeu", states, equivalent_sample_size=7.0), abs=1e-9
    )


@pytest.mark.slow
@pytest.mark.parametrize("target", ["Disease", "LungParench", "Sick"])
def test_markov_blanket_posterior_equals_variable_elimination(target):
    """The vectorised posterior equals pgmpy VariableElimination on a sample of rows
    (CHILD: multi-state target with several children and spouses)."""
    from kg_editor.model.fit import bundled_network

    c = sampled_cohort("child", 1500, target=target, seed=6)
    edges = list(bundled_network("child").edges())
    parents = {v: [u for u, w in edges if w == v] for v in c.codes}
    fams = fit_families(CodeTable.from_frame(c.train, c.cardinalities), parents)
    test = CodeTable.from_frame(c.test, c.cardinalities)
    g = CausalGraph.from_edges(edges, nodes=c.codes)
    factors = [markov_blanket_factor(fams[target], target, test)]
    factors += [markov_blanket_factor(fams[ch], target, test) for ch in g.children(target)]
    post = posterior_from_factors(factors)
    from kg_editor.model.fit import families_to_pgmpy

    model = families_to_pgmpy(fams, c.states)
    rows = c.labelled(c.test).iloc[:25]
    ref = pgmpy_posterior(model, rows, target)
    np.testing.assert_allclose(post[:, :25], ref, rtol=0, atol=1e-9)


def test_interpretability_measures_by_hand():
    g = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("d", "c"), ("a", "d")], nodes=["e"])
    nxg = g.to_networkx()
    nxg.edges["a", "b"]["provenance"] = "clinician"
    nxg.edges["a", "b"]["weight"] = 40.0  # edge weights must not lengthen paths
    nxg.edges["b", "c"]["evidence"] = {"test": {"q": 0.001}}
    nxg.edges["d", "c"]["evidence"] = {"q": 0.2}
    import pandas as pd

    frame = pd.DataFrame(
        {k: np.zeros(4, dtype=np.int8) + np.array([0, 1, 0, 1], dtype=np.int8) for k in "abcde"}
    )
    fams = fit_families(
        CodeTable.from_frame(frame, dict.fromkeys("abcde", 2)), {n: g.parents(n) for n in g.nodes}
    )
    out = interpretability(
        nxg, fams, ["b"], reference=[("a", "b"), ("c", "e")], contradicting=[("d", "c"), ("x", "y")]
    )
    assert out["edges"] == 4 and out["nodes"] == 5
    assert out["parameters"] == 1 + 2 + 4 + 2 + 1
    assert out["max_in_degree"] == 2 and out["mean_in_degree"] == pytest.approx(4 / 5)
    assert out["markov_blanket_size"] == {"b": 3}  # a, c, d
    assert out["longest_path"] == 2
    assert out["endorsed_share"] == 0.25 and out["supported_share"] == 0.25
    assert out["reference_precision"] == 0.25 and out["reference_recall"] == 0.5
    assert out["precedence_contradictions"] == 1


def test_precedence_contradiction():
    base = np.datetime64("2020-01-01")
    a = base + np.arange(100).astype("timedelta64[D]")
    b = a - np.where(np.arange(100) < 80, 5, -5).astype("timedelta64[D]")  # b first in 80%
    res = precedence_contradiction(a, b)
    assert res["contradicts"] and res["share"] == pytest.approx(0.8)
    assert not precedence_contradiction(b, a)["contradicts"]
