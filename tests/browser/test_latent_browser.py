"""An unmeasured common cause added on the canvas (issue 14): drawn A <-> B, counted in
the report, and the teaching panel's adjustment sets change as a direct computation on
the graph with that cause says."""

from __future__ import annotations

import json

import pytest

from kg_editor.model.graph import AddLatent, apply_edit
from kg_editor.teaching import adjustment_report

pytestmark = pytest.mark.browser


def _set(editor, component, value):
    editor.page.evaluate(
        "(a) => window.dash_clientside.set_props(a[0], {value: a[1]})", [component, value]
    )


def _case(graph):
    """A cause -> outcome edge and a third variable whose unmeasured common cause with the
    cause changes the adjustment sets."""
    for x, y in sorted(graph.edges):
        before = adjustment_report(graph, x, y)["sets"]
        for z in sorted(graph.nodes):
            if z in (x, y) or graph.has_edge(x, z) or graph.has_edge(z, x):
                continue
            after = adjustment_report(apply_edit(graph, AddLatent(x, z)), x, y)["sets"]
            if after != before and after:
                return x, y, z
    raise AssertionError("no pair whose adjustment sets a latent cause changes")


def test_latent_cause_on_the_canvas_changes_an_adjustment_set(editor, editor_server):
    graph = editor_server.graph
    x, y, z = _case(graph)
    editor.pick("#kg-form-source", graph.label(x))
    editor.pick("#kg-form-target", graph.label(z))
    editor.page.click("#kg-form-latent")
    editor.wait(
        "const e = cy.edges('.latent'); return e.length === 1 &&"
        " [e[0].data('source'), e[0].data('target')].sort().join('|') === arg;",
        "|".join(sorted((x, z))),
        timeout=30000,
    )
    assert editor.js("return cy.edges('.latent')[0].style('source-arrow-shape');") == "triangle"
    editor.page.wait_for_function(
        "() => { const r = document.getElementById('metric-latent_causes');"
        " return r && r.getAttribute('data-after') === '1'; }",
        timeout=15000,
    )
    sid = editor.page.evaluate("() => new URL(location.href).searchParams.get('session')")
    with editor_server.workspace.reading(sid) as session:
        assert session.graph.latent_pairs == [tuple(sorted((x, z)))]
        want = adjustment_report(session.graph, x, y)["sets"]
    assert want == adjustment_report(apply_edit(graph, AddLatent(x, z)), x, y)["sets"]
    assert want != adjustment_report(graph, x, y)["sets"]

    # the teaching panel shows the sets of the graph with the unmeasured cause
    editor.page.click("#kg-teach-mode")
    _set(editor, "kg-teach-path-a", x)
    _set(editor, "kg-teach-path-b", y)
    editor.page.wait_for_selector("#kg-teach-adj-sets li", timeout=30000)
    items = editor.page.locator("#kg-teach-adj-sets li")
    shown = [json.loads(items.nth(i).get_attribute("data-nodes")) for i in range(items.count())]
    assert shown == [s["nodes"] for s in want]

    # selecting the latent edge opens its card; Remove withdraws it
    editor.page.click("#kg-teach-mode")
    editor.js(
        "const e = cy.edges('.latent'); cy.elements(':selected').unselect(); e.select(); e.emit('tap'); return null;"
    )
    editor.page.wait_for_selector("text=unmeasured common cause", timeout=15000)
    editor.page.click("#kg-edge-remove")
    editor.wait("return cy.edges('.latent').length === 0;", timeout=30000)
    assert not [e for e in editor.console_errors if "favicon" not in e]
