"""Instant feedback (issue 14, build 4), server side: the hints the page draws Undo and
Redo from, and the report outputs left out of an answer when the page already shows
them."""

from __future__ import annotations

import networkx as nx
from dash import no_update

from kg_editor.model.session import EditSession
from kg_editor.ui.editor.callbacks import STEADY_OUTPUTS, edit_hints, skip_unchanged
from kg_editor.ui.editor.render import render_report


def _reversible(graph) -> tuple[str, str]:
    g = graph.nx
    return next(
        (a, b)
        for a, b in sorted(g.edges)
        if not nx.has_path(nx.restricted_view(g, [], [(a, b)]), a, b)
    )


def test_hints_say_what_undo_and_redo_change(demo_cohort, demo_graph):
    session = EditSession(demo_cohort, demo_graph)
    assert edit_hints(session) == {"undo": None, "redo": None}
    u, v = _reversible(demo_graph)
    session.reverse(u, v)
    hints = edit_hints(session)
    assert hints == {"undo": {"add": [[u, v]], "remove": [[v, u]]}, "redo": None}
    session.undo()
    assert edit_hints(session) == {"undo": None, "redo": {"add": [[v, u]], "remove": [[u, v]]}}
    # the hint is what the step does to the graph
    session.redo()
    assert session.graph.has_edge(v, u) and not session.graph.has_edge(u, v)


def test_unchanged_report_outputs_are_not_sent_again(demo_cohort, demo_graph):
    session = EditSession(demo_cohort, demo_graph)
    target = session.targets[0]
    # an edge outside the target's Markov blanket: the target's predictions stay
    blanket = set(demo_graph.nx.predecessors(target)) | set(demo_graph.nx.successors(target))
    for c in demo_graph.nx.successors(target):
        blanket |= set(demo_graph.nx.predecessors(c))
    blanket.add(target)
    g = demo_graph.nx
    u, v = next(
        (a, b)
        for a, b in sorted(g.edges)
        if not ({a, b} & blanket) and not nx.has_path(nx.restricted_view(g, [], [(a, b)]), a, b)
    )
    session.reverse(u, v)
    first = render_report(session, None)
    sent = skip_unchanged(dict(first), None)
    assert set(sent) == {k for k in STEADY_OUTPUTS if k in first}
    session.undo()
    second = render_report(session, None)
    out = dict(second)
    again = skip_unchanged(out, sent)
    assert out["roc"] is no_update and out["calibration"] is no_update
    assert out["status"] is not no_update  # "Undone ..." differs from "Reversed ..."
    assert again["roc"] == sent["roc"]
    # a redraw the page asked for sends everything
    out = dict(second)
    skip_unchanged(out, sent, resend=True)
    assert all(out[k] is not no_update for k in STEADY_OUTPUTS if k in second)
