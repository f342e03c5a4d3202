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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kg_editor.errors import SchemaError, unknown_variable

if TYPE_CHECKING:
    from kg_editor.data.sources import EHRSource

__all__ = [
    "DEFAULT_AGE_BANDS",
    "MAX_STATES",
    "MIN_PATIENTS",
    "Cohort",
    "Variable",
    "build_cohort",
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


@dataclass
class Cohort:
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
    """

    data: pd.DataFrame
    variables: dict[str, Variable]
    persons: pd.DataFrame
    first_dates: pd.DataFrame | None = None
    is_test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    target: str | None = None
    source_name: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    # -- basic shape ----------------------------------------------------------------
    @property
    def n_patients(self) -> int:
        return int(self.data.shape[0])

    @property
    def codes(self) -> list[str]:
        return list(self.data.columns)

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

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: patients, variables, subgroup counts, split sizes."""
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
        }

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
    age_at: str = "first_event",
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
    age_at : {"first_event", "last_event"}
        When the age band is taken: at the patient's first recorded event (default) or
        at the last one (closer to "age now" in extracts that start in childhood).

    Raises
    ------
    SchemaError
        Fewer than 50 patients, a variable with more than 64 states.
    UnknownVariableError
        The target is not found (closest names suggested).
    """
    if source.wide is not None:
        patients, columns, states, dates, labels, domains = _from_wide(source)
        first_event = None
    else:
        ev = source.events
        patients = pd.Index(
            sorted(set(ev["patient_id"].unique()) | set(source.person_ids())), name="patient_id"
        )
        columns, states, dates = _event_variables(ev, patients)
        labels = _most_common(ev, "description")
        domains = _most_common(ev, "domain")
        if age_at not in ("first_event", "last_event"):
            raise SchemaError(f"age_at must be 'first_event' or 'last_event', got {age_at!r}.")
        by_patient = ev.groupby("patient_id")["date"]
        first_event = (
            (by_patient.min() if age_at == "first_event" else by_patient.max())
            if dates is not None
            else None
        )
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
    for c in one_state:
        if c in always:
            raise SchemaError(
                f"The variable {variable_names[c]!r} ({c}) has one state in every patient; it cannot be a target.",
                column=c,
            )
    if one_state:
        names = ", ".join(f"{variable_names[c]!r}" for c in one_state[:10])
        more = f" and {len(one_state) - 10} more" if len(one_state) > 10 else ""
        warnings.warn(
            f"Dropped {len(one_state)} variable(s) with a single state in every patient: {names}{more}.",
            UserWarning,
            stacklevel=2,
        )
    for c, st in states.items():
        if c in all_vars and len(st) > MAX_STATES and c not in one_state:
            raise SchemaError(
                f"The variable {variable_names[c]!r} ({c}) has {len(st)} states; at most {MAX_STATES} are "
                "supported. Group its values into fewer categories.",
                column=c,
            )
    eligible = [
        c for c in columns if c not in one_state and (counts[c] >= min_patients or c in always)
    ]
    eligible.sort(key=lambda c: (-counts[c], c))
    chosen = [c for c in eligible if c in always]
    for c in eligible:
        if len(chosen) >= max(max_variables, len(always)):
            break
        if c not in chosen:
            chosen.append(c)
    chosen_set = set(chosen)
    ordered = [c for c in demo_cols if c not in one_state] + [
        c for c in eligible if c in chosen_set
    ]

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
    }
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
    )


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
