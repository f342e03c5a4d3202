"""Tables in a 1600 px window: the version compare colours by benefit with readable names,
and the seeing-vs-doing table fits inside the teaching panel."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GOOD, BAD = "rgb(26, 127, 55)", "rgb(180, 35, 24)"  # --good #1a7f37, --bad #b42318


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go (``KG_SHOTS`` to keep them)."""
    where = Path(os.environ.get("KG_SHOTS") or tmp_path_factory.mktemp("shots"))
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def page(browser, editor_server):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    p = ctx.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(editor_server.url + "/")
    p.wait_for_selector("#kg-canvas")
    p.console_errors = errors  # type: ignore[attr-defined]
    yield p
    ctx.close()


def _sid(page) -> str:
    return parse_qs(urlparse(page.url).query)["session"][0]


def _inside(page, selector: str) -> dict:
    """How far ``selector`` sticks out of the window and of every clipping ancestor."""
    return page.evaluate(
        """(sel) => { const el = document.querySelector(sel); const r = el.getBoundingClientRect();
        let worst = 0, clipped = el.scrollWidth - el.clientWidth;
        for (let a = el.parentElement; a; a = a.parentElement) {
            const s = getComputedStyle(a);
            if (s.overflowX !== 'visible') worst = Math.max(worst, r.right - a.getBoundingClientRect().right);
        }
        const panel = el.closest('#kg-teach-panel, .versions-page');
        const edge = panel ? panel.getBoundingClientRect().right : window.innerWidth;
        return {right: r.right, window: window.innerWidth, beyond_ancestor: worst, own_overflow: clipped,
                beyond_panel: r.right - edge,
                page_overflow: document.documentElement.scrollWidth - window.innerWidth}; }""",
        selector,
    )


def test_seeing_vs_doing_table_fits_in_a_1600px_window(page, editor_server, shots):
    from kg_editor.teaching import seeing_vs_doing
    from kg_editor.teaching.beliefs import TeachingModel

    sid = _sid(page)
    with editor_server.workspace.reading(sid) as session:
        tm = TeachingModel.from_session(session)
    # the pair with the longest labels: the widest headers
    pairs = [
        (x, y)
        for y in tm.nodes
        for x in tm.graph.nx.predecessors(y)
        if "present" in tm.states(x) and seeing_vs_doing(tm, x, "present", y)["confounded"]
    ]
    x, y = max(pairs, key=lambda p: len(tm.label(p[0])) + len(tm.label(p[1])))
    page.click("#kg-teach-mode")
    page.wait_for_selector("#kg-teach-panel", state="visible")
    for comp, value in (("kg-teach-cause", x), ("kg-teach-outcome", y)):
        page.evaluate("(a) => window.dash_clientside.set_props(a[0], {value: a[1]})", [comp, value])
        if comp == "kg-teach-cause":
            page.wait_for_function(
                "() => (document.getElementById('kg-teach-cause-state') || {}).textContent.includes('present')",
                timeout=15000,
            )
    page.wait_for_selector("#kg-teach-sd-table td.see")
    page.locator("#kg-teach-sd-table").scroll_into_view_if_needed()
    page.evaluate(
        "() => window.scrollTo(0, window.scrollY)"
    )  # as a user sees it: no sideways scroll
    page.screenshot(path=str(shots / "teaching-sd-1600.png"))
    got = _inside(page, "#kg-teach-sd-table")
    assert got["right"] <= got["window"], got
    assert got["beyond_ancestor"] <= 0.5, got
    assert got["own_overflow"] <= 0, got
    assert got["beyond_panel"] <= 0.5, got
    assert got["page_overflow"] <= 0, got
    text = page.inner_text("#kg-teach-sd")
    assert tm.label(x) in text and tm.label(y) in text
    page.click("#kg-teach-mode")  # back to editing


def test_version_compare_colours_by_benefit_with_readable_names(page, editor_server, shots):
    from kg_editor.model.session import EditSession
    from kg_editor.ui.versions.view import benefit

    reg = editor_server.workspace
    s = EditSession(editor_server.cohort, editor_server.graph, bootstrap=0)
    reg.store.save_version(reg.project_id, s.graph, report=s.report.to_dict(), message="start")
    for u, v in sorted(s.graph.edges)[:3]:
        s.remove(u, v)
    reg.store.save_version(reg.project_id, s.graph, report=s.report.to_dict(), message="pruned")
    page.goto(f"{editor_server.url}/versions?session={_sid(page)}")
    page.wait_for_selector("#kg-v-metric-table tbody tr")
    rows = page.locator("#kg-v-metric-table tbody tr")
    seen = set()
    for i in range(rows.count()):
        row = rows.nth(i)
        metric, verdict = row.get_attribute("data-metric"), row.get_attribute("data-benefit")
        delta = row.get_attribute("data-delta")
        assert verdict == benefit(metric, float(delta) if delta else None)
        name = row.locator("td").nth(1).inner_text()
        assert ("_" not in name and name != metric) or metric in ("edges", "auroc", "accuracy")
        colour = row.locator("td.delta").evaluate("e => getComputedStyle(e).color")
        if verdict == "better":
            assert colour == GOOD, (metric, colour)
        elif verdict == "worse":
            assert colour == BAD, (metric, colour)
        else:
            assert colour not in (GOOD, BAD), (metric, colour)
        seen.add(verdict)
    assert {"better", "worse"} <= seen  # removing edges helps some metrics and hurts others
    page.locator("#kg-v-metric-table").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "versions-compare-1600.png"))
    got = _inside(page, "#kg-v-metric-table")
    assert got["right"] <= got["window"], got
    assert got["page_overflow"] <= 0, got
    assert not page.console_errors, page.console_errors  # type: ignore[attr-defined]
