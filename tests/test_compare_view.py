"""The version-compare table: changes coloured by benefit (metric direction), readable names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kg_editor.model.report import METRICS
from kg_editor.ui.versions.view import benefit, comparison_table, metric_title
from kg_editor.versions.diff import metric_table

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _rows(table):
    data = json.loads(json.dumps(table.to_plotly_json(), default=lambda o: o.to_plotly_json()))
    body = data["props"]["children"][1]["props"]["children"]
    out = {}
    for tr in body:
        p = tr["props"]
        cells = p["children"]
        out[p["data-metric"]] = {
            "benefit": p["data-benefit"],
            "section": cells[0]["props"]["children"],
            "name": cells[1]["props"]["children"],
            "delta_class": cells[4]["props"]["className"],
        }
    return out


def test_changes_are_coloured_by_benefit_not_sign():
    ra = {
        "accuracy": {"loglik_per_patient": -4.0, "bic": -100.0},
        "targets": {"t": {"auroc": 0.80, "brier": 0.25, "ece": 0.05, "prevalence": 0.1}},
        "interpretability": {"edges": 10, "parameters": 40, "endorsed_share": 0.0},
    }
    rb = {
        "accuracy": {"loglik_per_patient": -4.5, "bic": -90.0},  # worse fit, higher BIC
        "targets": {"t": {"auroc": 0.75, "brier": 0.20, "ece": 0.05, "prevalence": 0.1}},
        "interpretability": {"edges": 12, "parameters": 44, "endorsed_share": 0.2},
    }
    rows = _rows(comparison_table(metric_table(ra, rb, labels=("A", "B")), ("A", "B"), "t"))
    assert rows["auroc"]["benefit"] == "worse"  # an AUROC loss is bad (it went down)
    assert rows["brier"]["benefit"] == "better"  # a Brier drop is good (it went down)
    assert rows["loglik_per_patient"]["benefit"] == "worse"
    # the project's BIC is pgmpy's score (log-likelihood minus penalty): higher is better
    assert METRICS["bic"].higher_is_better is True
    assert rows["bic"]["benefit"] == "better"
    assert rows["parameters"]["benefit"] == "worse"
    assert rows["endorsed_share"]["benefit"] == "better"
    assert rows["edges"]["benefit"] == "neutral" and rows["ece"]["benefit"] == "same"
    for r in rows.values():
        assert r["delta_class"] == f"num delta {r['benefit']}"
        assert "up" not in r["delta_class"].split() and "down" not in r["delta_class"].split()
    # readable names, never code names
    assert rows["loglik_per_patient"]["name"] == "Log-likelihood per patient (held out)"
    assert rows["auroc"]["section"] == "Target"
    for r in rows.values():
        assert "_" not in r["name"], r


def test_every_registered_metric_has_a_direction_aware_verdict_and_a_readable_name():
    for name, spec in METRICS.items():
        assert "_" not in metric_title(name)
        up, down = benefit(name, 1.0), benefit(name, -1.0)
        if spec.higher_is_better is None:
            assert up == down == "neutral"
        else:
            assert {up, down} == {"better", "worse"}
            assert (up == "better") is spec.higher_is_better
    assert benefit("auroc", None) == "same" and benefit("an_unknown_score", 2.0) == "neutral"


def test_teaching_css_no_longer_colours_every_delta_by_sign():
    """The teaching sheet's up/down colours are scoped to its belief-shift cells; the
    versions sheet colours by benefit."""
    teaching = re.sub(r"/\*.*?\*/", "", (ASSETS / "kg_teaching.css").read_text(), flags=re.S)
    for rule in re.findall(r"([^{}]+)\{[^}]*color:", teaching):
        for sel in rule.split(","):
            if ".delta.up" in sel or ".delta.down" in sel:
                assert sel.strip().startswith("td.shift"), sel
    versions = (ASSETS / "kg_versions.css").read_text()
    assert "td.delta.better" in versions and "td.delta.worse" in versions
