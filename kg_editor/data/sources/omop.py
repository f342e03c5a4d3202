"""OMOP CDM reader: a DuckDB database file or a folder of CDM CSV files.

Reads ``person`` and the event tables ``condition_occurrence``, ``drug_exposure`` (rolled
up to ingredients through ``concept_ancestor`` where present), ``procedure_occurrence``
and ``observation``, with names from ``concept``. A concept id of 0 ("No matching
concept") keeps the source value as its code, prefixed with the domain. Databases are
opened read-only; nothing is ever written to them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import duckdb

from kg_editor.data.sources.base import EHRSource, register_reader
from kg_editor.data.sources.events import normalise_events, normalise_persons
from kg_editor.errors import DataSourceError, SchemaError

__all__ = ["OMOP_DOMAINS", "read_omop"]

logger = logging.getLogger(__name__)

#: domain -> (table, concept column, date column, source value column)
OMOP_DOMAINS: dict[str, tuple[str, str, str, str]] = {
    "condition": (
        "condition_occurrence",
        "condition_concept_id",
        "condition_start_date",
        "condition_source_value",
    ),
    "drug": ("drug_exposure", "drug_concept_id", "drug_exposure_start_date", "drug_source_value"),
    "procedure": (
        "procedure_occurrence",
        "procedure_concept_id",
        "procedure_date",
        "procedure_source_value",
    ),
    "observation": (
        "observation",
        "observation_concept_id",
        "observation_date",
        "observation_source_value",
    ),
}


def _is_omop(spec: str) -> bool:
    p = Path(spec)
    if p.is_file() and p.suffix.lower() in (".duckdb", ".db"):
        return True
    if p.is_dir():
        return any(f.name.lower() in ("person.csv", "person.csv.gz") for f in p.iterdir())
    return False


def _connect(spec: str) -> duckdb.DuckDBPyConnection:
    p = Path(spec)
    if not p.exists():
        raise DataSourceError(f"The OMOP source {p} does not exist.")
    if p.is_file():
        try:
            return duckdb.connect(str(p), read_only=True)
        except duckdb.Error as exc:
            raise DataSourceError(f"{p} is not a readable DuckDB database: {exc}") from exc
    con = duckdb.connect()
    for f in sorted(p.iterdir()):
        name = f.name.lower()
        for suffix in (".csv.gz", ".csv"):
            if name.endswith(suffix):
                table = name[: -len(suffix)]
                path = str(f).replace("'", "''")
                con.execute(
                    f"CREATE VIEW \"{table}\" AS SELECT * FROM read_csv('{path}', header=true, "
                    "sample_size=-1, nullstr='')"
                )
                break
    return con


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {str(r[0]).lower() for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {str(r[0]).lower() for r in con.execute(f'DESCRIBE "{table}"').fetchall()}


def read_omop(
    spec: str,
    domains: Sequence[str] = ("condition", "drug", "procedure", "observation"),
    **_: object,
) -> EHRSource:
    """Read an OMOP CDM database (DuckDB file) or a folder of CDM CSVs.

    Parameters
    ----------
    spec : str
        Path to a ``.duckdb`` file or a folder holding ``person.csv`` etc. (any case).
    domains : sequence of str
        Which event domains to read (keys of :data:`OMOP_DOMAINS`).
    """
    con = _connect(spec)
    try:
        tables = _tables(con)
        if "person" not in tables:
            raise SchemaError(
                f"{spec}: no 'person' table; an OMOP CDM source needs one.", column="person"
            )
        has_concept = "concept" in tables
        has_ancestor = "concept_ancestor" in tables and has_concept
        parts = []
        for dom in domains:
            if dom not in OMOP_DOMAINS:
                raise DataSourceError(
                    f"Unknown OMOP domain {dom!r}; choose from {', '.join(OMOP_DOMAINS)}."
                )
            table, cid, dcol, scol = OMOP_DOMAINS[dom]
            if table not in tables:
                logger.info("OMOP source %s has no %s table; skipped", spec, table)
                continue
            cols = _columns(con, table)
            missing = [c for c in ("person_id", cid) if c not in cols]
            if missing:
                raise SchemaError(
                    f"{spec}: table {table} lacks column(s) {', '.join(missing)}; found {', '.join(sorted(cols))}.",
                    column=missing[0],
                )
            date_expr = f"CAST(t.{dcol} AS DATE)" if dcol in cols else "CAST(NULL AS DATE)"
            src_expr = f"CAST(t.{scol} AS VARCHAR)" if scol in cols else "CAST(NULL AS VARCHAR)"
            concept_expr = f"CAST(t.{cid} AS BIGINT)"
            if dom == "drug" and has_ancestor:
                # roll up to ingredient where the vocabulary says how
                concept_expr = (
                    f"COALESCE((SELECT MIN(ca.ancestor_concept_id) FROM concept_ancestor ca "
                    f"JOIN concept a ON a.concept_id = ca.ancestor_concept_id AND a.concept_class_id = 'Ingredient' "
                    f"WHERE ca.descendant_concept_id = t.{cid}), CAST(t.{cid} AS BIGINT))"
                )
            parts.append(
                f"SELECT CAST(t.person_id AS VARCHAR) AS patient_id, CAST({concept_expr} AS BIGINT) AS concept_id, "
                f"{src_expr} AS source_value, {date_expr} AS date, '{dom}' AS domain FROM \"{table}\" t"
            )
        if not parts:
            raise SchemaError(
                f"{spec}: none of the event tables {', '.join(t for t, *_ in OMOP_DOMAINS.values())} is present."
            )
        union = " UNION ALL ".join(parts)
        name_join = "LEFT JOIN concept c ON c.concept_id = e.concept_id" if has_concept else ""
        name_col = "c.concept_name" if has_concept else "NULL"
        sql = f"""
            WITH e AS ({union})
            SELECT e.patient_id,
                   CASE WHEN e.concept_id IS NULL OR e.concept_id = 0
                        THEN e.domain || ':' || COALESCE(e.source_value, 'unknown')
                        ELSE CAST(e.concept_id AS VARCHAR) END AS code,
                   e.date,
                   CASE WHEN {name_col} IS NULL OR {name_col} = 'No matching concept' OR e.concept_id = 0
                        THEN COALESCE(e.source_value, CAST(e.concept_id AS VARCHAR)) || ' (' || e.domain || ')'
                        ELSE {name_col} END AS description,
                   e.domain
            FROM e {name_join}
            WHERE e.patient_id IS NOT NULL
        """
        events = con.execute(sql).df()
        pcols = _columns(con, "person")
        gender = "CAST(gender_concept_id AS BIGINT)" if "gender_concept_id" in pcols else "NULL"
        gsrc = "CAST(gender_source_value AS VARCHAR)" if "gender_source_value" in pcols else "NULL"
        yob = "year_of_birth" if "year_of_birth" in pcols else "NULL"
        persons = con.execute(
            f"SELECT CAST(person_id AS VARCHAR) AS patient_id, "
            f"CASE WHEN {gender} = 8507 THEN 'M' WHEN {gender} = 8532 THEN 'F' ELSE {gsrc} END AS sex, "
            f"{yob} AS birth_year FROM person"
        ).df()
    finally:
        con.close()
    events["value"] = None
    return EHRSource(
        events=normalise_events(events, where=str(spec)),
        persons=normalise_persons(persons, where=f"{spec} (person)"),
        name=Path(spec).name,
        kind="omop",
    )


register_reader("omop", detect=_is_omop)(read_omop)
