"""The concept boxes in a real browser: the options come in the order of rank_concepts."""

from __future__ import annotations

import pytest

from kg_editor.model.search import rank_concepts

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _options(editor) -> list[str]:
    return editor.page.locator(".dash-dropdown-content [role=option]:visible").all_inner_texts()


def _type(editor, box: str, text: str) -> None:
    editor.page.click(box)
    search = editor.page.locator("input[placeholder='Search']:visible").first
    search.fill(text)


def _weights(editor_server) -> dict[str, float]:
    data = editor_server.cohort.data
    return {str(c): float((data[c] > 0).sum()) for c in data.columns}


@pytest.mark.parametrize("query", ["sinusitis", "viral"])
def test_find_a_concept_lists_exact_and_prefix_matches_first(editor, editor_server, query):
    graph = editor_server.graph
    labels = {n: graph.label(n) for n in graph.nodes}
    expected = [labels[i] for i in rank_concepts(query, labels, weights=_weights(editor_server))]
    assert len(expected) >= 2
    _type(editor, "#kg-search", query)
    editor.page.wait_for_function(
        "(want) => { const got = [...document.querySelectorAll('.dash-dropdown-content [role=option]')]"
        ".filter(e => e.offsetParent !== null).map(e => e.innerText.trim());"
        " return JSON.stringify(got) === JSON.stringify(want); }",
        arg=expected,
        timeout=15000,
    )
    assert _options(editor) == expected
    editor.page.keyboard.press("Enter")  # the first (best) option is chosen
    node = rank_concepts(query, labels, weights=_weights(editor_server))[0]
    editor.wait("return cy.getElementById(arg).selected();", node)
    editor.page.keyboard.press("Escape")


def test_search_left_the_console_clean(editor):
    assert not editor.console_errors, editor.console_errors
    assert all(u.startswith(("http://127.0.0.1", "data:")) for u in editor.requests)
