"""Labels a physician can read (issue 14): on the demo's fitted overview and on a
200-variable cohort, whose default view is the target's neighbourhood, every label is at
least 11 CSS pixels on screen (font size times zoom, measured in the page), and stays so
after zooming out."""

from __future__ import annotations

import pytest

from kg_editor.data.cohort import build_cohort
from kg_editor.data.sources import load_source
from kg_editor.model.graph import CausalGraph

from .conftest import EditorPage, serve_app

pytestmark = pytest.mark.browser

MIN_PX = 11.0


def _min_label_px(editor) -> float:
    editor.page.wait_for_function(
        "() => window.kgEditor && window.kgEditor.minLabelPx() !== null", timeout=30000
    )
    editor.page.wait_for_timeout(300)  # one animation frame after the last zoom
    return float(editor.page.evaluate("() => window.kgEditor.minLabelPx()"))


def test_demo_overview_labels_are_legible(editor):
    assert editor.js("return cy.zoom();") < 1.0  # the whole graph is fitted: zoomed out
    assert _min_label_px(editor) >= MIN_PX
    editor.js("cy.zoom(cy.zoom() / 2); return null;")
    assert _min_label_px(editor) >= MIN_PX


@pytest.fixture(scope="module")
def wide_200(tmp_path_factory):
    """200 binary variables in 1,500 patients: a chain of causes feeding a target."""
    from kg_editor.data.sources.synthetic import wide_chain

    table, edges = wide_chain(200, 1500)
    path = tmp_path_factory.mktemp("wide") / "wide.csv"
    table.to_csv(path, index=False)
    cohort = build_cohort(
        load_source(path, kind="wide"), target="outcome", max_variables=250, min_patients=5
    )
    kept = set(cohort.codes)
    graph = CausalGraph.from_edges(
        [(a, b) for a, b in edges if a in kept and b in kept], nodes=cohort.codes
    )
    return cohort, graph


def test_200_variables_open_on_the_targets_neighbourhood_with_legible_labels(
    browser, wide_200, tmp_path_factory
):
    from kg_editor.ui import create_app

    cohort, graph = wide_200
    assert len(graph) >= 200
    store = tmp_path_factory.mktemp("store200") / "kg.db"
    app = create_app("wide-200", cohort=cohort, graph=graph, store_url=f"sqlite:///{store}")
    served = serve_app(app)
    try:
        ctx = browser.new_context(viewport={"width": 1366, "height": 768})
        page = EditorPage(ctx.new_page())
        page.open(served.url + "/")
        shown = page.js("return cy.nodes().map(n => n.id());")
        assert "outcome" in shown and len(shown) < len(graph)  # the neighbourhood, not all
        assert page.page.is_checked("#kg-focus-mode input")
        assert _min_label_px(page) >= MIN_PX
        assert not [e for e in page.console_errors if "favicon" not in e]
        ctx.close()
    finally:
        served.server.shutdown()
