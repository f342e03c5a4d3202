"""Concept search ranking: exact and prefix matches of labels and codes first."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kg_editor.model.search import match_tier, normalise, rank_concepts

CONDITIONS = {
    "59621000": "Essential hypertension",
    "34742003": "Portal hypertension",
    "67763001": "Other hypotension",
    "34095006": "Dehydration",
    "38341003": "Hypertensive disorder",
    "44054006": "Diabetes mellitus type 2",
    "73211009": "Diabetes mellitus",
    "1201005": "Benign essential hypertension",
    "ht": "Pulmonary hypertension (HT)",
}


def _labels(ids):
    return [CONDITIONS[i] for i in ids]


def test_issue_example_hypertension():
    got = _labels(rank_concepts("hypertension", CONDITIONS))
    assert got.index("Essential hypertension") < got.index("Portal hypertension")
    assert "Other hypotension" not in got and "Dehydration" not in got
    assert set(got) == {
        "Essential hypertension",
        "Portal hypertension",
        "Benign essential hypertension",
        "Pulmonary hypertension (HT)",
    }


def test_exact_then_prefix_then_word_prefix_then_substring():
    got = _labels(rank_concepts("diabetes mellitus", CONDITIONS))
    assert got == ["Diabetes mellitus", "Diabetes mellitus type 2"]
    got = _labels(rank_concepts("Essential", CONDITIONS))
    assert got == ["Essential hypertension", "Benign essential hypertension"]
    got = _labels(rank_concepts("tension", CONDITIONS))  # substrings only
    assert got[0] == "Benign essential hypertension" and "Other hypotension" in got
    # words in any order, each a word prefix
    assert _labels(rank_concepts("hyp ess", CONDITIONS)) == [
        "Benign essential hypertension",
        "Essential hypertension",
    ]


def test_codes_match_exactly_and_by_prefix_before_labels():
    assert rank_concepts("59621000", CONDITIONS) == ["59621000"]
    assert rank_concepts("3434", CONDITIONS) == []
    assert rank_concepts("347", CONDITIONS) == ["34742003"]
    # an exact code beats a label that only contains it as a word prefix
    assert rank_concepts("HT", CONDITIONS)[0] == "ht"
    extra = {"59621000": ["I10", "401.9"]}
    assert rank_concepts("i10", CONDITIONS, extra) == ["59621000"]
    assert rank_concepts("401", CONDITIONS, extra) == ["59621000"]


def test_weights_break_ties_within_a_tier_only():
    w = {"34742003": 50, "59621000": 10, "38341003": 1}
    got = _labels(rank_concepts("hypert", CONDITIONS, weights=w))
    assert got[0] == "Hypertensive disorder"  # label prefix beats any weight
    assert got[1:3] == ["Portal hypertension", "Essential hypertension"]


def test_case_accents_punctuation_and_limit():
    labels = {"a": "Ménière's disease", "b": "Meniere disease, left ear", "c": "Ear pain"}
    assert rank_concepts("  MENIERE  ", labels) == ["b", "a"]  # both prefixes: alphabetical
    assert rank_concepts("meniere's", labels)[0] == "a"
    assert rank_concepts("", labels) == [] and rank_concepts(" , ", labels) == []
    assert len(rank_concepts("e", labels, limit=2)) == 2


words = st.text(alphabet="abcdehinoprsty ", min_size=1, max_size=18)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text("0123456789", min_size=1, max_size=5), words, max_size=12), words)
def test_ranking_contract(labels, query):
    """Every result matches, tiers never decrease, non-matches are left out, and an exact
    label match comes first."""
    got = rank_concepts(query, labels)
    q = normalise(query)
    tiers = [match_tier(q, labels[i], [i]) for i in got]
    assert all(t is not None for t in tiers)
    assert tiers == sorted(tiers)
    left = set(labels) - set(got)
    assert all(match_tier(q, labels[i], [i]) is None for i in left) if q else got == []
    exact = [i for i in labels if q and normalise(labels[i]) == q]
    if exact:
        assert tiers[0] == 0


def test_every_demo_label_finds_itself_first(demo_graph):
    labels = {n: demo_graph.label(n) for n in demo_graph.nodes}
    for n, label in labels.items():
        got = rank_concepts(label, labels)
        assert normalise(labels[got[0]]) == normalise(label)
        assert rank_concepts(n, labels)[0] == n
        first_word = label.split()[0]
        hits = rank_concepts(first_word[:4], labels)
        assert n in hits


def _session_id(app, render_page) -> str:
    # the router renders the editor page (and opens a session) once the shell has loaded
    stack = [json.loads(render_page(app, "/"))]
    while stack:
        c = stack.pop()
        if isinstance(c, dict):
            if c.get("props", {}).get("id") == "kg-session":
                return c["props"]["data"]["session_id"]
            stack.extend(c.values())
        elif isinstance(c, list):
            stack.extend(c)
    raise AssertionError("no session store in the page")


def _search(client, sid, box, query, value=None):
    body = {
        "output": f"{box}.options",
        "outputs": {"id": box, "property": "options"},
        "inputs": [{"id": box, "property": "search_value", "value": query}],
        "state": [
            {"id": box, "property": "value", "value": value},
            {"id": "kg-session", "property": "data", "value": {"session_id": sid}},
        ],
        "changedPropIds": [f"{box}.search_value"],
    }
    resp = client.post("/_dash-update-component", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["response"][box]["options"]


def test_the_find_a_concept_box_asks_the_ranking(make_demo_app, demo_graph, render_page):
    from kg_editor.ui import ids

    app = make_demo_app(bootstrap=0)
    client = app.server.test_client()
    sid = _session_id(app, render_page)
    labels = {n: demo_graph.label(n) for n in demo_graph.nodes}
    for box in (ids.SEARCH, ids.TEACH_CAUSE):
        got = _search(client, sid, box, "sinusitis")
        assert [o["value"] for o in got][:1] == rank_concepts("sinusitis", labels)[:1]
        assert all("sinusitis" in normalise(o["label"]) for o in got)
        # a label typed in full comes first, and the current choice is kept
        target = next(n for n in labels if labels[n] == "Gastrointestinal hemorrhage")
        other = next(n for n in labels if labels[n] == "Viral sinusitis")
        got = _search(client, sid, box, "gastrointestinal hemorrhage", value=other)
        assert got[0]["value"] == target and got[-1]["value"] == other
        # an empty box lists every concept A-Z
        got = _search(client, sid, box, "")
        assert len(got) == len(labels)
        assert [o["label"].casefold() for o in got] == sorted(o["label"].casefold() for o in got)
