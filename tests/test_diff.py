"""Graph diffs, metric tables and three-way merges with conflicts."""

from __future__ import annotations

import math

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge, apply_edit
from kg_editor.versions.diff import (
    MergeConflictError,
    diff_graphs,
    merge_graphs,
    metric_table,
    pair_key,
)

NODES = ["a", "b", "c", "d", "e"]


def G(*edges: tuple[str, str]) -> CausalGraph:
    return CausalGraph.from_edges(edges, nodes=NODES)


def test_diff_classifies_added_removed_reversed_changed():
    a = G(("a", "b"), ("b", "c"), ("c", "d"))
    b = apply_edit(a, ReverseEdge("a", "b"))
    b = apply_edit(b, RemoveEdge("b", "c"))
    b = apply_edit(b, AddEdge("a", "e"))
    d = diff_graphs(a, b)
    assert [(c.source, c.target) for c in d.added] == [("a", "e")]
    assert [(c.source, c.target) for c in d.removed] == [("b", "c")]
    assert [(c.source, c.target) for c in d.reversed] == [("b", "a")]
    assert d.unchanged == (("c", "d"),)
    status = d.edge_status()
    assert status == {
        ("a", "e"): "added",
        ("b", "c"): "removed",
        ("b", "a"): "reversed",
        ("c", "d"): "unchanged",
    }
    assert d.summary() == "1 edge added, 1 removed, 1 reversed"
    assert (
        d.reversed[0].before["provenance"] == "imported"
        and d.reversed[0].after["provenance"] == "clinician"
    )
    frame = d.to_frame()
    assert list(frame["status"]) == ["added", "removed", "reversed"]


def test_diff_reports_evidence_and_node_changes():
    g = nx.DiGraph()
    g.add_node("a", label="A")
    g.add_node("b", label="B")
    g.add_edge("a", "b", provenance="distilled", endorsed=False, evidence={"or": 2.0}, history=[])
    a = CausalGraph(g)
    g2 = a.to_networkx()
    g2.edges["a", "b"]["endorsed"] = True
    g2.nodes["b"]["label"] = "B2"
    g2.add_node("c", label="C")
    d = diff_graphs(a, CausalGraph(g2))
    assert [(c.source, c.target, c.status) for c in d.changed] == [("a", "b", "changed")]
    assert d.changed[0].evidence == {"or": 2.0}
    assert {(c.node, c.status) for c in d.nodes} == {("b", "changed"), ("c", "added")}
    assert not d.is_empty() and d.is_empty(structural_only=False) is False
    assert diff_graphs(a, a).is_empty()


@st.composite
def dag_pairs(draw):
    order = draw(st.permutations(NODES))
    pairs = [(order[i], order[j]) for i in range(5) for j in range(i + 1, 5)]
    e1 = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=8))
    e2 = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=8))
    flip = draw(st.lists(st.booleans(), min_size=len(e2), max_size=len(e2)))
    e2 = [(v, u) if f else (u, v) for (u, v), f in zip(e2, flip, strict=True)]
    try:
        return G(*e1), G(*e2)
    except Exception:
        return G(*e1), G(*e1)


@settings(max_examples=60, deadline=None)
@given(dag_pairs())
def test_diff_accounts_for_every_edge(pair):
    a, b = pair
    d = diff_graphs(a, b)
    eb = {(c.source, c.target) for c in (*d.added, *d.reversed, *d.changed)} | set(d.unchanged)
    ea = {(c.source, c.target) for c in (*d.removed, *d.changed)} | set(d.unchanged)
    ea |= {(c.target, c.source) for c in d.reversed}
    assert eb == set(b.edges) and ea == set(a.edges)
    # the diff from b to a mirrors it
    back = diff_graphs(b, a)
    assert len(back.added) == len(d.removed) and len(back.removed) == len(d.added)
    assert len(back.reversed) == len(d.reversed)


def test_metric_table_side_by_side():
    ra = {
        "accuracy": {"loglik": -1.5, "auroc": 0.7},
        "targets": {"lung": {"auroc": 0.8}},
        "interpretability": {"edges": 8},
    }
    rb = {
        "accuracy": {"loglik": -1.4},
        "targets": {"lung": {"auroc": 0.85}},
        "interpretability": {"edges": 9, "depth": 3},
    }
    t = metric_table(ra, rb, labels=("v1", "v2"))
    assert list(t.columns) == ["section", "metric", "v1", "v2", "delta"]
    rows = {(s, m): (x, y, dl) for s, m, x, y, dl in t.itertuples(index=False)}
    assert rows[("accuracy", "loglik")][2] == pytest.approx(0.1)
    assert math.isnan(rows[("accuracy", "auroc")][1])
    assert rows[("targets", "lung.auroc")][2] == pytest.approx(0.05)
    assert math.isnan(rows[("interpretability", "depth")][0])
    assert list(t["section"]) == [
        "accuracy",
        "accuracy",
        "targets",
        "interpretability",
        "interpretability",
    ]


# -- merges ------------------------------------------------------------------------------
def test_merge_takes_non_overlapping_changes_from_both_sides():
    base = G(("a", "b"), ("b", "c"))
    ours = apply_edit(base, AddEdge("c", "d"))
    theirs = apply_edit(base, ReverseEdge("a", "b"))
    r = merge_graphs(base, ours, theirs)
    assert r.ok
    assert sorted(r.graph.edges) == [("b", "a"), ("b", "c"), ("c", "d")]
    assert r.decisions == {pair_key("c", "d"): "ours", pair_key("a", "b"): "theirs"}
    # theirs' reversal keeps its clinician provenance
    assert r.graph.edge_attrs("b", "a")["provenance"] == "clinician"


@pytest.mark.parametrize(
    ("ours_edit", "theirs_edit", "words"),
    [
        (AddEdge("c", "d"), AddEdge("d", "c"), "added as c -> d in ours but as d -> c in theirs"),
        (
            RemoveEdge("a", "b"),
            ReverseEdge("a", "b"),
            "removed in ours but reversed to b -> a in theirs",
        ),
        (
            ReverseEdge("a", "b"),
            RemoveEdge("a", "b"),
            "reversed to b -> a in ours but removed in theirs",
        ),
    ],
)
def test_merge_conflicts_are_detected_and_resolved(ours_edit, theirs_edit, words):
    base = G(("a", "b"))
    ours, theirs = apply_edit(base, ours_edit), apply_edit(base, theirs_edit)
    r = merge_graphs(base, ours, theirs)
    assert r.graph is None and len(r.conflicts) == 1
    c = r.conflicts[0]
    assert c.kind == "edge" and words in c.message
    with pytest.raises(MergeConflictError) as exc:
        r.raise_for_conflicts()
    assert exc.value.conflicts == [c] and c.key in str(exc.value)
    assert set(merge_graphs(base, ours, theirs, {c.key: "ours"}).graph.edges) == set(ours.edges)
    assert set(merge_graphs(base, ours, theirs, {c.key: "theirs"}).graph.edges) == set(theirs.edges)
    assert set(merge_graphs(base, ours, theirs, {c.key: "base"}).graph.edges) == set(base.edges)
    u, v = sorted(c.key.split(" -- "))
    assert (u, v) in merge_graphs(base, ours, theirs, {c.key: f"{u} -> {v}"}).graph.edges
    assert merge_graphs(base, ours, theirs, {c.key: "none"}).graph.edges == [
        e for e in base.edges if set(e) != {u, v}
    ]


def test_merge_that_would_create_a_cycle_is_a_conflict():
    base = G(("a", "b"))
    ours = apply_edit(base, AddEdge("b", "c"))
    theirs = apply_edit(base, AddEdge("c", "a"))
    r = merge_graphs(base, ours, theirs)
    assert r.graph is None
    (c,) = r.conflicts
    assert c.kind == "cycle" and "cycle" in c.message
    assert set(c.options) <= {pair_key("b", "c"), pair_key("c", "a"), pair_key("a", "b")}
    fixed = merge_graphs(base, ours, theirs, {pair_key("c", "a"): "none"})
    assert fixed.ok and sorted(fixed.graph.edges) == [("a", "b"), ("b", "c")]
    assert nx.is_directed_acyclic_graph(fixed.graph.nx)


def test_merge_node_removed_in_one_branch_edited_in_the_other():
    base = G(("a", "b"))
    g = base.to_networkx()
    g.remove_node("e")
    ours = CausalGraph(g)
    theirs = apply_edit(base, AddEdge("e", "a"))
    r = merge_graphs(base, ours, theirs)
    assert [c.kind for c in r.conflicts] == ["node"] and r.conflicts[0].key == "e"
    kept = merge_graphs(base, ours, theirs, {"e": "keep"})
    assert ("e", "a") in kept.graph.edges
    dropped = merge_graphs(base, ours, theirs, {"e": "remove"})
    assert "e" not in dropped.graph and ("e", "a") not in dropped.graph.edges


@settings(max_examples=60, deadline=None)
@given(dag_pairs(), st.sampled_from(["ours", "theirs", "base", "none"]))
def test_any_resolved_merge_is_a_dag(pair, choice):
    ours, theirs = pair
    base = G()
    res: dict[str, str] = {}
    for _ in range(30):
        r = merge_graphs(base, ours, theirs, res)
        if r.ok:
            break
        for c in r.conflicts:
            if c.kind == "cycle":
                res[c.options[0]] = "none"
            else:
                res[c.key] = choice
    assert r.ok
    assert nx.is_directed_acyclic_graph(r.graph.nx)
    # an edge both sides agree on survives unless a resolution removed it
    for e in set(ours.edges) & set(theirs.edges):
        if pair_key(*e) not in res:
            assert r.graph.has_edge(*e)
