"""A physician merges selected nodes into one concept in a session (and splits it again):
the variables are rebuilt from the cohort's codes, the model is refitted, the step is
recorded and saved like an edit."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from kg_editor.data.cohort import build_cohort
from kg_editor.data.sources import EHRSource
from kg_editor.errors import CycleError, SchemaError
from kg_editor.model.graph import CausalGraph
from kg_editor.model.session import EditSession

GI = ["4027663", "30753", "4266809", "4310024", "81893", "4285898"]
NAME = "GI mucosal disease"
CODE = "concept:" + NAME


def _clear_paths_through_outside(session: EditSession) -> None:
    """Remove the member -> outside edges that would close a cycle through the merged
    node (what the CycleError asks the physician to do first)."""
    import networkx as nx

    while True:
        g = session.graph.to_networkx()
        contracted = nx.relabel_nodes(g, dict.fromkeys(GI, CODE))
        # edges between members become self-loops of the concept, not cycles through it
        contracted.remove_edges_from(list(nx.selfloop_edges(contracted)))
        try:
            cycle = nx.find_cycle(contracted)
        except nx.NetworkXNoCycle:
            return
        out = next(v for u, v, *_ in cycle if u == CODE)
        removed = [m for m in GI if g.has_edge(m, out)]
        assert removed, f"no member edge to {out} closes the cycle {cycle}"
        for m in removed:
            session.remove(m, out, rationale="the cycle through the merged concept")


@pytest.fixture(scope="module")
def merged(demo_cohort, demo_graph):
    session = EditSession(demo_cohort, demo_graph, bootstrap=20, author="dr_a")
    _clear_paths_through_outside(session)
    before = session.report
    delta = session.merge(GI, NAME, rationale="one disease process")
    return session, before, delta


def test_merge_rebuilds_the_variable_from_the_codes(merged, demo_source, tmp_path_factory):
    session, _, _ = merged
    assert CODE in session.graph and not any(c in session.graph for c in GI)
    f = tmp_path_factory.mktemp("m") / "cs.json"
    f.write_text(json.dumps({NAME: {"codes": GI}}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = build_cohort(demo_source, target="Gastrointestinal hemorrhage", concepts=f)
    got = session.cohort.data[CODE]
    assert (got.to_numpy() == built.data[CODE].reindex(got.index).to_numpy()).all()
    assert session.cohort.variables[CODE].n_patients == built.variables[CODE].n_patients
    fd = session.cohort.first_dates[CODE]
    assert fd.equals(built.first_dates[CODE].reindex(fd.index))


def test_merge_refits_and_equals_a_fresh_session(merged):
    session, before, delta = merged
    fresh = EditSession(session.cohort, session.graph, bootstrap=20)
    assert session.report == fresh.report
    assert delta.before is before and delta.after is session.report
    assert session.report.interpretability["nodes"] == before.interpretability["nodes"] - 5
    assert session.graph.parents("192671")  # GI haemorrhage still has parents
    assert CODE in set(session.graph.parents("192671")) | set(session.graph.children("192671"))


def test_merge_is_recorded_and_saved_like_an_edit(merged, demo_cohort):
    session, _, _ = merged
    h = session.history[-1]
    assert h.kind == "merge" and h.author == "dr_a"
    assert h.concept["nodes"] == GI and h.concept["rationale"] == "one disease process"
    data = json.loads(json.dumps(session.to_dict()))
    again = EditSession.from_dict(data, demo_cohort)
    assert again.graph == session.graph and again.report == session.report
    assert again.history[-1].kind == "merge"


def test_split_restores_the_members(demo_cohort, demo_graph):
    session = EditSession(demo_cohort, demo_graph, bootstrap=0)
    _clear_paths_through_outside(session)
    start_graph = session.graph
    start = session.report
    session.merge(GI, NAME)
    session.split(NAME, rationale="keep them apart")
    assert set(session.graph.nodes) == set(start_graph.nodes) == set(demo_graph.nodes)
    assert session.cohort.codes == demo_cohort.codes
    assert (session.cohort.data.to_numpy() == demo_cohort.data.to_numpy()).all()
    assert session.history[-1].kind == "split"
    for m in GI:  # each member takes the concept's edges, so none is isolated
        assert session.graph.parents(m) or session.graph.children(m)
    assert start.accuracy["n_test"] == session.report.accuracy["n_test"]


def _small_cohort():
    rng = np.random.default_rng(0)
    n = 300
    a = rng.random(n) < 0.4
    x = a & (rng.random(n) < 0.7)
    b = x & (rng.random(n) < 0.7)
    rows = [
        (f"p{i}", c) for i in range(n) for c, on in (("A", a[i]), ("X", x[i]), ("B", b[i])) if on
    ]
    rows += [(f"p{i}", "Z") for i in range(n) if i % 3 == 0]
    ev = pd.DataFrame(rows, columns=["patient_id", "code"])
    return build_cohort(EHRSource.from_frames(ev), min_patients=5, include_demographics=False)


def test_merge_through_an_outside_node_is_a_named_cycle():
    cohort = _small_cohort()
    g = CausalGraph.from_edges([("A", "X"), ("X", "B")], nodes=["Z"])
    session = EditSession(cohort, g, bootstrap=0)
    with pytest.raises(CycleError, match="would create the cycle") as err:
        session.merge(["A", "B"], "AB")
    assert "X" in err.value.cycle
    assert session.graph == g and session.cohort is cohort and len(session.history) == 1


def test_only_binary_codes_merge():
    cohort = _small_cohort()
    with pytest.raises(SchemaError, match="at least two"):
        cohort.merge(["A"], "just A")
    with pytest.raises(SchemaError, match="only merged"):
        cohort.split("A")
