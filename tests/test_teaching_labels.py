"""Teaching text names variables by their labels, never by raw concept ids."""

from __future__ import annotations

import re

import networkx as nx
import numpy as np
import pytest

from kg_editor.model.graph import CausalGraph
from kg_editor.teaching import (
    Scenario,
    adjustment_report,
    path_report,
    replay,
    seeing_vs_doing,
)
from kg_editor.teaching.beliefs import TeachingModel
from kg_editor.ui.teaching.view import paths_view, scenario_list, seeing_doing_view

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

LABELS = {
    "4000": "Age over 65",
    "1124300": "Obesity",
    "1118084": "Celecoxib",
    "192671": "Gastrointestinal hemorrhage",
    "80180": "Osteoarthritis",
}
EDGES = [
    ("4000", "1118084"),
    ("4000", "192671"),
    ("1124300", "1118084"),
    ("1124300", "192671"),
    ("80180", "1118084"),
    ("1118084", "192671"),
]
IDS = re.compile(r"\b(4000|1124300|1118084|192671|80180)\b")


@pytest.fixture(scope="module")
def tm() -> TeachingModel:
    g = CausalGraph.from_edges(EDGES, labels=LABELS)
    rng = np.random.default_rng(4)
    tables = {}
    for n in g.nodes:
        t = rng.random((2, 2 ** len(list(g.parents(n)))))
        tables[n] = t / t.sum(axis=0)
    return TeachingModel.from_graph_and_cpds(g, tables)


def _text(component) -> str:
    """All text of a Dash component tree."""
    out = []

    def walk(c):
        if c is None:
            return
        if isinstance(c, str | int | float):
            out.append(str(c))
            return
        if isinstance(c, list | tuple):
            for x in c:
                walk(x)
            return
        walk(getattr(c, "children", None))

    walk(component)
    return " ".join(out)


def test_seeing_vs_doing_names_adjustment_sets_by_label(tm):
    sd = seeing_vs_doing(tm, "1118084", "1", "192671", {"80180": "1"})
    assert sd["confounded"]
    assert sd["adjustment_sets"] == [["1124300", "4000"]]  # ids for the canvas
    assert sd["adjustment_set_labels"] == [["Age over 65", "Obesity"]]
    assert "Adjusting for {Age over 65, Obesity} removes it." in sd["explanation"]
    assert "Osteoarthritis = 1" in sd["explanation"]
    assert not IDS.search(sd["explanation"])
    shown = _text(seeing_doing_view(sd))
    assert "Adjusting for any of: {Age over 65, Obesity}" in shown
    assert not IDS.search(shown), shown


def test_paths_and_adjustment_text_use_labels(tm):
    rep = path_report(tm, "Celecoxib", "Gastrointestinal hemorrhage", {"4000": "1", "80180": "0"})
    assert "given Age over 65, Osteoarthritis" in rep["explanation"]
    adj = adjustment_report(tm, "1118084", "192671")
    assert adj["sets"][0]["labels"] == ["Age over 65", "Obesity"]
    assert adj["sets"][0]["nodes"] == ["4000", "1124300"]  # same order as the labels
    for text in (rep["explanation"], adj["explanation"], _text(paths_view(rep, adj))):
        assert not IDS.search(text), text
    # a bare networkx graph with label attributes is named (and resolved) by label too
    g = nx.DiGraph(EDGES)
    nx.set_node_attributes(g, LABELS, "label")
    rep2 = path_report(g, "Celecoxib", "192671", ["Age over 65"])
    assert rep2["explanation"].startswith("Celecoxib and Gastrointestinal hemorrhage")
    assert rep2["trails"][0]["labels"][0] == "Celecoxib"
    assert not IDS.search(rep2["explanation"])


def test_replay_and_scenario_list_use_labels(tm):
    sc = Scenario("Old patient", {"4000": "1"}, cause="1118084", cause_state="1", outcome="192671")
    out = replay(sc, tm)
    assert out["adjustment_set_labels"][0] == ["Age over 65", "Obesity"]
    assert [sorted(map(tm.label, s)) for s in out["adjustment_sets"]] == out[
        "adjustment_set_labels"
    ]
    assert ["Age over 65", "Obesity", "Osteoarthritis"] in out["adjustment_set_labels"]
    rows = [{"id": "s1", "scenario": sc.to_dict(), "graph_key": "k"}]
    shown = _text(scenario_list(rows, "k", {n: tm.label(n) for n in tm.nodes}))
    assert "Celecoxib → Gastrointestinal hemorrhage" in shown
    assert not IDS.search(shown), shown
