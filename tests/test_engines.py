"""The counts engine: one SQL definition, the same cohort and counts from pandas, DuckDB,
PostgreSQL and Spark (local), on the demo and on a synthetic cohort with categorical
values, undated events and persons without events."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import sqlglot
from _site_counts import assert_same_site_tables

from kg_editor.data.cohort import build_cohort
from kg_editor.data.sources import EHRSource
from kg_editor.discovery.counting import cooccurrence_duckdb, count_pairs
from kg_editor.engines import (
    EngineSource,
    EventsTable,
    Patterns,
    SparkEngine,
    Var,
    open_engine,
    render,
    variables_of,
)
from kg_editor.engines import queries as Q
from kg_editor.errors import DataSourceError, SchemaError


def synthetic_source(n: int = 400, seed: int = 7) -> EHRSource:
    """Events with dates (some missing), a categorical code, duplicates, and persons of
    whom some have no event."""
    rng = np.random.default_rng(seed)
    rows = []
    base = np.datetime64("2015-01-01")
    for i in range(n):
        pid = f"P{i:04d}"
        risk = rng.random()
        for k in range(8):
            if rng.random() < 0.15 + 0.6 * risk * (k % 3 == 0) + 0.05 * k:
                for _ in range(int(rng.integers(1, 3))):
                    d = base + np.timedelta64(int(rng.integers(0, 3000)), "D")
                    rows.append((pid, f"C{k}", None if rng.random() < 0.1 else d, None))
        if rng.random() < 0.7:
            for _ in range(int(rng.integers(1, 3))):
                d = base + np.timedelta64(int(rng.integers(0, 3000)), "D")
                val = str(rng.choice(["high", "low", "normal"])) if rng.random() < 0.9 else None
                rows.append((pid, "LAB", d, val))
    ev = pd.DataFrame(rows, columns=["patient_id", "code", "date", "value"])
    ev["date"] = pd.to_datetime(ev["date"])
    ev["description"] = ev["code"].map(lambda c: f"Code {c}")
    ev["domain"] = np.where(ev["code"] == "LAB", "measurement", "condition")
    # an engine has no row order: ties on a date are broken by the smaller value, so the
    # frame lists them in that order too
    ev = ev.sort_values("value", kind="stable", na_position="last").reset_index(drop=True)
    persons = pd.DataFrame(
        {
            "patient_id": [f"P{i:04d}" for i in range(n + 30)],
            "sex": rng.choice(np.array(["F", "M"]), n + 30),
            "birth_year": rng.integers(1935, 2000, n + 30),
        }
    )
    return EHRSource.from_frames(ev, persons, name="synthetic")


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_source()


@pytest.fixture(scope="module")
def synthetic_cohort(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_cohort(synthetic, target="C0", min_patients=10)


def _engine(kind: str, request: pytest.FixtureRequest):
    if kind == "duckdb":
        return open_engine("duckdb://")
    if kind == "postgres":
        return open_engine(request.getfixturevalue("pg_engine_url"))
    return SparkEngine(session=request.getfixturevalue("spark_session"))


ENGINE_KINDS = [
    "duckdb",
    "postgres",
    pytest.param("spark", marks=pytest.mark.slow),
]


def assert_same_cohort(a, b) -> None:
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.variables == b.variables
    pd.testing.assert_frame_equal(a.persons, b.persons)
    if a.first_dates is None:
        assert b.first_dates is None
    else:
        pd.testing.assert_frame_equal(a.first_dates, b.first_dates, check_names=False)
    np.testing.assert_array_equal(a.is_test, b.is_test)
    assert (a.target, a.settings) == (b.target, b.settings)
    assert a.build_report == b.build_report  # persons without events etc., counted alike
    assert a.fingerprint() == b.fingerprint()


# ------------------------------------------------------------------ the SQL definition
def test_every_query_spells_its_grouping_and_parses_in_every_dialect():
    ev = EventsTable("events")
    vs = [Var("I10", ("absent", "present")), Var("it's", ("absent", "high", "low"))]
    queries = [
        Q.first_occurrence_sql(ev),
        Q.code_values_sql(ev),
        Q.code_labels_sql(ev, "description"),
        Q.patient_dates_sql(ev),
        Q.wide_states_sql(ev, vs),
        Q.pattern_counts_sql(ev, vs, units="u", keys=["is_test"], min_count=5),
        Q.pattern_remainder_sql(ev, vs, units="u", keys=["is_test"], min_count=5),
        Q.pair_counts_sql(ev, vs, units="u"),
        Q.split_units_sql(ev, vs[0], persons=Q.PersonsTable("persons")),
    ]
    for sql in queries:
        for dialect in ("duckdb", "postgres", "spark", "snowflake", "bigquery"):
            text = render(sql, dialect)
            assert "GROUP BY ALL" not in text.upper()
            assert sqlglot.parse_one(text, read=dialect) is not None
    # a quote in a code is a literal, not SQL
    assert "'it''s'" in render(Q.wide_states_sql(ev, vs), "postgres")
    assert "`it''s`" not in render(Q.wide_states_sql(ev, vs), "spark")


def test_the_duckdb_pair_query_has_no_group_by_all():
    import inspect

    from kg_editor.discovery import counting

    assert "GROUP BY ALL" not in inspect.getsource(counting)
    ev = pd.DataFrame({"patient_id": [1, 1, 2, 2, 2], "code": ["x", "y", "y", "z", "y"]})
    names, m = cooccurrence_duckdb(ev)
    assert names == ["x", "y", "z"]
    assert m.tolist() == [[1, 1, 0], [1, 2, 1], [0, 1, 1]]


def test_unknown_engine_url_names_the_known_schemes():
    with pytest.raises(DataSourceError, match="duckdb://"):
        open_engine("oracle://db")


# ------------------------------------------------------------------ same cohort everywhere
@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_synthetic_cohort_is_the_same_from_every_engine(kind, request, synthetic, synthetic_cohort):
    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, synthetic.events, synthetic.persons, name="synthetic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = src.cohort(target="C0", min_patients=10)
    assert_same_cohort(synthetic_cohort, got)
    assert "LAB" in got.variables and len(got.variables["LAB"].states) == 5  # + present
    # pair counts of the event variables over the training split
    codes = [c for c in got.codes if c not in ("sex", "age_band")]
    expect = count_pairs(synthetic_cohort.train[codes], synthetic_cohort.states)
    pc = src.pair_counts(variables_of(got.states, codes), patients=synthetic_cohort.train.index)
    assert pc.n == expect.n
    np.testing.assert_array_equal(pc.matrix, expect.matrix)
    # weighted patterns with the split as a key column equal the compressed rows
    units = pd.DataFrame(
        {"patient_id": got.data.index, "is_test": np.where(got.is_test, "test", "train")}
    )
    pats = src.patterns(variables_of(got.states, codes), patients=units, keys=["is_test"])
    ref = Patterns.from_frame(
        got.data[codes], got.cardinalities, {"is_test": units["is_test"].to_numpy()}
    )
    assert isinstance(ref, Patterns)
    np.testing.assert_array_equal(pats.codes, ref.codes)
    np.testing.assert_array_equal(pats.weights, ref.weights)
    np.testing.assert_array_equal(pats.extra["is_test"], ref.extra["is_test"])
    assert pats.n == got.n_patients
    # suppression inside the engine: what is left out is stated, and adds up
    sup = src.patterns(variables_of(got.states, codes[:4]), min_count=5)
    assert (sup.weights >= 5).all()
    assert sup.n + sup.remainder[1] == got.n_patients
    full = src.patterns(variables_of(got.states, codes[:4]))
    assert sup.remainder[0] == int((full.weights < 5).sum())
    eng.close()


@pytest.mark.parametrize(
    "kind", ["duckdb", "postgres", pytest.param("spark", marks=pytest.mark.slow)]
)
def test_demo_cohort_and_counts_are_the_same_from_every_engine(
    kind, request, demo_source, demo_cohort
):
    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, demo_source.events, demo_source.persons, name="demo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = src.cohort(target="Gastrointestinal hemorrhage")
    got.source_name = demo_cohort.source_name
    assert_same_cohort(demo_cohort, got)
    codes = [c for c in got.codes if c not in ("sex", "age_band")]
    expect = count_pairs(demo_cohort.train[codes], demo_cohort.states)
    pc = src.pair_counts(variables_of(got.states, codes), patients=demo_cohort.train.index)
    np.testing.assert_array_equal(pc.matrix, expect.matrix)
    eng.close()


def test_events_parquet_file_is_read_where_it_is(tmp_path, synthetic, synthetic_cohort):
    path = tmp_path / "events.parquet"
    synthetic.events.to_parquet(path)
    src = EngineSource.open("duckdb://", str(path))
    codes = [c for c in synthetic_cohort.codes if c not in ("sex", "age_band")]
    pc = src.pair_counts(
        variables_of(synthetic_cohort.states, codes), patients=synthetic_cohort.train.index
    )
    expect = count_pairs(synthetic_cohort.train[codes], synthetic_cohort.states)
    np.testing.assert_array_equal(pc.matrix, expect.matrix)


# ------------------------------------------------------------------ sources by URL (CLI)
def test_cli_counts_a_duckdb_database_by_url(tmp_path, capsys, synthetic, synthetic_cohort):
    import duckdb

    from kg_editor.cli import main

    path = tmp_path / "site.duckdb"
    con = duckdb.connect(str(path))
    ev = synthetic.events  # noqa: F841 (read by DuckDB's replacement scan)
    pe = synthetic.persons  # noqa: F841
    con.execute("CREATE TABLE events AS SELECT * FROM ev")
    con.execute("CREATE TABLE people AS SELECT * FROM pe")
    con.close()
    argv = ["cohort", f"duckdb:///{path}", "--persons-table", "people", "--target", "C0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*argv, "--min-patients", "10", "--json"]) == 0
    got = __import__("json").loads(capsys.readouterr().out)
    ref = synthetic_cohort.summary()
    assert got["patients"] == ref["patients"] and got["split"] == ref["split"]
    assert got["variables"] == ref["variables"] and got["subgroups"] == ref["subgroups"]


def test_counts_export_from_postgresql_by_url(tmp_path, pg_engine_url, synthetic, synthetic_cohort):
    import psycopg

    from kg_editor.cli import main
    from kg_editor.model.external import SiteCounts
    from kg_editor.model.graph import CausalGraph

    eng = open_engine(pg_engine_url)
    with psycopg.connect(pg_engine_url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS cdm CASCADE")
        con.execute("CREATE SCHEMA cdm")
    eng.register("ev_tmp", synthetic.events)
    eng.register("pe_tmp", synthetic.persons)
    eng.execute("CREATE TABLE cdm.events AS SELECT * FROM ev_tmp")
    eng.execute("CREATE TABLE cdm.persons AS SELECT * FROM pe_tmp")
    eng.close()
    codes = ["C0", "C3", "C6", "LAB"]
    graph = CausalGraph.from_edges([("C3", "C0"), ("C6", "C0"), ("C0", "LAB")], nodes=codes)
    gpath = tmp_path / "g.json"
    graph.to_json(gpath)
    out = tmp_path / "site"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(
            [
                "counts",
                "export",
                pg_engine_url,
                "--events-table",
                "cdm.events",
                "--persons-table",
                "cdm.persons",
                "--target",
                "C0",
                "--min-patients",
                "10",
                "--graph",
                str(gpath),
                "--out",
                str(out),
                "--min-cell",
                "1",
            ]
        )
    assert rc == 0
    site = SiteCounts.read(out)
    direct = SiteCounts.from_cohort(synthetic_cohort, graph, ["C0"], min_cell=1)
    for name, t in direct.tables.items():
        pd.testing.assert_frame_equal(
            site.tables[name].rows.reset_index(drop=True),
            t.rows.astype({c: str for c in t.rows.columns if c != "n"}).reset_index(drop=True),
        )


# ------------------------------------------------------------------ a cohort of patterns only
@pytest.mark.parametrize(
    "kind", ["duckdb", "postgres", pytest.param("spark", marks=pytest.mark.slow)]
)
def test_pattern_cohort_from_the_engine_gives_the_row_level_session(
    kind, request, synthetic, synthetic_cohort
):
    import dataclasses

    from kg_editor.engines.queries import split_units_sql
    from kg_editor.model.graph import CausalGraph
    from kg_editor.model.session import EditSession

    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, synthetic.events, synthetic.persons, name="synthetic")
    pc = src.pattern_cohort(target="C0", min_patients=10, test_size=0.25, seed=3)
    codes = [c for c in synthetic_cohort.codes if c not in ("sex", "age_band")]
    assert pc.codes == codes and pc.n_patients == synthetic_cohort.n_patients
    # the engine's split, per patient (read here only to build the row-level reference)
    split = src._q(
        split_units_sql(
            src.events, Var("C0", pc.states["C0"]), test_size=0.25, seed=3, persons=src.persons
        )
    ).set_index("patient_id")
    is_test = (split["split"].reindex(synthetic_cohort.data.index) == "test").to_numpy()
    y = synthetic_cohort.data["C0"].to_numpy()
    for state in (0, 1):  # stratified: round(test_size * m) of each state held out
        assert is_test[y == state].sum() == round(0.25 * (y == state).sum())
    rows = dataclasses.replace(
        synthetic_cohort,
        data=synthetic_cohort.data[codes],
        variables={c: synthetic_cohort.variables[c] for c in codes},
        is_test=is_test,
    )
    ages = split["age_band"].reindex(rows.data.index).to_numpy()
    np.testing.assert_array_equal(ages, rows.persons["age_band"].to_numpy())
    graph = CausalGraph.from_edges([("C3", "C0"), ("C6", "C0"), ("C0", "LAB")], nodes=codes)
    a = EditSession(rows, graph, targets=["C0"], bootstrap=0)
    b = EditSession(pc, graph, targets=["C0"], bootstrap=0)
    assert b.patterns and b._train.n_rows < b._train.n
    for sa, sb in ((a, b),):
        ra, rb = sa.report.to_dict(), sb.report.to_dict()
        for k in ("loglik_per_patient", "bic", "bdeu", "n_train", "n_test"):
            assert ra["accuracy"][k] == pytest.approx(rb["accuracy"][k], rel=1e-9, abs=1e-9)
        for k in ("auroc", "brier", "accuracy", "ece", "n"):
            assert ra["targets"]["C0"][k] == pytest.approx(rb["targets"]["C0"][k], rel=1e-9)
        assert [r["n"] for r in ra["targets"]["C0"]["subgroups"]] == [
            r["n"] for r in rb["targets"]["C0"]["subgroups"]
        ]
    a.add("C1", "C0")
    b.add("C1", "C0")
    assert a.report.targets["C0"]["auroc"] == pytest.approx(
        b.report.targets["C0"]["auroc"], rel=1e-9
    )
    # suppression inside the engine: kept patterns only, remainder stated
    sup = src.pattern_cohort(target="C0", min_patients=10, min_count=3)
    assert (sup.train_patterns.weights >= 1).all()
    assert sup.n_patients + sup.train_patterns.remainder[1] == synthetic_cohort.n_patients
    eng.close()


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_site_tables_suppressed_inside_the_engine_equal_the_cohort_tables(
    kind, request, synthetic, synthetic_cohort
):
    from kg_editor.model.external import SiteCounts
    from kg_editor.model.graph import CausalGraph

    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, synthetic.events, synthetic.persons, name="site")
    codes = ["C0", "C3", "C6", "LAB"]
    graph = CausalGraph.from_edges([("C3", "C0"), ("C6", "C0"), ("C0", "LAB")], nodes=codes)
    for k in (1, 5):
        got = SiteCounts.from_engine(src, graph, ["C0"], min_cell=k)
        ref = SiteCounts.from_cohort(synthetic_cohort, graph, ["C0"], min_cell=k)
        assert got.patients == ref.patients == synthetic_cohort.n_patients
        assert_same_site_tables(got, ref, k)
    eng.close()


def test_a_table_without_the_optional_columns_is_read(synthetic, synthetic_cohort):
    import duckdb

    from kg_editor.engines import DuckDBEngine

    con = duckdb.connect()
    ev = synthetic.events[["patient_id", "code"]]  # noqa: F841 (DuckDB replacement scan)
    con.execute("CREATE TABLE events AS SELECT * FROM ev")
    src = EngineSource.open(DuckDBEngine(con=con), "events")
    assert src.events.date is None and src.events.value is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = src.cohort(target="C0", min_patients=10, include_demographics=False)
    # no values: every code is binary; no dates: no first dates
    assert got.first_dates is None and all(len(v.states) == 2 for v in got.variables.values())
    np.testing.assert_array_equal(
        got.data["C0"].to_numpy() > 0, synthetic_cohort.data.loc[got.data.index, "C0"] > 0
    )


def test_engine_cohort_keeps_min_cell_and_counts_unmatched_persons(synthetic):
    """The small-cell threshold is recorded; persons without events are counted.
    (Concept sets and index dates: tests/test_engine_concepts.py.)"""
    src = EngineSource.from_frames(
        open_engine("duckdb://"), synthetic.events, synthetic.persons, name="synthetic"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = src.cohort(target="C0", min_patients=10, min_cell=5)
    assert got.settings["min_cell"] == 5
    # event patients without a persons row: counted, and an error when asked
    few = EngineSource.from_frames(
        open_engine("duckdb://"), synthetic.events, synthetic.persons.iloc[5:], name="few"
    )
    with pytest.raises(SchemaError, match="persons row"):
        few.cohort(target="C0", min_patients=10, unmatched_persons="error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert few.cohort(target="C0", min_patients=10).build_report[
            "event_patients_without_person"
        ] == len(
            set(synthetic.events["patient_id"]) - set(synthetic.persons.iloc[5:]["patient_id"])
        )


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_packed_patterns_of_binary_codes_by_bit_or_equal_the_rows(
    kind, request, synthetic, synthetic_cohort
):
    """Binary variables only: the packed words come from a BIT_OR over the events (no
    grouping into first occurrences); the patterns equal those of the cohort's rows, and
    those of the same variables with a categorical one (the grouping path) marginalized."""
    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, synthetic.events, synthetic.persons, name="synthetic")
    binary = [c for c in synthetic_cohort.codes if c.startswith("C")]
    assert len(binary) >= 5 and all(len(synthetic_cohort.states[c]) == 2 for c in binary)
    vs = variables_of(synthetic_cohort.states, binary)
    got = src.patterns(vs)
    want = Patterns.from_frame(synthetic_cohort.data[binary], {c: 2 for c in binary}, {})
    np.testing.assert_array_equal(got.codes, want.codes)
    np.testing.assert_array_equal(got.weights, want.weights)
    mixed = src.patterns(variables_of(synthetic_cohort.states, [*binary, "LAB"]))
    marg = mixed.marginal(binary)
    np.testing.assert_array_equal(got.codes, marg.codes)
    np.testing.assert_array_equal(got.weights, marg.weights)
    eng.close()
