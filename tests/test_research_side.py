"""The research side of the editor (issue 14, build 5): the edge table's rows (labels,
direction status, evidence with suppressed counts, stability, conflicts, endorsement) and
the canvas layout saved in a graph's metadata, through JSON and the store."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from kg_editor.data.privacy import suppress
from kg_editor.model.edge_table import DIRECTION_STATUSES, direction_status, edge_rows
from kg_editor.model.graph import AddEdge, CausalGraph, ReverseEdge, apply_edit
from kg_editor.model.positions import (
    clean_layout,
    place_missing,
    saved_layout,
    with_layout,
)
from kg_editor.ui.editor.elements import graph_elements, with_positions
from kg_editor.versions.store import Store
from kg_editor.workspace import ProjectSpec, Workspace


def _evidence(n11: int, orr: float, q: float, rule: str, freq: float) -> dict:
    return {
        "counts": {"n11": n11, "n10": 400, "n01": 300, "n00": 2000},
        "measures": {"odds_ratio": {"estimate": orr, "ci_low": orr / 2, "ci_high": orr * 2}},
        "test": {"name": "chi2", "p": q / 2, "q": q},
        "orientation": {"rule": rule, "why": "because"},
        "stability": {"frequency": freq, "resamples": 20},
    }


@pytest.fixture
def graph() -> CausalGraph:
    g = CausalGraph.from_edges(
        [("a", "b"), ("b", "c"), ("a", "c")],
        labels={"a": "Aspirin", "b": "Bleeding", "c": "Cardiac arrest"},
    )
    nxg = nx.DiGraph(g.nx)
    nxg.edges["a", "b"]["evidence"] = _evidence(4, 3.2, 0.001, "precedence", 0.9)
    nxg.edges["b", "c"]["evidence"] = _evidence(120, 0.8, 0.4, "tier", 0.3)
    nxg.edges["a", "c"]["evidence"] = _evidence(57, 1.9, 0.01, "meek", 0.75)
    nxg.edges["a", "c"]["unresolved"] = True
    return CausalGraph(nxg)


def test_rows_carry_labels_status_and_suppressed_counts(graph):
    rows = {r["id"]: r for r in edge_rows(graph, against_time=[("b", "c")], min_cell=11)}
    assert set(rows) == {"a->b", "b->c", "a->c"}
    ab, bc, ac = rows["a->b"], rows["b->c"], rows["a->c"]
    assert (ab["source_label"], ab["target_label"]) == ("Aspirin", "Bleeding")
    # 4 co-patients is below the threshold: suppressed exactly as the edge card does
    assert ab["co_patients"] == suppress(4, 11) == "<11"
    assert bc["co_patients"] == 120 and ac["co_patients"] == 57
    assert [ab["direction"], bc["direction"], ac["direction"]] == [
        "by time",
        "by constraint",
        "unresolved",
    ]
    assert ab["odds_ratio"] == 3.2 and ab["ci_low"] == 1.6 and ab["ci_high"] == 6.4
    assert ab["stability"] == 0.9 and ab["conflicts"] == ""
    assert "against time" in bc["conflicts"] and "no data support" in bc["conflicts"]
    assert "inverse association" in bc["conflicts"]
    # a higher threshold hides more
    rows20 = {r["id"]: r for r in edge_rows(graph, min_cell=60)}
    assert rows20["a->c"]["co_patients"] == "<60" and rows20["b->c"]["co_patients"] == 120
    # no count of the raw evidence survives under the threshold anywhere in a row
    assert all(4 not in r.values() for r in rows.values())


def test_rows_follow_edits_and_mark_clinician_work(graph):
    g2 = apply_edit(graph, ReverseEdge("a", "b", author="dr_a"))
    rows = {r["id"]: r for r in edge_rows(g2)}
    assert "a->b" not in rows and rows["b->a"]["direction"] == "by clinician"
    assert rows["b->a"]["endorsed"] == "yes" and rows["b->a"]["clinician_added"] == ""
    nxg = nx.DiGraph(g2.nx)
    nxg.add_node("d", label="Dyspepsia")
    g3 = apply_edit(CausalGraph(nxg), AddEdge("d", "c", author="dr_b"))
    calls = []

    def evidence_for(u, v):
        calls.append((u, v))
        return _evidence(3, 1.5, 0.02, "score", 1.0)

    rows = {r["id"]: r for r in edge_rows(g3, evidence_for=evidence_for)}
    assert calls == [("d", "c")]  # only the clinician's edge needs the data's evidence
    assert rows["d->c"]["clinician_added"] == "yes" and rows["d->c"]["co_patients"] == "<11"
    assert rows["d->c"]["odds_ratio"] == 1.5


def test_direction_status_covers_every_rule():
    for rule in ("required", "tier", "forbidden", "demographic", "precedence", "v-structure"):
        status = direction_status({"evidence": {"orientation": {"rule": rule}}})
        assert status in DIRECTION_STATUSES and status != "not recorded"
    assert direction_status({}) == "not recorded"


def test_edge_elements_carry_the_tooltip_evidence(graph):
    els = {e["data"]["id"]: e["data"] for e in graph_elements(graph)}
    ab = els["e-a-b"]
    assert ab["or"] == 3.2 and ab["ci"] == [1.6, 6.4] and ab["direction"] == "by time"


def test_tooltip_prevalence_is_hidden_with_a_small_count():
    g = CausalGraph.from_edges([("a", "b")])
    nxg = nx.DiGraph(g.nx)
    nxg.nodes["a"].update(prevalence=0.002, patients=4)
    nxg.nodes["b"].update(prevalence=0.25, patients=500)
    els = {e["data"]["id"]: e["data"] for e in graph_elements(CausalGraph(nxg))}
    assert els["a"]["prev_shown"] is None and els["a"]["prev_hidden"] is True
    assert els["b"]["prev_shown"] == 0.25 and els["b"]["prev_hidden"] is False


def test_layout_round_trips_through_json(graph):
    layout = {"positions": {"a": [1.5, -2], "b": {"x": 30, "y": 40}, "zz": [0, 0]}, "pinned": ["a"]}
    g2 = with_layout(graph, layout)
    assert "layout" not in graph.metadata  # a new graph, the input unchanged
    back = CausalGraph.from_dict(json.loads(g2.to_json()))
    assert saved_layout(back) == {
        "positions": {"a": [1.5, -2.0], "b": [30.0, 40.0]},
        "pinned": ["a"],
    }
    assert saved_layout(graph) is None


def test_clean_layout_drops_what_is_not_a_finite_point_of_the_graph():
    got = clean_layout(
        {
            "positions": {"a": [float("nan"), 1], "b": "x", "c": [1, 2, 3], "d": [1, 2]},
            "pinned": ["a", "d", "e"],
        },
        ["a", "b", "c", "d"],
    )
    assert got == {"positions": {"d": [1.0, 2.0]}, "pinned": ["d"]}


def test_missing_nodes_go_beside_their_neighbours(graph):
    nxg = nx.DiGraph(graph.nx)
    nxg.add_node("lonely")
    g = CausalGraph(nxg)
    placed = place_missing(g, {"a": [0, 0], "c": [100, 200]})
    # b is linked to a and c: beside their mean, not on top of anyone
    assert placed["b"][1] == pytest.approx(100.0) and placed["b"][0] > 50
    assert placed["lonely"][1] > 200  # no neighbour: below everything
    assert placed["a"] == [0, 0] and placed["c"] == [100, 200]
    els = with_positions(graph_elements(g), placed, ["a"])
    node = {e["data"]["id"]: e for e in els if "source" not in e["data"]}
    assert node["a"]["position"] == {"x": 0.0, "y": 0.0} and node["a"]["data"]["pinned"]
    assert "pinned" not in node["c"]["data"]


def test_layout_is_saved_in_the_store_with_the_version(graph, tmp_path):
    store = Store(tmp_path / "kg.sqlite")
    pid = store.ensure_project("p", "fp").id
    v = store.save_version(pid, with_layout(graph, {"positions": {"a": [5, 6]}, "pinned": ["a"]}))
    again = Store(tmp_path / "kg.sqlite").get_version(v.id)
    assert saved_layout(again.graph) == {"positions": {"a": [5.0, 6.0]}, "pinned": ["a"]}
    store.close()


def test_workspace_saves_the_layout_and_a_reopened_version_keeps_it(
    demo_cohort, demo_graph, tmp_path
):
    ws = Workspace(
        ProjectSpec("demo", demo_cohort.target),
        store=f"sqlite:///{tmp_path / 'kg.db'}",
        cohort=demo_cohort,
        graph=demo_graph,
        session_options={"bootstrap": 0},
    )
    node = next(iter(demo_graph.nodes))
    sid = ws.open_session(author="dr_a")
    v = ws.save_version(
        sid, message="laid out", layout={"positions": {node: [7, 8]}, "pinned": [node]}
    )
    with ws.reading(sid) as session:  # the live session's graph is not changed by saving
        assert "layout" not in session.graph.metadata
        rows = session.edge_table()
    assert len(rows) == len(demo_graph.edges)
    _v, sid2 = ws.open_version(v.id)
    with ws.reading(sid2) as session:
        assert saved_layout(session.graph) == {"positions": {node: [7.0, 8.0]}, "pinned": [node]}
