"""The editor app without a browser: the page JSON, server-side sessions, the CLI."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("dash")


@pytest.fixture(scope="module")
def app(make_demo_app):
    return make_demo_app(bootstrap=20)


def _arrays(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _arrays(v)
    elif isinstance(obj, list):
        yield obj
        for v in obj:
            yield from _arrays(v)


def test_page_json_holds_no_patient_rows(app, demo_cohort, render_page):
    client = app.server.test_client()
    resp = client.get("/_dash-layout")
    assert resp.status_code == 200
    parts = [resp.get_data(as_text=True), render_page(app, "/")]
    text = "".join(parts)
    assert "patient_id" not in text
    ids = {str(i) for i in demo_cohort.data.index}
    for arr in (a for part in parts for a in _arrays(json.loads(part))):
        hits = [
            x for x in arr if isinstance(x, str | int) and not isinstance(x, bool) and str(x) in ids
        ]
        assert len(hits) < 20, f"an array of {len(hits)} patient ids reached the page"
    # the page holds ids and view state only: a session id, no session object
    assert '"session_id"' in text and "initial_graph" not in text


def test_page_shows_every_node_and_the_report(app, demo_graph, render_page):
    text = render_page(app, "/")
    layout = json.loads(text)
    canvas = next(c for c in _components(layout) if c.get("props", {}).get("id") == "kg-canvas")
    els = canvas["props"]["elements"]
    assert sum("source" not in e["data"] for e in els) == len(demo_graph.nodes)
    assert sum("source" in e["data"] for e in els) == len(demo_graph.edges)
    assert canvas["props"]["layout"]["name"] == "dagre"
    assert canvas["props"]["autoRefreshLayout"] is False
    assert "metric-auroc" in text and "Gastrointestinal hemorrhage" in text


def _components(obj):
    if isinstance(obj, dict):
        if "props" in obj:
            yield obj
        for v in obj.values():
            yield from _components(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _components(v)


def test_sessions_live_in_the_store_and_rebuild_in_another_worker(
    demo_cohort, demo_graph, tmp_path
):
    from kg_editor.errors import UnknownSessionError
    from kg_editor.workspace import ProjectSpec, Workspace

    url = f"sqlite:///{tmp_path / 'kg.db'}"
    worker1 = Workspace(
        ProjectSpec("demo"),
        store=url,
        cohort=demo_cohort,
        graph=demo_graph,
        session_options={"bootstrap": 0},
    )
    sid = worker1.open_session(author="dr_a")
    u, v = demo_graph.edges[0]
    with worker1.editing(sid) as s:
        s.remove(u, v, author="dr_a", rationale="spurious")
        report = s.report.to_dict()
    worker2 = Workspace(
        ProjectSpec("demo"),
        store=url,
        cohort=demo_cohort,
        graph=demo_graph,
        session_options={"bootstrap": 0},
    )
    rebuilt = worker2.session(sid)
    assert rebuilt is not worker1.session(sid)
    assert not rebuilt.graph.has_edge(u, v) and rebuilt.graph == worker1.session(sid).graph
    assert rebuilt.report.to_dict()["accuracy"] == report["accuracy"]
    assert [h.kind for h in rebuilt.history] == ["start", "edit"]
    worker1.log_edit(sid, rebuilt.history[-1].edit, rebuilt.history[-1].delta)
    (entry,) = worker2.store.audit(worker2.project_id, session_id=sid)
    assert entry.author == "dr_a" and entry.rationale == "spurious" and entry.report_delta
    assert entry.report_delta["privacy"]["min_cell"] == 11  # written as it may be shown
    with pytest.raises(UnknownSessionError):
        worker2.session("0123456789abcdef")
    with pytest.raises(UnknownSessionError):
        worker2.session("../../etc/passwd")


def test_serve_command_is_registered_with_local_defaults():
    from kg_editor.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.source == "demo" and args.host == "127.0.0.1" and args.port == 8050
    assert args.func.__module__ == "kg_editor.commands.serve"


def test_assets_hold_edgehandles_and_the_glue_script():
    from kg_editor.ui.app import assets_folder

    names = {p.name for p in assets_folder().iterdir()}
    assert {
        "01_lodash.min.js",
        "02_cytoscape-edgehandles.js",
        "03_kg_editor.js",
        "kg_editor.css",
    } <= names
    # load order: lodash before edgehandles before the glue script
    assert sorted(n for n in names if n.endswith(".js"))[:3] == [
        "01_lodash.min.js",
        "02_cytoscape-edgehandles.js",
        "03_kg_editor.js",
    ]
