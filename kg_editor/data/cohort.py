"""The cohort: a patient x variable table built from an EHR source.

Event codes become binary variables (``absent``/``present``) or, when events carry a
``value``, categorical variables (``absent`` plus the observed values; a patient takes the
value of their first event). Wide tables keep their categorical columns. Stable ids
(codes) are kept apart from human labels.

Examples
--------
>>> import pandas as pd
>>> from kg_editor.data.sources import EHRSource
>>> ev = pd.DataFrame({"patient_id": [f"p{i}" for i in range(60)] * 2,
...                    "code": ["A"] * 60 + ["B"] * 30 + ["C"] * 30})
>>> c = build_cohort(EHRSource.from_frames(ev), min_patients=10)
>>> c.n_patients, c.codes
(60, ['B', 'C'])
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kg_editor.data.concepts import ConceptSets, apply_concept_sets, read_concept_sets
from kg_editor.data.privacy import DEFAULT_MIN_CELL, protect_summary
from kg_editor.errors import SchemaError, unknown_variable

if TYPE_CHECKING:
    from kg_editor.data.sources import EHRSource

__all__ = [
    "DEFAULT_AGE_BANDS",
    "MAX_STATES",
    "MIN_PATIENTS",
    "Cohort",
    "Variable",
    "VariableViews",
    "build_cohort",
    "drop_one_state",
    "select_variables",
    "stratified_split",
]

logger = logging.getLogger(__name__)

MAX_STATES = 64
MIN_PATIENTS = 50
DEFAULT_AGE_BANDS: tuple[int, ...] = (0, 18, 40, 65)
ABSENT, PRESENT = "absent", "present"


@dataclass(frozen=True)
class Variable:
    """One cohort variable.

    Attributes
    ----------
    code : str
        Stable id (a concept code, a column name).
    label : str
        Human label, plain text (never interpreted as markup).
    domain : str
        condition, drug, procedure, observation, measurement, demographic, or other.
    states : tuple of str
        State names; state 0 is the reference (``absent`` for event codes).
    n_patients : int
        Patients not in the reference state.
    prevalence : float
        ``n_patients`` over all cohort patients.
    """

    code: str
    label: str
    domain: str
    states: tuple[str, ...]
    n_patients: int
    prevalence: float

    @property
    def is_binary(self) -> bool:
        return len(self.states) == 2


class VariableViews:
    """Code -> label, domain, states and number of states, read from ``variables``
    (shared by :class:`Cohort` and the engine's pattern cohort)."""

    variables: dict[str, Variable]

    @property
    def labels(self) -> dict[str, str]:
        return {c: v.label for c, v in self.variables.items()}

    @property
    def domains(self) -> dict[str, str]:
        return {c: v.domain for c, v in self.variables.items()}

    @property
    def states(self) -> dict[str, tuple[str, ...]]:
        return {c: v.states for c, v in self.variables.items()}

    @property
    def cardinalities(self) -> dict[str, int]:
        return {c: len(v.states) for c, v in self.variables.items()}


@dataclass
class Cohort(VariableViews):
    """Patient x variable table with subgroups, first-occurrence dates and a split.

    Attributes
    ----------
    data : DataFrame
        Index ``patient_id``; one int8 column per variable code holding the state index.
    variables : dict
        Code -> :class:`Variable`, in column order.
    persons : DataFrame
        Index ``patient_id``; columns ``sex``, ``birth_year``, ``age_band``.
    first_dates : DataFrame or None
        Same shape as ``data``: first-occurrence date per patient and code (NaT when absent
        or undated); ``None`` when the source has no dates.
    is_test : ndarray of bool
        True for held-out patients (aligned with ``data``'s rows).
    target : str or None
        Code of the target variable.
    settings : dict
        How the cohort was built (recorded in every artefact; ``min_cell`` among them).
    build_report : dict
        What building left out, counted: codes seen/kept and why, persons without events,
        patients without an index, concept-set members.
    set_aside : dict
        Member columns of concepts merged with :meth:`merge`, so :meth:`split` restores them.
    """

    data: pd.DataFrame
    variables: dict[str, Variable]
    persons: pd.DataFrame
    first_dates: pd.DataFrame | None = None
    is_test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    target: str | None = None
    source_name: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    build_report: dict[str, Any] = field(default_factory=dict)
    set_aside: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # -- basic shape ----------------------------------------------------------------
    @property
    def n_patients(self) -> int:
        return int(self.data.shape[0])

    @property
    def codes(self) -> list[str]:
        return list(self.data.columns)

    # -- split ----------------------------------------------------------------------
    @property
    def train(self) -> pd.DataFrame:
        """Training patients' state codes."""
        return self.data.loc[~self.is_test]

    @property
    def test(self) -> pd.DataFrame:
        """Held-out patients' state codes."""
        return self.data.loc[self.is_test]

    @property
    def train_persons(self) -> pd.DataFrame:
        return self.persons.loc[self.data.index[~self.is_test]]

    @property
    def test_persons(self) -> pd.DataFrame:
        return self.persons.loc[self.data.index[self.is_test]]

    def labelled(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """State names instead of state codes (what pgmpy expects)."""
        frame = self.data if frame is None else frame
        out = {}
        for c in frame.columns:
            cats = pd.Categorical.from_codes(
                frame[c].to_numpy(), categories=list(self.variables[c].states)
            )
            out[c] = cats
        return pd.DataFrame(out, index=frame.index)

    def resolve(self, name: str) -> str:
        """Code for a code or a label (case-insensitive); clear error with suggestions."""
        return resolve_name(name, self.variables)

    def summary(self, *, protect: bool = True) -> dict[str, Any]:
        """A JSON-ready description: patients, variables, subgroup counts, split sizes,
        and what building the cohort left out (``build``).

        With ``protect`` (the default) every count passes
        :func:`kg_editor.data.privacy.protect_summary` at the cohort's ``min_cell``.
        """
        raw = self._raw_summary()
        if not protect:
            return raw
        return protect_summary(raw, int(self.settings.get("min_cell", DEFAULT_MIN_CELL)))

    def _raw_summary(self) -> dict[str, Any]:
        return {
            "source": self.source_name,
            "patients": self.n_patients,
            "target": self.target,
            "target_label": self.variables[self.target].label if self.target else None,
            "variables": [
                {
                    "code": v.code,
                    "label": v.label,
                    "domain": v.domain,
                    "states": list(v.states),
                    "patients": v.n_patients,
                    "prevalence": round(v.prevalence, 6),
                }
                for v in self.variables.values()
            ],
            "subgroups": {
                "sex": {
                    str(k): int(n)
                    for k, n in self.persons["sex"].value_counts().sort_index().items()
                },
                "age_band": {
                    str(k): int(n)
                    for k, n in self.persons["age_band"].value_counts().sort_index().items()
                },
            },
            "split": {"train": int((~self.is_test).sum()), "test": int(self.is_test.sum())},
            "has_dates": self.first_dates is not None,
            "settings": self.settings,
            "build": self.build_report,
        }

    def merge(self, codes: Sequence[str], name: str) -> Cohort:
        """A new cohort where the binary variables ``codes`` become one concept ``name``.

        The concept (code ``concept:NAME``) is present in a patient who has any member,
        from the earliest member date, exactly what a concept set with these codes gives
        when the cohort is built from the events. The members are kept aside so that
        :meth:`split` restores them. The split into train and test is unchanged.

        Raises
        ------
        SchemaError
            Fewer than two codes, a categorical or demographic member, a name in use.
        UnknownVariableError
            A code that is not a variable.
        """
        members = [self.resolve(c) for c in codes]
        members = list(dict.fromkeys(members))
        if len(members) < 2:
            raise SchemaError("Merging needs at least two variables; select two or more nodes.")
        for c in members:
            v = self.variables[c]
            if not v.is_binary or v.domain == "demographic":
                raise SchemaError(
                    f"{v.label!r} ({c}) has the states {', '.join(v.states)}; only present/absent "
                    "codes can be merged into a concept."
                )
        code = name if name.startswith("concept:") else f"concept:{name}"
        label = code[len("concept:") :]
        if code in self.variables:
            raise SchemaError(
                f"A variable {label!r} already exists; choose another name for the concept."
            )
        merged_col = (self.data[members].to_numpy() != 0).any(axis=1).astype(np.int8)
        pos = [self.codes.index(c) for c in members]
        keep = [c for c in self.codes if c not in members]
        data = self.data[keep].copy()
        data.insert(min(pos), code, merged_col)
        doms = [self.variables[c].domain for c in members]
        nz = int(merged_col.sum())
        variables = {c: self.variables[c] for c in keep}
        variables[code] = Variable(
            code=code,
            label=label,
            domain=max(set(doms), key=doms.count),
            states=(ABSENT, PRESENT),
            n_patients=nz,
            prevalence=nz / self.n_patients,
        )
        variables = {c: variables[c] for c in data.columns}
        fd = None
        if self.first_dates is not None:
            fd = self.first_dates[keep].copy()
            fd.insert(min(pos), code, self.first_dates[members].min(axis=1))
        settings = dict(self.settings)
        settings["merged"] = {**settings.get("merged", {}), code: members}
        out = self._rebuilt(
            data, variables, fd, code if self.target in members else self.target, settings
        )
        out.set_aside = {
            **self.set_aside,
            code: (
                {c: self.variables[c] for c in members},
                self.data[members].copy(),
                None if self.first_dates is None else self.first_dates[members].copy(),
                self.target if self.target in members else None,
                pos,
            ),
        }
        return out

    def split(self, code: str) -> Cohort:
        """Undo :meth:`merge`: the concept ``code`` becomes its member variables again.

        Raises
        ------
        SchemaError
            ``code`` is not a concept merged in this cohort.
        """
        code = self.resolve(code)
        if code not in self.set_aside:
            raise SchemaError(
                f"{self.variables[code].label!r} was not merged in this session; only merged "
                "concepts can be split."
            )
        members, cols, dates, target, pos = self.set_aside[code]
        keep = [c for c in self.codes if c != code]
        order = list(keep)
        for p, c in sorted(zip(pos, members, strict=True)):
            order.insert(min(p, len(order)), c)
        data = self.data[keep].copy()
        for c in members:
            data[c] = cols[c].to_numpy()
        data = data[order]
        variables = {**{c: self.variables[c] for c in keep}, **members}
        variables = {c: variables[c] for c in data.columns}
        fd = None
        if self.first_dates is not None and dates is not None:
            fd = self.first_dates[keep].copy()
            for c in members:
                fd[c] = dates[c].to_numpy()
            fd = fd[order]
        settings = dict(self.settings)
        merged = {k: v for k, v in settings.get("merged", {}).items() if k != code}
        if merged:
            settings["merged"] = merged
        else:
            settings.pop("merged", None)
        out = self._rebuilt(
            data, variables, fd, target if self.target == code and target else self.target, settings
        )
        out.set_aside = {k: v for k, v in self.set_aside.items() if k != code}
        return out

    def _rebuilt(
        self,
        data: pd.DataFrame,
        variables: dict[str, Variable],
        first_dates: pd.DataFrame | None,
        target: str | None,
        settings: dict[str, Any],
    ) -> Cohort:
        """The same patients, split and source with other variables (merge and split)."""
        return replace(
            self,
            data=data,
            variables=variables,
            first_dates=first_dates,
            target=target,
            settings=settings,
            build_report=dict(self.build_report),
        )

    def fingerprint(self) -> str:
        """A short hash of the data and settings: the same cohort gives the same value."""
        import hashlib

        h = hashlib.sha256()
        h.update(",".join(self.codes).encode())
        h.update(np.ascontiguousarray(self.data.to_numpy()).tobytes())
        h.update(self.is_test.tobytes())
        h.update(repr(sorted(self.settings.items())).encode())
        return h.hexdigest()[:16]


def resolve_name(name: str, variables: Mapping[str, Variable]) -> str:
    if name in variables:
        return name
    low = name.strip().lower()
    for code, v in variables.items():
        if v.label.lower() == low or code.lower() == low:
            return code
    names = [*variables, *(v.label for v in variables.values())]
    raise unknown_variable(name, names, what="variable")


def stratified_split(y: np.ndarray, test_size: float = 0.2, seed: int = 0) -> np.ndarray:
    """Boolean test mask, stratified on the integer labels ``y``, deterministic in ``seed``.

    Examples
    --------
    >>> m = stratified_split(np.array([0] * 80 + [1] * 20), test_size=0.25, seed=1)
    >>> int(m.sum()), int(m[80:].sum())
    (25, 5)
    """
    if not 0.0 < test_size < 1.0:
        raise SchemaError(f"test_size must be between 0 and 1, got {test_size}.")
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), dtype=bool)
    for state in np.unique(y):
        idx = np.flatnonzero(y == state)
        idx = idx[rng.permutation(len(idx))]
        k = round(test_size * len(idx))
        mask[idx[:k]] = True
    return mask


def _age_band(age: pd.Series, bands: Sequence[int]) -> pd.Series:
    edges = [*bands, 10_000]
    labels = [f"{lo}-{hi - 1}" if hi < 10_000 else f"{lo}+" for lo, hi in itertools.pairwise(edges)]
    cut = pd.cut(age, bins=edges, right=False, labels=labels)
    return cut.astype(object).where(cut.notna(), "unknown").astype(str)


def _persons_frame(
    src: EHRSource, patients: pd.Index, first_event: pd.Series | None, bands: Sequence[int]
) -> pd.DataFrame:
    p = (
        src.persons.set_index("patient_id")
        if src.persons is not None
        else pd.DataFrame(index=patients)
    )
    p = p[~p.index.duplicated()].reindex(patients)
    sex = p["sex"] if "sex" in p else pd.Series(index=patients, dtype=object)
    sex = sex.astype(object).where(sex.notna(), "unknown").astype(str)
    birth = (
        pd.to_numeric(p["birth_year"], errors="coerce")
        if "birth_year" in p
        else pd.Series(np.nan, index=patients)
    )
    if first_event is not None:
        ref_year = first_event.reindex(patients).dt.year
    else:
        ref_year = pd.Series(np.nan, index=patients)
    age = ref_year - birth
    if "age" in p:  # a wide table may give age directly
        age = age.fillna(pd.to_numeric(p["age"], errors="coerce"))
    out = pd.DataFrame(
        {"sex": sex, "birth_year": birth, "age_band": _age_band(age, bands)}, index=patients
    )
    out.index.name = "patient_id"
    return out


def _event_variables(
    ev: pd.DataFrame, patients: pd.Index
) -> tuple[dict[str, pd.Series], dict[str, tuple[str, ...]], pd.DataFrame | None]:
    """Per code: a state-code Series over ``patients``; states; first dates (wide)."""
    has_dates = "date" in ev and ev["date"].notna().any()
    has_values = "value" in ev and ev["value"].notna().any()
    sort_cols = ["patient_id", "code"] + (["date"] if has_dates else [])
    first = ev.sort_values(sort_cols, kind="stable").drop_duplicates(
        ["patient_id", "code"], keep="first"
    )
    pos = patients.get_indexer(first["patient_id"])
    codes = first["code"].to_numpy()
    columns: dict[str, pd.Series] = {}
    states: dict[str, tuple[str, ...]] = {}
    for code, idx in pd.Series(np.arange(len(first))).groupby(codes).groups.items():
        rows = np.asarray(idx)
        col = np.zeros(len(patients), dtype=np.int16)
        vals = first["value"].to_numpy()[rows] if has_values else None
        if vals is not None and pd.notna(vals).any():
            vals = np.where(pd.isna(vals), PRESENT, vals.astype(str))
            uniq = sorted(set(vals.tolist()))
            st = (ABSENT, *uniq)
            lookup = {s: i for i, s in enumerate(st)}
            col[pos[rows]] = np.array([lookup[v] for v in vals], dtype=np.int16)
        else:
            st = (ABSENT, PRESENT)
            col[pos[rows]] = 1
        columns[str(code)] = pd.Series(col, index=patients)
        states[str(code)] = st
    dates = None
    if has_dates:
        d = first.dropna(subset=["date"]).pivot(index="patient_id", columns="code", values="date")
        d.columns = d.columns.astype(str)
        dates = d.reindex(index=patients)
    return columns, states, dates


def _most_common(ev: pd.DataFrame, col: str) -> dict[str, str]:
    if col not in ev or ev[col].isna().all():
        return {}
    sub = ev.dropna(subset=[col])
    counts = sub.groupby(["code", col], observed=True).size().reset_index(name="n")
    counts = counts.sort_values(["code", "n", col], ascending=[True, False, True])
    return {
        str(k): str(v) for k, v in counts.drop_duplicates("code").set_index("code")[col].items()
    }


def drop_one_state(
    one_state: Sequence[str], always: Collection[str], names: Mapping[str, str]
) -> None:
    """Refuse a one-state variable that must be kept (the target); warn, naming them,
    about the others, which the caller drops."""
    for c in one_state:
        if c in always:
            raise SchemaError(
                f"The variable {names.get(c, c)!r} ({c}) has one state in every patient; it cannot be a target.",
                column=c,
            )
    if one_state:
        shown = ", ".join(f"{names.get(c, c)!r}" for c in one_state[:10])
        more = f" and {len(one_state) - 10} more" if len(one_state) > 10 else ""
        warnings.warn(
            f"Dropped {len(one_state)} variable(s) with a single state in every patient: {shown}{more}.",
            UserWarning,
            stacklevel=3,
        )


def select_variables(
    counts: Mapping[str, int],
    drop: Collection[str],
    min_patients: int,
    max_variables: int,
    always: Collection[str],
) -> tuple[list[str], list[str]]:
    """The variables kept, most prevalent first (ties by code): at least
    ``min_patients`` patients (the ``always`` ones regardless), none of ``drop``, at most
    ``max_variables`` (more only to keep every one of ``always``). Returns the kept
    variables and those cut by ``max_variables`` (both most prevalent first).

    Examples
    --------
    >>> select_variables({"a": 50, "b": 3, "c": 40, "t": 2}, set(), 5, 1, {"t"})
    (['t'], ['a', 'c'])
    >>> select_variables({"a": 50, "b": 3, "c": 40, "t": 2}, set(), 5, 3, {"t"})
    (['a', 'c', 't'], [])
    """
    eligible = [c for c in counts if c not in drop and (counts[c] >= min_patients or c in always)]
    eligible.sort(key=lambda c: (-counts[c], c))
    chosen = [c for c in eligible if c in always]
    for c in eligible:
        if len(chosen) >= max(max_variables, len(always)):
            break
        if c not in chosen:
            chosen.append(c)
    keep = set(chosen)
    return [c for c in eligible if c in keep], [c for c in eligible if c not in keep]


def build_cohort(
    source: EHRSource,
    target: str | None = None,
    *,
    min_patients: int = 20,
    max_variables: int = 60,
    test_size: float = 0.2,
    seed: int = 0,
    age_bands: Sequence[int] = DEFAULT_AGE_BANDS,
    include_demographics: bool = True,
    keep: Sequence[str] = (),
    age_at: str | None = None,
    concepts: ConceptSets | str | Path | None = None,
    index: str | None = None,
    lookback_days: int | None = None,
    outcome_days: int | None = None,
    unmatched_persons: str = "warn",
    min_cell: int = DEFAULT_MIN_CELL,
) -> Cohort:
    """Build a :class:`Cohort` from an EHR source.

    Parameters
    ----------
    source : EHRSource
        From :func:`kg_editor.data.sources.load_source`.
    target : str, optional
        Code or label of the target diagnosis; always kept.
    min_patients : int
        A code needs at least this many patients (not in its reference state) to be kept.
    max_variables : int
        Keep at most this many event variables, the most prevalent first (the target and
        ``keep`` always stay).
    test_size, seed : float, int
        Held-out share and the seed of the stratified split.
    age_bands : sequence of int
        Lower edges of the age bands.
    include_demographics : bool
        Add ``sex`` and ``age_band`` as variables (tier 0) when the source has them.
    keep : sequence of str
        Codes or labels always kept.
    age_at : {"first_event", "last_event", "index"}, optional
        When the age band is taken: at the index date (the default when ``index`` is
        given), at the patient's first recorded event (the default otherwise) or at the
        last one.
    concepts : ConceptSets or path, optional
        Concept sets (and roll-up, mapping) applied to the events first; see
        :mod:`kg_editor.data.concepts`.
    index : str, optional
        The index date: ``"first_event"``, ``"persons"`` (the persons file's
        ``index_date`` column) or a code, label or concept-set name whose first dated
        occurrence is the index. Features are events strictly before it, the target is
        the target code on or after it; patients without an index are left out and counted.
    lookback_days, outcome_days : int, optional
        Window lengths: features from ``index - lookback_days`` up to the day before the
        index; the target from the index to ``index + outcome_days``. ``None`` means
        unbounded.
    unmatched_persons : {"warn", "error"}
        What to do when persons rows match no events, or events have no persons row
        (both are counted in ``build_report``).
    min_cell : int
        Small-cell threshold recorded with the cohort (see :mod:`kg_editor.data.privacy`).

    Raises
    ------
    SchemaError
        Fewer than 50 patients, a variable with more than 64 states.
    UnknownVariableError
        The target is not found (closest names suggested).
    """
    age_at = age_at or ("index" if index else "first_event")
    if age_at not in ("first_event", "last_event", "index"):
        raise SchemaError(f"age_at must be 'first_event', 'last_event' or 'index', got {age_at!r}.")
    if unmatched_persons not in ("warn", "error"):
        raise SchemaError(
            f"unmatched_persons must be 'warn' or 'error', got {unmatched_persons!r}."
        )
    build: dict[str, Any] = {}
    concept_sets = (
        concepts
        if isinstance(concepts, ConceptSets) or concepts is None
        else read_concept_sets(concepts)
    )
    if source.wide is not None:
        if concept_sets is not None or index is not None:
            raise SchemaError(
                "Concept sets and an index date need an events source (patient_id, code, date); "
                "a wide table has no codes or dates."
            )
        patients, columns, states, dates, labels, domains = _from_wide(source)
        first_event = None
    else:
        ev = source.events
        if concept_sets is not None:
            if concept_sets.roll_up == "icd3" and source.kind in ("omop", "demo"):
                raise SchemaError(
                    "The icd3 roll-up reads ICD-10-CM/ICD-9-CM codes; this OMOP source codes "
                    "events as concept ids. Use concept_ids with descendants: true instead."
                )
            applied = apply_concept_sets(ev, concept_sets, expand=source.descendants)
            ev = applied.events
            build["concept_sets"] = applied.members
        build.update(_check_persons(source, ev, unmatched_persons))
        person_ids = set(source.person_ids())
        index_dates: pd.Series | None = None
        if index is not None:
            tgt_code = _event_code(target, ev) if target is not None else None
            ev, index_dates, notes = _apply_index(
                ev, source, index, tgt_code, lookback_days, outcome_days
            )
            build.update(notes)
            person_ids &= set(index_dates.index)
        elif lookback_days is not None or outcome_days is not None:
            raise SchemaError(
                "A look-back or outcome window needs an index date; give index= (--index)."
            )
        patients = pd.Index(sorted(set(ev["patient_id"].unique()) | person_ids), name="patient_id")
        columns, states, dates = _event_variables(ev, patients)
        labels = _most_common(ev, "description")
        domains = _most_common(ev, "domain")
        by_patient = source.events.groupby("patient_id")["date"]
        if age_at == "index":
            if index_dates is None:
                raise SchemaError("age_at='index' needs an index date; give index= (--index).")
            first_event = index_dates
        elif dates is not None or source.events["date"].notna().any():
            first_event = by_patient.min() if age_at == "first_event" else by_patient.max()
        else:
            first_event = None
    n = len(patients)
    if n < MIN_PATIENTS:
        raise SchemaError(
            f"The source {source.name!r} has {n} patients; at least {MIN_PATIENTS} are needed to fit and "
            "evaluate a model. Use a larger extract."
        )
    persons = _persons_frame(source, patients, first_event, age_bands)

    # demographics as variables
    demo_cols: dict[str, pd.Series] = {}
    if include_demographics and source.wide is None:
        for col in ("sex", "age_band"):
            vals = persons[col]
            minority = len(vals) - int(vals.value_counts().iloc[0]) if len(vals) else 0
            if minority >= min_patients:
                cats = sorted(vals.unique().tolist())
                demo_cols[col] = pd.Series(
                    pd.Categorical(vals, categories=cats).codes.astype(np.int16), index=patients
                )
                states[col] = tuple(cats)
                labels.setdefault(col, "Sex" if col == "sex" else "Age band")
                domains[col] = "demographic"

    all_vars = {**demo_cols, **columns}
    variable_names = {c: labels.get(c, c) for c in all_vars}
    tgt = None
    if target is not None:
        tgt = _resolve_target(target, variable_names, columns, source)
    always = {tgt} if tgt else set()
    for k in keep:
        always.add(_resolve_target(k, variable_names, columns, source))

    counts = {c: int((s.to_numpy() != 0).sum()) for c, s in columns.items()}
    # one-state variables are dropped with a warning
    one_state = [c for c, s in all_vars.items() if len(np.unique(s.to_numpy())) < 2]
    drop_one_state(one_state, always, variable_names)
    for c, st in states.items():
        if c in all_vars and len(st) > MAX_STATES and c not in one_state:
            raise SchemaError(
                f"The variable {variable_names[c]!r} ({c}) has {len(st)} states; at most {MAX_STATES} are "
                "supported. Group its values into fewer categories.",
                column=c,
            )
    kept, cut = select_variables(
        {c: counts[c] for c in columns}, set(one_state), min_patients, max_variables, always
    )
    ordered = [c for c in demo_cols if c not in one_state] + kept

    data = pd.DataFrame(
        {c: all_vars[c].to_numpy().astype(np.int8) for c in ordered}, index=patients
    )
    variables = {}
    for c in ordered:
        nz = int((data[c].to_numpy() != 0).sum())
        variables[c] = Variable(
            code=c,
            label=str(labels.get(c, c)),
            domain=str(domains.get(c, "other")).lower(),
            states=tuple(states[c]),
            n_patients=nz,
            prevalence=nz / n,
        )
    fd = None
    if dates is not None:
        fd = dates.reindex(columns=ordered).astype("datetime64[ns]")
    y = data[tgt].to_numpy() if tgt else np.zeros(n, dtype=np.int8)
    is_test = stratified_split(y, test_size=test_size, seed=seed)
    settings = {
        "min_patients": min_patients,
        "max_variables": max_variables,
        "test_size": test_size,
        "seed": seed,
        "age_bands": list(age_bands),
        "include_demographics": include_demographics,
        "age_at": age_at,
        "min_cell": min_cell,
    }
    if concept_sets is not None:
        settings["concepts"] = concept_sets.to_dict()
    if index is not None:
        settings.update(
            {"index": index, "lookback_days": lookback_days, "outcome_days": outcome_days}
        )
    build.update(
        {
            "codes_seen": len(columns),
            "codes_kept": len([c for c in ordered if c in columns]),
            "codes_below_min_patients": len(
                [c for c in columns if counts[c] < min_patients and c not in always]
            ),
            "codes_over_max_variables": len(cut),
        }
    )
    dropped = build["codes_seen"] - build["codes_kept"]
    if dropped and source.wide is None:
        logger.info(
            "cohort %s kept %d of %d codes (%d below %d patients, %d over the cap of %d)",
            source.name,
            build["codes_kept"],
            build["codes_seen"],
            build["codes_below_min_patients"],
            min_patients,
            build["codes_over_max_variables"],
            max_variables,
        )
    logger.info("cohort %s: %d patients, %d variables", source.name, n, len(ordered))
    return Cohort(
        data=data,
        variables=variables,
        persons=persons,
        first_dates=fd,
        is_test=is_test,
        target=tgt,
        source_name=source.name,
        settings=settings,
        build_report=build,
    )


def _event_code(name: str, ev: pd.DataFrame) -> str | None:
    """The event code a target/index name means (code, label or concept-set name)."""
    codes = set(ev["code"].astype(str).unique())
    for cand in (name, f"concept:{name}"):
        if cand in codes:
            return cand
    low = name.strip().lower()
    labels = _most_common(ev, "description")
    for code, lab in labels.items():
        if lab.lower() == low or code.lower() == low:
            return code
    return None


def _check_persons(source: EHRSource, ev: pd.DataFrame, mode: str) -> dict[str, int]:
    """Count persons without events and event patients without a persons row."""
    if source.persons is None:
        return {}
    pids = set(source.person_ids())
    eids = set(ev["patient_id"].unique())
    notes = {
        "persons_without_events": len(pids - eids),
        "event_patients_without_person": len(eids - pids),
    }
    n_no_ev, n_no_p = notes["persons_without_events"], notes["event_patients_without_person"]
    # persons without events alone are ordinary (patients with none of the codes); events
    # whose patient has no persons row mean the two files disagree about ids
    if n_no_p:
        ex_p = sorted(pids - eids)[:3]
        ex_e = sorted(eids - pids)[:3]
        msg = (
            f"{source.name}: {n_no_ev} of {len(pids)} persons rows match no event"
            + (f" (e.g. {', '.join(map(repr, ex_p))})" if ex_p else "")
            + f", and {n_no_p} of {len(eids)} patients with events have no persons row"
            + (f" (e.g. {', '.join(map(repr, ex_e))})" if ex_e else "")
            + ". Check that both files use the same patient ids"
            + (
                "; pass unmatched_persons='warn' (--unmatched-persons warn) to go on."
                if mode == "error"
                else "; unmatched_persons='error' (--unmatched-persons error) makes this an error."
            )
        )
        if mode == "error":
            raise SchemaError(msg, column="patient_id")
        warnings.warn(msg, UserWarning, stacklevel=3)
    return notes


def _apply_index(
    ev: pd.DataFrame,
    source: EHRSource,
    index: str,
    target_code: str | None,
    lookback_days: int | None,
    outcome_days: int | None,
) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    """Index date per patient, and the events inside the feature and outcome windows."""
    for name, days in (("lookback_days", lookback_days), ("outcome_days", outcome_days)):
        if days is not None and days < 0:
            raise SchemaError(f"{name} must be 0 or more days, got {days}.")
    dated = ev.dropna(subset=["date"])
    index_code: str | None = None
    if index == "first_event":
        idx = dated.groupby("patient_id")["date"].min()
    elif index == "persons":
        p = source.persons
        if p is None or "index_date" not in p or p["index_date"].isna().all():
            raise SchemaError(
                "index='persons' reads the persons file's 'index_date' column; the persons file "
                "has none. Add it, or index on a code or on first_event.",
                column="index_date",
            )
        idx = p.dropna(subset=["index_date"]).set_index("patient_id")["index_date"]
    else:
        name = index[5:] if index.startswith("code:") else index
        index_code = _event_code(name, ev)
        if index_code is None:
            labels = _most_common(ev, "description")
            raise unknown_variable(name, [*labels, *labels.values()], what="index code")
        idx = dated.loc[dated["code"] == index_code].groupby("patient_id")["date"].min()
    idx = idx.astype("datetime64[ns]")
    all_patients = set(ev["patient_id"].unique()) | set(source.person_ids())
    no_index = len(all_patients - set(idx.index))
    undated = int(ev["date"].isna().sum())
    ev = ev.loc[ev["patient_id"].isin(idx.index)]
    d = ev["date"]
    at = ev["patient_id"].map(idx)
    is_target = ev["code"] == target_code if target_code is not None else False
    feat = d.notna() & (d < at)
    if lookback_days is not None:
        feat &= d >= at - pd.Timedelta(days=lookback_days)
    outc = d.notna() & (d >= at)
    if outcome_days is not None:
        outc &= d <= at + pd.Timedelta(days=outcome_days)
    keep = (feat & ~is_target) | (outc & is_target)
    if index_code is not None:
        keep &= ev["code"] != index_code
    kept = ev.loc[keep]
    notes = {
        "index": index,
        "patients_with_index": len(idx),
        "patients_without_index": no_index,
        "events_outside_windows": int(len(ev) - int(keep.sum())),
        "undated_events_left_out": undated,
    }
    if no_index:
        warnings.warn(
            f"{source.name}: {no_index} patient(s) have no index date ({index}) and are left out "
            f"of the cohort; {len(idx)} remain.",
            UserWarning,
            stacklevel=3,
        )
    return kept, idx, notes


def _resolve_target(
    name: str, names: Mapping[str, str], columns: Mapping[str, Any], source: EHRSource
) -> str:
    if name in names:
        return name
    low = name.strip().lower()
    for code, lab in names.items():
        if lab.lower() == low or code.lower() == low:
            return code
    raise unknown_variable(name, [*names, *names.values()], what=f"variable in {source.name!r}")


def _from_wide(
    source: EHRSource,
) -> tuple[
    pd.Index, dict[str, pd.Series], dict[str, tuple[str, ...]], None, dict[str, str], dict[str, str]
]:
    wide = source.wide
    assert wide is not None
    patients = pd.Index(wide.index.astype(str), name="patient_id")
    columns: dict[str, pd.Series] = {}
    states: dict[str, tuple[str, ...]] = {}
    for c in wide.columns:
        col = wide[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = [str(x) for x in col.cat.categories]
            vals = col.astype(object).where(col.notna(), "missing").astype(str)
            if (vals == "missing").any() and "missing" not in cats:
                cats.append("missing")
        else:
            vals = col.astype(object).where(col.notna(), "missing").astype(str)
            cats = sorted(vals.unique().tolist())
        lookup = {s: i for i, s in enumerate(cats)}
        columns[str(c)] = pd.Series(vals.map(lookup).to_numpy().astype(np.int16), index=patients)
        states[str(c)] = tuple(cats)
    labels = dict(source.labels or {})
    domains = {c: (source.domains or {}).get(c, "other") for c in columns}
    return patients, columns, states, None, labels, domains
