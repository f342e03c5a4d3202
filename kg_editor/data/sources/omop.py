"""OMOP CDM reader: a DuckDB database file or a folder of CDM CSV files.

Reads ``person`` and the event tables ``condition_occurrence``, ``drug_exposure`` (rolled
up to ingredients through ``concept_ancestor`` where present), ``procedure_occurrence``,
``observation`` and ``measurement``, with names from ``concept``. Databases are opened
read-only; nothing is ever written to them.

Safety: no identifier or path is ever formatted into SQL text from the data. Table and
column names come from the fixed :data:`OMOP_DOMAINS` table and are quoted; CSV files in
a folder are opened through DuckDB's relation API with the path as an argument, and a
file whose name is not a CDM table name (letters, digits, ``_``) is skipped and named in
``source.notes``; concept ids for descendants are bound as parameters.

Rows with concept id 0 ("No matching concept"): ``unmapped="drop"`` (the default) leaves
them out and counts them per domain in ``source.notes["unmapped_rows"]``;
``unmapped="source"`` keeps each one as a variable coded ``unmapped:DOMAIN:SOURCE_VALUE``
and labelled ``SOURCE_VALUE (unmapped DOMAIN source value)``, so it cannot be mistaken
for a standard concept. A non-zero concept id missing from ``concept`` keeps its id with
the source value as the label.

Measurements become categorical: the ``value_as_concept_id``'s name when there is one,
else ``low``/``normal``/``high`` against ``range_low``/``range_high``, else ``present``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import duckdb

from kg_editor.data.sources.base import EHRSource, register_reader
from kg_editor.data.sources.events import normalise_events, normalise_persons
from kg_editor.errors import DataSourceError, SchemaError

__all__ = ["OMOP_DOMAINS", "UNMAPPED_CHOICES", "omop_descendants", "quote_ident", "read_omop"]

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
    "measurement": (
        "measurement",
        "measurement_concept_id",
        "measurement_date",
        "measurement_source_value",
    ),
}

#: What to do with concept id 0 rows.
UNMAPPED_CHOICES = ("drop", "source")

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MIN_DATE, _MAX_DATE = "1678-01-01", "2261-12-31"


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes, inner quotes doubled.

    Examples
    --------
    >>> quote_ident('person'), quote_ident('a"b')
    ('"person"', '"a""b"')
    """
    return '"' + name.replace('"', '""') + '"'


def _is_omop(spec: str) -> bool:
    p = Path(spec)
    if p.is_file() and p.suffix.lower() in (".duckdb", ".db"):
        return True
    if p.is_dir():
        return any(f.name.lower() in ("person.csv", "person.csv.gz") for f in p.iterdir())
    return False


def _connect(spec: str, notes: dict[str, object] | None = None) -> duckdb.DuckDBPyConnection:
    p = Path(spec)
    if not p.exists():
        raise DataSourceError(f"The OMOP source {p} does not exist.")
    if p.is_file():
        try:
            return duckdb.connect(str(p), read_only=True)
        except duckdb.Error as exc:
            raise DataSourceError(f"{p} is not a readable DuckDB database: {exc}") from exc
    con = duckdb.connect()
    skipped: list[str] = []
    for f in sorted(p.iterdir()):
        name = f.name.lower()
        for suffix in (".csv.gz", ".csv"):
            if name.endswith(suffix):
                table = name[: -len(suffix)]
                if not _TABLE_NAME.match(table):
                    skipped.append(f.name)
                    break
                try:
                    rel = con.read_csv(str(f), header=True, sample_size=-1, na_values=[""])
                    rel.create_view(table)
                except duckdb.Error as exc:
                    raise DataSourceError(
                        f"The OMOP file {f} cannot be read as CSV: {' '.join(str(exc).split())[:300]}. "
                        "Check that it is an uncompressed or gzip CSV with a header row."
                    ) from exc
                break
    if skipped:
        logger.info("OMOP folder %s: skipped files that are not CDM tables: %s", p, skipped)
        if notes is not None:
            notes["skipped_files"] = skipped
    return con


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {str(r[0]).lower() for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE lower(table_name) = ?",
        [table.lower()],
    ).fetchall()
    return {str(r[0]).lower() for r in rows}


def omop_descendants(spec: str, concept_ids: Sequence[int]) -> set[str]:
    """Codes of ``concept_ids`` and all their descendants in ``concept_ancestor``.

    Raises
    ------
    SchemaError
        The source has no ``concept_ancestor`` table.
    """
    con = _connect(spec)
    try:
        if "concept_ancestor" not in _tables(con):
            raise SchemaError(
                f"{spec}: no concept_ancestor table, so descendants of concept ids cannot be "
                "found. List the codes in the concept set instead."
            )
        rows = con.execute(
            "SELECT DISTINCT CAST(descendant_concept_id AS BIGINT) FROM concept_ancestor "
            "WHERE CAST(ancestor_concept_id AS BIGINT) IN (SELECT unnest(?::BIGINT[]))",
            [[int(i) for i in concept_ids]],
        ).fetchall()
    finally:
        con.close()
    return {str(int(r[0])) for r in rows} | {str(int(i)) for i in concept_ids}


def _event_select(
    dom: str, cols: set[str], has_concept: bool, has_ancestor: bool
) -> tuple[str, list[object]]:
    """SELECT for one domain (identifiers quoted, the domain name bound)."""
    table, cid, dcol, scol = OMOP_DOMAINS[dom]
    q = quote_ident
    date_expr = f"TRY_CAST(t.{q(dcol)} AS DATE)" if dcol in cols else "CAST(NULL AS DATE)"
    src_expr = f"CAST(t.{q(scol)} AS VARCHAR)" if scol in cols else "CAST(NULL AS VARCHAR)"
    concept_expr = f"CAST(t.{q(cid)} AS BIGINT)"
    if dom == "drug" and has_ancestor:
        # roll up to ingredient where the vocabulary says how
        concept_expr = (
            "COALESCE((SELECT MIN(ca.ancestor_concept_id) FROM concept_ancestor ca "
            "JOIN concept a ON a.concept_id = ca.ancestor_concept_id AND a.concept_class_id = 'Ingredient' "
            f"WHERE ca.descendant_concept_id = t.{q(cid)}), CAST(t.{q(cid)} AS BIGINT))"
        )
    value_expr = "CAST(NULL AS VARCHAR)"
    if dom == "measurement":
        parts = []
        if "value_as_concept_id" in cols and has_concept:
            parts.append(
                "CASE WHEN CAST(t.value_as_concept_id AS BIGINT) IS NOT NULL "
                "AND CAST(t.value_as_concept_id AS BIGINT) <> 0 THEN COALESCE((SELECT "
                "lower(vc.concept_name) FROM concept vc WHERE vc.concept_id = "
                "CAST(t.value_as_concept_id AS BIGINT)), CAST(t.value_as_concept_id AS VARCHAR)) END"
            )
        if {"value_as_number", "range_low", "range_high"} <= cols:
            num = "TRY_CAST(t.value_as_number AS DOUBLE)"
            lo, hi = "TRY_CAST(t.range_low AS DOUBLE)", "TRY_CAST(t.range_high AS DOUBLE)"
            parts.append(
                f"CASE WHEN {num} IS NULL THEN NULL WHEN {lo} IS NOT NULL AND {num} < {lo} THEN 'low' "
                f"WHEN {hi} IS NOT NULL AND {num} > {hi} THEN 'high' "
                f"WHEN {lo} IS NOT NULL OR {hi} IS NOT NULL THEN 'normal' END"
            )
        parts.append("'present'")
        value_expr = "COALESCE(" + ", ".join(parts) + ")"
    sql = (
        f"SELECT CAST(t.person_id AS VARCHAR) AS patient_id, CAST({concept_expr} AS BIGINT) AS concept_id, "
        f"{src_expr} AS source_value, {date_expr} AS date, CAST(? AS VARCHAR) AS domain, "
        f"{value_expr} AS value, CAST(t.{q(dcol)} AS VARCHAR) AS raw_date FROM {q(table)} t"
        if dcol in cols
        else f"SELECT CAST(t.person_id AS VARCHAR) AS patient_id, CAST({concept_expr} AS BIGINT) AS concept_id, "
        f"{src_expr} AS source_value, {date_expr} AS date, CAST(? AS VARCHAR) AS domain, "
        f"{value_expr} AS value, CAST(NULL AS VARCHAR) AS raw_date FROM {q(table)} t"
    )
    return sql, [dom]


def read_omop(
    spec: str,
    domains: Sequence[str] = ("condition", "drug", "procedure", "observation", "measurement"),
    *,
    unmapped: str = "drop",
    **_: object,
) -> EHRSource:
    """Read an OMOP CDM database (DuckDB file) or a folder of CDM CSVs.

    Parameters
    ----------
    spec : str
        Path to a ``.duckdb`` file or a folder holding ``person.csv`` etc. (any case).
    domains : sequence of str
        Which event domains to read (keys of :data:`OMOP_DOMAINS`).
    unmapped : {"drop", "source"}
        Rows with concept id 0: left out and counted (default), or kept as clearly
        labelled source-value variables.

    Raises
    ------
    DataSourceError
        A missing or unreadable source, an unknown domain, a date outside 1678-2261.
    SchemaError
        No person table, an event table without person_id or its concept column.
    """
    if unmapped not in UNMAPPED_CHOICES:
        raise DataSourceError(
            f"unmapped must be one of {', '.join(UNMAPPED_CHOICES)}, got {unmapped!r}."
        )
    notes: dict[str, object] = {}
    con = _connect(spec, notes)
    try:
        events, persons = _read(con, spec, domains, unmapped, notes)
    except duckdb.Error as exc:
        raise DataSourceError(
            f"{spec}: the OMOP tables cannot be read: {' '.join(str(exc).split())[:300]}"
        ) from exc
    finally:
        con.close()
    src = EHRSource(
        events=normalise_events(events, where=str(spec)),
        persons=normalise_persons(persons, where=f"{spec} (person)"),
        name=Path(spec).name,
        kind="omop",
        notes=notes,
    )
    if src.events.empty and not notes.get("unmapped_rows"):
        logger.info("OMOP source %s has no events", spec)
    spec_s = str(spec)
    src.descendants = lambda ids: omop_descendants(spec_s, ids)
    return src


def _read(
    con: duckdb.DuckDBPyConnection,
    spec: str,
    domains: Sequence[str],
    unmapped: str,
    notes: dict[str, object],
) -> tuple[object, object]:
    import pandas as pd

    tables = _tables(con)
    if "person" not in tables:
        raise SchemaError(
            f"{spec}: no 'person' table; an OMOP CDM source needs one.", column="person"
        )
    has_concept = "concept" in tables
    has_ancestor = "concept_ancestor" in tables and has_concept
    frames = []
    unmapped_rows: dict[str, int] = {}
    for dom in domains:
        if dom not in OMOP_DOMAINS:
            raise DataSourceError(
                f"Unknown OMOP domain {dom!r}; choose from {', '.join(OMOP_DOMAINS)}."
            )
        table, cid, dcol, _ = OMOP_DOMAINS[dom]
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
        select, params = _event_select(dom, cols, has_concept, has_ancestor)
        name_join = "LEFT JOIN concept c ON c.concept_id = e.concept_id" if has_concept else ""
        name_col = "c.concept_name" if has_concept else "CAST(NULL AS VARCHAR)"
        bad = con.execute(
            f"WITH e AS ({select}) SELECT patient_id, raw_date FROM e WHERE raw_date IS NOT NULL "
            f"AND (date IS NULL OR date < DATE '{_MIN_DATE}' OR date > DATE '{_MAX_DATE}') LIMIT 1",
            params,
        ).fetchall()
        if bad:
            raise DataSourceError(
                f"{spec}: table {table}, person_id {bad[0][0]}: the {dcol} {bad[0][1]!r} is not a "
                f"date between {_MIN_DATE[:4]} and {_MAX_DATE[:4]}. Correct it, or empty the cell "
                "when it is a placeholder."
            )
        sql = f"""
            WITH e AS ({select})
            SELECT e.patient_id,
                   CASE WHEN e.concept_id IS NULL OR e.concept_id = 0
                        THEN 'unmapped:' || e.domain || ':' || COALESCE(e.source_value, 'unknown')
                        ELSE CAST(e.concept_id AS VARCHAR) END AS code,
                   e.date,
                   CASE WHEN e.concept_id IS NULL OR e.concept_id = 0
                        THEN COALESCE(e.source_value, 'unknown') || ' (unmapped ' || e.domain || ' source value)'
                        WHEN {name_col} IS NULL OR {name_col} = 'No matching concept'
                        THEN COALESCE(e.source_value, CAST(e.concept_id AS VARCHAR)) || ' (' || e.domain || ')'
                        ELSE {name_col} END AS description,
                   e.domain,
                   e.value,
                   (e.concept_id IS NULL OR e.concept_id = 0) AS is_unmapped
            FROM e {name_join}
            WHERE e.patient_id IS NOT NULL
        """
        df = con.execute(sql, params).df()
        n_unmapped = int(df["is_unmapped"].sum())
        if n_unmapped:
            unmapped_rows[dom] = n_unmapped
            if unmapped == "drop":
                df = df.loc[~df["is_unmapped"]]
        frames.append(df.drop(columns=["is_unmapped"]))
    if not frames:
        raise SchemaError(
            f"{spec}: none of the event tables {', '.join(t for t, *_ in OMOP_DOMAINS.values())} is present."
        )
    events = pd.concat(frames, ignore_index=True)
    if unmapped_rows:
        notes["unmapped_rows"] = unmapped_rows
        notes["unmapped"] = unmapped
        logger.info("OMOP source %s: concept id 0 rows %s (%s)", spec, unmapped_rows, unmapped)
    pcols = _columns(con, "person")
    gender = "CAST(gender_concept_id AS BIGINT)" if "gender_concept_id" in pcols else "NULL"
    gsrc = "CAST(gender_source_value AS VARCHAR)" if "gender_source_value" in pcols else "NULL"
    yob = "year_of_birth" if "year_of_birth" in pcols else "NULL"
    persons = con.execute(
        f"SELECT CAST(person_id AS VARCHAR) AS patient_id, "
        f"CASE WHEN {gender} = 8507 THEN 'M' WHEN {gender} = 8532 THEN 'F' ELSE {gsrc} END AS sex, "
        f"{yob} AS birth_year FROM person"
    ).df()
    return events, persons


register_reader("omop", detect=_is_omop)(read_omop)
