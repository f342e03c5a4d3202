"""The graph-versus-data check (implied independencies) and the family bounds."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from kg_editor.model.checks import (
    ImpliedIndependencies,
    affected_nodes,
    family_bounds,
    minimal_separator,
)
from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge, apply_edit


@pytest.fixture(scope="module")
def alarm_sample():
    from kg_editor.model.fit import bundled_network

    model = bundled_network("alarm")
    frame = model.simulate(4000, seed=7, show_progress=False)
    return model, frame


def _columns(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, int], pd.DataFrame]:
    cols, cards, states = {}, {}, {}
    for c in frame.columns:
        cat = pd.Categorical(frame[c].astype(str))
        cols[c] = cat.codes.astype(np.int64)
        cards[c] = len(cat.categories)
        states[c] = cat.astype(str)
    return cols, cards, pd.DataFrame(states)


def test_implied_independencies_equal_pgmpy_implied_cis(alarm_sample):
    from kg_editor.adapters.pgmpy import implied_cis_reference

    model, frame = alarm_sample
    graph = CausalGraph.from_edges(model.edges(), nodes=model.nodes())
    cols, cards, states = _columns(frame)
    check = ImpliedIndependencies(alpha=0.05, test="chi2", max_given=None).fit(graph, cols, cards)
    ref = implied_cis_reference(graph, states)
    ours = {(r.x, r.y): r for r in check.results_}
    assert len(ref) == len(ours) > 500
    same_set = 0
    for u, v, z, p in zip(ref["u"], ref["v"], ref["cond_vars"], ref["p-value"], strict=True):
        r = ours[tuple(sorted((u, v)))]
        if tuple(sorted(z)) != r.given:
            # a minimal separator need not be unique; ours must still separate the pair
            assert nx.is_d_separator(graph.nx, {u}, {v}, set(r.given))
            continue
        same_set += 1
        assert math.isclose(r.p, float(p), rel_tol=1e-7, abs_tol=1e-12), (u, v, z)
    assert same_set >= 0.9 * len(ref)
    # the true graph on its own sample: few reliable failures at q < 0.05
    assert len(check.failures_) <= 0.02 * len(check.results_)


def test_incremental_update_equals_a_full_refit(alarm_sample):
    model, frame = alarm_sample
    cols, cards, _ = _columns(frame)
    g0 = CausalGraph.from_edges(model.edges(), nodes=model.nodes())
    check = ImpliedIndependencies(max_given=None).fit(g0, cols, cards)
    n_pairs = check.recomputed_
    g = g0
    for edit in (
        RemoveEdge("LVFAILURE", "HISTORY"),
        AddEdge("HR", "CO") if not g0.has_edge("HR", "CO") else RemoveEdge("HR", "CO"),
        ReverseEdge(*sorted(g0.edges)[3]),
    ):
        try:
            g2 = apply_edit(g, edit)
        except Exception:
            continue
        check.update(g2, changed=None)
        assert check.recomputed_ < n_pairs  # only the affected pairs
        full = ImpliedIndependencies(max_given=None).fit(g2, cols, cards)
        assert [(r.x, r.y, r.given, r.p, r.q, r.fails) for r in check.results_] == [
            (r.x, r.y, r.given, r.p, r.q, r.fails) for r in full.results_
        ]
        g = g2
    # a wrong graph fails many of its implications
    empty = CausalGraph.from_edges([], nodes=model.nodes())
    assert len(check.update(empty).failures_) > 100


def test_sparse_tables_are_reported_not_counted():
    rng = np.random.default_rng(1)
    n = 60
    cols = {f"v{i}": rng.integers(0, 3, n) for i in range(5)}
    cards = dict.fromkeys(cols, 3)
    g = CausalGraph.from_edges([("v0", "v1"), ("v2", "v1"), ("v3", "v1"), ("v1", "v4")])
    check = ImpliedIndependencies(min_per_cell=5.0).fit(g, cols, cards)
    sparse = [r for r in check.results_ if not r.reliable]
    assert sparse and all(not r.fails for r in sparse)
    assert check.summary()["implied_independence_sparse"] == len(sparse)


def test_minimal_separator_and_affected_nodes():
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d"), ("e", "d")])
    assert minimal_separator(g, "a", "d") == ("c",)
    assert minimal_separator(g, "a", "e") == ()
    after = nx.DiGraph(g)
    after.add_edge("a", "e")
    assert affected_nodes(g, after, ["e"]) == {"e", "d"}


def test_family_bounds_flag_large_families():
    g = CausalGraph.from_edges([(f"p{i}", "c") for i in range(7)])
    cards = {n: 2 for n in g.nodes}
    over = family_bounds(g, cards, 5000)
    assert [f["node"] for f in over] == ["c"] and "7 parents" in over[0]["message"]
    over = family_bounds(g, cards, 500, max_parents=None)  # 128 params > 500 / 10
    assert over and "free parameters" in over[0]["message"]
    assert family_bounds(g, cards, 5000, max_parents=7) == []
