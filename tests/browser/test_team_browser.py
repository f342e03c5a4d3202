"""Serving a team, in a real browser: Dash runs clean under the Content-Security-Policy,
a foreign page cannot frame the editor, two tabs on one session cannot lose an update,
and three reviewers' votes give the tallies and the kappa a direct computation gives."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import EditorPage

pytestmark = pytest.mark.browser


def _removable(served: Any, k: int) -> list[tuple[str, str]]:
    return sorted(served.graph.edges)[:k]


def test_the_editor_runs_under_the_csp_with_a_clean_console(browser, editor_server):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = EditorPage(ctx.new_page())
    resp = page.page.goto(editor_server.url + "/")
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert resp.headers["x-frame-options"] == "DENY"
    page.wait("return cy.nodes().length > 0 && !!cy.edgehandles;")
    page.settle()
    u, v = _removable(editor_server, 30)[-1]
    page.select_edge(u, v)
    page.page.click("#kg-edge-remove")
    page.wait_edge(u, v, present=False)
    assert page.console_errors == []
    ctx.close()


def test_a_foreign_page_cannot_frame_the_editor(browser, editor_server):
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    target = editor_server.url.replace("127.0.0.1", "localhost") + "/"

    def evil(environ: Any, start_response: Any) -> Any:
        html = f"<html><body><h1>win a prize</h1><iframe id='f' src='{target}' width=800 height=600></iframe></body></html>"
        return Response(html, mimetype="text/html")(environ, start_response)

    srv = make_server("127.0.0.1", 0, evil, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ctx = browser.new_context()
    page = ctx.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "frame" in m.text.lower() else None)
    try:
        page.goto(f"http://127.0.0.1:{srv.server_port}/")
        page.wait_for_timeout(2000)
        frame = next(f for f in page.frames if f is not page.main_frame)
        # the framed document never became the editor (Chromium shows its error page)
        has_editor = (
            frame.evaluate("() => !!document.getElementById('kg-canvas')")
            if not frame.url.startswith("chrome-error")
            else False
        )
        assert not has_editor
        assert any("frame-ancestors" in m or "X-Frame-Options" in m for m in refused), refused
    finally:
        ctx.close()
        srv.shutdown()


def test_two_tabs_on_one_session_see_the_conflict(browser, editor_server):
    sid = editor_server.workspace.open_session()
    url = f"{editor_server.url}/?session={sid}"
    ctx_a = browser.new_context(viewport={"width": 1600, "height": 1000})
    ctx_b = browser.new_context(viewport={"width": 1600, "height": 1000})
    a, b = EditorPage(ctx_a.new_page()), EditorPage(ctx_b.new_page())
    a.open(url)
    b.open(url)
    (u1, v1), (u2, v2) = _removable(editor_server, 2)
    a.select_edge(u1, v1)
    a.page.click("#kg-edge-remove")
    a.wait_edge(u1, v1, present=False)
    # tab B still shows the old graph: its next action is answered from the newer session,
    # the page redraws and says so (or, if the edit got there first, refuses it); either
    # way A's edit stands and B sees the conflict
    b.select_edge(u2, v2)
    b.page.click("#kg-edge-remove")
    b.page.wait_for_function(
        "() => (document.getElementById('kg-alert-text') || {}).textContent.includes('another tab')",
        timeout=15000,
    )
    assert not b.has_edge(u1, v1)  # B's canvas now shows A's edit
    state = editor_server.workspace.store.load_session_state(sid)
    stored = {(e["source"], e["target"]) for e in state["graph"]["edges"]}
    assert (u1, v1) not in stored
    # after a reload tab B shows A's edit and can edit again (its remove, unless it was
    # already applied on top of A's edit once the page had caught up)
    b.open(url)
    assert not b.has_edge(u1, v1)
    if b.has_edge(u2, v2):
        b.select_edge(u2, v2)
        b.page.click("#kg-edge-remove")
    b.wait_edge(u2, v2, present=False)
    stored = {
        (e["source"], e["target"])
        for e in editor_server.workspace.store.load_session_state(sid)["graph"]["edges"]
    }
    assert (u1, v1) not in stored and (u2, v2) not in stored
    assert a.console_errors == [] and b.console_errors == []
    ctx_a.close()
    ctx_b.close()


@pytest.fixture(scope="module")
def team_server(demo_cohort, demo_graph, tmp_path_factory):
    from kg_editor.ui import create_app
    from kg_editor.ui.local_browser import serve_in_thread

    store = tmp_path_factory.mktemp("team") / "kg.db"
    app = create_app(
        "demo",
        cohort=demo_cohort,
        graph=demo_graph,
        store_url=f"sqlite:///{store}",
        session_options={"bootstrap": 0},
    )
    accounts = app.workspace.accounts
    for name in ("dr_ash", "dr_birch", "dr_cedar"):
        accounts.add(name, f"{name} passphrase", role="reviewer")
    accounts.add("dr_viewer", "viewer passphrase", role="viewer")
    url, srv = serve_in_thread(app)
    yield app, url
    srv.shutdown()


def _sign_in(browser: Any, url: str, name: str, password: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(url + "/consensus")
    assert "/login" in page.url  # sign-in required
    page.fill("#login-username", name)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_selector("#consensus-kappa")
    return ctx, page


def test_three_reviewers_votes_give_the_tallies_and_kappa(browser, team_server):
    from statsmodels.stats.inter_rater import fleiss_kappa

    app, url = team_server
    edges = sorted(app.workspace.base_graph().edges)[:4]
    plan = {
        "dr_ash": ["keep", "keep", "remove", "reverse"],
        "dr_birch": ["keep", "remove", "remove", "keep"],
        "dr_cedar": ["keep", "keep", "remove", "remove"],
    }
    errors: list[str] = []
    for name, votes in plan.items():
        ctx, page = _sign_in(browser, url, name, f"{name} passphrase")
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        for (s, t), vote in zip(edges, votes, strict=True):
            row = page.locator("tr", has=page.locator(f"input[name=source][value='{s}']")).filter(
                has=page.locator(f"input[name=target][value='{t}']")
            )
            row.locator("select[name=vote]").select_option(vote)
            row.locator("input[name=comment]").fill(f"{name}: {vote}")
            row.locator("button").click()
            page.wait_for_selector(".message")
        ctx.close()
    # a viewer sees the result but has no vote form
    ctx, page = _sign_in(browser, url, "dr_viewer", "viewer passphrase")
    assert page.locator("form.vote").count() == 0
    choices = ["keep", "remove", "reverse"]
    table = np.array([[[plan[r][i] for r in plan].count(c) for c in choices] for i in range(4)])
    for i, (s, t) in enumerate(edges):
        row = page.locator(f"tr[data-source='{s}'][data-target='{t}']")
        shown = [int(row.locator(f"td[data-choice={c}]").inner_text()) for c in choices]
        assert shown == list(table[i]), (s, t)
    kappa = float(page.get_attribute("#consensus-kappa", "data-kappa"))
    assert kappa == pytest.approx(fleiss_kappa(table))
    assert page.get_attribute("#consensus-kappa", "data-reviewers") == "3"
    register = page.locator("#consensus-disagreements tbody tr")
    assert register.count() == 2  # edges 2 and 4 split the reviewers
    assert "dr_birch: remove" in page.locator("#consensus-disagreements").inner_text()
    ctx.close()
    assert errors == []
