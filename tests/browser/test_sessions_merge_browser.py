"""Whose sessions and merging in a real browser: two sessions of one person listed and
one resumed; an unknown session id answered with a page (no silent new session); the
name typed in the editor is the author on the versions page; a merge with its conflict
answered "theirs" on the page saves the version the API gives for the same choice.

One server and one headless Chromium serve the module; the tests run in order.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import networkx as nx
import pytest

from kg_editor.model.graph import RemoveEdge, ReverseEdge, apply_edit
from kg_editor.versions.diff import pair_key

from .conftest import EditorPage
from .test_editor_browser import pick

pytestmark = pytest.mark.browser

NAME = "Dr Two Sessions"


def _sid(page) -> str:
    return parse_qs(urlparse(page.url).query)["session"][0]


def _text(page, sel: str, text: str, timeout: float = 20000) -> None:
    page.wait_for_function(
        "(a) => (document.querySelector(a[0]) || {}).textContent?.includes(a[1])",
        arg=[sel, text],
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def tab(browser, editor_server):
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    ep = EditorPage(ctx.new_page())
    yield ep
    assert ep.console_errors == []
    assert all(u.startswith(editor_server.url) for u in ep.requests if u.startswith("http"))
    ctx.close()


def _open_named(tab: EditorPage, url: str, name: str) -> str:
    tab.open(url + "/")
    tab.page.fill("#kg-author", name)
    tab.page.locator("#kg-author").press("Enter")
    _text(tab.page, "#kg-e-save-status", f"Session kept under {name}")
    return _sid(tab.page)


def test_two_sessions_of_one_person_are_listed_and_one_resumed(tab, editor_server):
    page = tab.page
    first = _open_named(tab, editor_server.url, NAME)
    with editor_server.workspace.editing(first) as s:  # the first one gets an edit
        s.remove(*sorted(s.graph.edges)[0], author=NAME)
    second = _open_named(tab, editor_server.url, NAME)
    assert first != second
    page.click("#kg-e-sessions-link")
    page.wait_for_selector("tr.session-row")
    rows = page.locator("tr.session-row")
    assert rows.count() == 2
    listed = [rows.nth(i).get_attribute("data-session") for i in range(2)]
    assert listed == [second, first]  # most recently used first
    edits = {rows.nth(i).get_attribute("data-session"): rows.nth(i) for i in range(2)}
    assert edits[first].get_attribute("data-edits") == "1"
    assert edits[second].get_attribute("data-edits") == "0"
    assert "(this one)" in edits[second].inner_text()
    page.click(f'[id=\'{{"index":"{first}","type":"kg-s-resume"}}\']')
    tab.wait("return cy.nodes().length > 0;")
    assert _sid(page) == first
    assert page.input_value("#kg-author") == NAME  # the name comes back with the session


def test_an_unknown_session_shows_a_message_with_the_ways_on(tab, editor_server):
    page = tab.page
    store = editor_server.workspace.store
    before = len(store.list_sessions())
    page.goto(editor_server.url + "/?session=0123456789abcdef0123")
    page.wait_for_selector("#kg-missing-session")
    _text(page, "#kg-missing-session", "This editing session is not here")
    assert page.locator("#kg-canvas").count() == 0
    assert len(store.list_sessions()) == before  # nothing opened in its place
    page.click("#kg-missing-resume")
    page.wait_for_selector("#kg-s-name")
    page.fill("#kg-s-name", NAME)
    page.locator("#kg-s-name").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('tr.session-row').length === 2")


@pytest.fixture(scope="module")
def branches(editor_server):
    """Branch m-main reverses an edge that branch m-dr-b removes, each with its reason."""
    ws = editor_server.workspace
    base = editor_server.graph
    g = base.nx
    u, v = next(
        (a, b)
        for a, b in sorted(base.edges)
        if not nx.has_path(nx.restricted_view(g, [], [(a, b)]), a, b)
    )
    vs, pid = ws.versions, ws.project_id
    v0 = vs.save_graph(base, project=pid, branch="m-main", author="dr_a", message="start")
    rev = ReverseEdge(u, v, author="dr_a", rationale="onset precedes")
    rem = RemoveEdge(u, v, author="dr_b", rationale="spurious in notes")
    ours = vs.save_graph(
        apply_edit(base, rev),
        project=pid,
        branch="m-main",
        author="dr_a",
        parent=v0.id,
        edits=[rev],
    )
    b0 = vs.branch(v0.id, "m-dr-b", author="dr_b")
    theirs = vs.save_graph(
        apply_edit(base, rem),
        project=pid,
        branch="m-dr-b",
        author="dr_b",
        parent=b0.id,
        edits=[rem],
    )
    return {"ours": ours, "theirs": theirs, "key": pair_key(u, v), "edge": (u, v)}


def test_a_merge_resolved_theirs_in_the_page_is_the_apis_merge(tab, editor_server, branches):
    page = tab.page
    ws = editor_server.workspace
    sid = _open_named(tab, editor_server.url, "Dr Merge")
    page.click("#kg-e-versions-link")
    page.wait_for_selector("#kg-v-merge")
    # the name typed in the editor is the author here
    assert page.input_value("#kg-v-save-author") == "Dr Merge"
    pick(tab, "#kg-v-merge-b", "branch m-dr-b")
    pick(tab, "#kg-v-merge-a", "branch m-main")
    page.click("#kg-v-merge-preview")
    page.wait_for_selector(".merge-conflict")
    conflict = page.locator(".merge-conflict")
    assert conflict.count() == 1 and conflict.get_attribute("data-key") == branches["key"]
    text = conflict.inner_text()
    assert "dr_a" in text and "onset precedes" in text
    assert "dr_b" in text and "spurious in notes" in text
    assert page.is_disabled("#kg-v-merge-save")
    conflict.locator("label").filter(has_text="theirs:").click()
    page.wait_for_selector("#kg-v-merge-result [data-ready='1']")
    page.fill("#kg-v-merge-message", "agreed at the ward round: spurious")
    page.click("#kg-v-merge-save")
    page.wait_for_selector("#kg-v-merge-status .m-saved")
    vid = page.get_attribute("#kg-v-merge-status .m-saved", "data-version")
    saved = ws.versions.get(vid)
    expected = ws.store.preview_merge(
        branches["ours"].id, branches["theirs"].id, {branches["key"]: "theirs"}
    ).graph
    assert saved.graph == expected and not saved.graph.has_edge(*branches["edge"])
    assert (saved.author, saved.branch) == ("Dr Merge", "m-main")
    assert saved.message == "agreed at the ward round: spurious"
    assert (saved.parent_id, saved.merge_parent_id) == (
        branches["ours"].id,
        branches["theirs"].id,
    )
    page.wait_for_selector(f"#kg-v-row-{vid}")  # the history shows it
    # a version saved on this page carries the typed name too
    page.click("#kg-v-save")
    _text(page, "#kg-v-save-status", "Saved version")
    mine = [v for v in ws.list_versions() if v.author == "Dr Merge"]
    assert len(mine) == 2 and ws.session_owner(sid) == "Dr Merge"


def test_a_choice_that_closes_a_cycle_is_refused_in_the_page(tab, editor_server):
    from kg_editor.model.graph import CausalGraph

    page = tab.page
    ws = editor_server.workspace
    vs, pid = ws.versions, ws.project_id
    nodes = sorted(editor_server.graph.nodes)[:3]
    a, b, c = nodes
    g = editor_server.graph
    labels = {n: g.label(n) for n in nodes}

    def graph(edges):
        return CausalGraph.from_edges(edges, nodes=nodes, labels=labels)

    v0 = vs.save_graph(graph([(a, b)]), project=pid, branch="c1")
    vs.save_graph(
        graph([(a, b), (b, c), (a, c)]),
        project=pid,
        branch="c1",
        parent=v0.id,
    )
    br = vs.branch(v0.id, "c2")
    vs.save_graph(
        CausalGraph.from_edges([(a, b), (c, a)], nodes=nodes),
        project=pid,
        branch="c2",
        parent=br.id,
    )
    page.goto(f"{editor_server.url}/versions?session={_sid_of_owner(ws, 'Dr Merge')}")
    page.wait_for_selector("#kg-v-merge")
    pick(tab, "#kg-v-merge-b", "branch c2")
    pick(tab, "#kg-v-merge-a", "branch c1")
    page.click("#kg-v-merge-preview")
    page.wait_for_selector(".merge-conflict")
    card = page.locator(".merge-conflict")
    assert card.get_attribute("data-key") == pair_key(a, c)
    card.locator("label").filter(has_text="theirs:").click()  # c -> a closes a -> b -> c -> a
    page.wait_for_selector("#kg-v-merge-result [data-ready='0'] li[data-kind='cycle']")
    refused = page.inner_text("#kg-v-merge-result")
    assert "Refused" in refused and "cycle" in refused
    assert all(g.label(n) in refused for n in (a, b, c))  # the cycle is named
    assert page.is_disabled("#kg-v-merge-save")
    card.locator("label").filter(has_text="leave its direction unresolved").click()
    page.wait_for_selector("#kg-v-merge-result [data-ready='1']")
    assert "1 with the direction unresolved" in page.inner_text("#kg-v-merge-result")
    assert not page.is_disabled("#kg-v-merge-save")


def _sid_of_owner(ws, name: str) -> str:
    return ws.sessions_of(name)[0].id
