"""Real-browser harness: one editor server and one headless Debian Chromium per module.

Playwright drives ``/usr/bin/chromium`` (never a downloaded browser); see
``docs``/the shared browser-testing notes. Tests skip with a clear reason when Chromium
or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from kg_editor.ui.local_browser import CHROMIUM, launch_chromium, serve_in_thread

warnings.filterwarnings("ignore", category=UserWarning)


def _need_browser() -> None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python driver is not installed"
    )


class Served:
    """A running editor: its URL, app, workspace, cohort and base graph."""

    def __init__(self, app: Any, url: str, server: Any):
        self.app = app
        self.url = url
        self.server = server
        self.workspace = app.workspace
        self.cohort = app.workspace.cohort()
        self.graph = app.workspace.base_graph()


def serve_app(app: Any) -> Served:
    url, srv = serve_in_thread(app)
    return Served(app, url, srv)


@pytest.fixture(scope="module")
def editor_server(demo_cohort, demo_graph, tmp_path_factory) -> Iterator[Served]:
    _need_browser()
    from kg_editor.ui import create_app

    graph = demo_graph
    store = tmp_path_factory.mktemp("store") / "kg.db"
    app = create_app(
        "demo",
        cohort=demo_cohort,
        graph=graph,
        store_url=f"sqlite:///{store}",  # the product's session defaults (200 resamples)
    )
    bodies: list[str] = []

    @app.server.after_request
    def _keep_callback_bodies(resp):  # what the server sent to the browser
        from flask import request

        if request.path.startswith("/_dash-update-component"):
            bodies.append(resp.get_data(as_text=True))
        return resp

    served = serve_app(app)
    served.callback_bodies = bodies
    yield served
    served.server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


class EditorPage:
    """A page on the editor plus helpers that reach into the Cytoscape canvas."""

    def __init__(self, page: Any):
        self.page = page
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on(
            "console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    CY = "document.getElementById('kg-canvas')._cyreg.cy"

    def js(self, body: str, arg: Any = None) -> Any:
        return self.page.evaluate(f"(arg) => {{ const cy = {self.CY}; {body} }}", arg)

    def wait(self, body: str, arg: Any = None, timeout: float = 15000) -> None:
        self.page.wait_for_function(
            f"(arg) => {{ const el = document.getElementById('kg-canvas'); "
            f"if (!el || !el._cyreg) return false; const cy = el._cyreg.cy; {body} }}",
            arg=arg,
            timeout=timeout,
        )

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.wait("return cy.nodes().length > 0 && !!cy.edgehandles;")
        self.settle()

    def settle(self) -> None:
        prev = None
        for _ in range(40):
            cur = self.js(
                "return cy.nodes().map(n => [Math.round(n.position('x')), Math.round(n.position('y'))]);"
            )
            if cur == prev:
                return
            prev = cur
            self.page.wait_for_timeout(250)

    def node_xy(self, node: str) -> tuple[float, float]:
        self.page.evaluate("() => window.scrollTo(0, 0)")  # canvas coordinates are viewport ones
        x, y = self.js(
            "const el = document.getElementById('kg-canvas'); const r = el.getBoundingClientRect();"
            "const p = cy.getElementById(arg).renderedPosition(); return [r.left + p.x, r.top + p.y];",
            node,
        )
        return float(x), float(y)

    def has_edge(self, u: str, v: str) -> bool:
        return bool(
            self.js(
                "return cy.edges().some(e => e.data('source') === arg[0] && e.data('target') === arg[1]"
                " && !e.hasClass('ghost') && !e.hasClass('refused') && !e.hasClass('kg-optimistic'));",
                [u, v],
            )
        )

    def wait_edge(self, u: str, v: str, present: bool = True) -> None:
        self.wait(
            "const has = cy.edges().some(e => e.data('source') === arg[0] && e.data('target') === arg[1]"
            " && !e.hasClass('ghost') && !e.hasClass('refused') && !e.hasClass('kg-optimistic'));"
            " return has === arg[2];",
            [u, v, present],
        )

    def select_edge(self, u: str, v: str) -> None:
        """Select the edge and fire a tap on it (what a click does)."""
        self.js(
            "const e = cy.edges().filter(x => x.data('source') === arg[0] && x.data('target') === arg[1]);"
            "cy.elements(':selected').unselect(); e.select(); e.emit('tap'); return null;",
            [u, v],
        )
        self.page.wait_for_function(
            "() => { const b = document.getElementById('kg-edge-remove'); return b && !b.disabled; }",
            timeout=15000,
        )

    def pick(self, dropdown: str, label: str) -> None:
        """Type ``label`` into a searchable Dash dropdown and take its option (Enter)."""
        self.page.click(dropdown)
        search = self.page.locator("input[placeholder='Search']:visible").first
        search.fill(label)
        self.page.locator("[role=option]:visible").filter(has_text=label).first.wait_for()
        search.press("Enter")

    def wait_metric(self, key: str, value: Any, timeout: float = 30000) -> None:
        """Wait until the report row ``key`` shows ``value`` after the edit (exactly)."""
        self.page.wait_for_function(
            "(a) => { const r = document.getElementById('metric-' + a[0]);"
            " return r && r.getAttribute('data-after') === a[1]; }",
            arg=[key, repr(value)],
            timeout=timeout,
        )

    def metric_after(self, key: str) -> float:
        self.page.wait_for_selector(f"#metric-{key}")
        return float(self.page.get_attribute(f"#metric-{key}", "data-after"))

    def wait_status(self, text: str) -> None:
        self.page.wait_for_function(
            "(t) => (document.getElementById('kg-report-status') || {}).textContent.includes(t)",
            arg=text,
            timeout=15000,
        )


@pytest.fixture(scope="module")
def editor(browser, editor_server) -> Iterator[EditorPage]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = ctx.new_page()
    ep = EditorPage(page)
    ep.open(editor_server.url + "/")
    yield ep
    ctx.close()
