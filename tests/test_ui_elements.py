"""Canvas elements, stylesheet, report rows and cards: pure functions, no browser."""

from __future__ import annotations

import json

import plotly.utils
import pytest

pytest.importorskip("dash")

from kg_editor.model.graph import AddEdge, CausalGraph, apply_edit
from kg_editor.ui.editor.cards import edge_card
from kg_editor.ui.editor.elements import (
    edge_id,
    graph_elements,
    neighbourhood,
    node_size,
    stylesheet,
)
from kg_editor.ui.editor.report_view import metric_rows


def _graph():
    g = CausalGraph.from_edges(
        [("a", "b"), ("b", "c"), ("c", "d")],
        labels={"a": "<b>Aspirin</b>", "b": "Bleeding", "c": "Anaemia", "d": "Fatigue"},
        provenance="distilled",
    )
    return apply_edit(g, AddEdge("a", "d", author="dr_x", rationale="known effect"))


def test_elements_carry_plain_labels_provenance_and_marks():
    g = _graph()
    els = graph_elements(g, target="c", contradicting=[("b", "c")])
    nodes = {e["data"]["id"]: e for e in els if "source" not in e["data"]}
    edges = {(e["data"]["source"], e["data"]["target"]): e for e in els if "source" in e["data"]}
    assert set(nodes) == set(g.nodes) and set(edges) == set(g.edges)
    assert nodes["a"]["data"]["label"] == "<b>Aspirin</b>"  # kept as text, drawn on a canvas
    assert "target" in nodes["c"]["classes"] and "target" not in nodes["a"]["classes"]
    assert "prov-clinician" in edges[("a", "d")]["classes"]
    assert "prov-distilled" in edges[("a", "b")]["classes"]
    assert "contradicts" in edges[("b", "c")]["classes"]
    assert "contradicts" not in edges[("a", "b")]["classes"]
    assert len({e["data"]["id"] for e in els}) == len(els)


def test_refused_cycle_is_highlighted_with_a_ghost_closing_edge():
    g = _graph()
    els = graph_elements(g, cycle=["d", "a", "b", "c", "d"])
    cyc = [e for e in els if "cycle" in e.get("classes", "")]
    ids = {e["data"]["id"] for e in cyc}
    assert {"a", "b", "c", "d", edge_id("a", "b"), edge_id("b", "c"), edge_id("c", "d")} <= ids
    refused = [e for e in cyc if "refused" in e["classes"]]
    assert [(e["data"]["source"], e["data"]["target"]) for e in refused] == [("d", "a")]


def test_edge_ids_are_selector_safe_and_distinct():
    assert edge_id("a b", "c") != edge_id("a", "b c")
    assert all(ch.isalnum() or ch in "-_" for ch in edge_id("x>y", "z#1 2"))


def test_neighbourhood_view_limits_the_elements():
    g = _graph()
    near = neighbourhood(g, "b", 1)
    assert near == {"a", "b", "c"}
    els = graph_elements(g, nodes=near)
    assert {e["data"]["id"] for e in els if "source" not in e["data"]} == near
    assert all(
        e["data"]["source"] in near and e["data"]["target"] in near
        for e in els
        if "source" in e["data"]
    )


def test_node_size_grows_with_prevalence_and_width_with_strength():
    assert node_size(0.01) < node_size(0.2) < node_size(0.9)
    g = CausalGraph.from_edges([("a", "b"), ("b", "c")])
    nx_g = g.to_networkx()
    nx_g.edges["a", "b"]["evidence"] = {"measures": {"odds_ratio": {"estimate": 8.0}}}
    nx_g.edges["b", "c"]["evidence"] = {"measures": {"odds_ratio": {"estimate": 1.1}}}
    widths = {
        (e["data"]["source"], e["data"]["target"]): e["data"]["width"]
        for e in graph_elements(CausalGraph(nx_g))
        if "source" in e["data"]
    }
    assert widths[("a", "b")] > widths[("b", "c")]


def test_stylesheet_covers_every_class_the_elements_use():
    selectors = " ".join(s["selector"] for s in stylesheet())
    for cls in (
        "prov-distilled",
        "prov-clinician",
        "prov-suggested",
        "contradicts",
        "cycle",
        "target",
        "ghost",
        "pending-source",
        "dom-condition",
        "dom-drug",
    ):
        assert f".{cls}" in selectors, cls


def test_metric_rows_colour_by_direction():
    delta = {
        "accuracy": {
            "loglik_per_patient": {
                "before": -3.0,
                "after": -2.9,
                "delta": 0.1,
                "ci": [0.05, 0.15],
                "significant": True,
            }
        },
        "targets": {
            "t": {
                "auroc": {"before": 0.8, "after": 0.7, "delta": -0.1},
                "brier": {"before": 0.2, "after": 0.1, "delta": -0.1},
            }
        },
        "interpretability": {
            "edges": {"before": 3, "after": 4, "delta": 1},
            "markov_blanket_size": {"t": {"before": 2, "after": 3, "delta": 1}},
        },
    }
    rows = {r["key"]: r for r in metric_rows(delta, "t")}
    assert rows["loglik_per_patient"]["direction"] == "better"
    assert rows["auroc"]["direction"] == "worse"
    assert rows["brier"]["direction"] == "better"  # lower Brier is better
    assert rows["edges"]["direction"] == "neutral"
    assert rows["markov_blanket_size"]["after"] == 3


class _Var:
    def __init__(self, label):
        self.label = label


class _Session:
    def __init__(self, graph):
        self.graph = graph


def test_edge_card_suppresses_small_counts_and_shows_history():
    g = CausalGraph.from_edges([("a", "b")], labels={"a": "Aspirin", "b": "Bleeding"})
    nx_g = g.to_networkx()
    nx_g.edges["a", "b"].update(
        evidence={
            "counts": {"n": 400, "n11": 3, "n10": 40, "n01": 57, "n00": 300},
            "measures": {"odds_ratio": {"estimate": 2.5, "ci_low": 1.2, "ci_high": 5.1}},
            "test": {"name": "fisher", "p": 0.01, "q": 0.02},
            "precedence": {"n_both_dated": 5, "share_source_first": 0.8, "p": 0.2},
        },
        orientation={"rule": "precedence", "why": "Aspirin is recorded first in most patients"},
        history=[
            {
                "kind": "add",
                "author": "dr_x",
                "created": "2026-01-02T10:00:00",
                "rationale": "NSAID effect",
            }
        ],
    )
    card = edge_card(_Session(CausalGraph(nx_g)), "a", "b", {("a", "b")})
    text = json.dumps(card, cls=plotly.utils.PlotlyJSONEncoder)
    assert '"<11"' in text  # n11 = 3 and 5 patients with both dated
    assert '"3"' not in text and '"5 patients' not in text
    assert "2.50" in text and "1.20" in text and "5.10" in text
    assert "dr_x" in text and "NSAID effect" in text
    assert "Aspirin is recorded first in most patients" in text
    assert "against temporal order" in text
