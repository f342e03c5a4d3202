"""Guided review (issue 14): endorsing an edge changes no structure and refits nothing,
raises the report's endorsed share, settles an unresolved direction as drawn, and moves
the review queue on; it is undone, recorded and replayed like any edit."""

from __future__ import annotations

import pytest

from kg_editor.errors import EdgeError
from kg_editor.model.checks import review_queue
from kg_editor.model.graph import (
    CausalGraph,
    EndorseEdge,
    apply_edit,
    edit_from_dict,
    edit_to_dict,
)
from kg_editor.model.session import EditSession


@pytest.fixture()
def session(demo_cohort, demo_graph):
    return EditSession(demo_cohort, demo_graph, bootstrap=0, author="dr_r")


def test_endorse_refits_nothing_and_raises_the_endorsed_share(session):
    first = session.review_queue()[0]
    u, v = first["source"], first["target"]
    assert not first["reviewed"]
    families = dict(session.families)
    m = len(session.graph.edges)
    before = session.report.interpretability["endorsed_share"]
    delta = session.endorse(u, v, rationale="seen it in clinic")
    assert all(session.families[n] is families[n] for n in families)  # nothing refitted
    assert session.graph.edges == session.initial_graph.edges  # structure unchanged
    assert session.report.interpretability["endorsed_share"] == pytest.approx(before + 1 / m)
    assert delta.after is session.report
    assert session.report.accuracy == delta.before.accuracy
    a = session.graph.edge_attrs(u, v)
    assert a["endorsed"] and not a.get("unresolved")
    assert a["history"][-1]["rationale"] == "seen it in clinic"
    queue = session.review_queue()
    assert (queue[0]["source"], queue[0]["target"]) != (u, v)
    assert next(r for r in queue if (r["source"], r["target"]) == (u, v))["reviewed"]
    session.undo()
    assert session.report.interpretability["endorsed_share"] == pytest.approx(before)
    assert not session.graph.edge_attrs(u, v).get("endorsed")


def test_endorsing_an_unresolved_edge_settles_it_as_drawn(session):
    unresolved = session.graph.unresolved_edges
    assert unresolved, "the demo has unresolved directions"
    u, v = unresolved[0]
    n_before = session.report.interpretability["unresolved_edges"]
    session.endorse(u, v)
    assert (u, v) not in session.graph.unresolved_edges
    assert session.report.interpretability["unresolved_edges"] == n_before - 1
    assert "confirmed by a clinician" in session.graph.edge_attrs(u, v)["orientation"]


def test_endorsing_a_missing_edge_names_the_one_there(session):
    u, v = session.graph.edges[0]
    with pytest.raises(EdgeError, match="to endorse .*the graph has"):
        session.endorse(v, u)


def test_endorse_is_recorded_and_replayed(session, demo_cohort):
    e = EndorseEdge("a", "b", author="dr", rationale="why")
    assert edit_from_dict(edit_to_dict(e)) == e
    u, v = session.review_queue()[1]["source"], session.review_queue()[1]["target"]
    session.endorse(u, v)
    again = EditSession.from_dict(session.to_dict(), demo_cohort)
    assert again.graph.edge_attrs(u, v)["endorsed"]
    assert again.report.interpretability == session.report.interpretability


def test_queue_puts_unresolved_first_and_reviewed_last():
    g = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("c", "d")]).with_unresolved([("c", "d")])
    g = apply_edit(g, EndorseEdge("a", "b"))
    order = [(r["source"], r["target"], r["reviewed"]) for r in review_queue(g)]
    assert order[0] == ("c", "d", False) and order[-1] == ("a", "b", True)
