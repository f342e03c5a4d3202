"""Index date and time windows: features are measured before the index, the target after."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_editor.cli import main
from kg_editor.data.cohort import build_cohort
from kg_editor.data.sources import load_source
from kg_editor.errors import SchemaError

N = 150


def _written_file(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    """Admission ADM is the index; codes before and after it; STROKE is the outcome.

    ``OLD`` is recorded 3 years before the index, ``PRE`` 30 days before, ``POST`` 30
    days after (it must never be a feature), ``STROKE`` 10 or 400 days after.
    Patients P140-P149 have no admission.
    """
    rng = np.random.default_rng(7)
    rows = []
    persons = []
    for i in range(N):
        pid = f"P{i:03d}"
        idx = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        persons.append((pid, "F" if i % 2 else "M", 1950 + i % 30, idx.strftime("%Y-%m-%d")))
        if i >= 140:
            rows.append((pid, "PRE", (idx - pd.Timedelta(days=30)).strftime("%Y-%m-%d")))
            continue
        rows.append((pid, "ADM", idx.strftime("%Y-%m-%d")))
        if i % 2 == 0:
            rows.append((pid, "PRE", (idx - pd.Timedelta(days=30)).strftime("%Y-%m-%d")))
        if i % 3 == 0:
            rows.append((pid, "OLD", (idx - pd.Timedelta(days=3 * 365)).strftime("%Y-%m-%d")))
        if i % 5 != 0:
            rows.append((pid, "POST", (idx + pd.Timedelta(days=30)).strftime("%Y-%m-%d")))
        if i % 4 == 0:
            rows.append((pid, "STROKE", (idx + pd.Timedelta(days=10)).strftime("%Y-%m-%d")))
        elif i % 4 == 1:
            rows.append((pid, "STROKE", (idx + pd.Timedelta(days=400)).strftime("%Y-%m-%d")))
        elif i % 4 == 2:
            rows.append((pid, "STROKE", (idx - pd.Timedelta(days=90)).strftime("%Y-%m-%d")))
    ev = pd.DataFrame(rows, columns=["patient_id", "code", "date"])
    ev.to_csv(tmp_path / "events.csv", index=False)
    pe = pd.DataFrame(persons, columns=["patient_id", "sex", "birth_year", "index_date"])
    pe.to_csv(tmp_path / "persons.csv", index=False)
    return tmp_path / "events.csv", tmp_path / "persons.csv", ev


def _build(ev: Path, pe: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_cohort(
            load_source(ev, persons=pe), min_patients=5, include_demographics=False, **kw
        )


def test_only_pre_index_codes_become_features(tmp_path):
    ev, pe, _ = _written_file(tmp_path)
    c = _build(ev, pe, index="ADM", target="STROKE")
    assert "POST" not in c.codes and "ADM" not in c.codes  # after / at the index: never features
    assert {"PRE", "OLD", "STROKE"} <= set(c.codes)
    assert c.n_patients == 140
    assert c.build_report["patients_without_index"] == 10
    idx = pd.read_csv(ev).query("code == 'ADM'").set_index("patient_id")["date"]
    idx = pd.to_datetime(idx)
    for code in ("PRE", "OLD"):
        d = c.first_dates[code].dropna()
        assert (d < idx.reindex(d.index)).all()
    # the target: on or after the index only (a stroke 90 days before does not count)
    stroke = c.data["STROKE"]
    pids = np.array([int(p[1:]) for p in c.data.index])
    assert (stroke.to_numpy() == np.isin(pids % 4, [0, 1]).astype(int)).all()


def test_look_back_and_outcome_windows(tmp_path):
    ev, pe, _ = _written_file(tmp_path)
    c = _build(ev, pe, index="ADM", target="STROKE", lookback_days=365, outcome_days=30)
    assert "OLD" not in c.codes and "PRE" in c.codes
    pids = np.array([int(p[1:]) for p in c.data.index])
    assert (c.data["STROKE"].to_numpy() == (pids % 4 == 0).astype(int)).all()
    assert c.settings["lookback_days"] == 365 and c.settings["outcome_days"] == 30
    assert c.build_report["events_outside_windows"] > 0


def test_index_from_the_persons_date_column_and_age_at_index(tmp_path):
    ev, pe, _ = _written_file(tmp_path)
    c = _build(ev, pe, index="persons", target="STROKE")
    assert c.n_patients == N  # every person has an index date
    assert c.settings["age_at"] == "index"
    births = pd.read_csv(pe).set_index("patient_id")["birth_year"]
    age = 2020 - births  # every index is in 2020
    expect = pd.Series(np.where(age >= 65, "65+", "40-64"), index=births.index)
    assert (c.persons["age_band"] == expect.reindex(c.persons.index)).all()
    assert set(expect) == {"65+", "40-64"}


def test_index_through_the_cli_reports_patients_without_index(tmp_path, capsys):
    ev, pe, _ = _written_file(tmp_path)
    argv = ["cohort", str(ev), "--persons", str(pe), "--index", "ADM", "--target", "STROKE"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*argv, "--min-patients", "5", "--lookback-days", "365", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["build"]["patients_without_index"] == "<11"  # 10 patients: a count, suppressed
    assert out["build"]["patients_with_index"] == 140
    assert "OLD" not in [v["code"] for v in out["variables"]]


def test_index_errors(tmp_path):
    ev, pe, _ = _written_file(tmp_path)
    with pytest.raises(SchemaError, match="needs an index date"):
        _build(ev, pe, lookback_days=30)
    with pytest.raises(KeyError, match="No index code named 'ADMX'"):
        _build(ev, pe, index="ADMX")
    with pytest.raises(SchemaError, match="0 or more days"):
        _build(ev, pe, index="ADM", lookback_days=-1)
    with pytest.raises(SchemaError, match="index_date"):
        build_cohort(load_source(ev), index="persons", min_patients=5)
