"""The one SQL definition of every count kg-editor needs, generated per dialect by sqlglot.

Each function writes its query once, in DuckDB's SQL (identifiers quoted, literals
escaped by sqlglot), and :func:`render` transpiles it for the engine that runs it
(``duckdb``, ``postgres``, ``spark`` or any dialect sqlglot knows). No query uses
``GROUP BY ALL`` or positional ``GROUP BY 1``: every grouping column is spelled, which
every warehouse accepts.

The queries build on one another through common table expressions:

``kg_first``
    one row per patient and code: the first occurrence (date, value), from the events.
``kg_wide``
    one row per patient with an event of a chosen variable: its integer state code per
    variable (``v0 .. vk``) and first dates (``d0 .. dk``).
``kg_units``
    the cohort's patients (events plus persons, or a given patient table), with optional
    key columns (split, sex, age band).

Examples
--------
>>> ev = EventsTable("events")
>>> sql = pattern_counts_sql(ev, [Var("I10", ("absent", "present"))])
>>> "GROUP BY ALL" in render(sql, "postgres"), "GROUP BY" in render(sql, "spark")
(False, True)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from kg_editor.errors import SchemaError

__all__ = [
    "EventsTable",
    "PersonsTable",
    "Var",
    "canonical_events_sql",
    "code_labels_sql",
    "code_triples_sql",
    "code_values_sql",
    "first_occurrence_sql",
    "first_of_variables_sql",
    "index_dates_sql",
    "index_notes_sql",
    "pack_layout",
    "packed_pattern_counts_sql",
    "pair_counts_sql",
    "patient_dates_sql",
    "pattern_counts_sql",
    "pattern_remainder_sql",
    "persons_sql",
    "precedence_counts_sql",
    "render",
    "split_units_sql",
    "wide_states_sql",
    "window_keep_sql",
    "windowed_events_sql",
]

_READ = "duckdb"


def q(name: str) -> str:
    """A quoted identifier (``"name"``), safe for any text."""
    return exp.to_identifier(name, quoted=True).sql(_READ)


def lit(value: str | int | float) -> str:
    """A SQL literal with quotes escaped."""
    if isinstance(value, str):
        return exp.Literal.string(value).sql(_READ)
    return exp.Literal.number(value).sql(_READ)


def render(sql: str, dialect: str) -> str:
    """Transpile a query written in DuckDB SQL into ``dialect``.

    Examples
    --------
    >>> render('SELECT CAST("x" AS VARCHAR) AS "y" FROM "t"', "spark")
    'SELECT CAST(`x` AS STRING) AS `y` FROM `t`'
    """
    if dialect == _READ:
        return sql
    return sqlglot.transpile(sql, read=_READ, write=dialect, pretty=False)[0]


@dataclass(frozen=True)
class EventsTable:
    """Where the events are and what their columns are called.

    Attributes
    ----------
    table : str
        A table or view name the engine knows (``omop.condition_occurrence``), or, when
        ``raw`` is true, SQL text read as a table: a DuckDB table function
        (``read_parquet('events/*.parquet')``) or a subquery with its alias (the events
        after concept sets and windows, :func:`windowed_events_sql`).
    patient, code, date, value, description, domain : str or None
        Column names (``None``: the column does not exist).
    raw : bool
        ``table`` is SQL text, not a name.
    """

    table: str
    patient: str = "patient_id"
    code: str = "code"
    date: str | None = "date"
    value: str | None = "value"
    description: str | None = "description"
    domain: str | None = "domain"
    raw: bool = False

    def source(self) -> str:
        if self.raw:
            return self.table
        return ".".join(q(p) for p in self.table.split("."))


@dataclass(frozen=True)
class PersonsTable:
    """The persons table: one row per patient with sex and year of birth, and optionally
    an index date (``index_date``: read by ``index="persons"``). ``raw``: ``table`` is SQL
    text read as a table (a subquery with its alias)."""

    table: str
    patient: str = "patient_id"
    sex: str | None = "sex"
    birth_year: str | None = "birth_year"
    index_date: str | None = None
    raw: bool = False

    def source(self) -> str:
        if self.raw:
            return self.table
        return ".".join(q(p) for p in self.table.split("."))


@dataclass(frozen=True)
class Var:
    """A cohort variable as the engine codes it: state 0 is ``absent`` (no event); a
    binary code's state 1 is any event; a categorical code's states 1.. are its values
    (``present`` for an event without a value), in ``states`` order."""

    code: str
    states: tuple[str, ...]

    @property
    def is_binary(self) -> bool:
        return len(self.states) == 2


def _text(col: str) -> str:
    return f"CAST({q(col)} AS VARCHAR)"


def first_occurrence_sql(ev: EventsTable, codes: Sequence[str] | None = None) -> str:
    """One row per patient and code: ``patient_id, code, first_date, value``.

    The first occurrence is the earliest dated event (undated ones last); among events on
    the same date the smallest value is taken (an engine has no row order).
    """
    date = f"CAST({q(ev.date)} AS TIMESTAMP)" if ev.date else "CAST(NULL AS TIMESTAMP)"
    value = _text(ev.value) if ev.value else "CAST(NULL AS VARCHAR)"
    where = f"{q(ev.code)} IS NOT NULL AND {q(ev.patient)} IS NOT NULL"
    if codes is not None:
        where += f" AND {_text(ev.code)} IN ({', '.join(lit(c) for c in codes) or lit('')})"
    return (
        'SELECT "patient_id", "code", "first_date", "value" FROM ('
        f'SELECT {_text(ev.patient)} AS "patient_id", {_text(ev.code)} AS "code", '
        f'{date} AS "first_date", {value} AS "value", '
        f"ROW_NUMBER() OVER (PARTITION BY {_text(ev.patient)}, {_text(ev.code)} "
        f'ORDER BY {date} ASC NULLS LAST, {value} ASC NULLS LAST) AS "rn" '
        f'FROM {ev.source()} WHERE {where}) AS "t" WHERE "rn" = 1'
    )


def first_of_variables_sql(ev: EventsTable, variables: Sequence[Var], *, dated: bool = True) -> str:
    """:func:`first_occurrence_sql` for known variables: binary codes need no value, so
    their first date is a plain ``MIN`` over a grouping (no window function, which is
    the costly step on large event tables); categorical codes keep the window.
    ``dated=False`` leaves the binary codes' dates out (NULL) when only states are needed."""
    binary = [v.code for v in variables if v.is_binary]
    categorical = [v.code for v in variables if not v.is_binary]
    parts = []
    if binary:
        date = (
            f"CAST({q(ev.date)} AS TIMESTAMP)" if ev.date and dated else "CAST(NULL AS TIMESTAMP)"
        )
        parts.append(
            # grouped on the stored columns, cast to text after (the same groups: the
            # cast is one-to-one; hashing integer ids is cheaper than text)
            'SELECT CAST("g"."p" AS VARCHAR) AS "patient_id", CAST("g"."c" AS VARCHAR) AS "code", '
            '"g"."d" AS "first_date", CAST(NULL AS VARCHAR) AS "value" FROM ('
            f'SELECT {q(ev.patient)} AS "p", {q(ev.code)} AS "c", MIN({date}) AS "d" '
            f"FROM {ev.source()} WHERE {q(ev.patient)} IS NOT NULL AND "
            f"{_text(ev.code)} IN ({', '.join(lit(c) for c in binary)}) "
            f'GROUP BY {q(ev.patient)}, {q(ev.code)}) AS "g"'
        )
    if categorical or not parts:
        parts.append(first_occurrence_sql(ev, categorical))
    return " UNION ALL ".join(parts)


def code_values_sql(ev: EventsTable) -> str:
    """Patients per (code, first value): ``code, value, n`` (``value`` NULL when the first
    event has none). Summing ``n`` over a code gives its patients.

    Events without a value column need no first occurrence (every first value is
    NULL): patients are counted per code directly, without the window over every event
    (the costliest step on 100M events)."""
    if not ev.value:
        return (
            f'SELECT {_text(ev.code)} AS "code", CAST(NULL AS VARCHAR) AS "value", '
            f'COUNT(DISTINCT {q(ev.patient)}) AS "n" FROM {ev.source()} '
            f"WHERE {q(ev.code)} IS NOT NULL AND {q(ev.patient)} IS NOT NULL "
            f"GROUP BY {_text(ev.code)}"
        )
    return (
        f"WITH kg_first AS ({first_occurrence_sql(ev)}) "
        'SELECT "code", "value", COUNT(*) AS "n" FROM kg_first GROUP BY "code", "value"'
    )


def code_labels_sql(ev: EventsTable, column: str) -> str:
    """Events per (code, ``column``) for the most common description or domain of a code."""
    return (
        f'SELECT {_text(ev.code)} AS "code", {_text(column)} AS "label", COUNT(*) AS "n" '
        f"FROM {ev.source()} WHERE {q(column)} IS NOT NULL AND {q(ev.code)} IS NOT NULL "
        f"GROUP BY {_text(ev.code)}, {_text(column)}"
    )


def patient_dates_sql(ev: EventsTable) -> str:
    """Every patient with an event: ``patient_id, first_event, last_event`` (dated events)."""
    date = f"CAST({q(ev.date)} AS TIMESTAMP)" if ev.date else "CAST(NULL AS TIMESTAMP)"
    return (
        'SELECT CAST("g"."p" AS VARCHAR) AS "patient_id", "g"."first_event" AS "first_event", '
        '"g"."last_event" AS "last_event" FROM ('
        f'SELECT {q(ev.patient)} AS "p", MIN({date}) AS "first_event", '
        f'MAX({date}) AS "last_event" FROM {ev.source()} '
        f'WHERE {q(ev.patient)} IS NOT NULL GROUP BY {q(ev.patient)}) AS "g"'
    )


def persons_sql(pt: PersonsTable) -> str:
    """``patient_id, sex, birth_year`` of every person."""
    sex = _text(pt.sex) if pt.sex else "CAST(NULL AS VARCHAR)"
    birth = q(pt.birth_year) if pt.birth_year else "CAST(NULL AS DOUBLE)"
    return (
        f'SELECT {_text(pt.patient)} AS "patient_id", {sex} AS "sex", {birth} AS "birth_year" '
        f"FROM {pt.source()}"
    )


def _opt_text(col: str | None, alias: str = "") -> str:
    """``col`` as text, or a typed NULL when the column does not exist."""
    if not col:
        return "CAST(NULL AS VARCHAR)"
    return f"CAST({alias}{q(col)} AS VARCHAR)"


def code_triples_sql(ev: EventsTable) -> str:
    """Events per (code, description, domain): ``code, description, domain, n, undated``
    (``undated``: the events among them without a date). One row per distinct triple:
    what concept sets are matched against (in Python, with the same rules as in memory)."""
    desc, dom = _opt_text(ev.description), _opt_text(ev.domain)
    undated = f"SUM(CASE WHEN {q(ev.date)} IS NULL THEN 1 ELSE 0 END)" if ev.date else "COUNT(*)"
    group = [_text(ev.code), *(_text(c) for c in (ev.description, ev.domain) if c)]
    return (
        f'SELECT {_text(ev.code)} AS "code", {desc} AS "description", {dom} AS "domain", '
        f'COUNT(*) AS "n", {undated} AS "undated" FROM {ev.source()} '
        f"WHERE {q(ev.code)} IS NOT NULL AND {q(ev.patient)} IS NOT NULL "
        f"GROUP BY {', '.join(group)}"
    )


def canonical_events_sql(ev: EventsTable, recode: str | None = None) -> str:
    """The events with canonical column names and types (``patient_id, code, date, value,
    description, domain``; text, a timestamp), recoded by the table ``recode`` when given.

    ``recode`` has the columns ``from_code, from_description, from_domain, to_code,
    to_description, to_domain``: an event whose (code, description, domain) matches a
    ``from`` row (NULLs equal) becomes one event per matching row, with the ``to``
    values (what concept sets, a mapping and a roll-up do to the events, decided in
    Python over the distinct triples of :func:`code_triples_sql`); other events are kept
    as they are.
    """
    e = '"e".'
    code, desc, dom = (
        f"CAST({e}{q(ev.code)} AS VARCHAR)",
        _opt_text(ev.description, e),
        _opt_text(ev.domain, e),
    )
    date = f"CAST({e}{q(ev.date)} AS TIMESTAMP)" if ev.date else "CAST(NULL AS TIMESTAMP)"
    value = _opt_text(ev.value, e)
    where = f"WHERE {e}{q(ev.code)} IS NOT NULL AND {e}{q(ev.patient)} IS NOT NULL"
    base = f'SELECT CAST({e}{q(ev.patient)} AS VARCHAR) AS "patient_id", '
    if recode is None:
        return (
            f'{base}{code} AS "code", {date} AS "date", {value} AS "value", '
            f'{desc} AS "description", {dom} AS "domain" FROM {ev.source()} AS "e" {where}'
        )

    def pick(old: str, new: str) -> str:
        return f'CASE WHEN "r"."to_code" IS NULL THEN {old} ELSE CAST("r".{q(new)} AS VARCHAR) END'

    on = " AND ".join(
        [
            f'{code} = CAST("r"."from_code" AS VARCHAR)',
            f'{desc} IS NOT DISTINCT FROM CAST("r"."from_description" AS VARCHAR)',
            f'{dom} IS NOT DISTINCT FROM CAST("r"."from_domain" AS VARCHAR)',
        ]
    )
    return (
        f'{base}{pick(code, "to_code")} AS "code", {date} AS "date", {value} AS "value", '
        f'{pick(desc, "to_description")} AS "description", {pick(dom, "to_domain")} AS "domain" '
        f'FROM {ev.source()} AS "e" LEFT JOIN {q(recode)} AS "r" ON {on} {where}'
    )


def index_dates_sql(
    canonical: str, *, index_code: str | None = None, persons: PersonsTable | None = None
) -> str:
    """Each patient's index date: ``patient_id, at``.

    From the persons table's ``index_date`` column when ``persons`` is given, else the
    first dated event of ``index_code`` (any code when ``None``: the first event) among
    the ``canonical`` events (a query from :func:`canonical_events_sql`)."""
    if persons is not None:
        assert persons.index_date is not None
        col = q(persons.index_date)
        return (
            f'SELECT {_text(persons.patient)} AS "patient_id", MIN(CAST({col} AS TIMESTAMP)) AS "at" '
            f"FROM {persons.source()} WHERE {col} IS NOT NULL AND {q(persons.patient)} IS NOT NULL "
            f"GROUP BY {_text(persons.patient)}"
        )
    only = f' AND "c"."code" = {lit(index_code)}' if index_code is not None else ""
    return (
        'SELECT "c"."patient_id" AS "patient_id", MIN("c"."date") AS "at" '
        f'FROM ({canonical}) AS "c" WHERE "c"."date" IS NOT NULL{only} GROUP BY "c"."patient_id"'
    )


def window_keep_sql(
    target_code: str | None,
    index_code: str | None,
    lookback_days: int | None,
    outcome_days: int | None,
) -> str:
    """The condition an event ``"c"`` of a patient with index date ``"i"."at"`` meets to
    be kept: a feature strictly before the index (from ``at - lookback_days``), the
    target code on or after it (up to ``at + outcome_days``); never the index code, never
    an undated event (the rules of ``build_cohort``)."""
    d, at = '"c"."date"', '"i"."at"'
    feat = f"{d} < {at}"
    if lookback_days is not None:
        feat += f" AND {d} >= {at} - INTERVAL '{int(lookback_days)}' DAY"
    outc = f"{d} >= {at}"
    if outcome_days is not None:
        outc += f" AND {d} <= {at} + INTERVAL '{int(outcome_days)}' DAY"
    if target_code is None:
        cond = feat
    else:
        t = lit(target_code)
        cond = f'(("c"."code" <> {t} AND {feat}) OR ("c"."code" = {t} AND {outc}))'
    if index_code is not None:
        cond += f' AND "c"."code" <> {lit(index_code)}'
    return f"{d} IS NOT NULL AND {cond}"


def windowed_events_sql(canonical: str, index_dates: str, keep: str) -> str:
    """The ``canonical`` events of patients with an index date that meet ``keep``
    (:func:`window_keep_sql`), in canonical columns."""
    cols = ", ".join(
        f'"c".{q(c)} AS {q(c)}'
        for c in ("patient_id", "code", "date", "value", "description", "domain")
    )
    return (
        f'SELECT {cols} FROM ({canonical}) AS "c" JOIN ({index_dates}) AS "i" '
        f'ON "c"."patient_id" = "i"."patient_id" WHERE {keep}'
    )


def index_notes_sql(
    canonical: str, index_dates: str, keep: str, persons: PersonsTable | None
) -> str:
    """One row: ``with_index, without_index`` (patients with events or a persons row)
    and ``at_index, kept, undated`` (events of patients with an index, of them those
    inside the windows, and undated events), what ``build_cohort`` counts."""
    everyone = f'SELECT DISTINCT "patient_id" FROM ({canonical}) AS "c0"'
    if persons is not None:
        everyone += (
            f' UNION SELECT {_text(persons.patient)} AS "patient_id" FROM {persons.source()}'
        )
    return (
        'SELECT "p"."with_index" AS "with_index", "p"."without_index" AS "without_index", '
        '"v"."at_index" AS "at_index", "v"."kept" AS "kept", "v"."undated" AS "undated" FROM ('
        'SELECT SUM(CASE WHEN "i"."patient_id" IS NULL THEN 0 ELSE 1 END) AS "with_index", '
        'SUM(CASE WHEN "i"."patient_id" IS NULL THEN 1 ELSE 0 END) AS "without_index" '
        f'FROM ({everyone}) AS "a" LEFT JOIN ({index_dates}) AS "i" '
        'ON "a"."patient_id" = "i"."patient_id") AS "p" CROSS JOIN ('
        'SELECT SUM(CASE WHEN "i"."patient_id" IS NULL THEN 0 ELSE 1 END) AS "at_index", '
        f'SUM(CASE WHEN "i"."patient_id" IS NOT NULL AND {keep} THEN 1 ELSE 0 END) AS "kept", '
        'SUM(CASE WHEN "c"."date" IS NULL THEN 1 ELSE 0 END) AS "undated" '
        f'FROM ({canonical}) AS "c" LEFT JOIN ({index_dates}) AS "i" '
        'ON "c"."patient_id" = "i"."patient_id") AS "v"'
    )


def _state_expr(v: Var) -> str:
    if v.is_binary:
        return "1"
    whens = " ".join(f"WHEN {lit(s)} THEN {k}" for k, s in enumerate(v.states) if k > 0)
    return f"CASE COALESCE(\"value\", 'present') {whens} END"


def wide_states_sql(
    ev: EventsTable, variables: Sequence[Var], *, dates: bool = True, cte: str = "kg_first"
) -> str:
    """``patient_id, v0 .. vk [, d0 .. dk]``: each patient's state code and first date per
    variable (NULL when the patient has no event of it: state 0)."""
    cols = []
    for k, v in enumerate(variables):
        c = f'"code" = {lit(v.code)}'
        cols.append(f'MAX(CASE WHEN {c} THEN {_state_expr(v)} END) AS "v{k}"')
        if dates:
            cols.append(f'MIN(CASE WHEN {c} THEN "first_date" END) AS "d{k}"')
    # ``cte`` names the inner table uniquely: some dialects (Spark) hoist nested CTEs
    return (
        f"WITH {cte} AS ({first_of_variables_sql(ev, variables)}) "
        f'SELECT "patient_id", {", ".join(cols)} FROM {cte} GROUP BY "patient_id"'
    )


def _units(ev: EventsTable, units: str | None, persons: PersonsTable | None) -> str:
    if units is not None:
        if units.lstrip().upper().startswith(("SELECT", "WITH")):
            return units  # a query (e.g. split_units_sql)
        return f"SELECT * FROM {q(units)}"
    sql = (
        f'SELECT CAST("g"."p" AS VARCHAR) AS "patient_id" FROM (SELECT DISTINCT {q(ev.patient)} '
        f'AS "p" FROM {ev.source()} WHERE {q(ev.patient)} IS NOT NULL) AS "g"'
    )
    if persons is not None:
        sql += f' UNION SELECT {_text(persons.patient)} AS "patient_id" FROM {persons.source()}'
    return sql


def _pattern_body(
    ev: EventsTable,
    variables: Sequence[Var],
    units: str | None,
    keys: Sequence[str],
    persons: PersonsTable | None,
) -> tuple[str, list[str]]:
    cols = [f'COALESCE("w"."v{k}", 0)' for k in range(len(variables))]
    group = [*cols, *(f'"u".{q(k)}' for k in keys)]
    select = [f'{c} AS "v{k}"' for k, c in enumerate(cols)] + [
        f'"u".{q(k)} AS {q(k)}' for k in keys
    ]
    body = (
        f"WITH kg_wide AS ({wide_states_sql(ev, variables, dates=False)}), "
        f"kg_units AS ({_units(ev, units, persons)}) "
        f'SELECT {", ".join([*select, "COUNT(*) AS " + q("n")])} FROM kg_units AS "u" '
        f'LEFT JOIN kg_wide AS "w" ON "u"."patient_id" = "w"."patient_id" '
        f"GROUP BY {', '.join(group)}"
    )
    return body, group


def pattern_counts_sql(
    ev: EventsTable,
    variables: Sequence[Var],
    *,
    units: str | None = None,
    keys: Sequence[str] = (),
    min_count: int = 1,
    persons: PersonsTable | None = None,
) -> str:
    """Distinct patterns of state codes with their patient counts: ``v0 .. vk, keys.., n``.

    Parameters
    ----------
    ev : EventsTable
    variables : sequence of Var
        The pattern's variables (a family's node and parents gives its family counts).
    units : str, optional
        A table of the patients to count (``patient_id`` plus ``keys`` columns, e.g. the
        split or subgroups); default every patient with an event (and every person).
    keys : sequence of str
        Columns of ``units`` that are part of the pattern.
    min_count : int
        Patterns with fewer patients are left out (small-cell suppression applied inside
        the engine; :func:`pattern_remainder_sql` counts what was left out).
    """
    body, _ = _pattern_body(ev, variables, units, keys, persons)
    if min_count > 1:
        body += f" HAVING COUNT(*) >= {int(min_count)}"
    return body


def pattern_remainder_sql(
    ev: EventsTable,
    variables: Sequence[Var],
    *,
    units: str | None = None,
    keys: Sequence[str] = (),
    min_count: int = 1,
    persons: PersonsTable | None = None,
) -> str:
    """``patterns, patients``: how many patterns (and patients) fall below ``min_count``."""
    # the packed form counts the same patterns at a cost independent of the
    # number of variables
    body = packed_pattern_counts_sql(ev, variables, units=units, keys=keys, persons=persons)
    return (
        f'SELECT COUNT(*) AS "patterns", COALESCE(SUM("n"), 0) AS "patients" FROM ({body}) AS "s" '
        f'WHERE "n" < {int(min_count)}'
    )


def split_units_sql(
    ev: EventsTable,
    target: Var | None,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    persons: PersonsTable | None = None,
    age_bands: Sequence[int] = (0, 18, 40, 65),
    age_dates: str | None = None,
) -> str:
    """Every patient with a held-out flag and subgroups, computed inside the engine:
    ``patient_id, split ('train'/'test'), sex, age_band``.

    The split is stratified on the target's state and deterministic: within each state,
    patients are ordered by ``MD5(patient_id || ':' || seed)`` and the first
    ``ROUND(test_size * m)`` of the ``m`` are held out (the same in every dialect; it is
    not the in-memory split of :func:`kg_editor.data.cohort.stratified_split`). The age
    band is taken at the first recorded event, with the bands of ``build_cohort``, or at
    the date ``age_dates`` gives (a query with ``patient_id, first_event``: the index
    date, the last event).
    """
    tvars = [target] if target is not None else []
    y = 'COALESCE("t"."v0", 0)' if target is not None else "0"
    tjoin = (
        f'LEFT JOIN ({wide_states_sql(ev, tvars, dates=False, cte="kg_first_y")}) AS "t" '
        'ON "a"."patient_id" = "t"."patient_id" '
        if target is not None
        else ""
    )
    if persons is not None:
        pjoin = f'LEFT JOIN ({persons_sql(persons)}) AS "p" ON "a"."patient_id" = "p"."patient_id" '
        sex, birth = '"p"."sex"', 'CAST("p"."birth_year" AS DOUBLE)'
    else:
        pjoin, sex, birth = "", "CAST(NULL AS VARCHAR)", "CAST(NULL AS DOUBLE)"
    edges = list(age_bands)
    labels = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)] + [f"{edges[-1]}+"]
    age = '"age"'
    whens = " ".join(
        f"WHEN {age} >= {lo} THEN {lit(lab)}"
        for lo, lab in reversed(list(zip(edges, labels, strict=True)))
    )
    salt = lit(f":{int(seed)}")
    frac = float(test_size)
    return (
        f"WITH kg_all AS ({_units(ev, None, persons)}), "
        f"kg_dates AS ({age_dates or patient_dates_sql(ev)}), "
        f'kg_base AS (SELECT "a"."patient_id" AS "patient_id", {y} AS "y", {sex} AS "sex", '
        f'CAST(EXTRACT(YEAR FROM "d"."first_event") AS DOUBLE) - {birth} AS "age" '
        f'FROM kg_all AS "a" {tjoin}{pjoin}'
        'LEFT JOIN kg_dates AS "d" ON "a"."patient_id" = "d"."patient_id"), '
        'kg_ranked AS (SELECT "patient_id", "sex", "age", '
        f'ROW_NUMBER() OVER (PARTITION BY "y" ORDER BY MD5("patient_id" || {salt})) AS "r", '
        'COUNT(*) OVER (PARTITION BY "y") AS "m" FROM kg_base) '
        f'SELECT "patient_id", CASE WHEN "r" <= ROUND({frac} * "m") THEN \'test\' ELSE \'train\' END AS "split", '
        'COALESCE("sex", \'unknown\') AS "sex", '
        f"CASE WHEN {age} IS NULL THEN 'unknown' {whens} ELSE 'unknown' END AS \"age_band\" "
        "FROM kg_ranked"
    )


def pair_counts_sql(ev: EventsTable, variables: Sequence[Var], *, units: str | None = None) -> str:
    """Item x item patient counts ``a, b, n`` (``a <= b``) over integer item ids.

    Item ``offsets[j] + s - 1`` is state ``s >= 1`` of variable ``j`` (the layout of
    :class:`kg_editor.discovery.counting.PairCounts`); the diagonal ``a = b`` holds each
    item's patients. ``units`` restricts counting to those patients.
    """
    offset = 0
    whens = []
    for v in variables:
        whens.append(f"WHEN {lit(v.code)} THEN {offset} + ({_state_expr(v)}) - 1")
        offset += len(v.states) - 1
    restrict = (
        f'WHERE "patient_id" IN (SELECT "patient_id" FROM {q(units)})' if units is not None else ""
    )
    return (
        f"WITH kg_first AS ({first_of_variables_sql(ev, variables)}), "
        f'kg_items AS (SELECT "patient_id" AS "p", CASE "code" {" ".join(whens)} END AS "i" '
        f"FROM kg_first {restrict}) "
        'SELECT "x"."i" AS "a", "y"."i" AS "b", COUNT(*) AS "n" FROM kg_items AS "x" '
        'JOIN kg_items AS "y" ON "x"."p" = "y"."p" AND "x"."i" <= "y"."i" '
        'GROUP BY "x"."i", "y"."i"'
    )


# patterns packed into integer words, precedence counts
#: Bits of one packed word (63-bit signed integers keep every sum positive).
WORD_BITS = 62


@dataclass(frozen=True)
class PackedSlot:
    """Where a variable's state code sits in the packed pattern: word ``word``, bits
    ``shift .. shift + bits - 1``."""

    word: int
    shift: int
    bits: int


def pack_layout(variables: Sequence[Var]) -> list[PackedSlot]:
    """Each variable's slot in the packed words: ``ceil(log2(states))`` bits (one bit for
    a binary code), never straddling two words, the first variables in the most
    significant bits: ordering patterns by their words (``w0`` first) orders them by
    their state codes (first variable first).

    Examples
    --------
    >>> [(s.word, s.shift, s.bits) for s in pack_layout([Var("a", ("absent", "present")),
    ...     Var("b", ("absent", "low", "high"))])]
    [(0, 61, 1), (0, 59, 2)]
    """
    out: list[PackedSlot] = []
    word, used = 0, 0
    for v in variables:
        bits = max(1, (len(v.states) - 1).bit_length())
        if used + bits > WORD_BITS:
            word, used = word + 1, 0
        used += bits
        out.append(PackedSlot(word, WORD_BITS - used, bits))
    return out


def _layout_values(variables: Sequence[Var], slots: Sequence[PackedSlot]) -> str:
    """A ``VALUES`` table ``(code, value, word, add)``: what each first occurrence adds
    to its patient's packed word (state code times the slot's place value)."""
    rows = []
    for v, s in zip(variables, slots, strict=True):
        named = [(v.states[k], k) for k in range(1, len(v.states))] if not v.is_binary else []
        for value, state in named or [("present", 1)]:
            rows.append(
                f"({lit(v.code)}, {lit(value)}, {s.word}, CAST({state << s.shift} AS BIGINT))"
            )
    return f'(VALUES {", ".join(rows)}) AS "l"("code", "value", "word", "add")'


def packed_pattern_counts_sql(
    ev: EventsTable,
    variables: Sequence[Var],
    *,
    units: str | None = None,
    keys: Sequence[str] = (),
    min_count: int = 1,
    persons: PersonsTable | None = None,
) -> str:
    """:func:`pattern_counts_sql` with each pattern packed into integer words
    ``w0 .. wK`` (see :func:`pack_layout`), plus ``keys`` and ``n``.

    Instead of one ``CASE`` column per variable over every first occurrence (a cost of
    variables x occurrences), each occurrence is joined to a small layout table and its
    state's place value summed per patient and word: the same patterns at a cost that
    does not grow with the number of variables, and a few integers per pattern to bring
    back instead of one column per variable. ``min_count`` suppresses as
    :func:`pattern_counts_sql` does.
    """
    if not variables:
        raise SchemaError("Counting patterns needs at least one variable.")
    slots = pack_layout(variables)
    n_words = max(s.word for s in slots) + 1
    words = [
        f'CAST(SUM(CASE WHEN "l"."word" = {k} THEN "l"."add" ELSE 0 END) AS BIGINT) AS "w{k}"'
        for k in range(n_words)
    ]
    cols = [f'COALESCE("w"."w{k}", 0)' for k in range(n_words)]
    group = [*cols, *(f'"u".{q(k)}' for k in keys)]
    select = [f'{c} AS "w{k}"' for k, c in enumerate(cols)] + [
        f'"u".{q(k)} AS {q(k)}' for k in keys
    ]
    if all(v.is_binary for v in variables):
        # binary codes: a patient's state is whether any event of the code exists, and
        # its bit is the same for every event, so a BIT_OR over the events gives the
        # packed words without first grouping them into (patient, code) occurrences
        # (one grouping of the patients instead of two; grouped on the stored id, cast
        # to text after)
        ors = [
            f'BIT_OR(CASE WHEN "l"."word" = {k} THEN "l"."add" ELSE 0 END) AS "w{k}"'
            for k in range(n_words)
        ]
        codes = ", ".join(lit(v.code) for v in variables)
        casts = ", ".join(f'CAST("g"."w{k}" AS BIGINT) AS "w{k}"' for k in range(n_words))
        packed = (
            f'SELECT CAST("g"."p" AS VARCHAR) AS "patient_id", {casts} '
            f'FROM (SELECT "e"."p" AS "p", {", ".join(ors)} '
            f'FROM (SELECT {q(ev.patient)} AS "p", {_text(ev.code)} AS "c" FROM {ev.source()} '
            f"WHERE {q(ev.patient)} IS NOT NULL AND {_text(ev.code)} IN ({codes})) AS "
            f'"e" JOIN {_layout_values(variables, slots)} ON "e"."c" = "l"."code" '
            'GROUP BY "e"."p") AS "g"'
        )
        first = ""
    else:
        packed = (
            f'SELECT "f"."patient_id" AS "patient_id", {", ".join(words)} '
            f'FROM kg_first_p AS "f" JOIN {_layout_values(variables, slots)} '
            f'ON "f"."code" = "l"."code" AND COALESCE("f"."value", \'present\') = "l"."value" '
            'GROUP BY "f"."patient_id"'
        )
        first = f"kg_first_p AS ({first_of_variables_sql(ev, variables, dated=False)}), "
    body = (
        f"WITH {first}"
        f"kg_packed AS ({packed}), kg_units AS ({_units(ev, units, persons)}) "
        f'SELECT {", ".join([*select, "COUNT(*) AS " + q("n")])} FROM kg_units AS "u" '
        f'LEFT JOIN kg_packed AS "w" ON "u"."patient_id" = "w"."patient_id" '
        f"GROUP BY {', '.join(group)}"
    )
    if min_count > 1:
        body += f" HAVING COUNT(*) >= {int(min_count)}"
    return body


def precedence_counts_sql(
    ev: EventsTable, variables: Sequence[Var], *, units: str | None = None
) -> str:
    """Temporal precedence of every pair of variables: ``a, b, a_first, b_first, ties``
    for variable indices ``a <= b`` (patients with both first occurrences dated and ``a``
    strictly first, ``b`` strictly first, both on the same day; ``a = b`` gives the
    patients with ``a`` dated), over the patients of ``units`` (a table name or query
    with ``patient_id``; default every patient). The counts of
    :func:`kg_editor.discovery.counting.precedence_counts` over the cohort's first dates.
    """
    rows = ", ".join(f"({lit(v.code)}, {j})" for j, v in enumerate(variables))
    restrict = ""
    if units is not None:
        src = f"({units})" if units.lstrip().upper().startswith(("SELECT", "WITH")) else q(units)
        restrict = f'JOIN {src} AS "u" ON "f"."patient_id" = "u"."patient_id" '
    day = 'CAST("f"."first_date" AS DATE)'
    return (
        f"WITH kg_first_d AS ({first_of_variables_sql(ev, variables)}), "
        f'kg_dated AS (SELECT "f"."patient_id" AS "p", "l"."j" AS "j", {day} AS "d" '
        f'FROM kg_first_d AS "f" JOIN (VALUES {rows}) AS "l"("code", "j") '
        f'ON "f"."code" = "l"."code" {restrict}WHERE "f"."first_date" IS NOT NULL) '
        'SELECT "x"."j" AS "a", "y"."j" AS "b", '
        'SUM(CASE WHEN "x"."d" < "y"."d" THEN 1 ELSE 0 END) AS "a_first", '
        'SUM(CASE WHEN "x"."d" > "y"."d" THEN 1 ELSE 0 END) AS "b_first", '
        'SUM(CASE WHEN "x"."d" = "y"."d" THEN 1 ELSE 0 END) AS "ties" '
        'FROM kg_dated AS "x" JOIN kg_dated AS "y" ON "x"."p" = "y"."p" AND "x"."j" <= "y"."j" '
        'GROUP BY "x"."j", "y"."j"'
    )
