"""Inputs read exactly: one date format per column, integer dates by unit, malformed
files as one clear line with exit code 2, persons that do not match the events."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_editor.cli import main
from kg_editor.data.cohort import build_cohort
from kg_editor.data.sources import load_source
from kg_editor.data.sources.dates import detect_date_format, parse_dates
from kg_editor.discovery.distill import Distiller
from kg_editor.discovery.evidence import compute_pair_statistics, pair_evidence
from kg_editor.errors import DataSourceError, KGEditorError, SchemaError


def _cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI, assert exit 2 and exactly one stderr line without a traceback."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("kg-editor: error: ")
    return lines[0]


def _day_first_file(path: Path, n: int = 120) -> Path:
    """A causes B eight weeks later; dates written day-first (dd/mm/yyyy)."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        pid = f"P{i:03d}"
        if i % 2 == 0:
            a = pd.Timestamp("2020-01-12") + pd.Timedelta(days=int(rng.integers(0, 3)))
            rows.append((pid, "A", a.strftime("%d/%m/%Y")))
            if rng.random() < 0.8:
                b = a + pd.Timedelta(days=32)
                rows.append((pid, "B", b.strftime("%d/%m/%Y")))
        elif rng.random() < 0.1:
            rows.append((pid, "B", "13/02/2020"))
        rows.append((pid, "C", "01/01/2019"))
    pd.DataFrame(rows, columns=["patient_id", "code", "date"]).to_csv(path, index=False)
    return path


# -- dates ---------------------------------------------------------------------------
def test_one_format_per_column_day_first_detected_from_all_values():
    s = pd.Series(["05/04/2020", "13/04/2020", "01/12/2019"])
    assert detect_date_format(s) == "%d/%m/%Y"
    got = parse_dates(s).dt.strftime("%Y-%m-%d").tolist()
    assert got == ["2020-04-05", "2020-04-13", "2019-12-01"]  # 05/04 is 5 April, not 4 May
    assert detect_date_format(pd.Series(["04/05/2020", "04/13/2020"])) == "%m/%d/%Y"


def test_day_first_file_orients_edges_forward_in_time(tmp_path):
    f = _day_first_file(tmp_path / "ev.csv")
    cohort = build_cohort(load_source(f), min_patients=5, include_demographics=False)
    both = cohort.first_dates[["A", "B"]].dropna()
    assert len(both) > 30 and bool((both["A"] < both["B"]).all())
    ev = pair_evidence(compute_pair_statistics(cohort.data, dates=cohort.first_dates), "A", "B")
    # every patient with both has A first; pandas' mixed reading put B first in these rows
    assert ev["precedence"]["target_first"] in (0, "<11")
    assert ev["precedence"]["share_source_first"] == 1.0
    graph = Distiller().fit(cohort).graph_
    assert graph.has_edge("A", "B") and not graph.has_edge("B", "A")
    mixed = pd.to_datetime(pd.read_csv(f, dtype=str)["date"], format="mixed")
    assert mixed.min() < pd.Timestamp("2019-01-01") or mixed.max() > pd.Timestamp("2020-06-30")


def test_ambiguous_day_month_refused_naming_rows(tmp_path, capsys):
    f = tmp_path / "ev.csv"
    f.write_text("patient_id,code,date\n1,A,05/04/2020\n2,B,03/02/2021\n")
    line = _cli_error(capsys, ["cohort", str(f)])
    assert "ambiguous" in line and "row 1 (line 2 of the file)" in line and "'05/04/2020'" in line
    assert "--date-format %d/%m/%Y" in line
    src = load_source(f, date_format="%d/%m/%Y")
    assert src.events["date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-04-05", "2021-02-03"]


def test_day_first_and_month_first_in_one_column_refused():
    with pytest.raises(SchemaError, match="day-first and month-first") as err:
        parse_dates(pd.Series(["13/04/2020", "04/13/2020"]), where="ev.csv")
    assert "row 1 (line 2 of the file)" in str(err.value)


def test_mixed_layouts_in_one_column_refused():
    with pytest.raises(SchemaError, match="mixes date layouts"):
        parse_dates(pd.Series(["2020-04-05", "13/04/2020"]))


def test_integer_dates_need_a_declared_unit(tmp_path, capsys):
    days = [18262, 18263, 18300]  # 2020-01-01 ...
    pd.DataFrame({"patient_id": ["1", "2", "3"], "code": ["A", "B", "A"], "date": days}).to_parquet(
        tmp_path / "ev.parquet"
    )
    line = _cli_error(capsys, ["cohort", str(tmp_path / "ev.parquet")])
    assert "holds integers" in line and "18262" in line and "--date-unit" in line
    src = load_source(tmp_path / "ev.parquet", date_unit="days")
    assert src.events["date"].iloc[0] == pd.Timestamp("2020-01-01")
    secs = pd.Series([1_577_836_800])
    assert parse_dates(secs, date_unit="s").iloc[0] == pd.Timestamp("2020-01-01")
    ymd = pd.Series([20200131, 20191231])
    assert parse_dates(ymd, date_unit="yyyymmdd").iloc[0] == pd.Timestamp("2020-01-31")
    with pytest.raises(SchemaError, match="outside the years"):
        parse_dates(pd.Series([10**9]), date_unit="days")


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("2020-04-05T10:00:00Z", "time zone"),
        ("2020-04-05 10:00:00+02:00", "time zone"),
        ("1500-01-01", "outside the years"),
        ("9999-12-31", "outside the years"),
        ("2020-13-45", "cannot read"),
    ],
)
def test_bad_dates_are_one_line_exit_2(tmp_path, capsys, value, expect):
    f = tmp_path / "ev.csv"
    f.write_text(f"patient_id,code,date\n1,A,2020-01-01\n2,B,{value}\n")
    line = _cli_error(capsys, ["cohort", str(f)])
    assert expect in line and str(f) in line and value in line


def test_ragged_row_names_the_line(tmp_path, capsys):
    f = tmp_path / "ev.csv"
    f.write_text("patient_id,code,date\n1,A,2020-01-01\n2,B\n3,C,2020-01-02,extra\n")
    line = _cli_error(capsys, ["cohort", str(f)])
    assert "2 field(s) at line 3" in line and "header has 3" in line
    g = tmp_path / "long.csv"
    g.write_text('patient_id,code,description\n1,A,"quoted, fine"\n2,B,x,y\n')
    line = _cli_error(capsys, ["cohort", str(g)])
    assert "4 field(s) at line 3" in line


def test_unclosed_quote_names_the_line(tmp_path, capsys):
    f = tmp_path / "ev.csv"
    f.write_text('patient_id,code,description\n1,A,ok\n2,B,"never closed\n3,C,x\n')
    line = _cli_error(capsys, ["cohort", str(f)])
    assert "quote opened at line 3" in line


def test_corrupt_gzip_is_one_line(tmp_path, capsys):
    good = gzip.compress(b"patient_id,code\n1,A\n2,B\n")
    f = tmp_path / "ev.csv.gz"
    f.write_bytes(good[: len(good) // 2])
    line = _cli_error(capsys, ["cohort", str(f)])
    assert "not a readable gzip file" in line and str(f) in line
    f.write_bytes(b"not gzip at all")
    assert "not a readable gzip file" in _cli_error(capsys, ["cohort", str(f)])


def test_corrupt_parquet_is_one_line(tmp_path, capsys):
    f = tmp_path / "ev.parquet"
    f.write_bytes(b"PAR1 garbage")
    assert "not a readable Parquet file" in _cli_error(capsys, ["cohort", str(f)])


# -- persons -------------------------------------------------------------------------
def _events_and_persons(tmp_path: Path, person_ids: list[str]) -> tuple[Path, Path]:
    ev = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(80)],
            "code": ["A", "B"] * 40,
            "date": "2020-01-01",
        }
    )
    ev.to_csv(tmp_path / "ev.csv", index=False)
    pe = pd.DataFrame({"patient_id": person_ids, "sex": "F", "birth_year": 1970})
    pe.to_csv(tmp_path / "persons.csv", index=False)
    return tmp_path / "ev.csv", tmp_path / "persons.csv"


def test_persons_that_match_no_events_are_counted_and_warned(tmp_path, capsys):
    ev, pe = _events_and_persons(tmp_path, [str(i) for i in range(80)])  # ids "0".."79"
    src = load_source(ev, persons=pe)
    with pytest.warns(UserWarning, match=r"80 of 80 persons rows match no event") as rec:
        cohort = build_cohort(src, min_patients=5)
    assert "80 of 80 patients with events have no persons row" in str(rec[0].message)
    assert cohort.build_report["persons_without_events"] == 80
    assert cohort.build_report["event_patients_without_person"] == 80
    with pytest.raises(SchemaError, match="same patient ids"):
        build_cohort(src, min_patients=5, unmatched_persons="error")
    line = _cli_error(
        capsys, ["cohort", str(ev), "--persons", str(pe), "--unmatched-persons", "error"]
    )
    assert "match no event" in line


def test_matching_persons_give_no_warning(tmp_path):
    ev, pe = _events_and_persons(tmp_path, [f"P{i:03d}" for i in range(80)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohort = build_cohort(load_source(ev, persons=pe), min_patients=5)
    assert cohort.n_patients == 80 and cohort.build_report["persons_without_events"] == 0


def test_conflicting_duplicate_persons_rows_are_an_error_naming_them(tmp_path, capsys):
    ids = [f"P{i:03d}" for i in range(80)]
    ev, pe = _events_and_persons(tmp_path, ids)
    df = pd.read_csv(pe, dtype=str)
    df = pd.concat([df, df.iloc[[3]].assign(sex="M"), df.iloc[[5]]], ignore_index=True)
    df.to_csv(pe, index=False)
    line = _cli_error(capsys, ["cohort", str(ev), "--persons", str(pe)])
    assert "'P003'" in line and "row 4 (line 5 of the file)" in line and "row 81" in line
    assert "P005" not in line  # an identical repeat is merged, not an error
    df.drop(index=80).to_csv(pe, index=False)
    assert load_source(ev, persons=pe).persons["patient_id"].is_unique


def test_every_reader_error_is_a_kg_editor_error(tmp_path):
    f = tmp_path / "ev.csv"
    f.write_text("patient_id,code,date\n1,A,2020-01-01T00:00Z\n")
    with pytest.raises(KGEditorError):
        load_source(f)
    with pytest.raises(DataSourceError):
        load_source(tmp_path / "missing.csv.gz", kind="events")
