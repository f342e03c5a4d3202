"""The human-in-the-loop experiment: simulated clinicians, records, and the notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kg_editor.errors import KGEditorError
from kg_editor.experiments.hitl import (
    HITLConfig,
    edit_is_consistent,
    run_experiment,
    shd,
    summary_table,
)
from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge

ROOT = Path(__file__).resolve().parents[1]


def test_shd_counts_missing_extra_and_reversed():
    truth = {("a", "b"), ("b", "c")}
    g = CausalGraph.from_edges([("b", "a"), ("a", "d")], nodes=["c"])
    # b-c missing (1), a-d extra (1), a-b reversed (1)
    assert shd(g, truth) == 3


def test_consistency_rules():
    truth = {("a", "b")}
    assert edit_is_consistent(AddEdge("a", "b"), truth)
    assert not edit_is_consistent(AddEdge("b", "a"), truth)
    assert edit_is_consistent(ReverseEdge("b", "a"), truth)
    assert not edit_is_consistent(ReverseEdge("a", "b"), truth)
    assert not edit_is_consistent(RemoveEdge("a", "b"), truth)
    assert edit_is_consistent(RemoveEdge("a", "c"), truth)


@pytest.fixture(scope="module")
def child_result():
    return run_experiment(
        HITLConfig(network="child", n_patients=2500, rounds=5, seeds=(0, 1), noise=0.5)
    )


@pytest.mark.slow
def test_oracle_edits_move_the_graph_towards_the_truth(child_result):
    rec = child_result.records
    for arm in ("oracle", "proactive"):
        for _seed, grp in rec[rec.arm == arm].groupby("seed"):
            grp = grp.sort_values("step")
            assert grp["shd"].iloc[-1] < grp["shd"].iloc[0]
            # SHD never rises when every accepted edit agrees with the truth
            assert (grp["shd"].diff().dropna() <= 0).all()
    accepted = child_result.accepted
    assert accepted.loc[accepted.arm != "noisy", "consistent_with_truth"].all()


@pytest.mark.slow
def test_wrong_edits_are_recorded_and_scored(child_result):
    wrong = child_result.accepted[child_result.accepted.how == "wrong"]
    assert len(wrong) > 0
    assert not wrong["consistent_with_truth"].any()
    assert wrong["delta_loglik"].notna().all()


@pytest.mark.slow
def test_summary_table_has_start_end_and_truth(child_result):
    table = summary_table(child_result)
    row = table[(table.arm == "proactive") & (table.metric == "shd")].iloc[0]
    assert row.true_graph == 0
    assert row.end < row.start
    assert set(table.arm) == {"oracle", "proactive", "noisy"}


def test_the_wide_form_distils_from_an_undated_table_of_the_same_patients():
    cfg = HITLConfig(network="asia", n_patients=1500, rounds=2, seeds=(0,), arms=("oracle",))
    events = run_experiment(cfg)
    cfg.form = "wide"
    wide = run_experiment(cfg)
    rec = wide.records
    assert (rec["step"] >= 0).all() and rec["shd"].iloc[-1] <= rec["shd"].iloc[0]
    # the same true graph fitted on the same patients, whatever the form
    truth_e = events.references[events.references.reference == "true graph"]
    truth_w = wide.references[wide.references.reference == "true graph"]
    assert truth_w["shd"].iloc[0] == truth_e["shd"].iloc[0] == 0
    assert truth_w["edges"].iloc[0] == truth_e["edges"].iloc[0]
    cfg.form = "long"
    with pytest.raises(KGEditorError, match="form"):
        run_experiment(cfg)


@pytest.mark.notebook
@pytest.mark.slow
def test_hitl_notebook_executes(tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / "hitl_experiment.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "held-out log-lik/patient" in outputs
    assert "wrong edits lowered held-out log-likelihood" in outputs
