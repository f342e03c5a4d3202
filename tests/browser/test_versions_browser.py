"""Versions in a real browser: save from the editor, the versions page (history, branch
graph), compare (diff drawn on the canvas with the right counts), exports that round-trip
through kg_editor.formats.registry, PNG/SVG of the canvas, branch, restore; offline and clean.

One server and one headless Chromium serve the module; the tests run in order.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import networkx as nx
import pytest

pytestmark = pytest.mark.browser

VCY = "document.getElementById('kg-v-canvas')._cyreg.cy"


def _pid(type_: str, index: str) -> str:
    """CSS selector of a pattern-matching id (Dash writes it as sorted-key JSON)."""
    return f'[id=\'{{"index":"{index}","type":"{type_}"}}\']'


def _sid(page) -> str:
    return parse_qs(urlparse(page.url).query)["session"][0]


def _status(page, sel: str, text: str) -> None:
    page.wait_for_function(
        "(a) => (document.querySelector(a[0]) || {}).textContent?.includes(a[1])",
        arg=[sel, text],
        timeout=20000,
    )


def _edits(graph, cons):
    """A removable edge, a reversible edge and an addable pair, all allowed by ``cons``."""
    g = graph.nx
    edges = sorted(g.edges)
    rem = edges[0]
    rev = None
    for u, v in edges[1:]:
        h = nx.DiGraph(g)
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v) and cons.violation(v, u) is None and (u, v) != rem:
            rev = (u, v)
            break
    g2 = nx.DiGraph(g)
    g2.remove_edge(*rem)
    g2.remove_edge(*rev)
    g2.add_edge(rev[1], rev[0])
    nodes = sorted(graph.nodes)
    add = next(
        (a, b)
        for a in nodes
        for b in nodes
        if a != b
        and not g2.has_edge(a, b)
        and not g2.has_edge(b, a)
        and {a, b} != set(rem)
        and cons.violation(a, b) is None
        and not nx.has_path(g2, b, a)
    )
    return rem, rev, add


@pytest.fixture(scope="module")
def plan(editor_server):
    reg = editor_server.workspace
    return dict(
        zip(("rem", "rev", "add"), _edits(editor_server.graph, reg.constraints()), strict=True)
    )


def test_save_versions_from_the_editor(editor, editor_server, plan):
    page = editor.page
    reg = editor_server.workspace
    page.fill("#kg-author", "Dr Save")
    page.locator("#kg-author").press("Enter")
    page.fill("#kg-e-save-message", "as distilled")
    page.click("#kg-e-save")
    _status(page, "#kg-e-save-status", "Saved #1")
    # three edits through the UI: remove, reverse, add
    editor.select_edge(*plan["rem"])
    page.click("#kg-edge-remove")
    editor.wait_edge(*plan["rem"], present=False)
    editor.select_edge(*plan["rev"])
    page.click("#kg-edge-reverse")
    editor.wait_edge(plan["rev"][1], plan["rev"][0])
    a, b = plan["add"]
    from .test_editor_browser import pick

    pick(editor, "#kg-form-source", editor_server.graph.label(a))
    pick(editor, "#kg-form-target", editor_server.graph.label(b))
    page.click("#kg-form-add")
    editor.wait_edge(a, b)
    page.fill("#kg-e-save-message", "three corrections")
    page.click("#kg-e-save")
    _status(page, "#kg-e-save-status", "Saved #2")
    assert page.input_value("#kg-e-save-message") == ""
    versions = reg.store.list_versions(reg.project_id)
    assert [v.seq for v in versions] == [1, 2]
    v1, v2 = versions
    assert v2.parent_id == v1.id and v2.branch == "main" and v2.author == "Dr Save"
    assert v2.message == "three corrections"
    # the edits since the last save, in order, and the session's current report
    assert [(e.kind, e.source, e.target) for e in v2.edits] == [
        ("remove", *plan["rem"]),
        ("reverse", *plan["rev"]),
        ("add", a, b),
    ]
    assert v1.edits == []
    with reg.reading(_sid(page)) as s:
        assert v2.graph == s.graph
        assert v2.report["accuracy"]["loglik_per_patient"] == pytest.approx(
            s.report.accuracy["loglik_per_patient"], abs=1e-12
        )


@pytest.fixture(scope="module")
def vpage(browser, editor, editor_server):
    from .conftest import EditorPage

    ctx = browser.new_context(viewport={"width": 1600, "height": 1100}, accept_downloads=True)
    vp = EditorPage(ctx.new_page())
    vp.sid = _sid(editor.page)
    vp.page.goto(f"{editor_server.url}/versions?session={vp.sid}")
    vp.page.wait_for_selector("tr.version-row")
    yield vp
    ctx.close()


def _vcy(vp, body: str, arg=None):
    return vp.page.evaluate(f"(arg) => {{ const cy = {VCY}; {body} }}", arg)


def _wait_vcy(vp, body: str, arg=None):
    vp.page.wait_for_function(
        "(arg) => { const el = document.getElementById('kg-v-canvas');"
        f" if (!el || !el._cyreg) return false; const cy = el._cyreg.cy; {body} }}",
        arg=arg,
        timeout=20000,
    )


def test_versions_page_lists_history_with_metrics(vpage, editor_server):
    page = vpage.page
    reg = editor_server.workspace
    versions = reg.store.list_versions(reg.project_id)
    assert page.locator("tr.version-row").count() == 2
    for v in versions:
        row = page.locator(f"#kg-v-row-{v.id}")
        assert row.get_attribute("data-branch") == "main"
        assert row.get_attribute("data-edges") == str(v.n_edges)
        text = row.inner_text()
        assert v.author in text and v.message in text
    v2 = versions[-1]
    assert v2.parent_id in page.locator(f"#kg-v-row-{v2.id}").inner_text()
    # the branch graph and the metric history are drawn
    page.wait_for_selector("#kg-v-branch-graph .main-svg")
    page.wait_for_selector("#kg-v-metric-history .main-svg")


def test_compare_draws_the_diff_with_the_right_counts(vpage, editor_server, plan):
    page = vpage.page
    reg = editor_server.workspace
    v1, v2 = reg.store.list_versions(reg.project_id)
    diff = reg.store.diff(v1.id, v2.id)
    assert (len(diff.added), len(diff.removed), len(diff.reversed)) == (1, 1, 1)
    summary = page.locator("#kg-v-diff-summary")
    assert summary.get_attribute("data-added") == "1"
    assert summary.get_attribute("data-removed") == "1"
    assert summary.get_attribute("data-reversed") == "1"
    _wait_vcy(vpage, "return cy.edges().length > 0;")
    counts = _vcy(
        vpage,
        "const c = {}; ['added','removed','reversed','unchanged','changed'].forEach("
        "s => c[s] = cy.edges('.diff-' + s).map(e => [e.data('source'), e.data('target')]));"
        "return c;",
    )
    assert counts["added"] == [list(plan["add"])]
    assert counts["removed"] == [list(plan["rem"])]
    assert counts["reversed"] == [[plan["rev"][1], plan["rev"][0]]]
    assert len(counts["unchanged"]) + len(counts["changed"]) == len(editor_server.graph.edges) - 2
    # distinct styles: removed dashed, reversed dotted, added solid green
    styles = _vcy(
        vpage,
        "const f = s => { const e = cy.edges('.diff-' + s)[0];"
        " return [e.style('line-style'), e.style('line-color')]; };"
        "return {a: f('added'), r: f('removed'), v: f('reversed')};",
    )
    assert styles["r"][0] == "dashed" and styles["v"][0] == "dotted"
    assert len({tuple(x) for x in styles.values()}) == 3
    assert page.is_visible("#kg-v-legend")
    # tapping the added edge shows its status and evidence in A and B
    _vcy(vpage, "cy.edges('.diff-added')[0].emit('tap'); return null;")
    page.wait_for_selector(".v-edge-card[data-status='added']", timeout=20000)
    card = page.inner_text("#kg-v-edge")
    assert "In A" in card and "absent" in card
    # metric table: before/after/delta from the two saved reports
    row = page.locator("#kg-v-metric-accuracy-loglik_per_patient")
    a = float(row.get_attribute("data-a"))
    b = float(row.get_attribute("data-b"))
    assert a == pytest.approx(v1.report["accuracy"]["loglik_per_patient"], abs=1e-12)
    assert b == pytest.approx(v2.report["accuracy"]["loglik_per_patient"], abs=1e-12)
    assert float(row.get_attribute("data-delta")) == pytest.approx(b - a, abs=1e-12)
    edges_row = page.locator("#kg-v-metric-interpretability-edges")
    assert float(edges_row.get_attribute("data-delta")) == v2.n_edges - v1.n_edges
    page.wait_for_selector("#kg-v-chart .main-svg .bars")
    # comparing a version with itself shows no change
    from .test_editor_browser import pick

    pick(vpage, "#kg-v-compare-b", f"#1 main · {v1.id}")
    page.wait_for_function(
        "() => document.getElementById('kg-v-diff-summary')?.dataset.added === '0'",
        timeout=20000,
    )
    _wait_vcy(vpage, "return cy.edges('.diff-unchanged').length === arg;", v1.n_edges)


def _download(vpage, selector: str, tmp_path):
    with vpage.page.expect_download(timeout=20000) as info:
        vpage.page.click(selector)
    d = info.value
    path = tmp_path / d.suggested_filename
    d.save_as(str(path))
    return path


def test_exports_round_trip_through_formats(vpage, editor, editor_server, tmp_path):
    from kg_editor.formats import read_graph, read_graph_with_model

    reg = editor_server.workspace
    with reg.reading(vpage.sid) as s:
        graph = s.graph
        cpds = {c.variable: c for c in s.to_pgmpy().get_cpds()}
    # BIF of the editing session carries its fitted CPDs
    path = _download(vpage, _pid("kg-v-export", "bif"), tmp_path)
    assert path.suffix == ".bif"
    back, model = read_graph_with_model(path)
    assert set(back.edges) == set(graph.edges)
    for cpd in model.get_cpds():
        assert cpd.values == pytest.approx(cpds[cpd.variable].values, abs=1e-6)
    # DAGitty of version A (the distilled graph)
    from .test_editor_browser import pick

    v1 = reg.store.list_versions(reg.project_id)[0]
    pick(vpage, "#kg-v-export-what", "Version A")
    path = _download(vpage, _pid("kg-v-export", "dagitty"), tmp_path)
    assert set(read_graph(path).edges) == set(v1.graph.edges)
    # JSON (our documented format) keeps labels and attributes
    path = _download(vpage, _pid("kg-v-export", "json"), tmp_path)
    assert read_graph(path) == v1.graph
    # the canvas as SVG and PNG
    svg = _download(vpage, _pid("kg-v-image", "svg"), tmp_path)
    assert b"<svg" in svg.read_bytes()[:500]
    png = _download(vpage, _pid("kg-v-image", "png"), tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the editor canvas too
    ep = _download(editor, _pid("kg-e-image", "png"), tmp_path)
    assert ep.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_branch_from_a_version(vpage, editor_server):
    page = vpage.page
    reg = editor_server.workspace
    v1 = reg.store.list_versions(reg.project_id)[0]
    page.fill("#kg-v-branch-name", "dr_a")
    page.locator(f"#kg-v-row-{v1.id} button", has_text="Branch").click()
    page.wait_for_selector("tr.version-row[data-branch='dr_a']", timeout=20000)
    b = reg.store.head(reg.project_id, "dr_a")
    assert b.parent_id == v1.id and b.graph == v1.graph
    assert page.locator("tr.version-row").count() == 3
    # a branch with this name exists now: a second try is refused visibly
    page.locator(f"#kg-v-row-{v1.id} button", has_text="Branch").click()
    page.wait_for_selector("#kg-v-alert:not([hidden])", timeout=20000)
    assert "already exists" in page.inner_text("#kg-v-alert-text")


def test_restore_opens_the_editor_on_that_version(vpage, editor_server):
    page = vpage.page
    reg = editor_server.workspace
    v1 = reg.store.list_versions(reg.project_id)[0]
    n_before = len(reg.store.list_versions(reg.project_id))
    page.locator(f"#kg-v-row-{v1.id} button", has_text="Restore").click()
    page.wait_for_url(lambda u: urlparse(u).path == "/" and "session=" in u, timeout=20000)
    vpage.wait("return cy.nodes().length > 0;")
    new_sid = _sid(page)
    assert new_sid != vpage.sid
    edges = {
        tuple(e)
        for e in vpage.js("return cy.edges().map(e => [e.data('source'), e.data('target')]);")
    }
    assert edges == set(v1.graph.edges)
    versions = reg.store.list_versions(reg.project_id)
    assert len(versions) == n_before + 1
    restored = versions[-1]
    assert restored.branch == "main" and restored.graph == v1.graph
    assert restored.message.startswith(f"Restore {v1.id}")
    with reg.reading(new_sid) as s:
        assert s.graph == v1.graph
    # saving from the restored session continues its branch
    assert "branch=main" in page.url
    page.fill("#kg-e-save-message", "after restore")
    page.click("#kg-e-save")
    _status(page, "#kg-e-save-status", "on main")
    head = reg.store.head(reg.project_id, "main")
    assert head.parent_id == restored.id and head.message == "after restore"
    vpage.sid = new_sid


def test_every_request_stayed_local_and_console_is_clean(vpage, editor):
    for ep in (vpage, editor):
        hosts = {urlparse(u).hostname for u in ep.requests if not u.startswith(("data:", "blob:"))}
        assert hosts == {"127.0.0.1"}, hosts
        assert ep.console_errors == []
