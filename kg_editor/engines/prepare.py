"""Concept sets and an index date with its windows, applied inside the engine.

:func:`prepare_events` turns an :class:`~kg_editor.engines.counts.EngineSource`'s events
into the events a cohort reads, as :func:`kg_editor.data.cohort.build_cohort` does in
memory, without any event row leaving the engine:

1. **Concept sets** (and their mapping and roll-up) are decided in Python over the
   distinct (code, description, domain) triples of the events, with the very functions
   the in-memory path runs (:func:`kg_editor.data.concepts.apply_concept_sets`: the same
   rules, regular expressions and errors); the outcome is a small recode table loaded
   into the engine and joined to the events (:func:`~kg_editor.engines.queries.canonical_events_sql`).
2. **The index date** of each patient is a grouping inside the engine
   (:func:`~kg_editor.engines.queries.index_dates_sql`); the look-back and outcome windows
   are a condition on each event (:func:`~kg_editor.engines.queries.window_keep_sql`).

Only per-code counts (one row per distinct triple) and five counts for the build report
leave the engine. With an index, the index dates and the events inside the windows are
computed once into temporary tables (:meth:`~kg_editor.engines.connection.Engine.materialize`)
that the cohort's queries read.

Examples
--------
>>> import pandas as pd
>>> from kg_editor.data.concepts import ConceptSets
>>> t = pd.DataFrame({"code": ["K25.4", "K26", "I10"], "description": [None] * 3,
...                   "domain": ["condition"] * 3, "n": [5, 3, 9], "undated": [0, 0, 1]})
>>> rec, after, members = plan_recode(t, ConceptSets.from_dict({"Ulcer": {"prefixes": ["K2"]}}))
>>> sorted(rec["to_code"].tolist()), members
(['concept:Ulcer', 'concept:Ulcer'], {'concept:Ulcer': ['K25.4', 'K26']})
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kg_editor.data.concepts import ConceptSets, apply_concept_sets, read_concept_sets
from kg_editor.engines.queries import (
    EventsTable,
    PersonsTable,
    canonical_events_sql,
    code_triples_sql,
    index_dates_sql,
    index_notes_sql,
    q,
    window_keep_sql,
    windowed_events_sql,
)
from kg_editor.errors import SchemaError, unknown_variable

if TYPE_CHECKING:
    from kg_editor.engines.counts import EngineSource

__all__ = ["PreparedEvents", "plan_recode", "prepare_events"]

_RECODE_COLUMNS = [
    "from_code",
    "from_description",
    "from_domain",
    "to_code",
    "to_description",
    "to_domain",
]


@dataclass(frozen=True)
class PreparedEvents:
    """The events a cohort reads, after concept sets and the index windows.

    Attributes
    ----------
    events : EventsTable
        A subquery over the source's events (canonical column names); with an index,
        over a temporary table of the events inside the windows, computed once.
    persons : PersonsTable or None
        The persons the cohort counts: with an index date, only those who have one.
    index_dates : str or None
        A query ``patient_id, at``: each patient's index date (a temporary table).
    concept_notes, index_notes : dict
        What ``build_cohort`` records in ``build_report`` (concept-set members; patients
        with and without an index, events outside the windows, undated events).
    settings : dict
        What ``build_cohort`` records in ``settings`` for these options.
    """

    events: EventsTable
    persons: PersonsTable | None
    index_dates: str | None = None
    concept_notes: dict[str, Any] = field(default_factory=dict)
    index_notes: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality with missing values equal."""
    return (a == b) | (a.isna() & b.isna())


def plan_recode(
    triples: pd.DataFrame, sets: ConceptSets
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]]]:
    """What concept sets do to events, decided over their distinct triples.

    Parameters
    ----------
    triples : DataFrame
        ``code, description, domain, n, undated`` (:func:`~kg_editor.engines.queries.code_triples_sql`).
    sets : ConceptSets

    Returns
    -------
    recode : DataFrame
        ``from_code, from_description, from_domain, to_code, to_description, to_domain``
        for every triple that changes (several rows when a mapping gives several codes).
    after : DataFrame
        The triples after recoding (``code, description, domain, n, undated``).
    members : dict
        Concept code -> its member codes (``build_report["concept_sets"]``).

    Raises
    ------
    SchemaError
        As :func:`kg_editor.data.concepts.apply_concept_sets`: a code in two sets, a set
        that matches nothing.

    Notes
    -----
    The triples are ordered most common description first within a code, so where the
    in-memory path takes the description of a code's first event (a mapped or rolled-up
    code's label), the engine takes its most common one; they differ only for a code
    with several descriptions. A concept's domain is its members' most common one,
    counted over events, as in memory.
    """
    t = triples.copy()
    for c in ("n", "undated"):
        t[c] = pd.to_numeric(t[c]).fillna(0).astype(np.int64)
    for c in ("code", "description", "domain"):
        t[c] = t[c].astype(object).where(t[c].notna(), None)
    t = t.sort_values(
        ["code", "n", "description"], ascending=[True, False, True], na_position="last"
    ).reset_index(drop=True)
    t["_id"] = np.arange(len(t))
    t["_code0"], t["_desc0"], t["_domain0"] = t["code"], t["description"], t["domain"]
    res = apply_concept_sets(t, sets)
    out = res.events
    hit = out["code"].isin(list(res.members))
    if hit.any():  # the concept's domain: its members' most common one, over events
        sub = out.loc[hit & out["_domain0"].notna()]
        w = sub.groupby(["code", "_domain0"])["n"].sum().reset_index()
        w = w.sort_values(["code", "n", "_domain0"], ascending=[True, False, True])
        dom = w.drop_duplicates("code").set_index("code")["_domain0"]
        mapped = out.loc[hit, "code"].map(dom)
        out.loc[hit, "domain"] = mapped.astype(object).where(mapped.notna(), None).to_numpy()
    same = (
        (out["code"] == out["_code0"])
        & _same(out["description"], out["_desc0"])
        & _same(out["domain"], out["_domain0"])
    )
    size = out.groupby("_id")["_id"].transform("size")
    changed = set(out.loc[~same | (size != 1), "_id"])
    rec = out.loc[out["_id"].isin(changed)].sort_values(["_id", "code"])
    recode = pd.DataFrame(
        {
            "from_code": rec["_code0"],
            "from_description": rec["_desc0"],
            "from_domain": rec["_domain0"],
            "to_code": rec["code"],
            "to_description": rec["description"],
            "to_domain": rec["domain"],
        }
    ).reset_index(drop=True)
    for c in _RECODE_COLUMNS:
        recode[c] = recode[c].astype(object).where(recode[c].notna(), None)
    after = out[["code", "description", "domain", "n", "undated"]].reset_index(drop=True)
    return recode, after, res.members


def _labels(triples: pd.DataFrame) -> dict[str, str]:
    """Each code's most common description (ties: the smaller), counted over events."""
    sub = triples.dropna(subset=["description"])
    if sub.empty:
        return {}
    g = sub.groupby(["code", "description"])["n"].sum().reset_index()
    g = g.sort_values(["code", "n", "description"], ascending=[True, False, True])
    return {
        str(k): str(v)
        for k, v in g.drop_duplicates("code").set_index("code")["description"].items()
    }


def _event_code(name: str, codes: set[str], labels: Mapping[str, str]) -> str | None:
    """The event code a target/index name means (code, label or concept-set name), as
    :func:`kg_editor.data.cohort._event_code` finds it."""
    for cand in (name, f"concept:{name}"):
        if cand in codes:
            return cand
    low = name.strip().lower()
    for code, lab in labels.items():
        if lab.lower() == low or code.lower() == low:
            return code
    return None


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _register_recode(src: EngineSource, recode: pd.DataFrame) -> str:
    """Load the recode table under a name of its content (an engine that reads a
    registered table lazily never sees it replaced)."""
    digest = hashlib.sha1(recode.to_json(orient="values").encode()).hexdigest()[:12]
    name = f"kg_recode_{digest}"
    src.engine.register(name, recode)
    return name


def _materialize(src: EngineSource, prefix: str, sql: str) -> str:
    """``sql`` computed once into a temporary table named after its text; returns a query
    reading it (``patient_id, ...`` as ``sql`` gives them)."""
    from kg_editor.engines.queries import render

    name = f"{prefix}_{hashlib.sha1(sql.encode()).hexdigest()[:12]}"
    src.engine.materialize(name, render(sql, src.engine.dialect))
    return f"SELECT * FROM {q(name)}"


def prepare_events(
    src: EngineSource,
    *,
    target: str | None = None,
    concepts: ConceptSets | str | Path | None = None,
    index: str | None = None,
    lookback_days: int | None = None,
    outcome_days: int | None = None,
) -> PreparedEvents | None:
    """The events of ``src`` after concept sets and an index date with its windows
    (``None`` when neither is given), with the notes and settings ``build_cohort``
    records. The options mean what they mean for
    :func:`kg_editor.data.cohort.build_cohort`.

    Raises
    ------
    SchemaError, UnknownVariableError
        The errors of ``build_cohort``: a code in two concept sets, a set that matches
        nothing, a negative window, a window without an index, an unknown index code,
        ``index="persons"`` without an ``index_date`` column.
    """
    sets = (
        concepts
        if isinstance(concepts, ConceptSets) or concepts is None
        else read_concept_sets(concepts)
    )
    if index is None:
        if lookback_days is not None or outcome_days is not None:
            raise SchemaError(
                "A look-back or outcome window needs an index date; give index= (--index)."
            )
        if sets is None:
            return None
    for what, days in (("lookback_days", lookback_days), ("outcome_days", outcome_days)):
        if days is not None and days < 0:
            raise SchemaError(f"{what} must be 0 or more days, got {days}.")
    triples = src._q(code_triples_sql(src.events))
    recode_table = None
    concept_notes: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    if sets is not None:
        recode, triples, members = plan_recode(triples, sets)
        concept_notes["concept_sets"] = members
        settings["concepts"] = sets.to_dict()
        if len(recode):
            recode_table = _register_recode(src, recode)
    canonical = canonical_events_sql(src.events, recode_table)
    if index is None:
        return PreparedEvents(
            EventsTable(f'({canonical}) AS "kg_ev"', raw=True),
            src.persons,
            concept_notes=concept_notes,
            settings=settings,
        )

    codes = set(triples["code"].astype(str))
    labels = _labels(triples)
    target_code = _event_code(target, codes, labels) if target is not None else None
    index_code: str | None = None
    no_index_column = SchemaError(
        "index='persons' reads the persons file's 'index_date' column; the persons file "
        "has none. Add it, or index on a code or on first_event.",
        column="index_date",
    )
    if index == "first_event":
        idx = index_dates_sql(canonical)
    elif index == "persons":
        if src.persons is None or src.persons.index_date is None:
            raise no_index_column
        idx = index_dates_sql(canonical, persons=src.persons)
    else:
        name = index[5:] if index.startswith("code:") else index
        index_code = _event_code(name, codes, labels)
        if index_code is None:
            raise unknown_variable(name, [*labels, *labels.values()], what="index code")
        idx = index_dates_sql(canonical, index_code=index_code)
    keep = window_keep_sql(target_code, index_code, lookback_days, outcome_days)
    # the index dates and the events inside the windows are computed once, into
    # temporary tables (a cached view on Spark) that every later query reads: the
    # cohort runs half a dozen queries over them (twice as fast at 1M patients)
    idx = _materialize(src, "kg_index_dates", idx)
    row = src._q(index_notes_sql(canonical, idx, keep, src.persons)).iloc[0]
    with_index, without = _int(row["with_index"]), _int(row["without_index"])
    if index == "persons" and with_index == 0:
        raise no_index_column
    index_notes = {
        "index": index,
        "patients_with_index": with_index,
        "patients_without_index": without,
        "events_outside_windows": _int(row["at_index"]) - _int(row["kept"]),
        "undated_events_left_out": _int(row["undated"]),
    }
    if without:
        warnings.warn(
            f"{src.name}: {without} patient(s) have no index date ({index}) and are left out "
            f"of the cohort; {with_index} remain.",
            UserWarning,
            stacklevel=3,
        )
    persons = None
    if src.persons is not None:
        p = src.persons
        restricted = (
            f"(SELECT * FROM {p.source()} WHERE CAST({q(p.patient)} AS VARCHAR) IN "
            f'(SELECT "patient_id" FROM ({idx}) AS "i0")) AS "kg_pp"'
        )
        persons = PersonsTable(
            restricted,
            patient=p.patient,
            sex=p.sex,
            birth_year=p.birth_year,
            index_date=p.index_date,
            raw=True,
        )
    settings.update({"index": index, "lookback_days": lookback_days, "outcome_days": outcome_days})
    windowed = _materialize(src, "kg_window_events", windowed_events_sql(canonical, idx, keep))
    return PreparedEvents(
        EventsTable(f'({windowed}) AS "kg_ev"', raw=True),
        persons,
        index_dates=idx,
        concept_notes=concept_notes,
        index_notes=index_notes,
        settings=settings,
    )
