"""CausalGraph, constraints and edits: refusals name what is wrong; graphs stay DAGs."""

from __future__ import annotations

import json

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg_editor.errors import (
    ConstraintError,
    CycleError,
    EdgeError,
    FormatError,
    UnknownVariableError,
)
from kg_editor.model.graph import (
    AddEdge,
    CausalGraph,
    Constraints,
    RemoveEdge,
    ReverseEdge,
    apply_edit,
    changed_families,
    edit_from_dict,
    edit_to_dict,
)

LABELS = {"a": "Smoking", "b": "COPD", "c": "Dyspnoea", "d": "Age"}


@pytest.fixture()
def chain() -> CausalGraph:
    return CausalGraph.from_edges([("a", "b"), ("b", "c")], nodes=["d"], labels=LABELS)


def test_add_returns_a_new_graph_and_records_who_and_why(chain):
    g2 = apply_edit(chain, AddEdge("d", "b", author="dr_lee", rationale="age drives COPD"))
    assert g2.has_edge("d", "b") and not chain.has_edge("d", "b")
    attrs = g2.edge_attrs("d", "b")
    assert attrs["provenance"] == "clinician" and attrs["endorsed"] is True
    assert attrs["history"][0]["author"] == "dr_lee"
    assert attrs["history"][0]["rationale"] == "age drives COPD"


def test_cycle_is_refused_and_named_with_labels(chain):
    with pytest.raises(CycleError) as err:
        apply_edit(chain, AddEdge("c", "a"))
    assert (
        str(err.value)
        == "Adding Dyspnoea -> Smoking would create the cycle Dyspnoea -> Smoking -> COPD -> Dyspnoea."
    )
    assert err.value.cycle == ["c", "a", "b", "c"]


def test_reverse_cycle_is_named():
    g = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("a", "c")], labels=LABELS)
    with pytest.raises(
        CycleError,
        match=r"Reversing Smoking -> Dyspnoea would create the cycle Dyspnoea -> Smoking -> COPD -> Dyspnoea",
    ):
        apply_edit(g, ReverseEdge("a", "c"))


def test_reverse_keeps_evidence_and_appends_history(chain):
    g = apply_edit(chain, ReverseEdge("b", "c", author="dr_x", rationale="dyspnoea precedes"))
    assert g.has_edge("c", "b") and not g.has_edge("b", "c")
    assert g.edge_attrs("c", "b")["history"][-1]["kind"] == "reverse"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (AddEdge("a", "a"), "Smoking cannot cause itself"),
        (AddEdge("a", "b"), "The edge Smoking -> COPD is already in the graph"),
        (AddEdge("b", "a"), "The edge Smoking -> COPD already links these variables; reverse it"),
        (RemoveEdge("a", "c"), "There is no edge Smoking -> Dyspnoea to remove"),
        (
            RemoveEdge("b", "a"),
            r"There is no edge COPD -> Smoking to remove \(the graph has Smoking -> COPD\)",
        ),
        (ReverseEdge("c", "d"), "There is no edge Dyspnoea -> Age to reverse"),
    ],
)
def test_edge_refusals(chain, edit, message):
    with pytest.raises(EdgeError, match=message):
        apply_edit(chain, edit)


def test_unknown_variable_suggests_closest(chain):
    with pytest.raises(UnknownVariableError, match="Did you mean 'COPD'"):
        apply_edit(chain, AddEdge("a", "CPOD"))


def test_constraints_refuse_and_override_is_recorded(chain):
    cons = Constraints(
        required=frozenset({("a", "b")}), forbidden=frozenset({("d", "c")}), tiers={"d": 0, "a": 1}
    )
    with pytest.raises(ConstraintError, match="forbidden edge Age -> Dyspnoea"):
        apply_edit(chain, AddEdge("d", "c"), cons)
    with pytest.raises(ConstraintError, match="required edge Smoking -> COPD"):
        apply_edit(chain, RemoveEdge("a", "b"), cons)
    with pytest.raises(
        ConstraintError, match=r"tier order: 'Smoking' \(tier 1\) cannot cause 'Age' \(tier 0\)"
    ):
        apply_edit(chain, AddEdge("a", "d"), cons)
    g = apply_edit(chain, AddEdge("d", "c", author="dr_o", override=True), cons)
    rec = g.edge_attrs("d", "c")["history"][0]
    assert rec["override"] is True and rec["author"] == "dr_o"
    assert rec["overridden_constraint"] == "forbidden edge Age -> Dyspnoea"


def test_constraints_file_with_domain_tiers(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "required: [[a, b]]\nforbidden: [[c, a]]\ntiers:\n  - [d]\n  - ['domain:drug']\n  - ['domain:condition']\n"
    )
    cons = Constraints.from_file(f, domains={"a": "drug", "b": "condition", "c": "condition"})
    assert cons.tiers == {"d": 0, "a": 1, "b": 2, "c": 2}
    assert cons.violation("b", "a") is not None and cons.violation("a", "b") is None
    again = Constraints.from_dict(json.loads(json.dumps(cons.to_dict())))
    assert again == cons
    bad = tmp_path / "bad.json"
    bad.write_text('{"required": [["a"]]}')
    with pytest.raises(
        FormatError, match="entry 1 of 'required' must be a \\[source, target\\] pair"
    ):
        Constraints.from_file(bad)


def test_json_round_trip_keeps_attributes(chain):
    g = apply_edit(chain, AddEdge("d", "c", rationale="x"))
    again = CausalGraph.from_json(g.to_json())
    assert again == g
    assert again.label("b") == "COPD"
    assert again.edge_attrs("d", "c")["history"][0]["rationale"] == "x"
    with pytest.raises(FormatError, match="not a kg-editor graph"):
        CausalGraph.from_dict({"format": "other"})


def test_edit_json_round_trip_and_families():
    e = ReverseEdge("a", "b", author="x", rationale="y", override=True)
    assert edit_from_dict(json.loads(json.dumps(edit_to_dict(e)))) == e
    assert changed_families(e) == ("a", "b")
    assert changed_families(RemoveEdge("a", "b")) == ("b",)


def test_cyclic_input_graph_is_refused():
    with pytest.raises(CycleError, match="The graph has the cycle"):
        CausalGraph(nx.DiGraph([("a", "b"), ("b", "a")]))


NODES = list("abcdef")
edit_strategy = st.tuples(
    st.sampled_from(["add", "remove", "reverse"]), st.sampled_from(NODES), st.sampled_from(NODES)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(edit_strategy, max_size=30))
def test_any_edit_sequence_keeps_a_dag_and_refusals_change_nothing(ops):
    g = CausalGraph.from_edges([], nodes=NODES)
    cls = {"add": AddEdge, "remove": RemoveEdge, "reverse": ReverseEdge}
    for kind, u, v in ops:
        before = set(g.edges)
        try:
            g = apply_edit(g, cls[kind](u, v))
        except (EdgeError, CycleError):
            assert set(g.edges) == before
        assert nx.is_directed_acyclic_graph(g.nx)


# ---------------------------------------------------------------------------------
# Unresolved directions (issue 12)
# ---------------------------------------------------------------------------------
def _unresolved_graph() -> CausalGraph:
    g = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("d", "c")], labels={"a": "Asthma"})
    return g.with_unresolved([("a", "b")])


def test_resolve_edge_is_one_action_either_way():
    from kg_editor.model.graph import ResolveEdge

    g = _unresolved_graph()
    assert g.unresolved_edges == [("a", "b")]
    kept = apply_edit(g, ResolveEdge("a", "b", author="dr", rationale="asthma first"))
    assert kept.has_edge("a", "b") and kept.unresolved_edges == []
    attrs = kept.edge_attrs("a", "b")
    assert attrs["provenance"] == "clinician" and attrs["history"][-1]["kind"] == "resolve"
    flipped = apply_edit(g, ResolveEdge("b", "a", author="dr"))
    assert flipped.has_edge("b", "a") and not flipped.has_edge("a", "b")
    assert flipped.unresolved_edges == [] and g.unresolved_edges == [("a", "b")]  # input unchanged
    with pytest.raises(EdgeError, match="no edge between"):
        apply_edit(g, ResolveEdge("a", "d"))
    with pytest.raises(ConstraintError, match="Resolving"):
        apply_edit(g, ResolveEdge("b", "a"), Constraints(forbidden=frozenset({("b", "a")})))
    cyc = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("a", "c")]).with_unresolved([("a", "c")])
    with pytest.raises(CycleError, match="cycle"):
        apply_edit(cyc, ResolveEdge("c", "a"))
    # a reversal decides the direction too
    rev = apply_edit(g, ReverseEdge("a", "b"))
    assert rev.unresolved_edges == []
    # the edit serialises like the others
    e = ResolveEdge("b", "a", author="dr", rationale="why")
    assert edit_from_dict(edit_to_dict(e)) == e
    assert changed_families(e) == ("b", "a")


def test_unresolved_edge_round_trips_through_json_and_dagitty(tmp_path):
    from kg_editor.formats import read_graph, write_graph

    g = _unresolved_graph()
    back = CausalGraph.from_json(g.to_json())
    assert back.unresolved_edges == [("a", "b")] and back == g
    path = tmp_path / "g.json"
    write_graph(g, "json", path)
    assert read_graph(path).unresolved_edges == [("a", "b")]
    dag = tmp_path / "g.dagitty"
    write_graph(g, "dagitty", dag)
    text = dag.read_text(encoding="utf-8")
    assert text.startswith("pdag {") and "a -- b" in text and "b -> c" in text
    again = read_graph(dag)
    assert again.unresolved_edges == [("a", "b")] and set(again.edges) == set(g.edges)
    # an undirected DAGitty edge that would close a cycle the written way is turned round
    g2 = read_graph("dag { x -> y  y -> z  z -- x }", "dagitty")
    assert g2.unresolved_edges == [("x", "z")]


def test_unresolved_edge_round_trips_through_the_store(tmp_path):
    from kg_editor.model.graph import ResolveEdge
    from kg_editor.versions.store import Store

    g = _unresolved_graph()
    with Store(tmp_path / "s.sqlite") as s:
        p = s.ensure_project("t", "fp")
        v1 = s.save_version(p.id, g, author="dr", message="distilled")
        e = ResolveEdge("b", "a", author="dr", rationale="b first")
        v2 = s.save_version(p.id, apply_edit(g, e), author="dr", message="resolved", edits=[e])
        assert s.get_version(v1.id).graph.unresolved_edges == [("a", "b")]
        got = s.get_version(v2.id)
        assert got.graph.unresolved_edges == [] and got.graph.has_edge("b", "a")
        assert got.edits == [e]
