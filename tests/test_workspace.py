"""The application layer: specs and provenance, reopening artefacts without repeating
options, clear mismatches, and the CLI and the web editor sharing one store."""

from __future__ import annotations

import json

import pytest

from kg_editor.cli import main
from kg_editor.errors import ConstraintError, SettingsMismatchError
from kg_editor.workspace import COHORT_DEFAULTS, ProjectSpec, Workspace, mismatch_error

#: Non-default cohort options: a graph made with them names variables (and a split) the
#: default cohort does not have.
OPTIONS = ["--min-patients", "30", "--max-variables", "25", "--seed", "3"]


def test_spec_keeps_only_non_default_options_and_round_trips():
    spec = ProjectSpec("demo", "192671", cohort_options={"min_patients": 30, "seed": 0})
    assert spec.cohort_options == {"min_patients": 30}
    assert ProjectSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.settings()["max_variables"] == COHORT_DEFAULTS["max_variables"]
    other = spec.with_overrides(cohort_options={"min_patients": 20, "seed": 3})
    assert spec.differences(other) == {"min_patients": (30, 20), "seed": (0, 3)}
    assert spec.differences(spec.with_overrides(cohort_options={"min_patients": 30})) == {}


def test_mismatch_message_names_every_differing_setting():
    err = mismatch_error("The graph g.json", {"min_patients": (30, 20), "source": ("a", "b")})
    assert isinstance(err, SettingsMismatchError)
    text = str(err)
    assert "--min-patients 30 there, 20 here" in text and "SOURCE 'a' there, 'b' here" in text
    assert err.differences == {"min_patients": (30, 20), "source": ("a", "b")}


def test_workspace_records_provenance_on_what_it_makes(demo_cohort, demo_graph, tmp_path):
    ws = Workspace(
        ProjectSpec("demo", demo_cohort.target),
        store=f"sqlite:///{tmp_path / 'kg.db'}",
        cohort=demo_cohort,
        graph=demo_graph,
        session_options={"bootstrap": 0},
    )
    sid = ws.open_session(author="dr_a")
    v = ws.save_version(sid, message="first")
    prov = v.report["provenance"]
    assert prov["cohort_fingerprint"] == demo_cohort.fingerprint()
    assert prov["project"]["source"] == "demo" and prov["constraints"]["tiers"]
    assert v.graph.metadata["project"] == ws.spec.to_dict()
    _, text = ws.export_session(sid, "json")
    assert json.loads(text)["metadata"]["cohort_fingerprint"] == demo_cohort.fingerprint()
    assert ws.project.name == f"{demo_cohort.source_name} / {demo_cohort.target}"


def _distill(tmp_path, capsys, *extra):
    out = tmp_path / "graph.json"
    assert main(["distill", "demo", *extra, "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    return out


@pytest.mark.slow
def test_a_graph_with_non_default_options_reopens_without_repeating_them(tmp_path, capsys):
    graph = _distill(tmp_path, capsys, *OPTIONS)
    recorded = json.loads(graph.read_text())["metadata"]["project"]
    assert recorded["cohort_options"] == {"min_patients": 30, "max_variables": 25, "seed": 3}

    # evaluate: no SOURCE, no option typed
    assert main(["evaluate", "--graph", str(graph), "--bootstrap", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"]["loglik_per_patient"] < 0
    assert report["provenance"]["project"]["cohort_options"]["min_patients"] == 30

    # an option typed that differs from the recorded one: one message naming both values
    assert main(["evaluate", "demo", "--graph", str(graph), "--min-patients", "20"]) == 2
    err = capsys.readouterr().err
    assert "--min-patients 30 there, 20 here" in err and err.count("kg-editor: error") == 1
    # the same value typed again is fine
    assert main(["evaluate", "--graph", str(graph), "--seed", "3", "--bootstrap", "0"]) == 0
    capsys.readouterr()

    # edit --data refits on the recorded cohort
    g = json.loads(graph.read_text())
    u, v = g["edges"][0]["source"], g["edges"][0]["target"]
    out = tmp_path / "edited.json"
    args = ["edit", str(graph), "--remove", u, v, "--data", "--bootstrap", "0", "--json"]
    assert main([*args, "--out", str(out)]) == 0
    (delta,) = json.loads(capsys.readouterr().out)
    assert delta["interpretability"]["edges"]["delta"] == -1
    assert json.loads(out.read_text())["metadata"]["project"] == recorded

    # serve: the editor opens on the recorded cohort (the server itself is not started)
    import dash

    served = {}

    def fake_run(self, **kw):
        served["app"] = self

    monkey = pytest.MonkeyPatch()
    monkey.setattr(dash.Dash, "run", fake_run)
    try:
        store = f"sqlite:///{tmp_path / 'kg.db'}"
        assert main(["serve", "--graph", str(graph), "--store", store, "--dev-server"]) == 0
    finally:
        monkey.undo()
    assert "ready" in capsys.readouterr().err
    ws = served["app"].workspace
    assert ws.cohort().settings["min_patients"] == 30 and ws.cohort().settings["seed"] == 3
    assert set(ws.base_graph().nodes) == {n["id"] for n in g["nodes"]}
    # another cohort is refused before "ready" is printed
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dash.Dash, "run", fake_run)
        assert (
            main(["serve", "demo", "--graph", str(graph), "--max-variables", "60", "--dev-server"])
            == 2
        )
    err = capsys.readouterr().err
    assert "--max-variables 25 there, 60 here" in err and "ready" not in err


@pytest.mark.slow
def test_edit_refuses_an_edge_against_the_recorded_constraints(tmp_path, capsys):
    graph = _distill(tmp_path, capsys)
    meta = json.loads(graph.read_text())["metadata"]
    tiers = meta["constraints"]["tiers"]
    early, late = tiers[0][0], tiers[-1][0]  # e.g. sex (demographic) and a condition
    out = tmp_path / "out.json"
    assert main(["edit", str(graph), "--add", late, early, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot cause" in err and not out.exists()
    # an override is possible, and recorded
    args = ["edit", str(graph), "--add", late, early, "--override", "--author", "dr_a"]
    assert main([*args, "--rationale", "seen in clinic", "--out", str(out)]) == 0
    edited = json.loads(out.read_text())
    assert any(e["source"] == late and e["target"] == early for e in edited["edges"])
    # the recorded constraints are honoured by the library call the command makes
    from kg_editor.model.graph import AddEdge, CausalGraph, apply_edit
    from kg_editor.workspace import recorded_constraints

    g = CausalGraph.from_json(graph)
    with pytest.raises(ConstraintError):
        apply_edit(g, AddEdge(late, early), recorded_constraints(g))


@pytest.mark.slow
def test_a_version_saved_with_the_cli_is_seen_by_the_web_editor(tmp_path, capsys, render_page):
    from kg_editor.data.sources.demo import DEMO_TARGET
    from kg_editor.ui import create_app

    graph = _distill(tmp_path, capsys, "--target", DEMO_TARGET)
    store = f"sqlite:///{tmp_path / 'kg.db'}"
    assert main(["versions", "save", str(graph), "--store", store, "-m", "from the CLI"]) == 0
    vid = capsys.readouterr().out.strip()
    assert main(["versions", "projects", "--store", store, "--json"]) == 0
    (project,) = json.loads(capsys.readouterr().out)

    # the web editor on the same data and store: same project, and the version is listed
    app = create_app("demo", store_url=store, session_options={"bootstrap": 0})
    ws = app.workspace
    assert ws.project_id == project["id"]
    assert [v.id for v in ws.list_versions()] == [vid]
    text = render_page(app, "/versions")
    assert "1 versions saved" in text and "from the CLI" in text

    # and the other way round: a version saved on the web is listed by the CLI
    sid = ws.open_session(author="dr_web")
    web = ws.save_version(sid, author="dr_web", message="from the web")
    assert main(["versions", "list", "--store", store, "--json"]) == 0
    listed = {v["id"]: v["message"] for v in json.loads(capsys.readouterr().out)}
    assert listed == {vid: "from the CLI", web.id: "from the web"}
