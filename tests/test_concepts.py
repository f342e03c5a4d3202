"""Concept sets, ICD roll-ups and code mappings applied when the cohort is built."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from kg_editor.cli import main
from kg_editor.data.cohort import build_cohort
from kg_editor.data.concepts import (
    ConceptSets,
    apply_concept_sets,
    icd_category,
    read_concept_sets,
)
from kg_editor.data.sources import load_source
from kg_editor.data.sources.demo import demo_database_path
from kg_editor.discovery.distill import Distiller
from kg_editor.errors import DataSourceError, SchemaError

#: Peptic ulcer and the five GI conditions nested in it in the demo.
GI_IDS = [4027663, 30753, 4266809, 4310024, 81893, 4285898]
GI_BLEED = "192671"
NAME = "GI mucosal disease"


def _duckdb_counts(person_ids: list[int] | None = None) -> tuple[int, int]:
    """Patients with any GI concept, and those who also have GI haemorrhage, by SQL."""
    con = duckdb.connect(str(demo_database_path()), read_only=True)
    restrict = "AND person_id IN (SELECT unnest(?::BIGINT[]))" if person_ids is not None else ""
    params: list[object] = [GI_IDS] + ([person_ids] if person_ids is not None else [])
    n_a = con.execute(
        "SELECT COUNT(DISTINCT person_id) FROM condition_occurrence "
        f"WHERE condition_concept_id IN (SELECT unnest(?::BIGINT[])) {restrict}",
        params,
    ).fetchone()[0]
    n11 = con.execute(
        "SELECT COUNT(DISTINCT a.person_id) FROM condition_occurrence a "
        "JOIN condition_occurrence b ON a.person_id = b.person_id "
        "WHERE a.condition_concept_id IN (SELECT unnest(?::BIGINT[])) "
        f"AND b.condition_concept_id = 192671 {restrict.replace('person_id', 'a.person_id')}",
        params,
    ).fetchone()[0]
    con.close()
    return int(n_a), int(n11)


@pytest.fixture(scope="module")
def merged_cohort(tmp_path_factory, demo_source):
    f = tmp_path_factory.mktemp("cs") / "concepts.yaml"
    f.write_text(f"{NAME}:\n  concept_ids: {GI_IDS}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_cohort(demo_source, target="Gastrointestinal hemorrhage", concepts=f)


def test_demo_concept_set_gives_one_variable_whose_counts_equal_duckdb(merged_cohort):
    code = "concept:" + NAME
    assert code in merged_cohort.codes
    for cid in GI_IDS:
        assert str(cid) not in merged_cohort.codes  # the members are merged away
    var = merged_cohort.variables[code]
    n_a, n11 = _duckdb_counts()
    assert var.n_patients == n_a and var.label == NAME and var.domain == "condition"
    both = int(((merged_cohort.data[code] == 1) & (merged_cohort.data[GI_BLEED] == 1)).sum())
    assert both == n11
    assert merged_cohort.build_report["concept_sets"][code] == sorted(str(i) for i in GI_IDS)
    assert merged_cohort.settings["concepts"][NAME]["concept_ids"] == GI_IDS


def test_demo_concept_set_edge_to_gi_bleeding_matches_duckdb_on_training_patients(
    merged_cohort,
):
    graph = Distiller().fit(merged_cohort).graph_
    code = "concept:" + NAME
    edge = (code, GI_BLEED) if graph.has_edge(code, GI_BLEED) else (GI_BLEED, code)
    assert graph.has_edge(*edge)
    ev = graph.edge_attrs(*edge)["evidence"]
    train_ids = [int(p) for p in merged_cohort.train.index]
    n_a, n11 = _duckdb_counts(train_ids)
    counts = ev["counts"]
    assert counts["n11"] == n11
    assert counts["n_a" if edge[0] == code else "n_b"] == n_a


def test_descendants_expand_an_omop_concept_id(demo_source):
    sets = ConceptSets.from_dict({"Sinusitis": {"concept_ids": [4283893], "descendants": True}})
    res = apply_concept_sets(demo_source.events, sets, expand=demo_source.descendants)
    members = res.members["concept:Sinusitis"]
    assert "4283893" in members and len(members) >= 3
    no_desc = ConceptSets.from_dict({"Sinusitis": {"concept_ids": [4283893]}})
    assert apply_concept_sets(demo_source.events, no_desc).members["concept:Sinusitis"] == [
        "4283893"
    ]


def _icd_events(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(200):
        pid = f"P{i:03d}"
        rows.append((pid, "I10", "2020-01-01", "Hypertension"))
        if i < 60:
            rows.append((pid, "584.9", "2012-05-01", "Acute kidney failure, unspecified"))
        elif i < 120:
            rows.append((pid, "N17.9", "2019-05-01", "Acute kidney failure, unspecified"))
        if rng.random() < 0.3:
            rows.append((pid, "K25.4" if i % 2 else "K25.9", "2020-02-02", "Gastric ulcer"))
        if rng.random() < 0.5:
            rows.append((pid, "E11.9", "2018-02-02", "Type 2 diabetes"))
    f = tmp_path / "icd.csv"
    pd.DataFrame(rows, columns=["patient_id", "code", "date", "description"]).to_csv(f, index=False)
    return f


def test_icd_roll_up_and_user_mapping_merge_icd9_and_icd10_twins(tmp_path):
    f = _icd_events(tmp_path)
    plain = build_cohort(load_source(f), min_patients=5, include_demographics=False)
    assert {"584.9", "N17.9", "K25.4", "K25.9"} <= set(plain.codes)
    (tmp_path / "map.csv").write_text("icd9,icd10\n584.9,N17.9\n")
    (tmp_path / "cs.yaml").write_text("roll_up: icd3\nmapping: map.csv\n")
    rolled = build_cohort(
        load_source(f), min_patients=5, include_demographics=False, concepts=tmp_path / "cs.yaml"
    )
    assert "N17" in rolled.codes and "584" not in rolled.codes and "584.9" not in rolled.codes
    assert rolled.variables["N17"].n_patients == 120  # 60 ICD-9 + 60 ICD-10 patients
    assert rolled.variables["K25"].n_patients == int(
        plain.variables["K25.4"].n_patients + plain.variables["K25.9"].n_patients
    )
    assert rolled.variables["N17"].label == "N17 (ICD category)"


def test_concept_set_file_through_the_cli(tmp_path, capsys):
    f = _icd_events(tmp_path)
    cs = tmp_path / "cs.json"
    cs.write_text(json.dumps({"Kidney": {"codes": ["584.9"], "prefixes": ["N17"]}}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["cohort", str(f), "--concepts", str(cs), "--min-patients", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    kidney = next(v for v in out["variables"] if v["code"] == "concept:Kidney")
    assert kidney["patients"] == 120 and kidney["label"] == "Kidney"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("A: {codes: [I10]}\nB: {prefixes: [I1]}\n", "in both concept sets"),
        ("A: {codes: [Z99]}\n", "matches no event"),
        ("A: {colours: [red]}\n", "unknown key"),
        ("A: {patterns: ['[']}\n", "not a valid regular expression"),
        ("A: {}\n", "is empty"),
        ("roll_up: icd4\n", "unknown roll_up"),
    ],
)
def test_bad_concept_sets_are_clear_errors(tmp_path, text, match):
    f = _icd_events(tmp_path)
    (tmp_path / "cs.yaml").write_text(text)
    with pytest.raises(SchemaError, match=match):
        build_cohort(load_source(f), min_patients=5, concepts=tmp_path / "cs.yaml")


def test_unreadable_concept_file_is_one_line(tmp_path, capsys):
    f = _icd_events(tmp_path)
    (tmp_path / "cs.yaml").write_text("A: [unclosed\n")
    with pytest.raises(DataSourceError, match="not valid YAML"):
        read_concept_sets(tmp_path / "cs.yaml")
    assert main(["cohort", str(f), "--concepts", str(tmp_path / "cs.yaml")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_icd_roll_up_refused_on_omop_concept_ids(demo_source):
    with pytest.raises(SchemaError, match="concept ids"):
        build_cohort(demo_source, concepts=ConceptSets(roll_up="icd3"))


def test_icd_category_rules():
    assert icd_category("K25.4") == "K25" and icd_category("k254") == "K25"
    assert icd_category("V45.81") == "V45" and icd_category("E880.1") == "E880"
    assert icd_category("E11") == "E11" and icd_category("4027663") is None
