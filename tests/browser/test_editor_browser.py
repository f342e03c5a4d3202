"""The editor in a real browser: load, add (click, drag, form), reverse, remove, refused
cycle, undo/redo, suggestions, report numbers equal to the Python API, offline and clean.

One server and one headless Chromium serve the whole module; the tests run in order and
each mirrors its edit on an independent :class:`EditSession` (the Python API) to compare
the report figures the page shows.
"""

from __future__ import annotations

from urllib.parse import urlparse

import networkx as nx
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ref(editor_server):
    """The Python API doing the same edits as the browser."""
    from kg_editor.session import EditSession

    return EditSession(editor_server.cohort, editor_server.graph, bootstrap=50)


def _free_pair(graph, avoid=()):
    """Two nodes with no edge between them whose edge a -> b closes no cycle."""
    g = graph.nx
    nodes = sorted(graph.nodes, key=lambda n: -(g.in_degree(n) + g.out_degree(n)))
    for a in nodes:
        for b in nodes:
            if a == b or {a, b} & set(avoid) or g.has_edge(a, b) or g.has_edge(b, a):
                continue
            if not nx.has_path(g, b, a):
                return a, b
    raise AssertionError("no free pair")


def _reversible(graph, avoid=()):
    g = graph.nx
    for u, v in sorted(g.edges):
        if {u, v} & set(avoid):
            continue
        h = nx.DiGraph(g)
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v):
            return u, v
    raise AssertionError("no reversible edge")


def _check_report(editor, ref, target):
    """The page's AUROC and log-likelihood equal the Python API's, exactly."""
    au = ref.report.targets[target]["auroc"]
    ll = ref.report.accuracy["loglik_per_patient"]
    editor.page.wait_for_function(
        "(v) => { const r = document.getElementById('metric-auroc'); return r && r.getAttribute('data-after') === v; }",
        arg=repr(au),
        timeout=15000,
    )
    assert editor.metric_after("auroc") == pytest.approx(au, abs=1e-12)
    assert editor.metric_after("loglik_per_patient") == pytest.approx(ll, abs=1e-12)
    assert editor.metric_after("edges") == len(ref.graph.edges)


def test_page_loads_with_every_node(editor, editor_server):
    n_nodes = editor.js("return cy.nodes().length;")
    n_edges = editor.js("return cy.edges().length;")
    assert n_nodes == len(editor_server.graph.nodes)
    assert n_edges == len(editor_server.graph.edges)
    labels = set(editor.js("return cy.nodes().map(n => n.data('full_label'));"))
    assert "Gastrointestinal hemorrhage" in labels
    assert editor.page.is_visible("#kg-legend")
    assert "session=" in editor.page.url


def test_add_edge_by_clicking(editor, ref):
    target = ref.targets[0]
    a, b = _free_pair(ref.graph, avoid=[target])
    editor.page.click("#kg-connect-mode")
    editor.page.mouse.click(*editor.node_xy(a))
    editor.page.mouse.click(*editor.node_xy(b))
    editor.wait_edge(a, b)
    editor.page.click("#kg-connect-mode")  # leave connect mode
    ref.add(a, b)
    editor.wait_status("Added")
    _check_report(editor, ref, target)


def test_add_edge_by_dragging(editor, ref):
    target = ref.targets[0]
    a, b = _free_pair(ref.graph, avoid=[target])
    hx, hy = editor.node_xy(a)
    tx, ty = editor.node_xy(b)
    positions = editor.js("return cy.nodes().map(n => [n.id(), n.position('x'), n.position('y')]);")
    editor.page.click("#kg-connect-mode")  # connect mode: dragging draws an edge
    editor.page.mouse.move(hx, hy)
    editor.page.mouse.down()
    for i in range(1, 16):
        editor.page.mouse.move(hx + (tx - hx) * i / 15, hy + (ty - hy) * i / 15)
        editor.page.wait_for_timeout(20)
    editor.page.wait_for_timeout(300)  # hover on the target long enough to preview
    editor.page.mouse.up()
    editor.wait_edge(a, b)
    editor.page.click("#kg-connect-mode")
    # the drag drew an edge; it did not move the node
    assert (
        editor.js("return cy.nodes().map(n => [n.id(), n.position('x'), n.position('y')]);")
        == positions
    )
    ref.add(a, b)
    _check_report(editor, ref, target)


def test_add_edge_from_the_form(editor, ref):
    target = ref.targets[0]
    a, b = _free_pair(ref.graph, avoid=[target])
    for dd, node in (("#kg-form-source", a), ("#kg-form-target", b)):
        editor.page.click(f"{dd} .Select-control, {dd}")
        editor.page.keyboard.type(ref.graph.label(node)[:40])
        editor.page.keyboard.press("Enter")
    editor.page.fill("#kg-rationale", "seen in clinic")
    editor.page.click("#kg-form-add")
    editor.wait_edge(a, b)
    ref.add(a, b, rationale="seen in clinic")
    _check_report(editor, ref, target)
    # the rationale is recorded in the edge's history card
    editor.select_edge(a, b)
    editor.page.wait_for_selector("text=seen in clinic")


def test_reverse_with_the_keyboard(editor, ref):
    u, v = _reversible(ref.graph)
    editor.select_edge(u, v)
    editor.page.locator("body").press("r")
    editor.wait_edge(v, u)
    assert not editor.has_edge(u, v)
    ref.reverse(u, v)
    _check_report(editor, ref, ref.targets[0])


def test_remove_from_the_edge_card(editor, ref):
    u, v = sorted(ref.graph.edges)[0]
    editor.select_edge(u, v)
    editor.page.click("#kg-edge-remove")
    editor.wait_edge(u, v, present=False)
    ref.remove(u, v)
    _check_report(editor, ref, ref.targets[0])


def test_cycle_is_refused_and_shown(editor, ref):
    g = ref.graph.nx
    x, _y, z = next((a, b, c) for a, b in g.edges for c in g.successors(b) if not g.has_edge(c, a))
    n_edges = len(ref.graph.edges)
    editor.page.click("#kg-connect-mode")
    editor.page.mouse.click(*editor.node_xy(z))
    editor.page.mouse.click(*editor.node_xy(x))
    editor.page.click("#kg-connect-mode")
    editor.page.wait_for_selector("#kg-alert:not([hidden])", timeout=15000)
    text = editor.page.inner_text("#kg-alert-text")
    assert "cycle" in text and ref.graph.label(x) in text
    editor.wait("return cy.elements('.cycle').length >= 3;")
    assert not editor.has_edge(z, x)
    assert editor.metric_after("edges") == n_edges
    editor.page.click("#kg-alert-close")
    editor.page.wait_for_selector("#kg-alert", state="hidden")


def test_undo_and_redo(editor, ref):
    last_edit = ref.history[-1].edit  # the removal
    u, v = last_edit.source, last_edit.target
    editor.page.locator("body").press("Control+z")
    editor.wait_edge(u, v)
    ref.undo()
    _check_report(editor, ref, ref.targets[0])
    editor.page.click("#kg-redo")
    editor.wait_edge(u, v, present=False)
    ref.redo()
    _check_report(editor, ref, ref.targets[0])
    editor.page.locator("body").press("Control+z")
    editor.wait_edge(u, v)
    ref.undo()
    editor.page.locator("body").press("Control+Shift+z")
    editor.wait_edge(u, v, present=False)
    ref.redo()
    _check_report(editor, ref, ref.targets[0])


def test_accepting_a_suggestion_applies_it(editor, ref):
    row = editor.page.locator("li.suggestion").first
    row.wait_for()
    sid = row.get_attribute("data-id")
    s, t, kind = (row.get_attribute(k) for k in ("data-source", "data-target", "data-kind"))
    row.hover()  # preview: a ghost edge for an addition
    if kind == "add":
        editor.wait("return cy.edges('.ghost').length === 1;")
    row.locator("button", has_text="Accept").click()
    if kind == "add":
        editor.wait_edge(s, t)
    elif kind == "reverse":
        editor.wait_edge(t, s)
    else:
        editor.wait_edge(s, t, present=False)
    ids = {x.id for x in ref.suggestions(k=8)}
    assert sid in ids
    ref.accept(sid)
    _check_report(editor, ref, ref.targets[0])
    editor.page.mouse.move(5, 5)  # leaving the queue clears the preview
    editor.wait("return cy.edges('.ghost').length === 0;")


def test_unexpected_error_shows_a_generic_alert_and_is_logged(editor, monkeypatch, caplog):
    from kg_editor.ui import callbacks

    def boom(session, action, state):
        raise RuntimeError("simulated failure")

    monkeypatch.setitem(callbacks.ACTIONS, "redo", boom)
    n_edges = editor.js("return cy.edges().length;")
    with caplog.at_level("ERROR", logger="kg_editor.ui.callbacks"):
        editor.page.locator("body").press("Control+Shift+z")
        editor.page.wait_for_selector("#kg-alert:not([hidden])", timeout=15000)
    assert "Something went wrong" in editor.page.inner_text("#kg-alert-text")
    assert "simulated failure" not in editor.page.inner_text("#kg-alert-text")
    assert any(r.exc_info and "simulated failure" in str(r.exc_info[1]) for r in caplog.records)
    assert editor.js("return cy.edges().length;") == n_edges
    editor.page.click("#kg-alert-close")
    editor.page.wait_for_selector("#kg-alert", state="hidden")


def test_screenshot_of_the_editor(editor, tmp_path):
    """A real screenshot; ``KG_EDITOR_SCREENSHOT=docs/screenshot.png`` writes the README's."""
    import os

    target = os.environ.get("KG_EDITOR_SCREENSHOT") or str(tmp_path / "editor.png")
    # show an edge's evidence card and a node's neighbourhood, as a physician would
    u, v = next(iter(sorted(e for e in editor_edges(editor))))
    editor.select_edge(u, v)
    editor.page.mouse.move(5, 5)
    editor.page.wait_for_timeout(300)
    editor.page.screenshot(path=target, full_page=True)
    with open(target, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def editor_edges(editor):
    return [tuple(e) for e in editor.js(
        "return cy.edges().filter(e => e.hasClass('prov-distilled'))"
        ".map(e => [e.data('source'), e.data('target')]);")]


def test_every_request_stayed_local_and_console_is_clean(editor):
    hosts = {urlparse(u).hostname for u in editor.requests if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, hosts
    assert editor.console_errors == []
