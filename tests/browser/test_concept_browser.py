"""A physician merges two codes into one concept on the page and splits it again
(issue 13): the canvas, the report and the server agree with the Python API."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest

from kg_editor.model.session import EditSession

pytestmark = pytest.mark.browser

#: The demo's nested GI conditions (peptic ulcer and the five found only beside it).
GI = ["4027663", "30753", "4266809", "4310024", "81893", "4285898"]
NAME = "GI mucosal disease"


def _mergeable_pair(graph, target):
    """Two GI codes whose merge closes no cycle through an outside node."""
    g = graph.nx
    for a, b in itertools.combinations([c for c in GI if c in g and c != target], 2):
        contracted = nx.relabel_nodes(nx.DiGraph(g), {a: "m", b: "m"})
        contracted.remove_edges_from(list(nx.selfloop_edges(contracted)))
        if nx.is_directed_acyclic_graph(contracted):
            return a, b
    raise AssertionError("no GI pair merges without a cycle")


def test_merge_and_split_a_concept_on_the_page(editor, editor_server, demo_cohort, demo_graph):
    ref = EditSession(demo_cohort, demo_graph, bootstrap=0)
    a, b = _mergeable_pair(ref.graph, ref.targets[0])
    n_nodes = editor.js("return cy.nodes().length;")
    for code in (a, b):
        editor.pick("#kg-concept-members", ref.graph.label(code))
        editor.page.keyboard.press("Escape")  # a multi-select stays open after a choice
    editor.page.fill("#kg-concept-name", NAME)
    editor.page.click("#kg-concept-merge")

    code = "concept:" + NAME
    editor.wait("return cy.getElementById(arg).length === 1;", code, timeout=60000)
    editor.wait_status("Merged")
    assert editor.js("return cy.nodes().length;") == n_nodes - 1
    assert editor.js(
        "return [cy.getElementById(arg[0]).length, cy.getElementById(arg[1]).length];", [a, b]
    ) == [0, 0]
    ref.merge([a, b], NAME)
    editor.wait_metric("loglik_per_patient", ref.report.accuracy["loglik_per_patient"])
    # the history names the step; the server's session holds the same graph
    assert "Merged" in editor.page.inner_text("#kg-history")
    sid = editor.page.evaluate("() => new URL(location.href).searchParams.get('session')")
    with editor_server.workspace.reading(sid) as session:
        assert session.graph == ref.graph
    # the new concept is offered for splitting, and for the add-edge form
    editor.page.click("#kg-concept-split-node")
    editor.page.locator("[role=option]:visible").filter(has_text=NAME).first.wait_for()
    editor.page.keyboard.press("Escape")
    editor.pick("#kg-concept-split-node", NAME)
    editor.page.click("#kg-concept-split")
    editor.wait(
        "return cy.getElementById(arg[0]).length === 0 && cy.getElementById(arg[1]).length === 1;",
        [code, a],
        timeout=60000,
    )
    editor.wait_status("Split")
    ref.split(code)
    editor.wait_metric("loglik_per_patient", ref.report.accuracy["loglik_per_patient"])
    assert editor.js("return cy.nodes().length;") == n_nodes
    assert not [e for e in editor.console_errors if "favicon" not in e]


def test_merge_without_a_name_is_refused_with_a_message(editor):
    editor.page.fill("#kg-concept-name", "")
    editor.page.click("#kg-concept-merge")
    editor.page.wait_for_selector("#kg-alert:not([hidden])", timeout=15000)
    assert "two or more variables" in editor.page.inner_text("#kg-alert")
