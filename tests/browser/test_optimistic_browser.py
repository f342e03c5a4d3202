"""Instant feedback (issue 14, build 4), in a real browser: an edit is drawn on the canvas
the moment it is clicked, in a pending style, before the server answers; the answer then
replaces it (the edit stays), or rolls it back when the server refuses it (a cycle),
with the server's message. Canvas, report and server agree afterwards."""

from __future__ import annotations

import networkx as nx
import pytest

from tests.browser.test_in_step_browser import _assert_in_step, _quiet, _reversible, _sid

pytestmark = pytest.mark.browser

#: Click a button and read, in the same task (before any answer can arrive), what the
#: canvas shows: the optimistic marks and whether each edge in ``arg.pairs`` is visible.
CLICK_AND_LOOK = """(a) => {
  const cy = document.getElementById('kg-canvas')._cyreg.cy;
  document.getElementById(a.button).click();
  const visible = a.pairs.map(p => cy.edges().some(e => e.data('source') === p[0]
      && e.data('target') === p[1] && e.visible()));
  return {marks: window.kgEditor.optimistic(), visible: visible};
}"""


def _looks(editor, button: str, pairs: list[tuple[str, str]]) -> dict:
    return editor.page.evaluate(CLICK_AND_LOOK, {"button": button, "pairs": pairs})


def _no_marks(editor) -> None:
    assert editor.page.evaluate("() => window.kgEditor.optimistic()") == {
        "shown": [],
        "hidden": [],
    }


def test_a_reversal_is_drawn_at_once_then_confirmed(editor, editor_server):
    ws = editor_server.workspace
    sid = _sid(editor)
    with ws.reading(sid) as session:
        u, v = _reversible(session.graph, session.constraints)
    editor.select_edge(u, v)
    seen = _looks(editor, "kg-edge-reverse", [(v, u), (u, v)])
    assert seen["marks"] == {"shown": [[v, u]], "hidden": [[u, v]]}
    assert seen["visible"] == [True, False]  # the new direction shows, the old is hidden
    _quiet(editor)
    _no_marks(editor)  # the server's edge replaced the pending one
    assert editor.has_edge(v, u) and not editor.has_edge(u, v)
    with ws.reading(sid) as session:
        assert session.graph.has_edge(v, u)
    _assert_in_step(editor, editor_server)

    # Undo is drawn at once too, from the server's hint of what it changes
    seen = _looks(editor, "kg-undo", [(u, v), (v, u)])
    assert seen["marks"] == {"shown": [[u, v]], "hidden": [[v, u]]}
    assert seen["visible"] == [True, False]
    _quiet(editor)
    _no_marks(editor)
    assert editor.has_edge(u, v) and not editor.has_edge(v, u)
    _assert_in_step(editor, editor_server)
    assert editor.console_errors == []


def test_a_removal_hides_the_edge_at_once(editor, editor_server):
    _quiet(editor)
    ws = editor_server.workspace
    sid = _sid(editor)
    with ws.reading(sid) as session:
        u, v = sorted(session.graph.edges)[-1]
    editor.select_edge(u, v)
    seen = _looks(editor, "kg-edge-remove", [(u, v)])
    assert seen["marks"] == {"shown": [], "hidden": [[u, v]]}
    assert seen["visible"] == [False]
    _quiet(editor)
    _no_marks(editor)
    assert not editor.has_edge(u, v)
    _assert_in_step(editor, editor_server)
    assert editor.console_errors == []


def test_a_refused_reversal_is_rolled_back_with_the_message(editor, editor_server):
    """Reversing an edge that another path doubles closes a cycle: the pending reversal
    is drawn, the server refuses it, and the canvas goes back to the edge as it was."""
    _quiet(editor)
    ws = editor_server.workspace
    sid = _sid(editor)
    with ws.reading(sid) as session:
        g = session.graph.nx
        u, v = next(
            (a, b)
            for a, b in sorted(g.edges)
            if nx.has_path(nx.restricted_view(g, [], [(a, b)]), a, b)
            and session.constraints.violation(b, a) is None
        )
        n_before = len(session.history)
    editor.select_edge(u, v)
    seen = _looks(editor, "kg-edge-reverse", [(v, u), (u, v)])
    assert seen["marks"] == {"shown": [[v, u]], "hidden": [[u, v]]}
    _quiet(editor)
    _no_marks(editor)  # rolled back: the old direction is visible again
    assert editor.js(
        "return cy.edges().some(e => e.data('source') === arg[0] && e.data('target') === arg[1]"
        " && e.visible());",
        [u, v],
    )
    assert not editor.has_edge(v, u)
    text = editor.page.text_content("#kg-alert") or ""
    assert "cycle" in text.lower()
    with ws.reading(sid) as session:
        assert session.graph.has_edge(u, v) and len(session.history) == n_before
    _assert_in_step(editor, editor_server)
    assert editor.console_errors == []
