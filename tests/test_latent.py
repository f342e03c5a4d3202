"""Unmeasured common causes (issue 14, latent causes): ``A <-> B`` is stored, saved and
undone like an edit; the implied independencies, trails and adjustment sets read it as an
unobserved parent of both (equal to direct computations on the graph with that node);
the fitted model keeps the measured variables only."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg_editor.errors import EdgeError, FormatError
from kg_editor.model.checks import minimal_separator
from kg_editor.model.graph import (
    AddLatent,
    CausalGraph,
    RemoveLatent,
    apply_edit,
    edit_from_dict,
    edit_to_dict,
    latent_node,
)
from kg_editor.model.session import EditSession
from kg_editor.teaching.adjustment import adjustment_sets, is_backdoor_set
from kg_editor.teaching.paths import d_separated


def _confounded() -> CausalGraph:
    """age -> statin -> mi, age -> mi, diabetes -> mi; statin <-> diabetes unmeasured."""
    g = CausalGraph.from_edges(
        [("age", "statin"), ("age", "mi"), ("statin", "mi"), ("diabetes", "mi")]
    )
    return apply_edit(g, AddLatent("statin", "diabetes"))


def test_latent_pair_is_stored_saved_and_removed():
    g = _confounded()
    assert g.latent_pairs == [("diabetes", "statin")]
    assert set(g.edges) == {("age", "statin"), ("age", "mi"), ("statin", "mi"), ("diabetes", "mi")}
    back = CausalGraph.from_dict(g.to_dict())
    assert back == g and back.latent_pairs == g.latent_pairs
    assert back != CausalGraph.from_dict({**g.to_dict(), "latent": []})
    e = AddLatent("statin", "diabetes", author="dr", rationale="indication")
    assert edit_from_dict(edit_to_dict(e)) == e
    with pytest.raises(EdgeError, match="already share"):
        apply_edit(g, AddLatent("diabetes", "statin"))
    assert apply_edit(g, RemoveLatent("diabetes", "statin")).latent_pairs == []
    with pytest.raises(EdgeError, match="no unmeasured common cause"):
        apply_edit(g, RemoveLatent("age", "mi"))
    with pytest.raises(FormatError, match="two different nodes"):
        CausalGraph.from_dict({**g.to_dict(), "latent": [["statin", "nowhere"]]})


def test_causal_graph_has_the_unobserved_parent():
    cg = _confounded().causal_nx()
    u = latent_node("statin", "diabetes")
    assert cg.nodes[u]["latent"] and set(cg.successors(u)) == {"statin", "diabetes"}
    assert "unmeasured cause of" in cg.nodes[u]["label"]


def test_adjustment_sets_change_as_a_direct_computation_says():
    g = _confounded()
    plain = apply_edit(g, RemoveLatent("statin", "diabetes"))
    assert [sorted(s) for s in adjustment_sets(plain, "statin", "mi")] == [["age"]]
    got = {frozenset(s) for s in adjustment_sets(g, "statin", "mi", include_parents=False)}
    # direct: every set of measured non-descendants of statin meeting the back-door
    # criterion on the graph with the unobserved parent, kept when minimal
    cg = g.causal_nx()
    cands = [n for n in g.nodes if n not in ("statin", "mi")]
    valid = [
        frozenset(s)
        for k in range(len(cands) + 1)
        for s in itertools.combinations(cands, k)
        if is_backdoor_set(cg, "statin", "mi", s)
    ]
    minimal = {s for s in valid if not any(t < s for t in valid)}
    assert got == minimal == {frozenset({"age", "diabetes"})}
    # the pair itself shares the cause: no set of measured variables can block it
    assert adjustment_sets(apply_edit(g, AddLatent("statin", "mi")), "statin", "mi") == []


def test_trails_run_through_the_unmeasured_cause():
    g = CausalGraph.from_edges([("a", "b")], nodes=["c"])
    assert d_separated(g, "a", "c")
    g2 = apply_edit(g, AddLatent("a", "c"))
    assert not d_separated(g2, "a", "c")
    assert not d_separated(g2, "b", "c") and d_separated(g2, "b", "c", ["a"])


@st.composite
def _dag_with_latents(draw):
    n = draw(st.integers(4, 7))
    nodes = [f"v{i}" for i in range(n)]
    pairs = list(itertools.combinations(range(n), 2))
    edges = [(nodes[i], nodes[j]) for i, j in pairs if draw(st.booleans())]
    latent = [(nodes[i], nodes[j]) for i, j in pairs if draw(st.integers(0, 5)) == 0]
    g = CausalGraph.from_edges(edges, nodes=nodes)
    for a, b in latent:
        g = apply_edit(g, AddLatent(a, b))
    return g


@settings(max_examples=40, deadline=None)
@given(_dag_with_latents())
def test_minimal_separator_with_latents_equals_brute_force(g):
    cg = g.causal_nx()
    obs = list(g.nodes)
    for x, y in itertools.combinations(obs, 2):
        if cg.has_edge(x, y) or cg.has_edge(y, x):
            continue
        sep = minimal_separator(cg, x, y)
        others = [n for n in obs if n not in (x, y)]
        any_sep = any(
            nx.is_d_separator(cg, {x}, {y}, set(s))
            for k in range(len(others) + 1)
            for s in itertools.combinations(others, k)
        )
        assert (sep is not None) == any_sep
        if sep is not None:
            assert not any(cg.nodes[n].get("latent") for n in sep)
            assert nx.is_d_separator(cg, {x}, {y}, set(sep))
            for u in sep:  # inclusion-minimal
                assert not nx.is_d_separator(cg, {x}, {y}, set(sep) - {u})


def test_session_adds_a_latent_cause_without_refitting(demo_cohort, demo_graph):
    s = EditSession(demo_cohort, demo_graph, bootstrap=0)
    a, b = sorted(s.graph.nodes)[:2]
    fams = dict(s.families)
    before = s.report
    s.add_latent(a, b, rationale="shared indication")
    assert all(s.families[n] is fams[n] for n in fams)
    assert s.report.accuracy == before.accuracy  # the fitted model is unchanged
    assert s.report.interpretability["latent_causes"] == 1
    # the graph check now reads the graph with the unobserved parent
    fresh = EditSession(demo_cohort, s.graph, bootstrap=0)
    for key in ("implied_independencies", "implied_independence_failures"):
        assert s.report.interpretability[key] == fresh.report.interpretability[key]
    # the pair is no longer implied independent (they share a cause)
    assert (
        s.report.interpretability["implied_independencies"]
        <= (before.interpretability["implied_independencies"])
    )
    assert s.graph.latent_pairs == [tuple(sorted((a, b)))]
    again = EditSession.from_dict(s.to_dict(), demo_cohort)
    assert again.graph.latent_pairs == s.graph.latent_pairs
    s.undo()
    assert s.graph.latent_pairs == [] and s.report.interpretability["latent_causes"] == 0
