"""The research side of the editor in a real browser (issue 14, build 1 and 5): the edge
table (native sort and filter, a row click selects the edge and opens its card, the table
follows an edit and its undo), hover tooltips with the odds ratio, node pinning across a
reversal and a re-layout, grouping ranks by domain, and positions saved with a version
coming back when it is reopened. Every test ends with no console errors."""

from __future__ import annotations

import pytest

from .conftest import EditorPage

pytestmark = pytest.mark.browser


@pytest.fixture()
def page(browser, editor_server):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    ep = EditorPage(ctx.new_page())
    ep.open(editor_server.url + "/")
    yield ep
    assert ep.console_errors == []
    ctx.close()


def _reversible(served):
    """An edge whose reversal breaks no constraint and closes no cycle."""
    import networkx as nx

    g, cons = served.graph.nx, served.workspace.constraints()
    for u, v in sorted(g.edges):
        if cons.violation(v, u) is not None or g.edges[u, v].get("unresolved"):
            continue
        h = nx.DiGraph(g)
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v):
            return u, v
    raise AssertionError("no reversible edge")


def _or(g, u, v):
    ev = g.edge_attrs(u, v).get("evidence") or {}
    return ((ev.get("measures") or {}).get("odds_ratio") or {}).get("estimate")


def _table_rows(ep: EditorPage) -> list[list[str]]:
    return ep.page.evaluate(
        """() => Array.from(document.querySelectorAll('#kg-edge-table tr'))
            .map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))
            .filter(r => r.length > 0)"""
    )


def _column(ep: EditorPage, name: str) -> int:
    heads = ep.page.evaluate(
        """() => Array.from(document.querySelectorAll('#kg-edge-table th.dash-header'))
            .map(th => th.innerText.trim())"""
    )
    return next(i for i, h in enumerate(heads) if h.endswith(name))


def _sort_by(ep: EditorPage, column_id: str) -> None:
    ep.page.locator(
        f"#kg-edge-table th.dash-header.column-{_index(ep, column_id)} .column-header--sort"
    ).click()


def _index(ep: EditorPage, column_id: str) -> int:
    from kg_editor.ui.editor.edge_table import COLUMNS

    return [c[0] for c in COLUMNS].index(column_id)


def _filter(ep: EditorPage, column_id: str, text: str) -> None:
    cell = ep.page.locator(
        f"#kg-edge-table th.dash-filter.column-{_index(ep, column_id)} input[type=text]"
    )
    cell.click()
    cell.fill(text)
    cell.press("Enter")


def _wait_rows(ep: EditorPage, test: str, timeout: float = 15000) -> None:
    ep.page.wait_for_function(
        "() => { const rows = Array.from(document.querySelectorAll('#kg-edge-table tr'))"
        ".map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
        f".filter(r => r.length > 0); return ({test}); }}",
        timeout=timeout,
    )


def test_table_sorts_filters_and_a_row_click_selects_the_edge(page, editor_server):
    g = editor_server.graph
    _wait_rows(page, "rows.length > 0")
    or_col = _column(page, "OR")
    _sort_by(page, "odds_ratio")  # ascending
    _sort_by(page, "odds_ratio")  # descending
    page.page.wait_for_timeout(300)
    values = [float(r[or_col]) for r in _table_rows(page) if r[or_col] not in ("", "–")]
    assert values == sorted(values, reverse=True) and len(values) > 3
    # every row's OR is one an edge of the graph has
    ors = {round(o, 2) for u, v in g.edges if (o := _or(g, u, v)) is not None}
    assert max(values) == max(ors)

    _filter(page, "direction", "unresolved")
    dir_col = _column(page, "Direction")
    _wait_rows(page, f"rows.length > 0 && rows.every(r => r[{dir_col}] === 'unresolved')")
    n_unresolved = len(g.unresolved_edges)
    assert len(_table_rows(page)) == min(n_unresolved, 12)

    # a click on a row selects that edge on the canvas and opens its evidence card
    first = _table_rows(page)[0]
    page.page.locator("#kg-edge-table td").first.click()
    page.page.wait_for_function(
        "() => { const b = document.getElementById('kg-edge-remove'); return b && !b.disabled; }",
        timeout=15000,
    )
    sel = page.js(
        "const e = cy.edges(':selected'); return e.length ? "
        "[e[0].source().data('full_label'), e[0].target().data('full_label')] : null;"
    )
    assert sel == [first[0], first[1]]
    page.page.wait_for_function(
        "(t) => document.getElementById('kg-details').innerText.includes(t)", arg=first[0]
    )


def test_table_follows_an_edit_and_its_undo(page, editor_server):
    g = editor_server.graph
    u, v = _reversible(editor_server)
    lu, lv = g.label(u), g.label(v)
    _filter(page, "source_label", lu)
    _wait_rows(page, f"rows.some(r => r[0] === {lu!r} && r[1] === {lv!r})")
    page.select_edge(u, v)
    page.page.click("#kg-edge-reverse")
    page.wait_edge(v, u)
    _filter(page, "source_label", lv)
    _wait_rows(
        page, f"rows.some(r => r[0] === {lv!r} && r[1] === {lu!r} && r.includes('by clinician'))"
    )
    page.page.click("#kg-undo")
    page.wait_edge(u, v)
    _wait_rows(page, f"!rows.some(r => r[0] === {lv!r} && r[1] === {lu!r})")


def test_tooltip_shows_the_odds_ratio_of_a_hovered_edge(page, editor_server):
    g = editor_server.graph
    u, v = next((u, v) for u, v in g.edges if _or(g, u, v) is not None)
    orr = _or(g, u, v)
    page.page.evaluate("() => window.scrollTo(0, 0)")
    x, y = page.js(
        "const el = document.getElementById('kg-canvas'); const r = el.getBoundingClientRect();"
        "const e = cy.edges().filter(x => x.data('source') === arg[0] && x.data('target') === arg[1]);"
        "cy.center(e); const p = e.renderedMidpoint(); return [r.left + p.x, r.top + p.y];",
        [u, v],
    )
    page.page.mouse.move(x - 30, y - 30)
    page.page.mouse.move(x, y, steps=4)
    tip = page.page.locator("#kg-tooltip")
    tip.wait_for(state="visible", timeout=5000)
    text = tip.inner_text()
    assert f"OR {orr:.2f}" in text and "Direction:" in text
    assert tip.get_attribute("role") == "tooltip"
    # hovering a node shows its full name and domain
    nx_, ny = page.node_xy(u)
    page.page.mouse.move(nx_, ny, steps=3)
    page.page.wait_for_function(
        "(t) => { const d = document.getElementById('kg-tooltip');"
        " return d && !d.hidden && d.innerText.startsWith(t); }",
        arg=g.label(u),
    )
    assert "Domain:" in tip.inner_text() and "Prevalence:" in tip.inner_text()


def _pos(ep: EditorPage, node: str) -> list[float]:
    return ep.js(
        "const p = cy.getElementById(arg).position(); return [Math.round(p.x), Math.round(p.y)];",
        node,
    )


def test_pinned_node_keeps_its_place_after_a_reversal_and_a_relayout(page, editor_server):
    u, v = _reversible(editor_server)
    node = u
    # pin with the node card's button after moving the node somewhere of our own
    page.js("cy.getElementById(arg).position({x: -900, y: -700}); return null;", node)
    page.js("cy.getElementById(arg).emit('tap'); return null;", node)
    page.page.locator("#kg-node-pin").click()
    page.page.wait_for_function(
        "() => document.getElementById('kg-node-pin').getAttribute('aria-pressed') === 'true'"
    )
    assert _pos(page, node) == [-900, -700]
    page.select_edge(u, v)
    page.page.keyboard.press("r")
    page.wait_edge(v, u)
    page.settle()
    assert _pos(page, node) == [-900, -700]
    page.page.click("#kg-relayout")
    page.settle()
    assert _pos(page, node) == [-900, -700]
    # an unpinned neighbour was moved by the re-layout
    assert _pos(page, v) != [-900, -700]
    # P on the selected node unpins it; a re-layout then moves it
    page.js(
        "cy.elements(':selected').unselect(); cy.getElementById(arg).select(); return null;", node
    )
    page.page.keyboard.press("p")
    assert page.js("return !!cy.getElementById(arg).data('pinned');", node) is False
    page.page.click("#kg-relayout")
    page.settle()
    assert _pos(page, node) != [-900, -700]


def test_group_by_domain_orders_every_rank_by_domain(page):
    page.page.locator(".group-domain-input").check()
    page.page.wait_for_function("() => window.kgResearch.grouped()")
    page.settle()
    order = ["demographic", "condition", "observation", "measurement", "procedure", "drug", "other"]
    rows = page.js(
        "const rows = {}; cy.nodes().forEach(n => { const k = Math.round(n.position('y'));"
        " (rows[k] = rows[k] || []).push([n.position('x'), n.data('domain') || 'other']); });"
        " return Object.values(rows);"
    )
    assert len(rows) > 2
    for row in rows:
        doms = [d for _x, d in sorted(row)]
        ranks = [order.index(d) if d in order else len(order) for d in doms]
        assert ranks == sorted(ranks)
    assert page.page.locator("#kg-group-legend").is_visible()
    assert "left to right" in page.page.locator("#kg-group-legend").inner_text()


def test_saved_positions_come_back_when_the_version_is_reopened(page, editor_server):
    node = next(iter(editor_server.graph.nodes))
    page.js("cy.getElementById(arg).position({x: 1234, y: -567}); return null;", node)
    page.page.evaluate("(n) => window.kgResearch.togglePin(n)", node)
    # the page writes its layout to the store (debounced), then Save version sends it
    page.page.wait_for_function(
        "(n) => { const l = window.kgResearch.layout(); return l.pinned.includes(n); }", arg=node
    )
    page.page.wait_for_timeout(600)
    page.page.fill("#kg-e-save-message", "layout kept")
    page.page.click("#kg-e-save")
    page.page.wait_for_function(
        "() => (document.getElementById('kg-e-save-status') || {}).innerText.includes('Saved')",
        timeout=30000,
    )
    ws = editor_server.workspace
    version = ws.list_versions()[-1]
    saved = version.graph.metadata["layout"]
    assert saved["positions"][node] == [1234.0, -567.0] and node in saved["pinned"]
    # reopen the version in a new session: drawn where it was left, still pinned
    _v, sid = ws.open_version(version.id)
    page.open(editor_server.url + f"/?session={sid}")
    assert _pos(page, node) == [1234, -567]
    assert page.js("return cy.getElementById(arg).locked();", node) is True


def _positions(ep: EditorPage) -> dict:
    return ep.js(
        "const o = {}; cy.nodes().forEach(n => { const p = n.position();"
        " o[n.id()] = [Math.round(p.x), Math.round(p.y)]; }); return o;"
    )


def test_changing_the_target_moves_no_node_and_places_new_ones_beside_neighbours(
    page, editor_server
):
    from kg_editor.ui.editor.elements import neighbourhood

    g, cohort = editor_server.graph, editor_server.cohort
    binary = [
        n for n in sorted(cohort.variables) if n in g.nodes and len(cohort.variables[n].states) == 2
    ]
    # two targets whose neighbourhoods overlap, the second bringing nodes not drawn yet
    first, new_target = next(
        (a, b)
        for a in [cohort.target, *binary]
        for b in binary
        if b != a
        and neighbourhood(g, b, 1) - neighbourhood(g, a, 1)
        and neighbourhood(g, b, 1) & neighbourhood(g, a, 1)
    )
    page.pick("#kg-focus-hops", "1 hop")
    page.page.wait_for_function(
        "() => document.getElementById('kg-focus-hops').innerText.includes('1 hop')"
    )
    page.page.wait_for_timeout(500)
    page.page.locator("#kg-focus-mode input").check()  # the target's 1-hop neighbourhood
    page.wait("return cy.nodes().length === arg;", len(neighbourhood(g, cohort.target, 1)))
    page.page.click("#kg-relayout")  # forget the places of the whole graph's first layout
    page.settle()
    if first != cohort.target:  # then a target whose neighbourhood overlaps the next one's
        page.pick("#kg-target", g.label(first))
        page.wait("return cy.getElementById(arg).hasClass('target');", first)
        page.wait("return cy.nodes().length === arg;", len(neighbourhood(g, first, 1)))
        page.settle()
    before = _positions(page)
    page.pick("#kg-target", g.label(new_target))
    page.wait("return cy.getElementById(arg).hasClass('target');", new_target)
    page.settle()
    after = _positions(page)
    kept = set(before) & set(after)
    assert kept and all(after[n] == before[n] for n in kept)  # nothing drawn moved
    fresh = set(after) - set(before)
    assert fresh
    for n in fresh:  # placed beside a neighbour, not piled up at the origin
        assert after[n] != [0, 0]
        near = [after[m] for m in neighbourhood(g, n, 1) if m in after and m != n]
        assert near and min(abs(after[n][0] - x) + abs(after[n][1] - y) for x, y in near) < 600, (
            n,
            after[n],
        )
