"""Cohorts, pair counts and weighted patterns computed inside the engine holding the data.

:class:`EngineSource` pairs an :class:`~kg_editor.engines.connection.Engine` with the
names of its events (and persons) tables. Its methods run the queries of
:mod:`kg_editor.engines.queries` in that engine's dialect and bring back only what
they say:

* :meth:`EngineSource.cohort` -- the :class:`~kg_editor.data.cohort.Cohort` that
  :func:`~kg_editor.data.cohort.build_cohort` builds from the same events (variables
  chosen from per-code counts; patient rows leave the engine: the in-memory path);
* :meth:`EngineSource.pair_counts` -- a :class:`~kg_editor.discovery.counting.PairCounts`
  (item x item counts: no patient row leaves the engine);
* :meth:`EngineSource.patterns` -- the cohort compressed to distinct state patterns
  with weights, suppressed inside the engine when asked (no patient row leaves).

Examples
--------
>>> import pandas as pd
>>> from kg_editor.engines import open_engine
>>> ev = pd.DataFrame({"patient_id": ["1", "1", "2", "3"], "code": ["a", "b", "a", "b"]})
>>> src = EngineSource.from_frames(open_engine("duckdb://"), ev)
>>> pats = src.patterns([Var("a", ("absent", "present")), Var("b", ("absent", "present"))])
>>> pats.codes.tolist(), pats.weights.tolist()
([[0, 1], [1, 0], [1, 1]], [1, 1, 1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kg_editor.data.cohort import VariableViews
from kg_editor.engines.connection import Engine, open_engine
from kg_editor.engines.patterns import Patterns
from kg_editor.engines.queries import (
    EventsTable,
    PersonsTable,
    Var,
    code_labels_sql,
    code_values_sql,
    pack_layout,
    packed_pattern_counts_sql,
    pair_counts_sql,
    patient_dates_sql,
    pattern_remainder_sql,
    persons_sql,
    precedence_counts_sql,
    q,
    render,
    split_units_sql,
    wide_states_sql,
)
from kg_editor.errors import SchemaError, unknown_variable

__all__ = [
    "EngineSource",
    "PatternCohort",
    "Var",
    "patterns_from_words",
    "unpack_words",
    "variables_of",
]

ABSENT, PRESENT = "absent", "present"


def variables_of(states: Mapping[str, Sequence[str]], codes: Sequence[str]) -> list[Var]:
    """The engine's variable specs for ``codes`` (``cohort.states`` gives ``states``)."""
    return [Var(c, tuple(states[c])) for c in codes]


@dataclass
class EngineSource:
    """Events (and persons) that live in an engine.

    Attributes
    ----------
    engine : Engine
    events : EventsTable
    persons : PersonsTable or None
    name : str
        Shown as the cohort's source.
    age_dates : str or None
        A query ``patient_id, first_event``: the date each patient's age band is taken at
        (default: the first event); :meth:`prepared` sets it.
    """

    engine: Engine
    events: EventsTable
    persons: PersonsTable | None = None
    name: str = "engine"
    age_dates: str | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        url: str | Engine,
        events: str | EventsTable = "events",
        persons: str | PersonsTable | None = None,
        name: str | None = None,
    ) -> EngineSource:
        """Events in the table ``events`` of the engine at ``url``.

        For DuckDB, ``events`` may also be a Parquet/CSV path or glob (read where it is,
        out of core).
        """
        eng = open_engine(url)
        ev = events if isinstance(events, EventsTable) else _events_table(eng, str(events))
        pt = _persons_table(eng, persons) if isinstance(persons, str) else persons
        return cls(eng, ev, pt, name or eng.url)

    @classmethod
    def from_frames(
        cls,
        engine: Engine | str,
        events: pd.DataFrame,
        persons: pd.DataFrame | None = None,
        name: str = "frames",
    ) -> EngineSource:
        """Load event (and persons) frames into ``engine`` (used by tests and examples)."""
        eng = open_engine(engine)
        ev = events.copy()
        for c in ("date", "value", "description", "domain"):
            if c not in ev:
                ev[c] = pd.Series(
                    [None] * len(ev), dtype=object if c != "date" else "datetime64[ns]"
                )
        ev = ev[["patient_id", "code", "date", "value", "description", "domain"]]
        eng.register("kg_events", ev)
        pt = None
        if persons is not None:
            cols = ["patient_id", "sex", "birth_year"]
            dated = "index_date" in persons and bool(persons["index_date"].notna().any())
            frame = persons[[*cols, "index_date"] if dated else cols].copy()
            if dated:
                frame["index_date"] = pd.to_datetime(frame["index_date"])
            eng.register("kg_persons", frame)
            pt = PersonsTable("kg_persons", index_date="index_date" if dated else None)
        return cls(eng, EventsTable("kg_events"), pt, name)

    def _q(self, sql: str) -> pd.DataFrame:
        return self.engine.query(render(sql, self.engine.dialect))

    # ------------------------------------------------------------------ per-code counts
    def code_values(self) -> pd.DataFrame:
        """Patients per code and first value (``code, value, n``)."""
        out = self._q(code_values_sql(self.events))
        out["n"] = out["n"].astype(np.int64)
        return out

    def _labels(self, column: str | None, events: EventsTable | None = None) -> dict[str, str]:
        if column is None:
            return {}
        df = self._q(code_labels_sql(events or self.events, column))
        if df.empty:
            return {}
        df["n"] = df["n"].astype(np.int64)
        df = df.sort_values(["code", "n", "label"], ascending=[True, False, True])
        return {
            str(k): str(v) for k, v in df.drop_duplicates("code").set_index("code")["label"].items()
        }

    def _states(self, values: pd.DataFrame) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
        states: dict[str, tuple[str, ...]] = {}
        counts: dict[str, int] = {}
        for code, grp in values.groupby("code", sort=True):
            vals = grp["value"].tolist()
            counts[str(code)] = int(grp["n"].sum())
            if any(v is not None and v == v for v in vals):
                uniq = sorted({PRESENT if v is None or v != v else str(v) for v in vals})
                states[str(code)] = (ABSENT, *uniq)
            else:
                states[str(code)] = (ABSENT, PRESENT)
        return states, counts

    # ------------------------------------------------------------------ the cohort
    def cohort(
        self,
        target: str | None = None,
        *,
        min_patients: int = 20,
        max_variables: int = 60,
        test_size: float = 0.2,
        seed: int = 0,
        age_bands: Sequence[int] | None = None,
        include_demographics: bool = True,
        keep: Sequence[str] = (),
        age_at: str | None = None,
        concepts: Any = None,
        index: str | None = None,
        lookback_days: int | None = None,
        outcome_days: int | None = None,
        unmatched_persons: str = "warn",
        min_cell: int | None = None,
    ) -> Any:
        """The cohort :func:`~kg_editor.data.cohort.build_cohort` builds from the same
        events and persons, with every count and state computed by the engine.

        Only the chosen variables' state codes and first dates per patient leave the
        engine. Concept sets and an index date with its windows are applied inside the
        engine (:func:`kg_editor.engines.prepare.prepare_events`). Raises the same errors
        as ``build_cohort``.
        """
        from kg_editor.data import cohort as C
        from kg_editor.data.privacy import DEFAULT_MIN_CELL
        from kg_editor.data.sources.base import EHRSource
        from kg_editor.engines.prepare import prepare_events

        bands = tuple(age_bands) if age_bands is not None else C.DEFAULT_AGE_BANDS
        age_at = age_at or ("index" if index else "first_event")
        if age_at not in ("first_event", "last_event", "index"):
            raise SchemaError(
                f"age_at must be 'first_event', 'last_event' or 'index', got {age_at!r}."
            )
        if unmatched_persons not in ("warn", "error"):
            raise SchemaError(
                f"unmatched_persons must be 'warn' or 'error', got {unmatched_persons!r}."
            )
        min_cell = DEFAULT_MIN_CELL if min_cell is None else int(min_cell)
        prep = prepare_events(
            self,
            target=target,
            concepts=concepts,
            index=index,
            lookback_days=lookback_days,
            outcome_days=outcome_days,
        )
        if age_at == "index" and (prep is None or prep.index_dates is None):
            raise SchemaError("age_at='index' needs an index date; give index= (--index).")
        events = prep.events if prep is not None else self.events
        values = self._q(code_values_sql(events))
        values["n"] = values["n"].astype(np.int64)
        states, counts = self._states(values)
        labels = self._labels(events.description, events)
        domains = self._labels(events.domain, events)
        pdates = self._q(patient_dates_sql(self.events))
        persons = self._q(persons_sql(self.persons)) if self.persons is not None else None
        if persons is not None:
            persons["birth_year"] = pd.to_numeric(persons["birth_year"], errors="coerce")
        ids = set(pdates["patient_id"].astype(str))
        build: dict[str, Any] = dict(prep.concept_notes) if prep is not None else {}
        if persons is not None:
            persons["patient_id"] = persons["patient_id"].astype(str)
            build.update(
                C._check_persons(
                    EHRSource(events=pd.DataFrame(), persons=persons, name=self.name),
                    pd.DataFrame({"patient_id": sorted(ids)}),
                    unmatched_persons,
                )
            )
            ids |= set(persons["patient_id"])
        has_dates = pd.to_datetime(pdates["first_event"]).notna().any()
        has_event_dates = has_dates
        index_dates = None
        if prep is not None and prep.index_dates is not None:
            build.update(prep.index_notes)
            idx = self._q(prep.index_dates)
            index_dates = pd.Series(
                pd.to_datetime(idx["at"]).to_numpy(dtype="datetime64[ns]"),
                index=idx["patient_id"].astype(str),
            )
            kept = self._q(patient_dates_sql(events))
            has_event_dates = pd.to_datetime(kept["first_event"]).notna().any()
            ids = set(kept["patient_id"].astype(str)) | (
                set(persons["patient_id"]) & set(index_dates.index)
                if persons is not None
                else set()
            )
        patients = pd.Index(sorted(ids), name="patient_id")
        n = len(patients)
        if n < C.MIN_PATIENTS:
            raise SchemaError(
                f"The source {self.name!r} has {n} patients; at least {C.MIN_PATIENTS} are needed to fit and "
                "evaluate a model. Use a larger extract."
            )
        if age_at == "index":
            first_event = index_dates
        elif has_dates:
            col = "first_event" if age_at == "first_event" else "last_event"
            first_event = pd.Series(
                pd.to_datetime(pdates[col]).to_numpy(), index=pdates["patient_id"].astype(str)
            )
        else:
            first_event = None
        src = EHRSource(events=pd.DataFrame(), persons=persons, name=self.name, kind="engine")
        person_frame = C._persons_frame(src, patients, first_event, bands)

        demo: dict[str, np.ndarray] = {}
        if include_demographics:
            for dcol in ("sex", "age_band"):
                vals = person_frame[dcol]
                minority = len(vals) - int(vals.value_counts().iloc[0]) if len(vals) else 0
                if minority >= min_patients:
                    cats = sorted(vals.unique().tolist())
                    demo[dcol] = pd.Categorical(vals, categories=cats).codes.astype(np.int8)
                    states[dcol] = tuple(cats)
                    labels.setdefault(dcol, "Sex" if dcol == "sex" else "Age band")
                    domains[dcol] = "demographic"
        names = {c: labels.get(c, c) for c in [*demo, *counts]}

        def resolve(name: str) -> str:  # as build_cohort resolves a target
            return _resolve_code(name, names, self.name)

        tgt = resolve(target) if target is not None else None
        always = {tgt} if tgt else set()
        always |= {resolve(k) for k in keep}
        one_state = [c for c, v in demo.items() if len(np.unique(v)) < 2]
        one_state += [
            c
            for c in sorted(counts)
            if counts[c] == n and (len(states[c]) == 2 or _single_value(values, c))
        ]
        C.drop_one_state(one_state, always, names)
        for c, st in states.items():
            if len(st) > C.MAX_STATES and c not in one_state:
                raise SchemaError(
                    f"The variable {names.get(c, c)!r} ({c}) has {len(st)} states; at most {C.MAX_STATES} are "
                    "supported. Group its values into fewer categories.",
                    column=c,
                )
        drop = set(one_state)
        event_cols, cut = C.select_variables(counts, drop, min_patients, max_variables, always)
        ordered = [c for c in demo if c not in drop] + event_cols

        wide = self._q(wide_states_sql(events, variables_of(states, event_cols)))
        pos = patients.get_indexer(wide["patient_id"].astype(str))
        data = {c: demo[c] for c in ordered if c in demo}
        fdates: dict[str, np.ndarray] = {}
        for k, c in enumerate(event_cols):
            col_arr = np.zeros(n, dtype=np.int8)
            v = pd.to_numeric(wide[f"v{k}"], errors="coerce").fillna(0).to_numpy().astype(np.int8)
            col_arr[pos] = v
            data[c] = col_arr
            d = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
            d[pos] = pd.to_datetime(wide[f"d{k}"]).to_numpy(dtype="datetime64[ns]")
            fdates[c] = d
        frame = pd.DataFrame({c: data[c] for c in ordered}, index=patients)
        variables = {}
        for c in ordered:
            nz = int((frame[c].to_numpy() != 0).sum())
            variables[c] = C.Variable(
                code=c,
                label=str(labels.get(c, c)),
                domain=str(domains.get(c, "other")).lower(),
                states=tuple(states[c]),
                n_patients=nz,
                prevalence=nz / n,
            )
        fd = None
        if has_event_dates:
            fd = pd.DataFrame(
                {
                    c: fdates.get(c, np.full(n, np.datetime64("NaT"), "datetime64[ns]"))
                    for c in ordered
                },
                index=patients,
            ).astype("datetime64[ns]")
            fd.columns.name = "code"
        y = frame[tgt].to_numpy() if tgt else np.zeros(n, dtype=np.int8)
        settings = {
            "min_patients": min_patients,
            "max_variables": max_variables,
            "test_size": test_size,
            "seed": seed,
            "age_bands": list(bands),
            "include_demographics": include_demographics,
            "age_at": age_at,
            "min_cell": min_cell,
            **(prep.settings if prep is not None else {}),
        }
        build.update(
            {
                "codes_seen": len(counts),
                "codes_kept": len(event_cols),
                "codes_below_min_patients": len(
                    [c for c in counts if counts[c] < min_patients and c not in always]
                ),
                "codes_over_max_variables": len(cut),
            }
        )
        return C.Cohort(
            data=frame,
            variables=variables,
            persons=person_frame,
            first_dates=fd,
            is_test=C.stratified_split(y, test_size=test_size, seed=seed),
            target=tgt,
            source_name=self.name,
            settings=settings,
            build_report=build,
        )

    # ------------------------------------------------------------------ counts
    def _units(self, patients: Sequence[Any] | pd.DataFrame | None, name: str) -> str | None:
        if patients is None:
            return None
        frame = (
            patients.copy()
            if isinstance(patients, pd.DataFrame)
            else pd.DataFrame({"patient_id": pd.Series(list(patients)).astype(str)})
        )
        frame["patient_id"] = frame["patient_id"].astype(str)
        self.engine.register(name, frame.drop_duplicates("patient_id"))
        return name

    def pair_counts(
        self,
        variables: Sequence[Var],
        *,
        patients: Sequence[Any] | None = None,
        n_patients: int | None = None,
    ) -> Any:
        """Every pairwise contingency table of ``variables`` as
        :class:`~kg_editor.discovery.counting.PairCounts`, counted in the engine.

        ``patients`` restricts counting to those ids (the training split) and sets ``n``.
        """
        from kg_editor.discovery.counting import PairCounts, _offsets

        units = self._units(patients, "kg_pair_units")
        res = self._q(pair_counts_sql(self.events, variables, units=units))
        st = [v.states for v in variables]
        offsets = _offsets(st)
        m = int(offsets[-1])
        out = np.zeros((m, m), np.int64)
        a = res["a"].to_numpy().astype(np.int64)
        b = res["b"].to_numpy().astype(np.int64)
        cnt = res["n"].to_numpy().astype(np.int64)
        keep = (a >= 0) & (b >= 0) & (a < m) & (b < m)
        out[a[keep], b[keep]] = cnt[keep]
        out[b[keep], a[keep]] = cnt[keep]
        if patients is not None:
            n = len({str(p) for p in patients})
        elif n_patients is not None:
            n = int(n_patients)
        else:
            n = int(
                self._q(f'SELECT COUNT(*) AS "n" FROM ({_all_units(self)}) AS "u"')["n"].iloc[0]
            )
        return PairCounts(
            codes=tuple(v.code for v in variables),
            states=tuple(st),
            n=n,
            offsets=offsets,
            matrix=out,
        )

    def precedence(
        self,
        variables: Sequence[Var],
        *,
        patients: Sequence[Any] | None = None,
        units: str | None = None,
        events: EventsTable | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Temporal precedence counts ``(first, ties)`` of ``variables`` (variables x
        variables, as :func:`kg_editor.discovery.counting.precedence_counts` gives them
        from the cohort's first dates), counted inside the engine over ``patients`` (ids)
        or ``units`` (a table or query with ``patient_id``; default every patient), over
        ``events`` (default the source's; :meth:`pattern_cohort` passes the events after
        concept sets and windows)."""
        if units is None:
            units = self._units(patients, "kg_precedence_units")
        res = self._q(precedence_counts_sql(events or self.events, variables, units=units))
        p = len(variables)
        first = np.zeros((p, p), np.int64)
        ties = np.zeros((p, p), np.int64)
        a = res["a"].to_numpy().astype(np.int64)
        b = res["b"].to_numpy().astype(np.int64)
        af = res["a_first"].to_numpy().astype(np.int64)
        bf = res["b_first"].to_numpy().astype(np.int64)
        tt = res["ties"].to_numpy().astype(np.int64)
        first[a, b] = af
        first[b, a] = bf
        ties[a, b] = tt
        ties[b, a] = tt
        return first, ties

    def prepared(
        self,
        target: str | None = None,
        *,
        concepts: Any = None,
        index: str | None = None,
        lookback_days: int | None = None,
        outcome_days: int | None = None,
        age_at: str | None = None,
    ) -> EngineSource:
        """This source with concept sets and an index date with its windows applied inside
        the engine (:func:`kg_editor.engines.prepare.prepare_events`): its events are those
        a cohort with these options reads, its persons those with an index, and its age
        bands are taken at ``age_at`` (``index``, the default with an index, or the first
        or last event). What :meth:`patterns` and
        :meth:`kg_editor.model.external.SiteCounts.from_engine` count over. The options
        mean what they mean for :meth:`cohort`.
        """
        return self._prepare(target, concepts, index, lookback_days, outcome_days, age_at)[0]

    def _prepare(
        self,
        target: str | None,
        concepts: Any,
        index: str | None,
        lookback_days: int | None,
        outcome_days: int | None,
        age_at: str | None,
    ) -> tuple[EngineSource, Any, str]:
        from dataclasses import replace

        from kg_editor.engines.prepare import prepare_events

        age_at = age_at or ("index" if index else "first_event")
        if age_at not in ("first_event", "last_event", "index"):
            raise SchemaError(
                f"age_at must be 'first_event', 'last_event' or 'index', got {age_at!r}."
            )
        prep = prepare_events(
            self,
            target=target,
            concepts=concepts,
            index=index,
            lookback_days=lookback_days,
            outcome_days=outcome_days,
        )
        if age_at == "index" and (prep is None or prep.index_dates is None):
            raise SchemaError("age_at='index' needs an index date; give index= (--index).")
        if age_at == "index":
            assert prep is not None and prep.index_dates is not None
            age_dates = (
                f'SELECT "x"."patient_id" AS "patient_id", "x"."at" AS "first_event" '
                f'FROM ({prep.index_dates}) AS "x"'
            )
        else:
            age_dates = (
                f'SELECT "x"."patient_id" AS "patient_id", "x".{q(age_at)} AS "first_event" '
                f'FROM ({patient_dates_sql(self.events)}) AS "x"'
            )
        if prep is None:
            return replace(self, age_dates=age_dates), None, age_at
        return (
            replace(self, events=prep.events, persons=prep.persons, age_dates=age_dates),
            prep,
            age_at,
        )

    def pattern_cohort(
        self,
        target: str | None = None,
        *,
        min_patients: int = 20,
        max_variables: int = 60,
        test_size: float = 0.2,
        seed: int = 0,
        keep: Sequence[str] = (),
        min_count: int = 1,
        dates: bool = False,
        concepts: Any = None,
        index: str | None = None,
        lookback_days: int | None = None,
        outcome_days: int | None = None,
        age_at: str | None = None,
    ) -> PatternCohort:
        """The cohort as weighted patterns, split and counted inside the engine.

        Event variables are chosen as :meth:`cohort` chooses them (sex and age band are
        subgroups of the held-out patterns, not variables). The split is the engine's
        stratified hash split (:func:`kg_editor.engines.queries.split_units_sql`).
        ``min_count`` suppresses small patterns inside the engine. ``dates`` also counts
        the training patients' temporal precedence inside the engine
        (:meth:`precedence`), which :class:`~kg_editor.discovery.distill.Distiller`
        uses to orient edges as it does with a row-level cohort's first dates.

        ``concepts``, ``index``, ``lookback_days``, ``outcome_days`` and ``age_at`` (the
        date the age band is taken at) mean what they mean for :meth:`cohort`, and are
        applied inside the engine too.
        """
        from kg_editor.data import cohort as C

        src, prep, age_at = self._prepare(
            target, concepts, index, lookback_days, outcome_days, age_at
        )
        events, persons, age_dates = src.events, src.persons, src.age_dates
        values = self._q(code_values_sql(events))
        values["n"] = values["n"].astype(np.int64)
        states, counts = self._states(values)
        labels = self._labels(events.description, events)
        domains = self._labels(events.domain, events)
        names = {c: labels.get(c, c) for c in counts}

        def resolve(name: str) -> str:
            return _resolve_code(name, names, self.name)

        tgt = resolve(target) if target is not None else None
        always = ({tgt} if tgt else set()) | {resolve(k) for k in keep}
        # the split is computed once inside the engine (a temporary table)
        # and read by the patterns and the precedence counts
        units = self.engine.materialize(
            "kg_split_units",
            render(
                split_units_sql(
                    events,
                    Var(tgt, states[tgt]) if tgt else None,
                    test_size=test_size,
                    seed=seed,
                    persons=persons,
                    age_dates=age_dates,
                ),
                self.engine.dialect,
            ),
        )
        n_all = int(self._q(f'SELECT COUNT(*) AS "n" FROM {q(units)}')["n"].iloc[0])
        one_state = {
            c
            for c in counts
            if counts[c] == n_all and (len(states[c]) == 2 or _single_value(values, c))
        }
        ordered, _cut = C.select_variables(counts, one_state, min_patients, max_variables, always)
        for c in ordered:
            if len(states[c]) > C.MAX_STATES:
                raise SchemaError(
                    f"The variable {names[c]!r} ({c}) has {len(states[c])} states; at most "
                    f"{C.MAX_STATES} are supported. Group its values into fewer categories.",
                    column=c,
                )
        variables = variables_of(states, ordered)
        # one packed query; the split's patterns are summed over the
        # packed words (a few integers per pattern), never over a patients x variables
        # matrix
        res = self._q(
            packed_pattern_counts_sql(
                events,
                variables,
                units=units,
                keys=["split", "sex", "age_band"],
                min_count=min_count,
                persons=persons,
            )
        )
        remainder = (0, 0)
        if min_count > 1:
            r = self._q(
                pattern_remainder_sql(
                    events,
                    variables,
                    units=units,
                    keys=["split", "sex", "age_band"],
                    min_count=min_count,
                    persons=persons,
                )
            )
            remainder = (int(r["patterns"].iloc[0]), int(r["patients"].iloc[0]))
        is_test = (res["split"].astype(str) == "test").to_numpy()
        train = patterns_from_words(
            res[~is_test], variables, (), min_count=min_count, remainder=remainder
        )
        test = patterns_from_words(
            res[is_test], variables, ("sex", "age_band"), min_count=min_count, remainder=remainder
        )
        del res
        var_objs = {}
        total = train.n + test.n
        for j, c in enumerate(ordered):
            nz = int(train.weights[train.codes[:, j] != 0].sum()) + int(
                test.weights[test.codes[:, j] != 0].sum()
            )
            var_objs[c] = C.Variable(
                code=c,
                label=str(labels.get(c, c)),
                domain=str(domains.get(c, "other")).lower(),
                states=tuple(states[c]),
                n_patients=nz,
                prevalence=nz / total if total else 0.0,
            )
        settings = {
            "min_patients": min_patients,
            "max_variables": max_variables,
            "test_size": test_size,
            "seed": seed,
            "split": "engine-md5",
            "min_count": min_count,
            **({"age_at": age_at} if age_at != "first_event" else {}),
            **(prep.settings if prep is not None else {}),
        }
        prec = None
        if dates and self.events.date:
            train_units = f'SELECT "patient_id" FROM {q(units)} WHERE "split" = \'train\''
            prec = self.precedence(variables, units=train_units, events=events)
        return PatternCohort(var_objs, train, test, tgt, self.name, settings, precedence=prec)

    def patterns(
        self,
        variables: Sequence[Var],
        *,
        patients: Sequence[Any] | pd.DataFrame | None = None,
        keys: Sequence[str] = (),
        min_count: int = 1,
        units: str | None = None,
    ) -> Patterns:
        """The cohort over ``variables`` compressed to distinct patterns with weights.

        Parameters
        ----------
        variables : sequence of Var
        patients : ids or DataFrame, optional
            Patients to count; a frame with ``patient_id`` plus ``keys`` columns (split,
            subgroups) adds those to the pattern. Default: every patient.
        min_count : int
            Suppression inside the engine: patterns with fewer patients are left out and
            only their number and total are returned (``Patterns.remainder``).
        """
        if units is None:
            units = self._units(patients, "kg_pattern_units")
        # packed words (the same patterns as pattern_counts_sql, a cost
        # that does not grow with the variables; a few integers per pattern leave)
        sql = packed_pattern_counts_sql(
            self.events,
            variables,
            units=units,
            keys=keys,
            min_count=min_count,
            persons=self.persons,
        )
        res = self._q(sql)
        remainder = (0, 0)
        if min_count > 1:
            r = self._q(
                pattern_remainder_sql(
                    self.events,
                    variables,
                    units=units,
                    keys=keys,
                    min_count=min_count,
                    persons=self.persons,
                )
            )
            remainder = (int(r["patterns"].iloc[0]), int(r["patients"].iloc[0]))
        return patterns_from_words(res, variables, keys, min_count=min_count, remainder=remainder)


def _resolve_code(name: str, names: Mapping[str, str], where: str) -> str:
    """The code a user means by ``name`` (a code or a label, any case), as
    :func:`kg_editor.data.cohort.build_cohort` resolves a target."""
    if name in names:
        return name
    low = name.strip().lower()
    for code, lab in names.items():
        if str(lab).lower() == low or code.lower() == low:
            return code
    raise unknown_variable(name, [*names, *names.values()], what=f"variable in {where!r}")


@dataclass
class PatternCohort(VariableViews):
    """A cohort held only as weighted patterns: no patient row ever left the engine.

    :meth:`EngineSource.pattern_cohort` builds it; ``EditSession(pattern_cohort, graph)``
    runs on it directly (as with ``patterns=True``), so an edit's cost grows with the
    distinct patterns, not the patients.

    Attributes
    ----------
    variables : dict
        Code -> :class:`~kg_editor.data.cohort.Variable`.
    train_patterns, test_patterns : Patterns
        Distinct training / held-out rows with counts; held-out ones keyed by ``sex``
        and ``age_band``.
    target : str or None
    precedence : (ndarray, ndarray) or None
        Temporal precedence counts ``(first, ties)`` of the training patients over the
        variables (see :meth:`EngineSource.precedence`), when counted.
    """

    variables: dict[str, Any]
    train_patterns: Patterns
    test_patterns: Patterns
    target: str | None = None
    source_name: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    first_dates: None = None
    precedence: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_patients(self) -> int:
        return self.train_patterns.n + self.test_patterns.n

    @property
    def codes(self) -> list[str]:
        return list(self.variables)

    def resolve(self, name: str) -> str:
        from kg_editor.data.cohort import resolve_name

        return resolve_name(name, self.variables)

    def fingerprint(self) -> str:
        """A short hash of the patterns and settings."""
        import hashlib

        h = hashlib.sha256()
        for pats in (self.train_patterns, self.test_patterns):
            h.update(",".join(pats.columns).encode())
            h.update(np.ascontiguousarray(pats.codes).tobytes())
            h.update(np.ascontiguousarray(pats.weights).tobytes())
        h.update(repr(sorted(self.settings.items())).encode())
        return h.hexdigest()[:16]


def patterns_from_words(
    frame: pd.DataFrame,
    variables: Sequence[Var],
    keys: Sequence[str] = (),
    *,
    min_count: int = 1,
    remainder: tuple[int, int] = (0, 0),
) -> Patterns:
    """:class:`Patterns` from packed rows (``w0 .. wK``, other columns, ``n``), summed over
    the words and ``keys`` (other columns are dropped), in the order of
    :meth:`Patterns.from_arrays` (the layout puts the first variable in the most
    significant bits, so ordering by the words orders by the state codes)."""
    n_words = max(s.word for s in pack_layout(variables)) + 1
    words = [f"w{k}" for k in range(n_words)]
    sub = frame[[*words, *keys, "n"]].copy()
    for k in keys:
        sub[k] = sub[k].astype(str)
    sub["n"] = sub["n"].astype(np.int64)
    grouped = sub.groupby([*words, *keys], sort=False, observed=True)["n"].sum().reset_index()
    cols = [grouped[w].to_numpy(np.int64) for w in words]
    extra = {k: grouped[k].to_numpy().astype(str) for k in keys}
    order = (
        np.lexsort([*(extra[k] for k in reversed(list(keys))), *reversed(cols)])
        if len(grouped)
        else np.zeros(0, np.int64)
    )
    return Patterns(
        columns=tuple(v.code for v in variables),
        cards={v.code: len(v.states) for v in variables},
        codes=np.ascontiguousarray(unpack_words([c[order] for c in cols], variables)),
        weights=grouped["n"].to_numpy(np.int64)[order],
        extra={k: v[order] for k, v in extra.items()},
        min_count=int(min_count),
        remainder=(int(remainder[0]), int(remainder[1])),
    )


def unpack_words(words: Sequence[np.ndarray], variables: Sequence[Var]) -> np.ndarray:
    """State codes (patterns x variables, int8) from packed words
    (:func:`kg_editor.engines.queries.pack_layout`).

    Examples
    --------
    >>> vs = [Var("a", ("absent", "present")), Var("b", ("absent", "low", "high"))]
    >>> w = [np.array([0, 1 << 61, 2 << 59, (1 << 61) + (2 << 59)])]
    >>> unpack_words(w, vs).tolist()
    [[0, 0], [1, 0], [0, 2], [1, 2]]
    """
    slots = pack_layout(variables)
    k = len(words[0]) if len(words) else 0
    out = np.empty((k, len(variables)), np.int8, order="F")
    arrs = [np.asarray(w).astype(np.int64) for w in words]
    for j, s in enumerate(slots):
        out[:, j] = (arrs[s.word] >> s.shift) & ((1 << s.bits) - 1)
    return out


def _single_value(values: pd.DataFrame, code: str) -> bool:
    sub = values[values["code"] == code]
    return sub["value"].fillna(PRESENT).nunique() < 2


def _all_units(src: EngineSource) -> str:
    from kg_editor.engines.queries import _units

    return _units(src.events, None, src.persons)  # DuckDB SQL: rendered by EngineSource._q


def _events_table(eng: Engine, spec: str) -> EventsTable:
    low = spec.lower()
    if eng.dialect == "duckdb" and (
        low.endswith((".parquet", ".csv", ".csv.gz", ".tsv")) or "*" in spec
    ):
        p = spec.replace("'", "''")
        fn = "read_parquet" if ".parquet" in low else "read_csv_auto"
        cols = set(eng.query(f"DESCRIBE SELECT * FROM {fn}('{p}')")["column_name"])
        return EventsTable(
            f"{fn}('{p}')",
            raw=True,
            date="date" if "date" in cols else None,
            value="value" if "value" in cols else None,
            description="description" if "description" in cols else None,
            domain="domain" if "domain" in cols else None,
        )
    # a table or view: keep only the optional columns it has (an absent one would be
    # read as an alias, or fail, depending on the dialect)
    probe = EventsTable(spec)
    cols = {
        str(c).lower()
        for c in eng.query(render(f"SELECT * FROM {probe.source()} LIMIT 0", eng.dialect)).columns
    }
    return EventsTable(
        spec,
        date="date" if "date" in cols else None,
        value="value" if "value" in cols else None,
        description="description" if "description" in cols else None,
        domain="domain" if "domain" in cols else None,
    )


def _persons_table(eng: Engine, spec: str) -> PersonsTable:
    """A persons table by name, with its ``index_date`` column when it has one."""
    probe = PersonsTable(spec)
    cols = {
        str(c).lower()
        for c in eng.query(render(f"SELECT * FROM {probe.source()} LIMIT 0", eng.dialect)).columns
    }
    return PersonsTable(spec, index_date="index_date" if "index_date" in cols else None)
