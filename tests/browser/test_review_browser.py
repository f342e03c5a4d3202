"""Guided review in a real browser (issue 14): the review card walks the demo's edges in
the review queue's order with the keyboard alone, endorsing raises the report's endorsed
share, skipping moves on, and the canvas, report and server agree."""

from __future__ import annotations

import pytest

from kg_editor.model.session import EditSession

pytestmark = pytest.mark.browser


def _review_edge(editor):
    return editor.page.evaluate(
        "() => { const t = document.getElementById('kg-review-text'); return t ? t.innerText : ''; }"
    )


def _wait_progress(editor, text):
    editor.page.wait_for_function(
        "(t) => (document.getElementById('kg-review-progress') || {}).textContent === t",
        arg=text,
        timeout=30000,
    )


def test_review_walks_the_queue_with_the_keyboard(editor, editor_server, demo_cohort, demo_graph):
    ref = EditSession(demo_cohort, demo_graph, bootstrap=0)
    queue = ref.review_queue()
    n = len(queue)
    first, second, third = queue[0], queue[1], queue[2]
    _wait_progress(editor, f"0 of {n} reviewed")
    assert first["labels"][0] in _review_edge(editor) and first["labels"][1] in _review_edge(editor)
    assert "Needs a look: " + first["reason"] in _review_edge(editor)

    # keyboard only: Tab to the Endorse button, Enter
    endorse = editor.page.locator("#kg-review button[title^='Endorse']")
    endorse.focus()
    editor.page.keyboard.press("Enter")
    ref.endorse(first["source"], first["target"])
    _wait_progress(editor, f"1 of {n} reviewed")
    editor.wait_metric("endorsed_share", ref.report.interpretability["endorsed_share"])
    text = _review_edge(editor)
    assert second["labels"][0] in text and second["labels"][1] in text

    # Skip moves to the next edge and changes nothing
    editor.page.locator("#kg-review-skip").focus()
    editor.page.keyboard.press("Enter")
    editor.page.wait_for_function(
        "(l) => (document.getElementById('kg-review-text') || {}).innerText.includes(l[0])"
        " && document.getElementById('kg-review-text').innerText.includes(l[1])",
        arg=third["labels"],
        timeout=15000,
    )
    _wait_progress(editor, f"1 of {n} reviewed")

    # review mode: the edge under review is selected, and E endorses it
    editor.page.locator("#kg-review-mode input").check()
    editor.wait(
        "return cy.edges(':selected').length === 1 && cy.edges(':selected')[0].data('source') === arg[0];",
        [third["source"], third["target"]],
    )
    editor.page.locator("body").press("e")
    ref.endorse(third["source"], third["target"])
    _wait_progress(editor, f"2 of {n} reviewed")
    editor.wait_metric("endorsed_share", ref.report.interpretability["endorsed_share"])
    sid = editor.page.evaluate("() => new URL(location.href).searchParams.get('session')")
    reg = editor_server.workspace
    with reg.reading(sid) as session:
        assert session.graph.edge_attrs(third["source"], third["target"])["endorsed"]
        assert session.report.interpretability == ref.report.interpretability
    assert not [e for e in editor.console_errors if "favicon" not in e]
