"""Unresolved and unstable edges in a real browser (issue 12): drawn differently, and
settling an unresolved direction takes one action and updates the report."""

from __future__ import annotations

import networkx as nx
import pytest

pytestmark = pytest.mark.browser


def test_unresolved_edges_have_no_arrowhead_and_one_key_settles_one(editor, editor_server):
    graph = editor_server.graph
    unresolved = graph.unresolved_edges
    assert unresolved, "the distilled demo has unresolved directions"
    shapes = editor.js(
        "return cy.edges().filter(e => !e.hasClass('ghost')).map(e => "
        "[e.data('source'), e.data('target'), e.hasClass('unresolved'), e.style('target-arrow-shape')]);"
    )
    by_edge = {(s, t): (cls, shape) for s, t, cls, shape in shapes}
    for u, v in unresolved:
        assert by_edge[(u, v)] == (True, "none")
    resolved = [e for e in graph.edges if e not in set(unresolved)]
    assert all(by_edge[e] == (False, "triangle") for e in resolved[:20])
    assert "direction unresolved" in editor.page.inner_text("#kg-legend")
    # one action: reversing an unresolved edge settles its direction
    before = editor.metric_after("unresolved_edges")
    assert before == len(unresolved)
    g = graph.nx
    for u, v in unresolved:
        h = nx.DiGraph(g)
        h.remove_edge(u, v)
        if (
            not nx.has_path(h, u, v)
            and editor_server.workspace.constraints().violation(v, u) is None
        ):
            break
    else:
        pytest.skip("no unresolved edge can be reversed without a cycle")
    editor.select_edge(u, v)
    editor.page.locator("body").press("r")
    editor.wait_edge(v, u)
    editor.wait(
        "const e = cy.edges().filter(x => x.data('source') === arg[0] && x.data('target') === arg[1]);"
        "return e.length === 1 && !e.hasClass('unresolved') && e.style('target-arrow-shape') === 'triangle';",
        [v, u],
    )
    editor.page.wait_for_function(
        "(v) => { const r = document.getElementById('metric-unresolved_edges');"
        " return r && Number(r.getAttribute('data-after')) === v; }",
        arg=before - 1,
        timeout=15000,
    )
