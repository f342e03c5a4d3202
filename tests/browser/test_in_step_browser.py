"""The screen always shows the server's truth (issue 14, build 0), in a real browser.

A burst of 20 reversals, additions, accepted suggestions and undos, sent as fast as the
keyboard and mouse allow, must leave the canvas, the report and the server's session
equal; a stale answer makes the page redraw from the server's latest state.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import networkx as nx
import pytest

pytestmark = pytest.mark.browser


def _sid(editor) -> str:
    return parse_qs(urlparse(editor.page.url).query)["session"][0]


def _quiet(editor, timeout: float = 60000) -> None:
    """Wait until no edit is in flight or queued, twice in a row 300 ms apart."""
    for _ in range(2):
        try:
            editor.page.wait_for_function(
                "() => { const f = window.kgEditor && window.kgEditor.flight(); "
                "return f && !f.busy && f.queued === 0; }",
                timeout=timeout,
            )
        except Exception as exc:
            state = editor.page.evaluate("() => window.kgEditor.flight()")
            raise AssertionError(f"edits still in flight: {state}") from exc
        editor.page.wait_for_timeout(300)


def _canvas_edges(editor) -> set[tuple[str, str]]:
    pairs = editor.js(
        "return cy.edges().filter(e => !e.hasClass('ghost') && !e.hasClass('refused') "
        "&& !e.hasClass('eh-created')).map(e => [e.data('source'), e.data('target')]);"
    )
    return {(str(u), str(v)) for u, v in pairs}


def _assert_in_step(editor, editor_server) -> None:
    sid = _sid(editor)
    with editor_server.workspace.reading(sid) as session:
        server_edges = {(str(u), str(v)) for u, v in session.graph.edges}
        target = session.targets[0]
        auroc = session.report.targets[target]["auroc"]
        n_history = len(session.history)
    assert _canvas_edges(editor) == server_edges
    assert editor.metric_after("edges") == len(server_edges)
    assert editor.metric_after("auroc") == pytest.approx(auroc, abs=1e-12)
    flight = editor.page.evaluate("() => window.kgEditor.flight()")
    assert flight["maxRev"] == n_history
    assert flight["drawnRev"] == n_history
    assert flight["sent"] == flight["settled"]


def _reversible(graph, constraints):
    g = graph.nx
    for u, v in sorted(g.edges):
        if constraints.violation(v, u) is not None:
            continue
        h = nx.DiGraph(g)
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v):
            return u, v
    raise AssertionError("no reversible edge")


def _free_pairs(graph, constraints, k):
    g = nx.DiGraph(graph.nx)
    out = []
    for a in sorted(g.nodes):
        for b in sorted(g.nodes):
            if len(out) == k:
                return out
            if a == b or g.has_edge(a, b) or g.has_edge(b, a):
                continue
            if constraints.violation(a, b) is not None or nx.has_path(g, b, a):
                continue
            if any({a, b} & {x, y} for x, y in out):
                continue
            out.append((a, b))
            g.add_edge(a, b)
    return out


def test_twenty_rapid_actions_leave_canvas_report_and_server_equal(editor, editor_server):
    page = editor.page
    ws = editor_server.workspace
    sid = _sid(editor)
    with ws.reading(sid) as session:
        graph, constraints = session.graph, session.constraints
    u, v = _reversible(graph, constraints)
    pairs = _free_pairs(graph, constraints, 5)
    assert len(pairs) == 5
    before = ws.history_revision(sid)

    # 5 reversals of one edge by the keyboard, as fast as keys go
    editor.select_edge(u, v)
    for _ in range(5):
        page.keyboard.press("r")
    # 5 additions by click-source-then-target, without waiting for the server
    page.click("#kg-connect-mode")
    for a, b in pairs:
        page.mouse.click(*editor.node_xy(a))
        page.mouse.click(*editor.node_xy(b))
    page.click("#kg-connect-mode")
    _quiet(editor)
    # 5 double-clicks on the first suggestion's Accept button
    for _ in range(5):
        button = page.locator("li.suggestion button", has_text="Accept").first
        button.dblclick()
    # 5 undos
    for _ in range(5):
        page.keyboard.press("Control+z")
    _quiet(editor)

    after = ws.history_revision(sid)
    assert after > before  # the server took edits
    # five reversals flip the edge five times: it ends reversed unless an undo took it back
    with ws.reading(sid) as session:
        kinds = [h.kind for h in session.history[before:]]
    assert kinds.count("undo") == 5
    assert kinds.count("edit") >= 5
    _assert_in_step(editor, editor_server)
    assert editor.console_errors == []


def test_a_newer_session_is_redrawn_on_the_next_answer(editor, editor_server):
    """Another tab (or worker) edits the session: the next answer this page gets, even a
    mere node selection, says the session is newer than the canvas, and the page redraws."""
    _quiet(editor)
    ws = editor_server.workspace
    sid = _sid(editor)
    with ws.editing(sid) as session:
        u, v = sorted(session.graph.edges)[0]
        session.remove(u, v, author="another tab")
    assert editor.has_edge(u, v)  # the canvas does not know yet
    node = sorted(editor_server.graph.nodes)[0]
    editor.js("cy.getElementById(arg).emit('tap'); return null;", node)
    editor.wait_edge(u, v, present=False)
    _quiet(editor)
    _assert_in_step(editor, editor_server)
    assert editor.page.evaluate("() => window.kgEditor.flight().redraws") >= 1


def test_edit_controls_are_disabled_while_an_edit_is_in_flight(editor, editor_server):
    _quiet(editor)
    seen = editor.page.evaluate(
        """() => new Promise(resolve => {
            window.kgEditor.send({kind: 'undo'});
            const b = document.getElementById('kg-redo');
            resolve([document.body.classList.contains('kg-busy'),
                     b.getAttribute('aria-disabled')]);
        })"""
    )
    assert seen == [True, "true"]
    _quiet(editor)
    assert editor.page.get_attribute("#kg-redo", "aria-disabled") is None
    _assert_in_step(editor, editor_server)
