"""Counts below the threshold stay hidden in what is stored and shown beside the editor:
versions' reports, the audit log's report changes and the browser's report panel pass
the one suppression mechanism, complementary cells included, and no hidden cell comes
back by subtraction from the numbers shown beside it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kg_editor.data.privacy import HIDDEN, is_suppressed, protect_report_delta
from kg_editor.model.graph import CausalGraph
from kg_editor.model.session import EditSession
from kg_editor.versions.store import Store, graph_min_cell


def _raw_report() -> dict[str, Any]:
    """A report whose held-out patients split 190 / 7 / 3 by age band, 12 cases."""
    return {
        "accuracy": {"loglik_per_patient": -3.1},
        "interpretability": {"edges": 1},
        "targets": {
            "t": {
                "n": 200,
                "prevalence": 0.06,
                "subgroups": [
                    {"attribute": "age_band", "group": "65+", "n": 190, "positives": 5},
                    {"attribute": "age_band", "group": "18-39", "n": 7, "positives": 4},
                    {"attribute": "age_band", "group": "40-64", "n": 3, "positives": 3},
                    {"attribute": "sex", "group": "F", "n": 120, "positives": 9, "auroc": 0.7},
                    {"attribute": "sex", "group": "M", "n": 80, "positives": 3, "auroc": 0.6},
                ],
                "reliability": [{"count": 150, "observed_rate": 0.02}, {"count": 50}],
            }
        },
    }


def _recoverable(shown: list[Any], total: int | None) -> bool:
    """Whether one hidden cell of a partition comes back as total minus the shown."""
    hidden = [v for v in shown if is_suppressed(v)]
    return total is not None and len(hidden) == 1


def test_stored_version_report_is_protected_and_records_its_threshold(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    p = store.ensure_project("p", "fp")
    g = CausalGraph.from_edges([("a", "t")])
    g.metadata["min_cell"] = 11
    v = store.save_version(p.id, g, author="dr_a", message="m", report=_raw_report())
    t = store.get_version(v.id).report["targets"]["t"]
    assert store.get_version(v.id).report["privacy"]["min_cell"] == 11
    n_total = t["n"]
    for attr in ("age_band", "sex"):
        rows = [r for r in t["subgroups"] if r["attribute"] == attr]
        assert not _recoverable([r["n"] for r in rows], n_total)
        assert not _recoverable([r["positives"] for r in rows], 12)
        for r in rows:
            assert not isinstance(r["n"], int) or r["n"] >= 11
            assert not isinstance(r["positives"], int) or r["positives"] >= 11
    # 12 cases among 200 may be shown, and with them the prevalence
    assert t["prevalence"] == 0.06
    assert [b["count"] for b in t["reliability"]] == [150, 50]
    # the sex rows with hidden positives lose their AUROC too
    assert all(r.get("auroc") is None for r in t["subgroups"] if r["attribute"] == "sex")


def test_graph_threshold_is_the_one_applied(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    p = store.ensure_project("p", "fp")
    g = CausalGraph.from_edges([("a", "t")])
    g.metadata["min_cell"] = 5
    assert graph_min_cell(g.to_dict()) == 5
    v = store.save_version(p.id, g, author="dr_a", message="m", report=_raw_report())
    rows = store.get_version(v.id).report["targets"]["t"]["subgroups"]
    by = {(r["attribute"], r["group"]): r for r in rows}
    # 7 patients is shown at threshold 5; 3 is not, so the smallest other is hidden too
    assert by[("age_band", "40-64")]["n"] == "<5"
    assert by[("age_band", "18-39")]["n"] == HIDDEN
    assert by[("age_band", "65+")]["n"] == 190


def test_audit_delta_hides_a_prevalence_its_report_hides():
    before = _raw_report()
    before["targets"]["t"]["prevalence"] = 0.04  # 8 cases among 200
    after = _raw_report()
    after["targets"]["t"]["prevalence"] = 0.5
    delta = {
        "targets": {"t": {"prevalence": {"before": 0.04, "after": 0.5, "delta": 0.46}}},
    }
    out = protect_report_delta(delta, before, after, 11)
    assert out["targets"]["t"]["prevalence"] == {"before": None, "after": 0.5, "delta": None}
    assert out["privacy"]["min_cell"] == 11


@pytest.mark.slow
def test_report_panel_shows_protected_subgroups(demo_cohort, demo_graph):
    """At a threshold of 50 the demo's 41 cases among men are hidden in the panel, and the
    women's 55 with them (the age band row shows all 96 cases)."""
    from kg_editor.ui.editor.render import render_report

    cohort = dataclasses.replace(demo_cohort, settings={**demo_cohort.settings, "min_cell": 50})
    session = EditSession(cohort, demo_graph, bootstrap=0)
    raw = session.report.targets[session.targets[0]]
    sex = {r["group"]: r for r in raw["subgroups"] if r["attribute"] == "sex"}
    assert sex["M"]["positives"] < 50 <= sex["F"]["positives"]  # the premise

    table = render_report(session, None)["subgroups"]
    cells = [
        [str(td.children) for td in tr.children]
        for tr in _rows(table)
        if str(tr.children[0].children) == "sex"
    ]
    assert {c[1]: c[3] for c in cells} == {"M": "<50", "F": HIDDEN}
    # the men's row loses its AUROC and Brier with its cases
    assert [(c[4], c[5]) for c in cells if c[1] == "M"] == [("–", "–")]


def _rows(component: Any) -> list[Any]:
    """Every table row (html.Tr) below ``component``."""
    out = []
    stack = [component]
    while stack:
        c = stack.pop()
        if type(c).__name__ == "Tr":
            out.append(c)
        kids = getattr(c, "children", None)
        if isinstance(kids, list | tuple):
            stack.extend(kids)
        elif kids is not None and hasattr(kids, "children"):
            stack.append(kids)
    return out
