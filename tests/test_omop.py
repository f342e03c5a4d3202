"""OMOP CDM reading: names that cannot inject SQL, concept id 0, measurements, descendants,
age at the index date."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from kg_editor.cli import main
from kg_editor.data.cohort import build_cohort
from kg_editor.data.sources import load_source
from kg_editor.data.sources.demo import demo_database_path
from kg_editor.data.sources.omop import omop_descendants
from kg_editor.errors import DataSourceError

N = 80


def _omop_folder(root: Path) -> Path:
    """A small CDM folder: 80 persons, conditions (some concept id 0), measurements."""
    root.mkdir(parents=True, exist_ok=True)
    pids = list(range(1, N + 1))
    pd.DataFrame(
        {
            "person_id": pids,
            "gender_concept_id": [8507 if p % 2 else 8532 for p in pids],
            "year_of_birth": [1950 + p % 40 for p in pids],
        }
    ).to_csv(root / "person.csv", index=False)
    cond = []
    for p in pids:
        cond.append((p, 201826, f"20{10 + p % 10}-03-01", "E11.9"))  # diabetes, everyone
        if p % 3 == 0:
            cond.append((p, 0, "2015-05-05", "X99.1"))  # unmapped
        if p % 4 == 0:
            cond.append((p, 4329847, "2018-07-07", "I21.9"))  # myocardial infarction
    pd.DataFrame(
        cond,
        columns=[
            "person_id",
            "condition_concept_id",
            "condition_start_date",
            "condition_source_value",
        ],
    ).to_csv(root / "condition_occurrence.csv", index=False)
    meas = []
    for p in pids:
        v = [3.0, 5.0, 9.0][p % 3]
        meas.append((p, 3004410, "2016-01-01", v, 4.0, 6.0, None, "hba1c"))
        if p % 2 == 0:
            meas.append((p, 3000963, "2016-01-01", None, None, None, 45876384 + p % 2, "hb"))
    pd.DataFrame(
        meas,
        columns=[
            "person_id",
            "measurement_concept_id",
            "measurement_date",
            "value_as_number",
            "range_low",
            "range_high",
            "value_as_concept_id",
            "measurement_source_value",
        ],
    ).to_csv(root / "measurement.csv", index=False)
    pd.DataFrame(
        {
            "concept_id": [201826, 4329847, 3004410, 3000963, 45876384],
            "concept_name": [
                "Type 2 diabetes mellitus",
                "Myocardial infarction",
                "Hemoglobin A1c",
                "Hemoglobin",
                "Positive",
            ],
            "concept_class_id": ["Clinical Finding"] * 5,
        }
    ).to_csv(root / "concept.csv", index=False)
    return root


def test_crafted_file_and_folder_names_read_as_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = _omop_folder(tmp_path / "cdm'); COPY (SELECT 1) TO 'pwned_dir.csv'; --")
    crafted = "x\" AS SELECT 1; COPY (SELECT 42) TO 'pwned.csv'; CREATE VIEW \"y.csv"
    (folder / crafted).write_text("a\n1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["cohort", str(folder), "--json"]) == 0
    assert not list(tmp_path.rglob("pwned*")), "a file name was executed as SQL"
    src = load_source(folder)
    assert src.n_patients == N
    assert src.notes["skipped_files"] == [crafted]


def test_concept_id_zero_dropped_and_counted_by_default(tmp_path):
    src = load_source(_omop_folder(tmp_path / "cdm"))
    assert src.notes["unmapped_rows"] == {"condition": N // 3}
    assert not src.events["code"].str.startswith("unmapped:").any()
    cohort = build_cohort(src, min_patients=5)
    assert cohort.build_report["codes_seen"] >= 3
    assert all(not c.startswith("unmapped:") for c in cohort.codes)


def test_concept_id_zero_kept_as_a_labelled_source_variable(tmp_path):
    src = load_source(_omop_folder(tmp_path / "cdm"), unmapped="source")
    cohort = build_cohort(src, min_patients=5)
    var = cohort.variables["unmapped:condition:X99.1"]
    assert var.label == "X99.1 (unmapped condition source value)"
    assert var.n_patients == N // 3


def test_measurements_become_low_normal_high_and_value_concepts(tmp_path):
    src = load_source(_omop_folder(tmp_path / "cdm"))
    cohort = build_cohort(src, min_patients=5)
    hba1c = cohort.variables["3004410"]
    assert hba1c.label == "Hemoglobin A1c"
    assert hba1c.states == ("absent", "high", "low", "normal")
    col = cohort.labelled()["3004410"]
    pids = cohort.data.index.astype(int)
    expect = pd.Series(["low", "normal", "high"], dtype=object)[pids % 3].to_numpy()
    assert (col.astype(str).to_numpy() == expect).all()
    hb = cohort.variables["3000963"]
    assert "positive" in hb.states and hb.n_patients == N // 2


def test_out_of_range_omop_date_is_one_line(tmp_path, capsys):
    folder = _omop_folder(tmp_path / "cdm")
    f = folder / "condition_occurrence.csv"
    f.write_text(f.read_text() + "1,201826,9999-12-31,E11.9\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["cohort", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "9999-12-31" in err[0] and "condition_start_date" in err[0]


def test_corrupt_gzip_in_an_omop_folder_is_one_line(tmp_path, capsys):
    folder = _omop_folder(tmp_path / "cdm")
    data = gzip.compress((folder / "measurement.csv").read_bytes())
    (folder / "measurement.csv").unlink()
    (folder / "measurement.csv.gz").write_bytes(data[:40])
    with pytest.raises(DataSourceError):
        load_source(folder)
    assert main(["cohort", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "measurement.csv.gz" in err[0]


def test_descendants_come_from_concept_ancestor_with_a_bound_parameter():
    path = str(demo_database_path())
    got = omop_descendants(path, [4283893])  # sinusitis: chronic, acute bacterial, viral
    con = duckdb.connect(path, read_only=True)
    want = {
        str(r[0])
        for r in con.execute(
            "SELECT CAST(descendant_concept_id AS BIGINT) FROM concept_ancestor "
            "WHERE ancestor_concept_id = 4283893"
        ).fetchall()
    }
    con.close()
    assert got == want | {"4283893"} and len(got) >= 4


def test_age_at_the_index_date_not_at_birth(tmp_path):
    folder = _omop_folder(tmp_path / "cdm")
    src = load_source(folder)
    # histories that start at birth: an event in the birth year makes every age 0
    births = src.persons.set_index("patient_id")["birth_year"]
    extra = pd.DataFrame(
        {
            "person_id": births.index.astype(int),
            "condition_concept_id": 4329847,
            "condition_start_date": [f"{int(y)}-06-01" for y in births],
            "condition_source_value": "birth",
        }
    )
    f = folder / "condition_occurrence.csv"
    pd.concat([pd.read_csv(f), extra]).to_csv(f, index=False)
    src = load_source(folder)
    at_first = build_cohort(src, min_patients=5)
    assert set(at_first.persons["age_band"]) == {"0-17"}
    at_index = build_cohort(src, min_patients=5, index="Type 2 diabetes mellitus")
    assert at_index.settings["age_at"] == "index"
    ages = at_index.persons["age_band"].value_counts()
    assert ages.get("0-17", 0) == 0 and ages.sum() == N
    assert os.path.exists(folder / "person.csv")
