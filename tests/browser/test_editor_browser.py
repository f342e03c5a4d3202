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
    from kg_editor.model.session import EditSession

    return EditSession(
        editor_server.cohort,
        editor_server.graph,
        constraints=editor_server.workspace.constraints(),
        bootstrap=50,
    )


def _free_pair(graph, avoid=(), constraints=None):
    """Two nodes with no edge between them whose edge a -> b closes no cycle and
    honours the constraints."""
    g = graph.nx
    nodes = sorted(graph.nodes, key=lambda n: -(g.in_degree(n) + g.out_degree(n)))
    for a in nodes:
        for b in nodes:
            if a == b or {a, b} & set(avoid) or g.has_edge(a, b) or g.has_edge(b, a):
                continue
            if constraints is not None and constraints.violation(a, b) is not None:
                continue
            if not nx.has_path(g, b, a):
                return a, b
    raise AssertionError("no free pair")


def _reversible(graph, avoid=(), constraints=None):
    g = graph.nx
    for u, v in sorted(g.edges):
        if {u, v} & set(avoid):
            continue
        if constraints is not None and constraints.violation(v, u) is not None:
            continue
        h = nx.DiGraph(g)
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v):
            return u, v
    raise AssertionError("no reversible edge")


def pick(editor, dropdown, label):
    """Choose ``label`` in a searchable Dash dropdown."""
    editor.page.click(dropdown)
    search = editor.page.locator("input[placeholder='Search']:visible").first
    search.fill(label)
    editor.page.locator(f"{dropdown} ~ * [role=option], [role=option]:visible").filter(
        has_text=label
    ).first.wait_for()
    search.press("Enter")


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
    a, b = _free_pair(ref.graph, avoid=[target], constraints=ref.constraints)
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
    a, b = _free_pair(ref.graph, avoid=[target], constraints=ref.constraints)
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
    a, b = _free_pair(ref.graph, avoid=[target], constraints=ref.constraints)
    for dd, node in (("#kg-form-source", a), ("#kg-form-target", b)):
        pick(editor, dd, ref.graph.label(node))
    editor.page.fill("#kg-rationale", "seen in clinic")
    editor.page.click("#kg-form-add")
    editor.wait_edge(a, b)
    ref.add(a, b, rationale="seen in clinic")
    _check_report(editor, ref, target)
    # the rationale is recorded in the edge's history card
    editor.select_edge(a, b)
    editor.page.wait_for_selector("text=seen in clinic")
    # an added edge gets the data's evidence for its pair, computed on demand
    editor.page.wait_for_selector("text=Evidence computed for this pair")
    assert "Odds ratio" in editor.page.inner_text("#kg-details")


def test_reverse_with_the_keyboard(editor, ref):
    u, v = _reversible(ref.graph, constraints=ref.constraints)
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
    # a path x -> y -> z whose closing edge z -> x is allowed by the tiers (the cycle,
    # not a constraint, is what refuses it)
    x, _y, z = next(
        (a, b, c)
        for a, b in sorted(g.edges)
        for c in sorted(g.successors(b))
        if not g.has_edge(c, a) and not g.has_edge(a, c) and ref.constraints.violation(c, a) is None
    )
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


def test_node_click_shows_details_with_the_cpd(editor, ref):
    # the node with most room around it (a click there cannot hit a neighbour)
    target = editor.js(
        "const ns = cy.nodes(); let best = null, room = -1;"
        "ns.forEach(n => { const p = n.renderedPosition(); let d = 1e9;"
        "  ns.forEach(m => { if (m !== n) { const q = m.renderedPosition();"
        "    d = Math.min(d, Math.hypot(p.x - q.x, p.y - q.y)); } });"
        "  if (n.indegree() > 0 && d > room) { room = d; best = n.id(); } });"
        "return best;"
    )
    editor.page.mouse.click(*editor.node_xy(target))
    editor.page.wait_for_function(
        "(t) => { const h = document.querySelector('#kg-details .card-title');"
        " return h && h.textContent === t && document.querySelector('#kg-details table.cpd'); }",
        arg=ref.graph.label(target),
        timeout=15000,
    )
    text = editor.page.inner_text("#kg-details")
    assert "Prevalence" in text and ref.graph.label(target) in text
    n_rows = editor.page.locator("#kg-details table.cpd tbody tr").count()
    assert n_rows == min(len(ref.cpd_table(target)), 16)


def test_context_menu_reverses_an_edge(editor, ref):
    before = {
        tuple(e)
        for e in editor.js("return cy.edges().map(e => [e.data('source'), e.data('target')]);")
    }
    g = ref.graph.nx
    candidates = []
    for a, b in sorted(g.edges):
        h = nx.DiGraph(g)
        h.remove_edge(a, b)
        if not nx.has_path(h, a, b) and ref.constraints.violation(b, a) is None:
            candidates.append([a, b])
    # right-click an edge whose midpoint is clear of every node, in the canvas's upper
    # left part (the menu opens below and to the right of the pointer and must fit)
    editor.page.evaluate("() => window.scrollTo(0, 0)")
    x, y = editor.js(
        "const el = document.getElementById('kg-canvas'); const r = el.getBoundingClientRect();"
        "const w = el.clientWidth, h = el.clientHeight;"
        "const pts = cy.nodes().map(n => n.renderedPosition());"
        "for (const [s, t] of arg) {"
        "  const e = cy.edges().filter(x => x.data('source') === s && x.data('target') === t);"
        "  if (e.empty()) continue; const m = e.renderedMidpoint();"
        "  if (m.x < 10 || m.y < 10 || m.x > w - 220 || m.y > h - 160) continue;"
        "  if (pts.every(p => Math.hypot(p.x - m.x, p.y - m.y) > 30)) return [r.left + m.x, r.top + m.y];"
        "} return null;",
        candidates,
    )
    # a chained answer that repaints the canvas closes an open menu: open it again then
    for _ in range(5):
        editor.page.mouse.click(x, y, button="right")
        editor.page.wait_for_timeout(300)
        if editor.js(
            "const r = document.getElementById('kg-menu-reverse').getBoundingClientRect();"
            "return r.width > 0 && r.height > 0;"
        ):
            break
        editor.page.wait_for_timeout(700)
    editor.page.click("#kg-menu-reverse")
    editor.wait(
        "return cy.edges().length > 0 && arg.some(p => !cy.edges().some("
        "e => e.data('source') === p[0] && e.data('target') === p[1]));",
        sorted(before),
    )
    after = {
        tuple(e)
        for e in editor.js("return cy.edges().map(e => [e.data('source'), e.data('target')]);")
    }
    (gone,) = before - after  # the edge under the pointer (usually u -> v)
    assert (gone[1], gone[0]) in after
    ref.reverse(*gone)
    _check_report(editor, ref, ref.targets[0])


def test_rejecting_a_suggestion_records_it(editor, ref):
    row = editor.page.locator("li.suggestion").first
    sid = row.get_attribute("data-id")
    ref.suggestions(k=8)
    row.locator("button", has_text="Reject").click()
    editor.page.wait_for_selector("#kg-history >> text=reject")
    editor.page.wait_for_function(
        "(sid) => !Array.from(document.querySelectorAll('li.suggestion')).some(r => r.dataset.id === sid)",
        arg=sid,
        timeout=15000,
    )
    ref.reject(sid)


def test_neighbourhood_view_and_search(editor, ref):
    from kg_editor.ui.editor.elements import neighbourhood

    target = ref.targets[0]
    editor.page.click("#kg-focus-mode input")
    expected = neighbourhood(ref.graph, target, 2)
    editor.wait("return cy.nodes().length === arg;", len(expected))
    assert set(editor.js("return cy.nodes().map(n => n.id());")) == expected
    editor.page.click("#kg-focus-mode input")  # back to the whole graph
    editor.wait("return cy.nodes().length === arg;", len(ref.graph.nodes))
    editor.settle()
    # search selects and centres a concept
    node = sorted(ref.graph.nodes)[0]
    pick(editor, "#kg-search", ref.graph.label(node))
    editor.wait("return cy.getElementById(arg).selected();", node)


def test_target_selector_switches_the_report(editor, ref):
    first = ref.targets[0]
    other = sorted(
        n
        for n in ref.graph.nodes
        if n != first and len(ref.cohort.variables[n].states) == 2 and ref.graph.parents(n)
    )[0]
    for code in (other, first):
        pick(editor, "#kg-target", ref.graph.label(code))
        ref.set_targets([code])
        _check_report(editor, ref, code)


def test_constraint_is_refused_then_overridden_and_recorded(editor, ref, editor_server):
    g = ref.graph.nx
    cons = ref.constraints
    # an edge against the tier order that would close no cycle
    a, b = next(
        (a, b)
        for a in sorted(ref.graph.nodes)
        for b in sorted(ref.graph.nodes)
        if a != b
        and not g.has_edge(a, b)
        and not g.has_edge(b, a)
        and cons.violation(a, b) is not None
        and not nx.has_path(g, b, a)
    )
    n_edges = len(ref.graph.edges)
    for dd, node in (("#kg-form-source", a), ("#kg-form-target", b)):
        pick(editor, dd, ref.graph.label(node))
    editor.page.click("#kg-form-add")
    editor.page.wait_for_selector("#kg-alert.constraint:not([hidden])", timeout=15000)
    text = editor.page.inner_text("#kg-alert-text")
    assert "goes against the constraint" in text and "Override constraints" in text
    assert ref.graph.label(a) in text and ref.graph.label(b) in text
    assert not editor.has_edge(a, b)
    assert editor.metric_after("edges") == n_edges
    editor.page.click("#kg-alert-close")
    # overriding without a name is refused too: the override must say who
    editor.page.fill("#kg-author", "")
    editor.page.locator("#kg-author").press("Enter")
    editor.page.click("#kg-override input")
    editor.page.click("#kg-form-add")
    editor.page.wait_for_function(
        "() => (document.getElementById('kg-alert-text') || {}).textContent.includes('your name')",
        timeout=15000,
    )
    assert not editor.has_edge(a, b)
    editor.page.click("#kg-alert-close")
    # with a name and a rationale the override goes through and is recorded
    editor.page.fill("#kg-author", "Dr Override")
    editor.page.locator("#kg-author").press("Enter")
    editor.page.fill("#kg-rationale", "known reverse-causation case")
    editor.page.click("#kg-form-add")
    editor.wait_edge(a, b)
    editor.page.wait_for_selector("#kg-history >> text=(constraint overridden)")
    editor.page.click("#kg-override input")  # untick: the next edits honour constraints again
    editor.page.evaluate("() => document.activeElement && document.activeElement.blur()")
    ref.add(a, b, author="Dr Override", rationale="known reverse-causation case", override=True)
    _check_report(editor, ref, ref.targets[0])
    sid = editor.page.evaluate("() => new URL(location.href).searchParams.get('session')")
    reg = editor_server.workspace
    last = [e for e in reg.store.audit(reg.project_id, session_id=sid) if e.action == "edit"][-1]
    assert last.edit["override"] is True
    assert last.author == "Dr Override"
    assert last.rationale == "known reverse-causation case"
    assert (last.edit["source"], last.edit["target"]) == (a, b)
    state = reg.store.load_session_state(sid)
    assert state["history"][-1]["edit"]["override"] is True


def test_unexpected_error_shows_a_generic_alert_and_is_logged(editor, monkeypatch, caplog):
    from kg_editor.ui.editor import callbacks

    def boom(session, action, state):
        raise RuntimeError("simulated failure")

    monkeypatch.setitem(callbacks.ACTIONS, "redo", boom)
    n_edges = editor.js("return cy.edges().length;")
    with caplog.at_level("ERROR", logger="kg_editor.ui.editor.callbacks"):
        editor.page.locator("body").press("Control+Shift+z")
        editor.page.wait_for_selector("#kg-alert:not([hidden])", timeout=15000)
    assert "Something went wrong" in editor.page.inner_text("#kg-alert-text")
    assert "simulated failure" not in editor.page.inner_text("#kg-alert-text")
    assert any(r.exc_info and "simulated failure" in str(r.exc_info[1]) for r in caplog.records)
    assert editor.js("return cy.edges().length;") == n_edges
    editor.page.click("#kg-alert-close")
    editor.page.wait_for_selector("#kg-alert", state="hidden")


def test_screenshot_of_the_editor(browser, editor_server, tmp_path):
    """A real screenshot of a fresh session after one edit (removing the strongest edge into
    the target); ``KG_EDITOR_SCREENSHOT=docs/screenshot.png`` writes the README's."""
    import os

    from .conftest import EditorPage

    target = os.environ.get("KG_EDITOR_SCREENSHOT") or str(tmp_path / "editor.png")
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = EditorPage(ctx.new_page())
    page.open(editor_server.url + "/")  # no ?session=: a new session
    into = page.js(
        "const t = cy.nodes('.target')[0].id();"
        "return cy.edges().filter(e => e.data('target') === t || e.data('source') === t)"
        ".sort((a, b) => (b.data('strength') || 0) - (a.data('strength') || 0))"
        ".map(e => [e.data('source'), e.data('target')]);"
    )
    page.select_edge(*into[0])
    page.page.click("#kg-edge-remove")
    page.wait_status("Removed")
    page.select_edge(*into[1])
    page.page.mouse.move(5, 5)
    page.page.wait_for_timeout(500)
    page.page.screenshot(path=target, full_page=True)
    with open(target, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert page.console_errors == []
    ctx.close()


def test_no_patient_rows_reached_the_browser(editor, editor_server):
    import json

    ids = {str(i) for i in editor_server.cohort.data.index}
    assert editor_server.callback_bodies
    for body in editor_server.callback_bodies:
        assert "patient_id" not in body
        stack = [json.loads(body)] if body.strip().startswith("{") else []
        while stack:
            cur = stack.pop()
            if isinstance(cur, dict):
                stack.extend(cur.values())
            elif isinstance(cur, list):
                hits = [
                    x
                    for x in cur
                    if isinstance(x, str | int) and not isinstance(x, bool) and str(x) in ids
                ]
                assert len(hits) < 20
                stack.extend(cur)


def test_every_request_stayed_local_and_console_is_clean(editor):
    hosts = {urlparse(u).hostname for u in editor.requests if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, hosts
    assert editor.console_errors == []
