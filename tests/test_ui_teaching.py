"""Teaching mode without a browser: the canvas payload, the tables, the model cache, the
seeing/doing contrast as the panel computes it, and scenarios in the store."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("dash")

from kg_editor.errors import SchemaError, StoreError
from kg_editor.teaching import (
    Scenario,
    belief_update,
    path_report,
    posteriors,
    replay,
    seeing_vs_doing,
)
from kg_editor.teaching.beliefs import TeachingModel
from kg_editor.ui.editor.elements import edge_id
from kg_editor.ui.teaching.callbacks import compute_teaching, scenario_from_inputs
from kg_editor.ui.teaching.view import (
    canvas_payload,
    cycle_state,
    focus_state,
    paths_view,
    posterior_table,
    scenario_list,
    seeing_doing_view,
)
from kg_editor.workspace import TeachingCache, graph_key


@pytest.fixture(scope="module")
def asia():
    return TeachingModel.from_bundled("asia")


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    for c in children if isinstance(children, list | tuple) else [children]:
        if c is not None and not isinstance(c, str | int | float):
            yield from _walk(c)


def test_focus_and_cycle_states():
    assert focus_state(("absent", "present")) == "present"
    assert focus_state(("low", "mid", "high")) == "high"
    assert focus_state(("a", "b", "c")) == "c"
    seen, cur = [], None
    for _ in range(4):
        cur = cycle_state(("a", "b", "c"), cur)
        seen.append(cur)
    assert seen == ["c", "a", "b", None]  # focus state first, then the rest, then unknown
    assert cycle_state(("absent", "present"), "gone") == "present"


def test_canvas_payload_carries_exact_posteriors_and_highlights(asia):
    ev = {"dysp": "yes", "smoke": "no"}
    upd = belief_update(asia, ev)
    rep = path_report(asia, "tub", "bronc", ev)
    sd = seeing_vs_doing(asia, "either", "yes", "xray", {"dysp": "yes"})
    pay = canvas_payload(upd, sd=sd, paths=rep)
    ref = posteriors(asia, ev)
    assert set(pay["nodes"]) == set(ref)
    for n, r in pay["nodes"].items():
        assert r["posterior"] == ref[n]
        assert r["p"] == ref[n][r["state"]]
        assert r["observed"] == ev.get(n)
    assert pay["trail_edges"] == sorted({edge_id(u, v) for u, v in rep["edges"]})
    assert pay["trail_edges"]  # tub and bronc are d-connected through dysp
    want_bd = {edge_id(u, v) for t in sd["open_backdoor_paths"] for u, v in t["edges"]}
    assert set(pay["backdoor_edges"]) == want_bd
    assert pay["ends"] == ["tub", "bronc"]
    assert canvas_payload(upd, on=False)["nodes"] == {}
    assert json.loads(json.dumps(pay)) == pay  # plain JSON


def test_posterior_table_rows_hold_the_exact_posterior(asia):
    upd = belief_update(asia, {"xray": "yes"})
    rows = [c for c in _walk(posterior_table(upd)) if type(c).__name__ == "Tr"]
    data = {
        r.to_plotly_json()["props"]["data-node"]: r.to_plotly_json()["props"]["data-posterior"]
        for r in rows
        if "data-node" in r.to_plotly_json()["props"]
    }
    ref = posteriors(asia, {"xray": "yes"})
    assert {n: json.loads(v) for n, v in data.items()} == ref
    first = next(r for r in rows if "data-node" in r.to_plotly_json()["props"])
    assert first.to_plotly_json()["props"]["data-node"] == "xray"  # findings first


def test_result_views_expose_their_numbers(asia):
    sd = seeing_vs_doing(asia, "either", "yes", "dysp")
    cells = [c for c in _walk(seeing_doing_view(sd)) if type(c).__name__ == "Td"]
    doing = [
        float(c.to_plotly_json()["props"]["data-value"])
        for c in cells
        if (getattr(c, "className", "") or "").split()[-1:] == ["do"]
    ]
    assert doing == list(sd["doing"].values())
    from kg_editor.teaching import adjustment_report

    rep = path_report(asia, "smoke", "dysp")
    view = paths_view(rep, adjustment_report(asia, "smoke", "dysp"))
    lis = [c for c in _walk(view) if type(c).__name__ == "Li"]
    assert sum(getattr(c, "className", "") == "trail" for c in lis) == len(rep["trails"])


def test_compute_sets_findings_on_cause_and_outcome_aside_like_replay(asia):
    ev = {"dysp": "yes", "smoke": "yes", "xray": "no"}
    upd = belief_update(asia, ev)
    res = compute_teaching(asia, upd, ev, "either", "yes", "dysp", "tub", "bronc")
    sc = Scenario("x", ev, cause="either", cause_state="yes", outcome="dysp")
    out = replay(sc, asia)
    assert res["sd"]["doing"] == out["seeing_vs_doing"][0]["doing"]
    assert res["sd"]["seeing"] == out["seeing_vs_doing"][0]["seeing"]
    assert res["paths"]["edges"] == path_report(asia, "tub", "bronc", ev)["edges"]
    # a state the cause does not have is not a question yet
    assert compute_teaching(asia, upd, ev, "either", "maybe", "dysp", None, None)["sd"] is None
    bad = compute_teaching(asia, upd, ev, None, None, None, "tub", "tub")
    assert bad["paths"] is None and "two different" in bad["paths_error"]


def test_cache_reuses_the_model_until_the_graph_changes():
    from kg_editor.model.session import EditSession, demo_cohort_for_doctest

    cohort, graph = demo_cohort_for_doctest()
    session = EditSession(cohort, graph, bootstrap=0)
    cache = TeachingCache()
    tm1, k1 = cache.model("s1", session)
    tm2, k2 = cache.model("s1", session)
    assert tm1 is tm2 and k1 == k2 == graph_key(session.graph.edges) and cache.builds == 1
    u1 = cache.beliefs("s1", k1, tm1, {})
    assert cache.beliefs("s1", k1, tm1, {}) is u1
    u, v = sorted(session.graph.edges)[0]
    session.remove(u, v)
    tm3, k3 = cache.model("s1", session)
    assert tm3 is not tm1 and k3 != k1 and cache.builds == 2
    ref = TeachingModel.from_session(session)
    assert posteriors(tm3, {}) == posteriors(ref, {})


def test_scenarios_in_the_store(tmp_path, asia):
    from kg_editor.versions.store import Store

    with Store(tmp_path / "s.sqlite") as store:
        p = store.ensure_project("demo", "fp")
        sc = scenario_from_inputs(
            " Breathless smoker ",
            "Bronchitis?",
            {"smoke": "yes", "dysp": "yes"},
            "either",
            "yes",
            "dysp",
            author="dr_lee",
            version_id=None,
        )
        a = store.save_scenario(p.id, sc.to_dict(), session_id="sess0001", graph_key="k1")
        b = store.save_scenario(p.id, Scenario("Other", {}).to_dict(), session_id="sess0002")
        assert {r["id"] for r in store.list_scenarios(p.id)} == {a, b}
        mine = store.list_scenarios(p.id, session_id="sess0001")
        assert [r["id"] for r in mine] == [a] and mine[0]["graph_key"] == "k1"
        assert Scenario.from_dict(store.get_scenario(a)["scenario"]) == sc
        assert sc.name == "Breathless smoker" and sc.cause_state == "yes"
        assert store.delete_scenario(b) and store.get_scenario(b) is None
        with pytest.raises(StoreError):
            store.save_scenario(p.id, {"findings": {}})
    # a cause without an outcome is no question: neither is kept
    only = scenario_from_inputs("n", "", {}, "either", "yes", None, author="a", version_id=None)
    assert only.cause is None and only.cause_state is None
    with pytest.raises(SchemaError):
        scenario_from_inputs("  ", "", {}, None, None, None, author="a", version_id=None)
    items = [
        c
        for c in _walk(
            scenario_list([{"id": a, "graph_key": "k1", "scenario": sc.to_dict()}], "k2")
        )
    ]
    assert any("another graph" in str(getattr(c, "children", "")) for c in items)
