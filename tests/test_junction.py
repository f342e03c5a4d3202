"""The compiled junction tree behind teaching beliefs, checked against pgmpy and brute force."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pgmpy.factors.discrete import TabularCPD
from pgmpy.inference import CausalInference, VariableElimination

from kg_editor.model.fit import bundled_network, sample_network
from kg_editor.model.graph import CausalGraph
from kg_editor.teaching import belief_update, posteriors, seeing_vs_doing
from kg_editor.teaching.beliefs import ImpossibleFindingsError, TeachingModel
from kg_editor.teaching.junction import JunctionTree, ZeroProbabilityError

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def hepar2() -> TeachingModel:
    return TeachingModel.from_bundled("hepar2")


@pytest.fixture(scope="module")
def alarm() -> TeachingModel:
    return TeachingModel.from_bundled("alarm")


def _sampled_findings(tm: TeachingModel, k: int, count: int, seed: int) -> list[dict[str, str]]:
    """``count`` sets of ``k`` findings taken from forward-sampled patients (so possible)."""
    rnd = random.Random(seed)
    rows = sample_network(tm.pgmpy, count, seed=seed)
    return [{n: str(row[n]) for n in rnd.sample(tm.nodes, k)} for _, row in rows.iterrows()]


def _assert_equals_ve(tm: TeachingModel, findings: dict[str, str], ve: VariableElimination):
    post = posteriors(tm, findings)
    for node in tm.nodes:
        if node in findings:
            assert post[node] == {s: float(s == findings[node]) for s in tm.states(node)}
            continue
        ref = ve.query([node], evidence=findings or None, show_progress=False)
        for s, p in zip(ref.state_names[node], ref.values, strict=True):
            assert post[node][str(s)] == pytest.approx(float(p), abs=1e-9), (node, findings)


@pytest.mark.parametrize("name", ["alarm", "hepar2"])
def test_all_beliefs_equal_pgmpy_variable_elimination(name, request):
    tm = request.getfixturevalue(name)
    ve = VariableElimination(tm.pgmpy)
    _assert_equals_ve(tm, {}, ve)
    for findings in _sampled_findings(tm, 3, 3, seed=7):
        _assert_equals_ve(tm, findings, ve)


def test_probability_of_findings_equals_pgmpy_chain_rule(hepar2):
    ve = VariableElimination(hepar2.pgmpy)
    for findings in _sampled_findings(hepar2, 4, 3, seed=11):
        ref, seen = 1.0, {}
        for node, state in findings.items():
            f = ve.query([node], evidence=seen or None, show_progress=False)
            ref *= float(f.values[[str(s) for s in f.state_names[node]].index(state)])
            seen[node] = state
        assert hepar2.probability_of_findings(findings) == pytest.approx(ref, rel=1e-9)
        assert belief_update(hepar2, findings)["p_findings"] == pytest.approx(ref, rel=1e-9)


def test_do_queries_by_surgery_equal_pgmpy_on_hepar2(hepar2):
    """Against pgmpy's CausalInference (no findings) and VE on pgmpy's own mutilated network."""
    ci = CausalInference(hepar2.pgmpy)
    g = hepar2.graph.nx
    rnd = random.Random(3)
    pairs = [(x, y) for x in hepar2.nodes for y in nx.descendants(g, x)]
    for x, y in rnd.sample(pairs, 6):
        s = hepar2.states(x)[-1]
        ours = hepar2.interventional(y, {x: s})
        ref = ci.query([y], do={x: s}, show_progress=False)
        for st_, p in zip(ref.state_names[y], ref.values, strict=True):
            assert ours[str(st_)] == pytest.approx(float(p), abs=1e-9)
        # with findings (also downstream of x): VE on the network with edges into x cut
        mut = hepar2.pgmpy.do([x], inplace=False)
        native = list(mut.get_cpds(x).state_names[x])
        mut.remove_cpds(mut.get_cpds(x))
        mut.add_cpds(
            TabularCPD(
                x, len(native), np.full((len(native), 1), 1 / len(native)), state_names={x: native}
            )
        )
        fnd = {
            n: v
            for n, v in _sampled_findings(hepar2, 2, 1, seed=len(x))[0].items()
            if n not in (x, y)
        }
        try:
            ours = hepar2.interventional(y, {x: s}, fnd)
        except ImpossibleFindingsError:
            continue
        ref = VariableElimination(mut).query([y], evidence={**fnd, x: s}, show_progress=False)
        for st_, p in zip(ref.state_names[y], ref.values, strict=True):
            assert ours[str(st_)] == pytest.approx(float(p), abs=1e-9)


def _random_network(n: int, edges: list[bool], seed: int, zeros: bool) -> TeachingModel:
    rng = np.random.default_rng(seed)
    g = nx.DiGraph()
    g.add_nodes_from(f"v{i}" for i in range(n))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for (i, j), keep in zip(pairs, edges, strict=False):
        if keep:
            g.add_edge(f"v{i}", f"v{j}")
    cards = {v: int(rng.integers(2, 4)) for v in g}
    for v, k in cards.items():
        g.nodes[v]["states"] = tuple(f"s{i}" for i in range(k))
    cg = CausalGraph.from_edges(g.edges, nodes=g.nodes)
    for v in g:
        cg.nx.nodes[v]["states"] = g.nodes[v]["states"]
    tables = {}
    for v in cg.nodes:
        cols = int(np.prod([cards[p] for p in cg.parents(v)]))
        t = rng.random((cards[v], cols))
        if zeros:
            t[rng.random(t.shape) < 0.3] = 0.0
            t[0, t.sum(axis=0) == 0] = 1.0
        tables[v] = t / t.sum(axis=0)
    return TeachingModel.from_graph_and_cpds(cg, tables)


def _brute(
    tm: TeachingModel, findings: dict[str, str]
) -> tuple[dict[str, dict[str, float]], float]:
    m = tm.pgmpy
    nodes = tm.nodes
    joint: dict[tuple[str, ...], float] = {}
    for combo in itertools.product(*(tm.states(n) for n in nodes)):
        a = dict(zip(nodes, combo, strict=True))
        p = 1.0
        for n in nodes:
            cpd = m.get_cpds(n)
            idx = tuple([str(s) for s in cpd.state_names[v]].index(a[v]) for v in cpd.variables)
            p *= float(cpd.values[idx])
        joint[combo] = p
    keep = {
        c: p
        for c, p in joint.items()
        if all(dict(zip(nodes, c, strict=True))[k] == v for k, v in findings.items())
    }
    z = sum(keep.values())
    out = {n: dict.fromkeys(tm.states(n), 0.0) for n in nodes}
    for c, p in keep.items():
        for n, s in zip(nodes, c, strict=True):
            out[n][s] += p / z if z else 0.0
    return out, z


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=2, max_value=7).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.booleans(), min_size=n * (n - 1) // 2, max_size=n * (n - 1) // 2),
            st.integers(0, 10**6),
            st.booleans(),
            st.integers(0, 3),
        )
    )
)
def test_beliefs_equal_brute_force_on_random_networks(case):
    """Any DAG (disconnected ones too), 2-3 states, tables with zeros: beliefs and P(findings)
    equal the full joint, and findings of probability zero are refused."""
    n, edges, seed, zeros, k = case
    tm = _random_network(n, edges, seed, zeros)
    rnd = random.Random(seed)
    findings = {v: rnd.choice(tm.states(v)) for v in rnd.sample(tm.nodes, min(k, n))}
    ref, z = _brute(tm, findings)
    if z == 0.0:
        with pytest.raises(ImpossibleFindingsError, match="cannot occur together"):
            posteriors(tm, findings)
        return
    post = posteriors(tm, findings)
    for v in tm.nodes:
        for s in tm.states(v):
            assert post[v][s] == pytest.approx(ref[v][s], abs=1e-12)
    assert tm.probability_of_findings(findings) == pytest.approx(z if findings else 1.0, rel=1e-10)


def test_impossible_findings_raise_in_beliefs_and_do_queries():
    g = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("d", "e")], labels={"a": "Aspirin"})
    tm = TeachingModel.from_graph_and_cpds(
        g,
        {
            "a": [[0.5], [0.5]],
            "b": [[1.0, 0.0], [0.0, 1.0]],  # b copies a
            "c": [[0.9, 0.2], [0.1, 0.8]],
            "d": [[0.5], [0.5]],
            "e": [[1.0, 0.0], [0.0, 1.0]],  # e copies d (another component)
        },
    )
    for bad in ({"a": "1", "b": "0"}, {"d": "0", "e": "1"}, {"Aspirin": "0", "b": "1", "c": "1"}):
        with pytest.raises(ImpossibleFindingsError, match="cannot occur together"):
            posteriors(tm, bad)
        with pytest.raises(ImpossibleFindingsError):
            tm.probability_of_findings(bad)
        with pytest.raises(ImpossibleFindingsError):
            belief_update(tm, bad)
    with pytest.raises(ImpossibleFindingsError, match="Aspirin = 1"):
        tm.marginal("c", {"a": "1", "b": "0"})
    # setting b cuts a -> b, so a = 1 with b = 0 becomes possible ...
    assert tm.interventional("a", {"b": "0"}, {"a": "1"}) == {"0": 0.0, "1": 1.0}
    assert tm.interventional("c", {"b": "0"}, {"a": "1"})["1"] == pytest.approx(0.1)
    # ... but findings impossible in the mutilated network are still refused
    with pytest.raises(ImpossibleFindingsError, match="set to"):
        tm.interventional("c", {"a": "1"}, {"d": "0", "e": "1"})
    with pytest.raises(ImpossibleFindingsError):
        seeing_vs_doing(tm, "a", "1", "c", {"d": "0", "e": "1"})


def test_rounded_tables_are_renormalised_on_a_copy():
    raw = bundled_network("alarm")
    worst = max(np.abs(c.values.sum(axis=0) - 1).max() for c in raw.get_cpds())
    assert worst > 1e-9  # the BIF file prints 4 digits
    tm = TeachingModel(raw)
    assert tm.pgmpy is not raw
    assert max(np.abs(c.values.sum(axis=0) - 1).max() for c in tm.pgmpy.get_cpds()) < 1e-12
    assert max(np.abs(c.values.sum(axis=0) - 1).max() for c in raw.get_cpds()) == worst
    exact = _random_network(4, [True] * 6, 1, False)
    assert TeachingModel(exact.pgmpy).pgmpy is exact.pgmpy  # nothing to fix: no copy


def test_a_changed_model_is_recompiled():
    tm0 = _random_network(4, [True, False, True, True, False, True], 5, False)
    model = tm0.pgmpy
    tm = TeachingModel(model)
    before = tm.marginals({"v3": "s0"})
    cpd = model.get_cpds("v0")
    flipped = cpd.values[::-1].copy()
    cpd.values = flipped  # edited in place after wrapping
    after = tm.marginals({"v3": "s0"})
    assert after != before
    ve = VariableElimination(model)
    ref = ve.query(["v0"], evidence={"v3": "s0"}, show_progress=False)
    for s, p in zip(ref.state_names["v0"], ref.values, strict=True):
        assert after["v0"][str(s)] == pytest.approx(float(p), abs=1e-12)
    assert tm.prior()["v0"]["s0"] == pytest.approx(float(flipped.ravel()[0]))


def test_junction_tree_properties_on_hepar2(hepar2):
    jt = hepar2._jt
    cliques = [set(c) for c in jt.cliques]
    # every table lies inside a clique; the running-intersection property holds
    for c in hepar2.pgmpy.get_cpds():
        assert any(set(c.variables) <= q for q in cliques)
    tree = nx.Graph(jt.edges)
    tree.add_nodes_from(range(len(cliques)))
    assert nx.is_forest(tree)
    for v in hepar2.nodes:
        holding = [i for i, q in enumerate(cliques) if v in q]
        assert nx.is_connected(tree.subgraph(holding))
    with pytest.raises(ZeroProbabilityError):
        JunctionTree({"a": 2}, {"a": (("a",), np.array([1.0, 0.0]))}).calibrate({"a": 1})
    with pytest.raises(ValueError, match="shape"):
        JunctionTree({"a": 2}, {"a": (("a",), np.array([1.0, 0.0, 0.0]))})
