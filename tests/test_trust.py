"""The trust figures of an edit session: unresolved directions, recorded order, family
bounds and the implied independencies, before -> after an edit (issue 12)."""

from __future__ import annotations

import pytest

from kg_editor.model.checks import ImpliedIndependencies
from kg_editor.model.session import EditSession


@pytest.fixture(scope="module")
def demo_session(demo_cohort, demo_distiller):
    return EditSession(demo_cohort, demo_distiller.graph_, bootstrap=0)


def test_demo_report_counts_trust_figures(demo_session, demo_distiller, demo_cohort):
    it = demo_session.report.interpretability
    g = demo_distiller.graph_
    assert it["unresolved_edges"] == len(g.unresolved_edges) > 0
    # well below the 37 of 152 edges of the domain-tier default
    assert it["asserted_edges_against_temporal_order"] <= 5
    assert it["edges_against_temporal_order"] <= 10
    assert it["families_over_bound"] == 0  # distillation applied the bound
    # the report's check equals a fresh check of the same graph
    tr = demo_cohort.train
    fresh = ImpliedIndependencies(alpha=demo_session.alpha).fit(
        g, {c: tr[c].to_numpy() for c in tr.columns}, demo_cohort.cardinalities
    )
    assert it["implied_independence_failures"] == len(fresh.failures_)
    assert it["implied_independencies"] == len(fresh.results_)
    failing = it["implied_independence_failing"]
    assert failing and "independent given" in failing[0]["why"]


def test_resolving_an_unresolved_edge_is_one_action_and_updates_the_report(
    demo_cohort, demo_distiller
):
    import networkx as nx

    s = EditSession(demo_cohort, demo_distiller.graph_, bootstrap=0)
    dag = nx.DiGraph(list(s.graph.edges))

    def reversible(e: tuple[str, str]) -> bool:
        g = dag.copy()
        g.remove_edge(*e)
        return not nx.has_path(g, *e)

    # the first unresolved edge whose other direction closes no cycle
    u, v = next(e for e in s.graph.unresolved_edges if reversible(e))
    before = s.report.interpretability["unresolved_edges"]
    delta = s.resolve(v, u, author="dr_a", rationale="the other way round")
    assert s.graph.has_edge(v, u) and not s.graph.has_edge(u, v)
    assert s.report.interpretability["unresolved_edges"] == before - 1
    d = delta.to_dict()["interpretability"]["unresolved_edges"]
    assert d["before"] == before and d["after"] == before - 1
    s.undo()
    assert (u, v) in s.graph.unresolved_edges
    assert s.report.interpretability["unresolved_edges"] == before


def test_removing_an_edge_changes_the_implied_independencies_incrementally(
    demo_cohort, demo_distiller
):
    s = EditSession(demo_cohort, demo_distiller.graph_, bootstrap=0)
    # the strongest association of the graph: removing it must conflict with the data
    u, t = max(s.graph.edges, key=lambda e: s.graph.edge_attrs(*e)["weight"])
    before = s.report.interpretability["implied_independencies"]
    delta = s.remove(u, t)
    after = s.report.interpretability
    # the removed edge adds one implication, and the data contradict it
    assert after["implied_independencies"] == before + 1
    assert any({f["x"], f["y"]} == {u, t} for f in after["implied_independence_failing"])
    assert s._check.recomputed_ < before
    row = delta.to_dict()["interpretability"]["implied_independence_failures"]
    assert row["after"] > row["before"]


def test_an_edit_over_the_family_bound_is_warned(demo_cohort, demo_distiller):
    s = EditSession(demo_cohort, demo_distiller.graph_, bootstrap=0)
    t = demo_cohort.target
    added = 0
    for c in demo_cohort.variables:
        if len(s.graph.parents(t)) > 6:
            break
        if c == t or s.graph.has_edge(c, t) or s.graph.has_edge(t, c):
            continue
        try:
            s.add(c, t, override=True)
            added += 1
        except Exception:
            continue
    it = s.report.interpretability
    assert added and it["families_over_bound"] >= 1
    assert any("Gastrointestinal hemorrhage has" in w for w in it["family_bound_warnings"])


def test_unstable_and_unresolved_edges_get_their_own_canvas_classes():
    from kg_editor.model.graph import CausalGraph
    from kg_editor.ui.editor.elements import graph_elements

    g = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("c", "d")]).with_unresolved([("a", "b")])
    nxg = g.to_networkx()
    nxg.edges["b", "c"]["evidence"] = {"stability": {"frequency": 0.2, "resamples": 30}}
    nxg.edges["c", "d"]["evidence"] = {"stability": {"frequency": 0.9, "resamples": 30}}
    g = CausalGraph(nxg)
    classes = {
        (e["data"]["source"], e["data"]["target"]): e["classes"].split()
        for e in graph_elements(g)
        if "source" in e["data"]
    }
    assert "unresolved" in classes[("a", "b")] and "unstable" not in classes[("a", "b")]
    assert "unstable" in classes[("b", "c")] and "unresolved" not in classes[("b", "c")]
    assert not {"unstable", "unresolved"} & set(classes[("c", "d")])


def test_review_queue_lists_unresolved_then_unstable_first(demo_distiller):
    from kg_editor.model.checks import review_queue
    from kg_editor.model.graph import ResolveEdge, apply_edit

    g = demo_distiller.graph_
    q = review_queue(g)
    n_unres = len(g.unresolved_edges)
    assert len(q) == len(g.edges)
    assert all(r["reason"] == "direction unresolved" for r in q[:n_unres])
    assert all(r["reason"] != "direction unresolved" for r in q[n_unres:])
    u, v = q[0]["source"], q[0]["target"]
    settled = apply_edit(g, ResolveEdge(u, v, author="dr"))
    assert (u, v) == (review_queue(settled)[-1]["source"], review_queue(settled)[-1]["target"])
