"""EditSession: incremental refit equals a from-scratch pgmpy fit; refusals; undo/redo;
history; persistence; the demo acceptance checks."""

from __future__ import annotations

import functools
import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

from kg_editor.data.cohort import build_cohort
from kg_editor.errors import (
    ConstraintError,
    CycleError,
    EdgeError,
    KGEditorError,
    UnknownVariableError,
)
from kg_editor.model.fit import pgmpy_fit
from kg_editor.model.graph import AddEdge, CausalGraph, Constraints
from kg_editor.model.metrics import calibration, pgmpy_heldout_loglik, pgmpy_structure_score
from kg_editor.model.report import METRICS, Report, ReportDelta
from kg_editor.model.session import EditSession, HistoryEntry

TARGETS = ["lung", "bronc"]


@functools.lru_cache(maxsize=1)
def asia():
    from kg_editor.data.sources.synthetic import network_events

    syn = network_events("asia", 1500, seed=3)
    cohort = build_cohort(syn.source, target="lung", min_patients=5)
    edges = [(u, v) for u, v in syn.true_edges if u in cohort.variables and v in cohort.variables]
    graph = CausalGraph.from_edges(
        edges, nodes=cohort.codes, labels=cohort.labels, provenance="distilled"
    )
    return cohort, graph, syn


def session(**kw) -> EditSession:
    cohort, graph, _ = asia()
    kw.setdefault("targets", TARGETS)
    kw.setdefault("bootstrap", 50)
    return EditSession(cohort, graph, **kw)


# --------------------------------------------------------------------------------------
# equality with a from-scratch pgmpy fit
# --------------------------------------------------------------------------------------
def _ve_posteriors(model, test_lab, target):
    """P(target | rest) by pgmpy VariableElimination, one query per distinct row."""
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(model)
    states = model.get_cpds(target).state_names[target]
    rest = [c for c in test_lab.columns if c != target]
    keys = test_lab[rest].astype(str).agg("|".join, axis=1)
    cache = {}
    out = np.empty((len(states), len(test_lab)))
    for i, (key, (_, row)) in enumerate(zip(keys, test_lab[rest].iterrows(), strict=True)):
        if key not in cache:
            q = ve.query(
                [target], evidence={k: str(v) for k, v in row.items()}, show_progress=False
            )
            cache[key] = np.array([q.get_value(**{target: s}) for s in states])
        out[:, i] = cache[key]
    return out


def assert_equals_pgmpy(s: EditSession, ess: float) -> None:
    cohort = s.cohort
    g = s.graph
    train = cohort.labelled(cohort.train).astype(str)
    test = cohort.labelled(cohort.test).astype(str)
    model = pgmpy_fit(
        train, g.edges, cohort.states, nodes=g.nodes, estimator="bdeu", equivalent_sample_size=ess
    )
    # every CPD
    for n in g.nodes:
        cpd = model.get_cpds(n)
        assert tuple(cpd.variables[1:]) == s.families[n].parents
        np.testing.assert_allclose(s.families[n].cpd, cpd.get_values(), rtol=0, atol=1e-9)
    rep = s.report
    # accuracy block
    assert rep.accuracy["bic"] == pytest.approx(
        pgmpy_structure_score(model, train, "bic", cohort.states), abs=1e-9
    )
    assert rep.accuracy["bdeu"] == pytest.approx(
        pgmpy_structure_score(model, train, "bdeu", cohort.states, equivalent_sample_size=ess),
        abs=1e-9,
    )
    assert rep.accuracy["loglik_per_patient"] == pytest.approx(
        pgmpy_heldout_loglik(model, test), abs=1e-9
    )
    # every target
    persons = cohort.test_persons
    for t in s.targets:
        post = _ve_posteriors(model, test, t)
        y = cohort.test[t].to_numpy() != 0
        p = 1.0 - post[0]
        block = rep.targets[t]
        np.testing.assert_allclose(s.posterior(t), p, atol=1e-9)
        assert block["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
        assert block["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
        assert block["accuracy"] == pytest.approx(
            np.mean(post.argmax(0) == cohort.test[t].to_numpy()), abs=1e-9
        )
        assert block["ece"] == pytest.approx(calibration(y, p)[0], abs=1e-9)
        counts = np.bincount(np.minimum((p * 10).astype(int), 9), minlength=10)
        assert [b["count"] for b in block["reliability"]] == counts.tolist()
        if 0 < y.sum() < y.size:
            fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
            if fpr.size <= 201:
                np.testing.assert_allclose(block["roc"]["fpr"], fpr, atol=1e-9)
                np.testing.assert_allclose(block["roc"]["tpr"], tpr, atol=1e-9)
        for row in block["subgroups"]:
            m = persons[row["attribute"]].astype(str).to_numpy() == row["group"]
            assert row["n"] == int(m.sum())
            if 0 < y[m].sum() < m.sum():
                assert row["auroc"] == pytest.approx(roc_auc_score(y[m], p[m]), abs=1e-9)
            assert row["brier"] == pytest.approx(brier_score_loss(y[m], p[m]), abs=1e-9)
    # interpretability
    it = rep.interpretability
    assert it["edges"] == len(model.edges())
    assert it["parameters"] == sum(
        (c.cardinality[0] - 1) * int(np.prod(c.cardinality[1:])) for c in model.get_cpds()
    )
    assert it["longest_path"] == nx.dag_longest_path_length(nx.DiGraph(model.edges()))
    for t in s.targets:
        assert it["markov_blanket_size"][t] == len(model.get_markov_blanket(t))
    # a fresh session on the same graph gives the very same report (caches are sound)
    fresh = EditSession(cohort, g, targets=s.targets, equivalent_sample_size=ess, bootstrap=0)
    assert fresh.report.to_dict()["accuracy"] == rep.to_dict()["accuracy"]
    assert fresh.report.to_dict()["targets"] == rep.to_dict()["targets"]


edit_steps = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "reverse", "undo", "redo"]),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=8,
)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=edit_steps, ess=st.sampled_from([1.0, 10.0, 37.5]))
def test_random_edit_sequences_equal_a_from_scratch_pgmpy_fit(steps, ess):
    """Random adds, removes, reverses, undos and redos (demographic nodes with 2 and 4
    states included; age band as a multi-state target) then compare with pgmpy."""
    s = session(equivalent_sample_size=ess, bootstrap=0, targets=[*TARGETS, "age_band"])
    nodes = sorted(s.graph.nodes)
    for kind, i, j in steps:
        try:
            if kind == "undo":
                s.undo()
            elif kind == "redo":
                s.redo()
            elif kind == "add":
                s.add(nodes[i % len(nodes)], nodes[j % len(nodes)])
            else:
                edges = sorted(s.graph.edges)
                if edges:
                    u, v = edges[i % len(edges)]
                    getattr(s, kind)(u, v)
        except KGEditorError:
            continue
        assert nx.is_directed_acyclic_graph(s.graph.nx)
    assert_equals_pgmpy(s, ess)


def test_start_report_equals_pgmpy():
    assert_equals_pgmpy(session(), 10.0)


def test_mle_session_cpds_equal_pgmpy_mle():
    s = session(estimator="mle", bootstrap=0)
    s.add("smoke", "dysp")
    cohort = s.cohort
    model = pgmpy_fit(
        cohort.labelled(cohort.train),
        s.graph.edges,
        cohort.states,
        nodes=s.graph.nodes,
        estimator="mle",
    )
    for n in s.graph.nodes:
        np.testing.assert_allclose(s.families[n].cpd, model.get_cpds(n).get_values(), atol=1e-12)
    train = cohort.labelled(cohort.train).astype(str)
    assert s.report.accuracy["bic"] == pytest.approx(
        pgmpy_structure_score(model, train, "bic", cohort.states), abs=1e-9
    )
    assert s.score_name == "bic"


# --------------------------------------------------------------------------------------
# refusals: the messages of graph.apply_edit reach the user unchanged, state unchanged
# --------------------------------------------------------------------------------------
def _unchanged(s, fn, exc, match):
    before_edges, before_report, n_hist = set(s.graph.edges), s.report, len(s.history)
    with pytest.raises(exc, match=match) as info:
        fn()
    assert (
        set(s.graph.edges) == before_edges
        and s.report is before_report
        and len(s.history) == n_hist
    )
    return info.value


def test_refusals_name_the_problem():
    s = session()
    err = _unchanged(
        s,
        lambda: s.add("xray", "smoke"),
        CycleError,
        r"Adding xray -> smoke would create the cycle xray -> smoke -> lung -> either -> xray\.",
    )
    assert err.cycle == ["xray", "smoke", "lung", "either", "xray"]
    s.add("smoke", "xray")
    _unchanged(
        s,
        lambda: s.reverse("smoke", "xray"),
        CycleError,
        r"Reversing smoke -> xray would create the cycle xray -> smoke -> lung -> either -> xray\.",
    )
    _unchanged(
        s,
        lambda: s.add("smoke", "lung"),
        EdgeError,
        r"The edge smoke -> lung is already in the graph\.",
    )
    _unchanged(
        s,
        lambda: s.add("lung", "smoke"),
        EdgeError,
        r"already links these variables; reverse it instead",
    )
    _unchanged(s, lambda: s.add("lung", "lung"), EdgeError, r"lung cannot cause itself")
    err = _unchanged(
        s,
        lambda: s.add("lungg", "xray"),
        UnknownVariableError,
        r"No variable named 'lungg'\. Did you mean 'lung'",
    )
    assert "lung" in err.suggestions
    _unchanged(
        s, lambda: s.apply(AddEdge("smok", "xray")), UnknownVariableError, r"Did you mean 'smoke'"
    )
    _unchanged(
        s, lambda: s.remove("xray", "dysp"), EdgeError, r"There is no edge xray -> dysp to remove\."
    )
    _unchanged(
        s,
        lambda: s.remove("lung", "smoke"),
        EdgeError,
        r"There is no edge lung -> smoke to remove \(the graph has smoke -> lung\)",
    )
    _unchanged(
        s, lambda: s.reverse("xray", "dysp"), EdgeError, r"There is no edge xray -> dysp to reverse"
    )


def test_constraints_are_enforced_and_overrides_recorded():
    cons = Constraints(
        required=frozenset({("smoke", "lung")}),
        forbidden=frozenset({("asia", "dysp")}),
        tiers={"sex": 0, "lung": 1},
    )
    s = session(constraints=cons)
    _unchanged(
        s,
        lambda: s.remove("smoke", "lung"),
        ConstraintError,
        r"Removing smoke -> lung goes against the constraint: required edge smoke -> lung\. Override",
    )
    _unchanged(
        s,
        lambda: s.add("asia", "dysp"),
        ConstraintError,
        r"Adding asia -> dysp goes against the constraint: forbidden edge asia -> dysp",
    )
    _unchanged(
        s,
        lambda: s.add("lung", "sex"),
        ConstraintError,
        r"tier order: 'lung' \(tier 1\) cannot cause 'Sex' \(tier 0\)",
    )
    s.add("asia", "dysp", author="dr_b", rationale="case series", override=True)
    rec = s.graph.edge_attrs("asia", "dysp")["history"][-1]
    assert rec["author"] == "dr_b" and rec["overridden_constraint"] == "forbidden edge asia -> dysp"
    assert s.history[-1].author == "dr_b"
    assert all(
        x.edit.target != "dysp" or x.edit.source != "asia"
        for x in s.suggestions(50)
        if x.edit.kind == "add"
    )


def test_suggestions_never_propose_forbidden_or_cyclic_edits():
    cons = Constraints(forbidden=frozenset({("smoke", "dysp"), ("dysp", "smoke")}))
    s = session(constraints=cons)
    for sug in s.suggestions(100):
        e = sug.edit
        assert {(e.source, e.target)} - {("smoke", "dysp"), ("dysp", "smoke")} or e.kind != "add"
        s2 = session(constraints=cons)
        s2.apply(e)  # never raises: valid by construction
        assert nx.is_directed_acyclic_graph(s2.graph.nx)


# --------------------------------------------------------------------------------------
# undo / redo / history / persistence
# --------------------------------------------------------------------------------------
def test_undo_redo_unbounded_and_exact():
    s = session()
    start = s.report.to_dict()
    g0 = s.graph
    edits = [
        ("add", "smoke", "dysp"),
        ("reverse", "bronc", "dysp"),
        ("remove", "tub", "either"),
        ("add", "asia", "xray"),
    ]
    reports = []
    for kind, u, v in edits:
        getattr(s, kind)(u, v)
        reports.append(s.report.to_dict())
    for _ in edits:
        s.undo()
    assert s.graph == g0 and s.report.to_dict() == start and not s.can_undo and s.can_redo
    for r in reports:
        s.redo()
        assert s.report.to_dict() == r
    assert not s.can_redo
    s.undo()
    s.add("lung", "dysp")
    assert not s.can_redo  # a new edit clears the redo stack
    with pytest.raises(KGEditorError, match="nothing to redo"):
        s.redo()
    kinds = [h.kind for h in s.history]
    assert kinds == [
        "start",
        "edit",
        "edit",
        "edit",
        "edit",
        "undo",
        "undo",
        "undo",
        "undo",
        "redo",
        "redo",
        "redo",
        "redo",
        "undo",
        "edit",
    ]
    assert all(isinstance(h, HistoryEntry) and isinstance(h.report, Report) for h in s.history)
    assert s.history[1].delta is not None and s.history[1].edit.kind == "add"


def test_session_round_trips_through_json():
    s = session(author="dr_a")
    s.add("smoke", "dysp", rationale="why not")
    s.reverse("bronc", "dysp")
    s.undo()
    sug = s.suggestions(3)
    s.reject(sug[0])
    s.accept(sug[1].id)
    data = json.loads(json.dumps(s.to_dict()))
    back = EditSession.from_dict(data, s.cohort)
    assert back.graph == s.graph
    assert (
        [h.kind for h in back.history]
        == [h.kind for h in s.history]
        == ["start", "edit", "edit", "undo", "reject", "accept"]
    )
    assert [h.created for h in back.history] == [h.created for h in s.history]
    assert back.history[-1].suggestion_id == sug[1].id
    assert back.report.to_dict() == s.report.to_dict()
    assert back.can_redo == s.can_redo
    assert sug[0].id not in {x.id for x in back.suggestions(50)}


def test_report_and_delta_contracts():
    s = session()
    d = s.remove("smoke", "lung")
    rep = s.report.to_dict()
    json.dumps(rep, allow_nan=False)
    assert {"loglik_per_patient", "bic"} <= set(rep["accuracy"])
    for t in TARGETS:
        blk = rep["targets"][t]
        assert {
            "auroc",
            "brier",
            "accuracy",
            "ece",
            "reliability",
            "roc",
            "subgroups",
            "largest_gap",
        } <= set(blk)
        assert set(blk["roc"]) >= {"fpr", "tpr"} and len(blk["reliability"]) == 10
        assert {r["attribute"] for r in blk["subgroups"]} >= {"sex"}
    assert set(rep["interpretability"]) >= {
        "edges",
        "parameters",
        "mean_in_degree",
        "max_in_degree",
        "markov_blanket_size",
        "longest_path",
        "endorsed_share",
        "supported_share",
        "reference_precision",
        "reference_recall",
        "precedence_contradictions",
    }
    # every numeric figure is a registered metric with a formula
    numeric = [k for k, v in rep["accuracy"].items() if isinstance(v, float)]
    numeric += [k for k, v in rep["targets"]["lung"].items() if isinstance(v, float) and k != "n"]
    numeric += [
        k
        for k, v in rep["interpretability"].items()
        if isinstance(v, int | float | dict) and k != "contradicting_edges"
    ]
    assert set(numeric) <= set(METRICS), set(numeric) - set(METRICS)
    dd = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    ll = dd["accuracy"]["loglik_per_patient"]
    assert set(ll) == {"before", "after", "delta", "ci", "significant"}
    assert ll["delta"] == pytest.approx(ll["after"] - ll["before"])
    au = dd["targets"]["lung"]["auroc"]
    assert au["ci"][0] <= au["delta"] <= au["ci"][1] or au["ci"][0] <= au["ci"][1]
    assert dd["targets"]["bronc"]["auroc"]["ci"] == [0.0, 0.0]  # bronc's blanket is untouched
    assert dd["interpretability"]["edges"]["delta"] == -1
    back = ReportDelta.from_dict(
        dd, Report.from_dict(d.before.to_dict()), Report.from_dict(d.after.to_dict())
    )
    assert back.to_dict() == dd


def test_docs_define_every_metric():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in text, name


def test_reference_precedence_and_endorsement():
    _cohort, _graph, syn = asia()
    ref = CausalGraph.from_edges(syn.true_edges)
    s = session(reference=ref)
    it = s.report.interpretability
    assert it["reference_precision"] == 1.0 and it["reference_recall"] == 1.0
    assert it["endorsed_share"] == 0.0
    # dates follow the true order, so a reversed true edge contradicts precedence
    d = s.reverse("smoke", "bronc")
    assert (
        s.report.interpretability["precedence_contradictions"]
        == it["precedence_contradictions"] + 1
    )
    assert s.report.interpretability["reference_precision"] < 1.0
    assert d.to_dict()["interpretability"]["endorsed_share"]["delta"] > 0


def test_cpd_table_set_targets_and_posterior():
    s = session()
    tab = s.cpd_table("either")
    assert list(tab.columns) == ["absent", "present"] and tab.index.names == ["lung", "tub"]
    np.testing.assert_allclose(tab.sum(axis=1), 1.0)
    np.testing.assert_allclose(tab.to_numpy(), s.families["either"].cpd.T)
    assert s.cpd_table("smoke").shape == (1, 2)
    rep = s.set_targets(["dysp"])
    assert list(rep.targets) == ["dysp"] and s.targets == ["dysp"]
    p = s.posterior("lung")
    assert p.shape == (int(s.cohort.is_test.sum()),) and ((p >= 0) & (p <= 1)).all()
    with pytest.raises(UnknownVariableError, match="Did you mean 'dysp'"):
        s.set_targets(["dysps"])


def test_graph_with_unknown_variables_is_refused():
    cohort, graph, _ = asia()
    bad = CausalGraph.from_edges([*graph.edges, ("lung", "mystery")])
    with pytest.raises(UnknownVariableError, match="mystery"):
        EditSession(cohort, bad)


# --------------------------------------------------------------------------------------
# demo acceptance (Eunomia GiBleed, target GI haemorrhage)
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_session(demo_cohort, demo_graph):
    return EditSession(demo_cohort, demo_graph, bootstrap=200, seed=1)


def _code(cohort, label):
    return next(c for c, v in cohort.variables.items() if v.label == label)


@pytest.mark.slow
def test_demo_removing_peptic_ulcer_hurts_with_a_ci(demo_session):
    """On the distilled graph GI haemorrhage has six parents that are strongly correlated
    with peptic ulcer (r ~ 0.4-0.67), so removing peptic ulcer lowers log-likelihood and
    AUROC by little: the report says so, with CIs that contain the change."""
    s = demo_session
    c = s.cohort
    gi, pu = c.target, _code(c, "Peptic ulcer")
    assert s.graph.has_edge(pu, gi)
    d = s.remove(pu, gi)
    dd = d.to_dict()
    ll, au = dd["accuracy"]["loglik_per_patient"], dd["targets"][gi]["auroc"]
    assert ll["delta"] < 0 and ll["ci"][0] < ll["delta"] < ll["ci"][1]
    assert au["delta"] < 0 and au["ci"][0] < au["delta"] < au["ci"][1]
    text = d.summary()
    assert "Held-out log-likelihood per patient" in text and "95% CI" in text
    s.undo()


@pytest.mark.slow
def test_demo_peptic_ulcer_as_the_only_cause_is_a_significant_loss(demo_session):
    """With peptic ulcer as GI haemorrhage's only parent, removing it lowers held-out
    log-likelihood and AUROC with CIs that exclude 0."""
    s = demo_session
    c = s.cohort
    gi, pu = c.target, _code(c, "Peptic ulcer")
    others = [p for p in s.graph.parents(gi) if p != pu]
    for p in others:
        s.remove(p, gi)
    d = s.remove(pu, gi)
    dd = d.to_dict()
    ll, au = dd["accuracy"]["loglik_per_patient"], dd["targets"][gi]["auroc"]
    assert ll["delta"] < 0 and ll["ci"][1] < 0 and ll["significant"]
    assert au["delta"] < 0 and au["ci"][1] < 0 and au["significant"]
    assert "significant" in d.summary()
    for _ in range(len(others) + 1):
        s.undo()
    assert set(s.graph.parents(gi)) == {pu, *others}


@pytest.mark.slow
def test_demo_adding_a_sprain_is_within_noise(demo_session):
    s = demo_session
    c = s.cohort
    gi, sprain = c.target, _code(c, "Sprain of ankle")
    assert not (s.graph.has_edge(sprain, gi) or s.graph.has_edge(gi, sprain))
    d = s.add(sprain, gi)
    au = d.to_dict()["targets"][gi]["auroc"]
    lo, hi = au["ci"]
    assert lo <= 0 <= hi and not au["significant"]
    assert abs(au["delta"]) < hi - lo
    s.undo()


# --------------------------------------------------------------------------------------
# CLI: evaluate and edit
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def asia_files(tmp_path_factory):
    from kg_editor.data.sources import load_source

    _, _, syn = asia()
    d = tmp_path_factory.mktemp("asia")
    syn.source.events.to_csv(d / "events.csv", index=False)
    syn.source.persons.to_csv(d / "persons.csv", index=False)
    cohort = build_cohort(
        load_source(str(d / "events.csv"), persons=str(d / "persons.csv")), target="lung"
    )
    edges = [(u, v) for u, v in syn.true_edges if u in cohort.variables and v in cohort.variables]
    graph = CausalGraph.from_edges(
        edges, nodes=cohort.codes, labels=cohort.labels, provenance="distilled"
    )
    graph.to_json(d / "graph.json")
    return d, cohort, graph


def test_cli_evaluate_prints_the_report_equal_to_the_api(asia_files, capsys):
    from kg_editor.cli import main

    d, cohort, graph = asia_files
    args = [
        str(d / "events.csv"),
        "--persons",
        str(d / "persons.csv"),
        "--graph",
        str(d / "graph.json"),
        "--target",
        "lung",
    ]
    assert main(["evaluate", *args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    api = EditSession(cohort, graph, bootstrap=0).report.to_dict()
    assert (
        out["accuracy"] == api["accuracy"]
        and out["targets"]["lung"]["auroc"] == api["targets"]["lung"]["auroc"]
    )
    assert main(["evaluate", *args]) == 0
    text = capsys.readouterr().out
    assert "Held-out log-likelihood per patient" in text and "Target lung: AUROC" in text


def test_cli_edit_applies_in_order_and_reports(asia_files, capsys, tmp_path):
    from kg_editor.cli import main

    d, _cohort, _graph = asia_files
    out = tmp_path / "new.json"
    rc = main(
        [
            "edit",
            str(d / "graph.json"),
            "--add",
            "smoke",
            "dysp",
            "--remove",
            "smoke",
            "dysp",
            "--reverse",
            "bronc",
            "dysp",
            "--data",
            str(d / "events.csv"),
            "--persons",
            str(d / "persons.csv"),
            "--target",
            "lung",
            "--out",
            str(out),
            "--author",
            "dr_cli",
            "--bootstrap",
            "20",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert (
        text.index("Adding smoke -> dysp")
        < text.index("Removing smoke -> dysp")
        < text.index("Reversing bronc -> dysp")
    )
    assert "95% CI" in text
    g2 = CausalGraph.from_json(out)
    assert g2.has_edge("dysp", "bronc") and not g2.has_edge("smoke", "dysp")
    assert g2.edge_attrs("dysp", "bronc")["history"][-1]["author"] == "dr_cli"
    # a refused edit is one clear line and exit code 2
    assert main(["edit", str(d / "graph.json"), "--add", "xray", "smoke", "--out", str(out)]) == 2
    assert (
        "would create the cycle xray -> smoke -> lung -> either -> xray" in capsys.readouterr().err
    )
