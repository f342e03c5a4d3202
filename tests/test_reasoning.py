"""Teaching mode: every answer checked against pgmpy, networkx or a brute-force reference."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import FrozenInstanceError

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pgmpy.inference import CausalInference, VariableElimination

from kg_editor.errors import FormatError, SchemaError, UnknownVariableError
from kg_editor.model.graph import CausalGraph
from kg_editor.teaching import (
    Scenario,
    active_trails,
    adjustment_report,
    adjustment_sets,
    belief_update,
    d_separated,
    dump_scenarios,
    is_backdoor_set,
    load_scenarios,
    path_report,
    posteriors,
    replay,
    seeing_vs_doing,
)
from kg_editor.teaching.beliefs import ImpossibleFindingsError, TeachingModel, as_teaching_model

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def asia() -> TeachingModel:
    return TeachingModel.from_bundled("asia")


@pytest.fixture(scope="module")
def cancer() -> TeachingModel:
    return TeachingModel.from_bundled("cancer")


@pytest.fixture(scope="module")
def alarm() -> TeachingModel:
    return TeachingModel.from_bundled("alarm")


# ---------------------------------------------------------------------------------
# Independent references
# ---------------------------------------------------------------------------------
def _joint(model, do: dict[str, str] | None = None) -> tuple[list[str], dict[tuple, float]]:
    """Brute-force joint distribution by the chain rule (truncated when ``do`` is given)."""
    do = do or {}
    nodes = list(nx.topological_sort(model))
    cpds = {n: model.get_cpds(n) for n in nodes}
    states = {n: [str(s) for s in cpds[n].state_names[n]] for n in nodes}
    joint = {}
    for combo in itertools.product(*(states[n] for n in nodes)):
        a = dict(zip(nodes, combo, strict=True))
        p = 1.0
        for n in nodes:
            if n in do:
                p *= float(a[n] == do[n])
                continue
            cpd = cpds[n]
            idx = tuple([str(s) for s in cpd.state_names[v]].index(a[v]) for v in cpd.variables)
            p *= float(cpd.values[idx])
        joint[combo] = p
    return nodes, joint


def _brute_marginal(model, node, evidence, do=None) -> dict[str, float]:
    nodes, joint = _joint(model, do)
    i = nodes.index(node)
    out: dict[str, float] = {}
    for combo, p in joint.items():
        a = dict(zip(nodes, combo, strict=True))
        if all(a[k] == v for k, v in evidence.items()):
            out[combo[i]] = out.get(combo[i], 0.0) + p
    z = sum(out.values())
    return {k: v / z for k, v in out.items()}


def _is_active(g: nx.DiGraph, path: list[str], z: set[str]) -> bool:
    for prev, mid, nxt in zip(path, path[1:], path[2:], strict=False):
        collider = g.has_edge(prev, mid) and g.has_edge(nxt, mid)
        if collider:
            if not ({mid} | nx.descendants(g, mid)) & z:
                return False
        elif mid in z:
            return False
    return True


def _brute_trails(g: nx.DiGraph, a: str, b: str, z: set[str]) -> set[tuple[str, ...]]:
    und = g.to_undirected()
    return {tuple(p) for p in nx.all_simple_paths(und, a, b) if _is_active(g, p, z)}


def _brute_minimal_backdoor(g: nx.DiGraph, x: str, y: str) -> set[frozenset[str]]:
    pool = sorted(set(g.nodes) - {x, y} - nx.descendants(g, x))
    gb = nx.DiGraph(g)
    gb.remove_edges_from(list(g.out_edges(x)))
    valid = [
        frozenset(s)
        for k in range(len(pool) + 1)
        for s in itertools.combinations(pool, k)
        if nx.is_d_separator(gb, {x}, {y}, set(s))
    ]
    return {s for s in valid if not any(o < s for o in valid)}


def _random_dag(draw_edges: list[bool], n: int) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(f"v{i}" for i in range(n))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for (i, j), keep in zip(pairs, draw_edges, strict=False):
        if keep:
            g.add_edge(f"v{i}", f"v{j}")
    return g


dags = st.integers(min_value=3, max_value=8).flatmap(
    lambda n: st.tuples(
        st.just(n), st.lists(st.booleans(), min_size=n * (n - 1) // 2, max_size=n * (n - 1) // 2)
    )
)


# ---------------------------------------------------------------------------------
# Posteriors
# ---------------------------------------------------------------------------------
FINDINGS = {
    "asia": [
        {},
        {"xray": "yes"},
        {"dysp": "yes", "smoke": "no"},
        {"asia": "yes", "xray": "no", "bronc": "yes"},
    ],
    "cancer": [{}, {"Xray": "positive"}, {"Dyspnoea": "True", "Smoker": "True"}],
    "alarm": [
        {},
        {"HRBP": "HIGH", "CVP": "HIGH"},
        {"BP": "LOW", "SAO2": "LOW", "HISTORY": "FALSE"},
    ],
}


@pytest.mark.parametrize("name", ["asia", "cancer", "alarm"])
def test_posteriors_equal_pgmpy_variable_elimination(name, request):
    tm = request.getfixturevalue(name)
    ve = VariableElimination(tm.pgmpy)
    for findings in FINDINGS[name]:
        post = posteriors(tm, findings)
        assert list(post) == tm.nodes
        for node, dist in post.items():
            if node in findings:
                assert dist == {s: float(s == findings[node]) for s in tm.states(node)}
                continue
            ref = ve.query([node], evidence=findings or None, show_progress=False)
            for s, p in zip(ref.state_names[node], ref.values, strict=True):
                assert dist[str(s)] == pytest.approx(float(p), abs=1e-9)


def test_posteriors_equal_brute_force_joint(asia):
    for findings in FINDINGS["asia"]:
        post = posteriors(asia, findings)
        for node in asia.nodes:
            if node in findings:
                continue
            ref = _brute_marginal(asia.pgmpy, node, findings)
            for s in asia.states(node):
                assert post[node][s] == pytest.approx(ref[s], abs=1e-12)


def test_probability_of_findings_equals_joint(asia):
    nodes, joint = _joint(asia.pgmpy)
    f = {"dysp": "yes", "smoke": "no", "xray": "yes"}
    ref = sum(
        p
        for c, p in joint.items()
        if all(dict(zip(nodes, c, strict=True))[k] == v for k, v in f.items())
    )
    assert asia.probability_of_findings(f) == pytest.approx(ref, abs=1e-12)
    assert asia.probability_of_findings({}) == 1.0


def test_belief_update_shifts_and_json(cancer):
    upd = belief_update(cancer, {"Xray": "positive"})
    json.dumps(upd, allow_nan=False)
    prior = cancer.prior()
    by_id = {r["id"]: r for r in upd["nodes"]}
    assert by_id["Xray"]["observed"] == "positive"
    assert "Xray" not in upd["most_changed"]
    for n, rec in by_id.items():
        for s in rec["prior"]:
            assert rec["shift"][s] == pytest.approx(rec["posterior"][s] - prior[n][s], abs=1e-15)
        assert sum(rec["posterior"].values()) == pytest.approx(1.0, abs=1e-12)
    # a positive x-ray raises the belief in cancer and ranks it first
    assert upd["most_changed"][0] == "Cancer"
    assert by_id["Cancer"]["shift"]["True"] > 0.03
    # findings named by label (TeachingModel from a graph with labels)
    assert upd["p_findings"] == pytest.approx(cancer.marginal("Xray")["positive"], abs=1e-12)


def test_prior_is_cached_and_not_shared(asia):
    p1 = asia.prior()
    p1["asia"]["yes"] = 99.0
    assert asia.prior()["asia"]["yes"] == pytest.approx(0.01)


def test_labels_from_graph_and_resolution_by_label():
    g = CausalGraph.from_edges(
        [("smk", "lc"), ("lc", "cough")], labels={"smk": "Smoking", "lc": "Lung cancer"}
    )
    tm = TeachingModel.from_graph_and_cpds(
        g,
        {
            "smk": [[0.7], [0.3]],
            "lc": [[0.99, 0.9], [0.01, 0.1]],
            "cough": [[0.8, 0.2], [0.2, 0.8]],
        },
    )
    post = posteriors(tm, {"Smoking": "1"})
    assert post["lc"]["1"] == pytest.approx(0.1)
    upd = belief_update(tm, {"Lung cancer": "1"})
    assert {r["id"]: r["label"] for r in upd["nodes"]}["lc"] == "Lung cancer"
    assert upd["findings"] == {"lc": "1"}
    # the same model from a pgmpy network keeps the graph's labels
    tm2 = TeachingModel.from_pgmpy(tm.pgmpy, graph=g)
    assert tm2.label("smk") == "Smoking"
    assert as_teaching_model(tm2) is tm2


def test_bad_inputs_raise_clear_errors(asia):
    with pytest.raises(UnknownVariableError, match="smoke"):
        posteriors(asia, {"smok": "yes"})
    with pytest.raises(SchemaError, match="choose one of yes, no"):
        posteriors(asia, {"smoke": "sometimes"})
    g = CausalGraph.from_edges([("a", "b")])
    with pytest.raises(SchemaError, match="shape"):
        TeachingModel.from_graph_and_cpds(g, {"a": [[0.5], [0.5]], "b": [[0.5], [0.5]]})
    other = CausalGraph.from_edges([("asia", "tub")], nodes=asia.nodes)
    with pytest.raises(SchemaError, match="refit"):
        TeachingModel.from_pgmpy(asia.pgmpy, graph=other)


def test_impossible_findings_are_refused():
    g = CausalGraph.from_edges([("a", "b"), ("c", "d")])
    tm = TeachingModel.from_graph_and_cpds(
        g,
        {
            "a": [[0.5], [0.5]],
            "b": [[1.0, 0.0], [0.0, 1.0]],
            "c": [[0.5], [0.5]],
            "d": [[0.5, 0.5], [0.5, 0.5]],
        },
    )
    with pytest.raises(ImpossibleFindingsError, match="cannot occur together"):
        posteriors(tm, {"a": "1", "b": "0"})
    with pytest.raises(ImpossibleFindingsError):
        belief_update(tm, {"a": "1", "b": "0"})


# ---------------------------------------------------------------------------------
# Interventions
# ---------------------------------------------------------------------------------
def _pgmpy_do(ci, y, x, s, evidence=None):
    f = ci.query([y], do={x: s}, evidence=evidence or None, show_progress=False)
    return {str(k): float(v) for k, v in zip(f.state_names[y], f.values, strict=True)}


@pytest.mark.parametrize("name", ["asia", "cancer"])
def test_do_queries_equal_pgmpy_causal_inference_all_pairs(name, request):
    tm = request.getfixturevalue(name)
    ci = CausalInference(tm.pgmpy)
    g = tm.graph.nx
    for x, y in itertools.permutations(tm.nodes, 2):
        for s in tm.states(x):
            mine = tm.interventional(y, {x: s})
            if y in nx.ancestors(g, x):  # pgmpy refuses; setting a descendant leaves y alone
                assert mine == pytest.approx(tm.prior()[y], abs=1e-12)
                continue
            ref = _pgmpy_do(ci, y, x, s)
            for k in ref:
                assert mine[k] == pytest.approx(ref[k], abs=1e-9)


def test_do_queries_equal_pgmpy_on_alarm_sample(alarm):
    ci = CausalInference(alarm.pgmpy)
    g = alarm.graph.nx
    rnd = random.Random(7)
    pairs = [
        (x, y)
        for x, y in itertools.permutations(alarm.nodes, 2)
        if x in nx.ancestors(g, y) and g.in_degree(x)
    ]
    checked = 0
    for x, y in rnd.sample(pairs, 12):
        s = alarm.states(x)[0]
        ref = _pgmpy_do(ci, y, x, s)
        mine = alarm.interventional(y, {x: s})
        assert mine == pytest.approx(ref, abs=1e-9)
        # with a finding on a parent of the cause (inside pgmpy's adjustment set) too
        p = sorted(g.predecessors(x))[0]
        ev = {p: alarm.states(p)[-1]}
        assert alarm.interventional(y, {x: s}, ev) == pytest.approx(
            _pgmpy_do(ci, y, x, s, ev), abs=1e-9
        )
        checked += 1
    assert checked == 12


def test_do_with_any_findings_equals_truncated_factorisation(asia):
    """Findings anywhere, even downstream of the cause, against a brute-force mutilated joint.

    (pgmpy 1.1.2's CausalInference.query drops findings outside its adjustment set inside
    the sum, pgmpy issues #3543 and #1701, so it is only a reference without findings or
    with findings on the cause's parents; the tests above use it there.)
    """
    cases = [
        ("either", "yes", "dysp", {"smoke": "no"}),
        ("either", "yes", "dysp", {"xray": "no"}),
        ("lung", "yes", "dysp", {"xray": "yes", "asia": "yes"}),
        ("smoke", "yes", "xray", {"dysp": "yes"}),
        ("bronc", "no", "lung", {"dysp": "yes"}),
    ]
    for x, s, y, ev in cases:
        ref = _brute_marginal(asia.pgmpy, y, {**ev, x: s}, do={x: s})
        assert asia.interventional(y, {x: s}, ev) == pytest.approx(ref, abs=1e-12)
    # two interventions, one a cause of the other (pgmpy issue #3543, bug 2)
    do = {"smoke": "yes", "lung": "no"}
    ref = _brute_marginal(asia.pgmpy, "dysp", {**do, "xray": "yes"}, do=do)
    assert asia.interventional("dysp", do, {"xray": "yes"}) == pytest.approx(ref, abs=1e-12)


def test_do_equals_backdoor_adjustment_formula(alarm):
    """P(y | do(x)) = sum_z P(y | x, z) P(z) for the first listed back-door set."""
    ve = VariableElimination(alarm.pgmpy)
    g = alarm.graph.nx
    confounded = [
        (x, y, s)
        for x, y in itertools.permutations(alarm.nodes, 2)
        if y in nx.descendants(g, x)
        for s in adjustment_sets(alarm, x, y, max_sets=1, include_parents=False)[:1]
        if 1 <= len(s) <= 2
    ]
    assert len(confounded) >= 4
    for x, y, zset in confounded[:: max(1, len(confounded) // 4)][:4]:
        z = sorted(zset)
        s = alarm.states(x)[0]
        pz = ve.query(z, show_progress=False)
        total = np.zeros(len(alarm.states(y)))
        for combo in itertools.product(*(alarm.states(v) for v in z)):
            zev = dict(zip(z, combo, strict=True))
            w = pz.get_value(**zev)
            if w == 0:
                continue
            total += w * ve.query([y], evidence={**zev, x: s}, show_progress=False).values
        mine = alarm.interventional(y, {x: s})
        assert list(mine.values()) == pytest.approx(list(total), abs=1e-9)


def test_seeing_vs_doing_asia_all_pairs(asia):
    ci = CausalInference(asia.pgmpy)
    ve = VariableElimination(asia.pgmpy)
    g = asia.graph.nx
    for x, y in itertools.permutations(asia.nodes, 2):
        s = asia.states(x)[0]
        r = seeing_vs_doing(asia, x, s, y)
        json.dumps(r, allow_nan=False)
        see = ve.query([y], evidence={x: s}, show_progress=False)
        assert r["seeing"] == pytest.approx(
            dict(zip(see.state_names[y], see.values, strict=True)), abs=1e-9
        )
        if y not in nx.ancestors(g, x):
            assert r["doing"] == pytest.approx(_pgmpy_do(ci, y, x, s), abs=1e-9)
        if not r["open_backdoor_paths"]:  # rule 2: no open back-door path -> seeing = doing
            assert r["max_abs_difference"] == pytest.approx(0.0, abs=1e-12)
        for t in r["open_backdoor_paths"]:
            assert t["nodes"][0] == x and t["nodes"][-1] == y
            assert g.has_edge(t["nodes"][1], x)  # enters the cause
    r = seeing_vs_doing(asia, "either", "yes", "dysp")
    assert r["confounded"] and r["max_abs_difference"] > 0.01
    assert "either <- lung <- smoke -> bronc -> dysp" in [
        t["text"] for t in r["open_backdoor_paths"]
    ]
    assert ["bronc"] in r["adjustment_sets"]
    # observing the confounder closes the back-door path: seeing = doing again
    r2 = seeing_vs_doing(asia, "either", "yes", "dysp", {"smoke": "yes"})
    assert not r2["open_backdoor_paths"]
    assert r2["seeing"] == pytest.approx(r2["doing"], abs=1e-12)


def test_seeing_vs_doing_refusals(asia):
    with pytest.raises(SchemaError, match="already observed"):
        seeing_vs_doing(asia, "smoke", "yes", "dysp", {"dysp": "yes"})
    with pytest.raises(SchemaError, match="observed as no"):
        seeing_vs_doing(asia, "smoke", "yes", "dysp", {"smoke": "no"})
    with pytest.raises(SchemaError, match="other than the cause"):
        seeing_vs_doing(asia, "smoke", "yes", "smoke")


# ---------------------------------------------------------------------------------
# d-separation and active trails
# ---------------------------------------------------------------------------------
def _evidence_sets(nodes, rnd, k=6):
    return [set()] + [set(rnd.sample(nodes, rnd.randint(1, 3))) for _ in range(k)]


@pytest.mark.parametrize("name", ["asia", "alarm"])
def test_d_separation_equals_networkx_and_pgmpy(name, request):
    tm = request.getfixturevalue(name)
    g, m = tm.graph.nx, tm.pgmpy
    rnd = random.Random(1)
    pairs = list(itertools.combinations(tm.nodes, 2))
    if len(pairs) > 150:
        pairs = rnd.sample(pairs, 150)
    for z in _evidence_sets(tm.nodes, rnd):
        reach = {}
        for a, b in pairs:
            zz = z - {a, b}
            sep = d_separated(tm, a, b, zz)
            assert sep == nx.is_d_separator(g, {a}, {b}, zz)
            assert sep == (not m.is_dconnected(a, b, observed=list(zz)))
            if not zz & {a, b} and z == zz:
                if a not in reach:
                    reach[a] = m.active_trail_nodes(a, observed=list(z))[a]
                assert sep == (b not in reach[a])
            trails = active_trails(tm, a, b, zz, max_trails=3)
            assert bool(trails) == (not sep)


def test_active_trails_equal_brute_force_on_asia(asia):
    g = asia.graph.nx
    rnd = random.Random(2)
    for z in _evidence_sets(asia.nodes, rnd, k=10):
        for a, b in itertools.combinations(asia.nodes, 2):
            zz = z - {a, b}
            mine = active_trails(asia, a, b, zz, max_trails=10_000)
            assert {tuple(t["nodes"]) for t in mine} == _brute_trails(g, a, b, zz)
            lengths = [t["length"] for t in mine]
            assert lengths == sorted(lengths)  # shortest first
            for t in mine:
                for u, v in t["edges"]:
                    assert g.has_edge(u, v)


@settings(max_examples=60, deadline=None)
@given(dags, st.data())
def test_active_trails_property(dag, data):
    n, bits = dag
    g = _random_dag(bits, n)
    a, b = data.draw(st.sampled_from(sorted(itertools.permutations(g.nodes, 2))))
    z = set(data.draw(st.lists(st.sampled_from(sorted(set(g.nodes) - {a, b})), max_size=3)))
    mine = {tuple(t["nodes"]) for t in active_trails(g, a, b, z, max_trails=10_000)}
    assert mine == _brute_trails(g, a, b, z)
    assert bool(mine) == (not nx.is_d_separator(g, {a}, {b}, z))


def test_path_report_highlights_and_truncation(alarm):
    r = path_report(alarm, "LVFAILURE", "BP", {"HISTORY": "TRUE"})
    json.dumps(r, allow_nan=False)
    assert not r["d_separated"] and r["trails"]
    assert {tuple(e) for t in r["trails"] for e in t["edges"]} == {tuple(e) for e in r["edges"]}
    assert set(r["nodes"]) == {n for t in r["trails"] for n in t["nodes"]}
    assert "d-connected given HISTORY" in r["explanation"]
    cut = path_report(alarm, "LVFAILURE", "BP", max_trails=1)
    assert len(cut["trails"]) == 1 and cut["truncated"]
    with pytest.raises(SchemaError):
        path_report(alarm, "BP", "BP")


# ---------------------------------------------------------------------------------
# Adjustment sets
# ---------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(dags, st.data())
def test_minimal_adjustment_sets_equal_brute_force(dag, data):
    n, bits = dag
    g = _random_dag(bits, n)
    x, y = data.draw(st.sampled_from(sorted(itertools.permutations(g.nodes, 2))))
    sets = adjustment_sets(g, x, y, include_parents=False)
    assert set(sets) == _brute_minimal_backdoor(g, x, y)
    assert [len(s) for s in sets] == sorted(len(s) for s in sets)
    for s in adjustment_sets(g, x, y):
        assert is_backdoor_set(g, x, y, s)


@pytest.mark.parametrize("name", ["asia", "cancer"])
def test_adjustment_sets_equal_pgmpy_backdoor_sets(name, request):
    tm = request.getfixturevalue(name)
    ci = CausalInference(tm.pgmpy)
    for x, y in itertools.permutations(tm.nodes, 2):
        if y in tm.graph.parents(x):
            assert adjustment_sets(tm, x, y) == []
            continue
        ref = ci.get_all_backdoor_adjustment_sets(x, y)
        mine = adjustment_sets(tm, x, y, include_parents=False)
        expected = {frozenset()} if ref == frozenset() else set(ref)
        assert set(mine) == expected
        for s in adjustment_sets(tm, x, y):
            assert ci.is_valid_backdoor_adjustment_set(x, y, list(s))


def test_adjustment_sets_valid_per_pgmpy_on_alarm(alarm):
    ci = CausalInference(alarm.pgmpy)
    g = alarm.graph.nx
    rnd = random.Random(3)
    pairs = [(x, y) for x, y in itertools.permutations(alarm.nodes, 2) if y in nx.descendants(g, x)]
    for x, y in rnd.sample(pairs, 25):
        sets = adjustment_sets(alarm, x, y)
        assert sets
        for s in sets:
            assert ci.is_valid_backdoor_adjustment_set(x, y, list(s))
            assert is_backdoor_set(alarm, x, y, s)
        minimal = adjustment_sets(alarm, x, y, include_parents=False)
        for s in minimal:  # inclusion-minimal: dropping any member breaks it
            for v in s:
                assert not is_backdoor_set(alarm, x, y, s - {v})
        # pgmpy's minimal adjustment set (Perkovic's criterion) is never smaller
        pg = ci.get_minimal_adjustment_set(x, y)
        if pg is not None:
            assert len(minimal[0]) <= len(pg)


def test_adjustment_report_is_json_ready_and_matches_sets(asia):
    rep = adjustment_report(asia, "either", "dysp")
    json.dumps(rep, allow_nan=False)
    assert [frozenset(r["nodes"]) for r in rep["sets"]] == adjustment_sets(asia, "either", "dysp")
    assert [r["minimal"] for r in rep["sets"]] == [True, True, True, False]
    assert rep["sets"][-1]["parents_of_cause"] and rep["needed"] and rep["possible"]
    none_needed = adjustment_report(asia, "smoke", "dysp")
    assert none_needed["sets"][0]["nodes"] == [] and not none_needed["needed"]
    impossible = adjustment_report(asia, "tub", "asia")  # asia -> tub: the outcome causes the cause
    assert impossible["sets"] == [] and not impossible["possible"]
    assert "direct cause" in impossible["explanation"]


# ---------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------
def test_scenario_json_round_trip_and_frozen():
    sc = Scenario(
        "Breathless smoker",
        {"smoke": "yes", "dysp": "yes"},
        question="Bronchitis or lung cancer?",
        cause="either",
        cause_state="yes",
        outcome="dysp",
        version_id="v3",
        author="dr_a",
    )
    assert Scenario.from_dict(sc.to_dict()) == sc
    assert Scenario.from_json(sc.to_json()) == sc
    assert load_scenarios(dump_scenarios([sc, sc])) == [sc, sc]
    assert load_scenarios(sc.to_json()) == [sc]
    assert hash(sc) == hash(Scenario.from_dict(json.loads(sc.to_json())))
    with pytest.raises(FrozenInstanceError):
        sc.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        sc.findings["smoke"] = "no"  # type: ignore[index]
    with pytest.raises(FormatError):
        Scenario.from_dict({"format": "kg-editor-graph", "name": "x"})
    with pytest.raises(FormatError):
        Scenario.from_dict({"name": "x", "version": 99})
    with pytest.raises(FormatError):
        Scenario.from_json("{not json")
    with pytest.raises(SchemaError):
        Scenario(" ")
    with pytest.raises(SchemaError):
        Scenario("x", cause_state="yes")


def test_replay_equals_direct_calls(asia):
    sc = Scenario(
        "Smoker", {"smoke": "yes", "xray": "yes"}, question="?", cause="either", outcome="dysp"
    )
    out = replay(sc, asia)
    json.dumps(out, allow_nan=False)
    assert out["scenario"] == sc.to_dict()
    assert out["beliefs"] == belief_update(asia, sc.findings)
    assert [r["cause_state"] for r in out["seeing_vs_doing"]] == list(asia.states("either"))
    for r in out["seeing_vs_doing"]:
        assert r == seeing_vs_doing(
            asia, "either", r["cause_state"], "dysp", {"smoke": "yes", "xray": "yes"}
        )
    assert out["paths"] == path_report(asia, "either", "dysp", sc.findings, max_trails=50)
    assert out["adjustment_sets"] == [sorted(s) for s in adjustment_sets(asia, "either", "dysp")]
    # replay from the JSON form, on the raw pgmpy model, gives the same answer
    again = replay(Scenario.from_json(sc.to_json()), asia.pgmpy)
    assert again == out
    # a finding on the outcome is the question: set aside for the contrast, kept in beliefs
    asked = replay(
        Scenario("b", {"dysp": "yes", "smoke": "no"}, cause="either", outcome="dysp"), asia
    )
    assert asked["beliefs"]["findings"] == {"dysp": "yes", "smoke": "no"}
    for r in asked["seeing_vs_doing"]:
        assert r["findings"] == {"smoke": "no"}
        assert r["doing"] == pytest.approx(
            asia.interventional("dysp", {"either": r["cause_state"]}, {"smoke": "no"})
        )
    # findings only
    plain = replay(Scenario("x", {"dysp": "yes"}), asia)
    assert plain["seeing_vs_doing"] == [] and plain["paths"] is None


def test_replay_on_a_graph_that_lost_a_variable(asia):
    sc = Scenario("old", {"tuberculosis": "yes"})
    with pytest.raises(UnknownVariableError):
        replay(sc, asia)


# ---------------------------------------------------------------------------------
# The edit session hands its fitted model to teaching mode
# ---------------------------------------------------------------------------------
def test_teaching_model_from_an_edit_session_follows_edits():
    from kg_editor.model.session import EditSession, demo_cohort_for_doctest

    cohort, graph = demo_cohort_for_doctest()
    session = EditSession(cohort, graph, bootstrap=0)
    findings = {"xray": "present", "dysp": "present"}
    before = TeachingModel.from_session(session)
    assert set(before.graph.edges) == set(session.graph.edges)
    session.remove("bronc", "dysp")
    after = TeachingModel.from_session(session)
    assert not after.graph.has_edge("bronc", "dysp")
    ve = VariableElimination(session.to_pgmpy())
    post = posteriors(after, findings)
    for node in after.nodes:
        if node in findings:
            continue
        ref = ve.query([node], evidence=findings, show_progress=False)
        for s, p in zip(ref.state_names[node], ref.values, strict=True):
            assert post[node][str(s)] == pytest.approx(float(p), abs=1e-9)
    # without bronc -> dysp, smoking screens bronchitis off from breathlessness
    smoker = {"smoke": "present"}
    assert d_separated(after, "bronc", "dysp", smoker)
    assert not d_separated(before, "bronc", "dysp", smoker)
    assert after.marginal("bronc", {**smoker, "dysp": "present"}) == pytest.approx(
        after.marginal("bronc", smoker), abs=1e-12
    )
