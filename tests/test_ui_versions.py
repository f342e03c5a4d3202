"""The versions page without a browser: saving, edits since the last save, opening a
session on a version, exports in every format, diff elements, the page JSON."""

from __future__ import annotations

import json

import networkx as nx
import pytest

pytest.importorskip("dash")


@pytest.fixture(scope="module")
def app(make_demo_app):
    return make_demo_app(bootstrap=0)


def _allowed_add(session):
    g = session.graph.nx
    nodes = sorted(session.graph.nodes)
    return next(
        (a, b)
        for a in nodes
        for b in nodes
        if a != b
        and not g.has_edge(a, b)
        and not g.has_edge(b, a)
        and session.constraints.violation(a, b) is None
        and not nx.has_path(g, b, a)
    )


def test_effective_edits_follow_undo_and_redo(app):
    from kg_editor.workspace import effective_edits

    reg = app.workspace
    sid = reg.open_session()
    with reg.editing(sid) as s:
        e1 = sorted(s.graph.edges)[0]
        s.remove(*e1)
        a, b = _allowed_add(s)
        s.add(a, b)
        s.undo()
        assert [(e.kind, e.source, e.target) for e in effective_edits(s)] == [("remove", *e1)]
        s.redo()
        assert [e.kind for e in effective_edits(s)] == ["remove", "add"]
        s.undo()
        s.undo()
        assert effective_edits(s) == []


def test_save_keeps_the_edits_since_the_last_save(app):

    reg = app.workspace
    sid = reg.open_session()
    v1 = reg.save_version(sid, author="dr_a", message="start", branch="t1")
    assert v1.edits == [] and v1.parent_id is None and v1.branch == "t1"
    with reg.editing(sid) as s:
        e1 = sorted(s.graph.edges)[0]
        s.remove(*e1)
    v2 = reg.save_version(sid, author="dr_a", message="one", branch="t1")
    with reg.editing(sid) as s:
        a, b = _allowed_add(s)
        s.add(a, b, rationale="seen in clinic")
        report = s.report.to_dict()
        graph = s.graph
    v3 = reg.save_version(sid, author="dr_a", message="two", branch="t1")
    assert [(e.kind, e.source, e.target) for e in v2.edits] == [("remove", *e1)]
    assert [(e.kind, e.source, e.target, e.rationale) for e in v3.edits] == [
        ("add", a, b, "seen in clinic")
    ]
    assert v3.parent_id == v2.id and v2.parent_id == v1.id
    assert v3.graph == graph
    assert v3.report["accuracy"] == report["accuracy"]
    assert v3.key_metrics()["interpretability.edges"] == len(graph.edges)


def test_open_session_on_a_version_is_rebuilt_from_the_store(app):

    reg = app.workspace
    sid = reg.open_session()
    with reg.editing(sid) as s:
        s.remove(*sorted(s.graph.edges)[0])
    v = reg.save_version(sid, message="for open", branch="t2")
    new = reg.open_session(v.graph, author="dr_b")
    assert reg.exists(new)
    reg.forget(new)
    with reg.reading(new) as s:
        assert s.graph == v.graph
        assert s.constraints == reg.constraints()
        assert s.author == "dr_b"


@pytest.mark.parametrize(
    "fmt", ["json", "bif", "xmlbif", "dagitty", "graphml", "gml", "dot", "csv"]
)
def test_export_of_the_session_and_of_a_version_round_trips(app, fmt, tmp_path):
    from kg_editor.formats import get_format, read_graph, read_graph_with_model

    reg = app.workspace
    sid = reg.open_session()
    with reg.editing(sid) as s:
        s.remove(*sorted(s.graph.edges)[0])
        graph = s.graph
        model = s.to_pgmpy() if get_format(fmt).has_cpds else None
    name, text = reg.export_session(sid, fmt)
    assert name.endswith(get_format(fmt).extensions[0])
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    back, back_model = read_graph_with_model(path)
    assert set(back.edges) == set(graph.edges)
    assert set(back.nodes) == set(graph.nodes)
    if model is not None:  # the session's fitted CPDs, not uniform ones
        ours = {c.variable: c for c in model.get_cpds()}
        for cpd in back_model.get_cpds():
            assert cpd.values == pytest.approx(ours[cpd.variable].values, abs=1e-6)
    v = reg.save_version(sid, branch=f"exp-{fmt}")
    name, text = reg.export_version(v.id, fmt)
    assert v.id in name
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert set(read_graph(path).edges) == set(v.graph.edges)
    if model is not None:  # a version's CPDs are fitted the same way as the session's
        _, vm = read_graph_with_model(path)
        ours = {c.variable: c for c in model.get_cpds()}
        for cpd in vm.get_cpds():
            assert cpd.values == pytest.approx(ours[cpd.variable].values, abs=1e-6)


def test_diff_elements_style_every_edge_of_both_graphs():
    from kg_editor.model.graph import CausalGraph
    from kg_editor.ui.versions.view import diff_elements, diff_stylesheet
    from kg_editor.versions.diff import diff_graphs

    a = CausalGraph.from_edges(
        [("x", "y"), ("y", "z"), ("z", "w")], nodes=["x", "y", "z", "w", "q"]
    )
    b = CausalGraph.from_edges([("y", "x"), ("z", "w"), ("x", "z")], nodes=["x", "y", "z", "w"])
    els = diff_elements(a, b, diff_graphs(a, b))
    nodes = {e["data"]["id"]: e["classes"] for e in els if "source" not in e["data"]}
    assert set(nodes) == {"x", "y", "z", "w", "q"}
    assert "diff-gone" in nodes["q"]
    edges = {
        (e["data"]["source"], e["data"]["target"]): e["classes"]
        for e in els
        if "source" in e["data"]
    }
    assert edges == {
        ("y", "x"): "diff-reversed",
        ("y", "z"): "diff-removed",
        ("x", "z"): "diff-added",
        ("z", "w"): "diff-unchanged",
    }
    assert len({e["data"]["id"] for e in els}) == len(els)
    selectors = {r["selector"] for r in diff_stylesheet()}
    assert {"edge.diff-added", "edge.diff-removed", "edge.diff-reversed"} <= selectors


def test_comparison_table_and_chart_come_from_the_reports():
    from kg_editor.ui.versions.view import comparison_chart, comparison_table, key_values
    from kg_editor.versions.diff import metric_table

    ra = {
        "accuracy": {"loglik_per_patient": -4.0, "bic": -100.0},
        "targets": {"t": {"auroc": 0.70, "brier": 0.2}},
        "interpretability": {"edges": 10},
    }
    rb = {
        "accuracy": {"loglik_per_patient": -3.0, "bic": -90.0},
        "targets": {"t": {"auroc": 0.77, "brier": 0.25}},
        "interpretability": {"edges": 12},
    }
    table = comparison_table(metric_table(ra, rb, labels=("A1", "B1")), ("A1", "B1"), "t")
    text = json.dumps(table.to_plotly_json(), default=lambda o: o.to_plotly_json())
    assert "kg-v-metric-targets-auroc" in text and "kg-v-metric-accuracy-bic" in text
    fig = comparison_chart(ra, rb, "t")
    bars = dict(zip(fig["data"][0]["y"], fig["data"][0]["x"], strict=True))
    assert bars["Edges"] == pytest.approx(20.0)
    assert bars["AUROC"] == pytest.approx(10.0)
    colours = dict(zip(fig["data"][0]["y"], fig["data"][0]["marker"]["color"], strict=True))
    assert colours["AUROC"] == "#1a9850" and colours["Brier"] == "#d73027"
    assert key_values(None, None)["Edges"] is None


def test_versions_page_json(app, render_page):

    reg = app.workspace
    client = app.server.test_client()
    sid = reg.open_session()
    reg.save_version(sid, message="page test", branch="page")
    text = render_page(app, "/versions", f"?session={sid}")
    assert "kg-v-canvas" in text and "page test" in text and 'kg-canvas"' not in text
    # the editor page keeps working and carries the save toolbar
    text = render_page(app, "/", f"?session={sid}")
    assert '"kg-canvas"' in text and "kg-e-save" in text and "kg-override" in text
    assert client.get("/versions").status_code == 200
