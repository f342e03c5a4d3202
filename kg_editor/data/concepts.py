"""Concept sets and code roll-ups, applied to the events before the cohort is built.

A concept set names a group of codes that a physician treats as one condition or drug
class. A concept-set file (YAML or JSON) maps each name to what it holds::

    GI ulcer disease:
      codes: ["4027663", "30753"]        # exact codes (OMOP concept ids are codes too)
      prefixes: ["K25", "K26"]           # every code starting with one of these
      patterns: ["^K2[5-8]"]             # regular expressions (Python syntax)
      names: ["Esophagitis"]             # descriptions, case-insensitive
      concept_ids: [4027663]             # OMOP concept ids ...
      descendants: true                  # ... with every descendant in concept_ancestor
    roll_up: icd3                        # optional: ICD-10-CM / ICD-9-CM to 3 characters
    mapping: icd9_to_icd10.csv           # optional: user's ICD-9 <-> ICD-10 equivalents

Every event whose code belongs to a set is recoded to the set (code ``concept:NAME``,
label ``NAME``, domain the members' most common one), so the members become one variable.
A code in two sets is an error naming both. The roll-ups and the mapping run first, so a
set may name rolled-up codes.

Roll-ups: ``icd3`` maps ICD-10-CM codes (``K25.4`` -> ``K25``) and ICD-9-CM codes
(``531.40`` -> ``531``, ``V45.81`` -> ``V45``, ``E880.1`` -> ``E880``) to their
3-character category (E-codes keep four). A mapping file (CSV with columns ``from`` and
``to``, or ``icd9`` and ``icd10``) rewrites each ``from`` code to its ``to`` code(s)
first, so an ICD-9 code and its ICD-10 twin (``584.9`` and ``N17.9``) become one variable.

Examples
--------
>>> ev = pd.DataFrame({"patient_id": ["1", "2", "3"], "code": ["K25.4", "531.40", "I10"],
...                    "description": ["Gastric ulcer", "Gastric ulcer", "Hypertension"],
...                    "domain": ["condition"] * 3, "date": pd.NaT, "value": None})
>>> roll_up_icd(ev)["code"].tolist()
['K25', '531', 'I10']
>>> sets = ConceptSets.from_dict({"Ulcer": {"prefixes": ["K25", "531"]}})
>>> apply_concept_sets(ev, sets).events["code"].tolist()
['concept:Ulcer', 'concept:Ulcer', 'I10']
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kg_editor.errors import DataSourceError, SchemaError

__all__ = [
    "CONCEPT_PREFIX",
    "ROLL_UPS",
    "ConceptResult",
    "ConceptSet",
    "ConceptSets",
    "apply_concept_sets",
    "apply_mapping",
    "icd_category",
    "read_concept_sets",
    "read_mapping",
    "roll_up_icd",
]

#: Code prefix of a concept-set variable.
CONCEPT_PREFIX = "concept:"

_ICD10 = re.compile(r"^([A-Z][0-9][0-9A-Z])\.?[0-9A-Z]{0,4}$")
_ICD9_NUM = re.compile(r"^([0-9]{3})(?:\.?[0-9]{0,2})$")
_ICD9_V = re.compile(r"^(V[0-9]{2})(?:\.[0-9]{0,2}|[0-9]{0,2})$")
_ICD9_E = re.compile(r"^(E[0-9]{3})(?:\.[0-9]?)$")
_KEYS = {"codes", "prefixes", "patterns", "names", "concept_ids", "descendants", "label"}


def icd_category(code: str) -> str | None:
    """The 3-character ICD-10-CM / ICD-9-CM category of ``code``, or ``None``.

    ICD-9-CM E-codes (external causes, ``E880.1``) keep four characters; they are told
    apart from ICD-10-CM chapter-E codes by their dot after three digits.

    Examples
    --------
    >>> [icd_category(c) for c in ["E11.9", "E119", "584.9", "V45.81", "E880.1", "4027663"]]
    ['E11', 'E11', '584', 'V45', 'E880', None]
    """
    c = code.strip().upper()
    for rx in (_ICD9_E, _ICD9_V, _ICD9_NUM, _ICD10):
        m = rx.match(c)
        if m:
            return m.group(1)
    return None


def roll_up_icd(events: pd.DataFrame) -> pd.DataFrame:
    """Events with ICD-10-CM/ICD-9-CM codes replaced by their 3-character category.

    Codes that are not ICD codes are kept. The category's label is the description of
    the category code itself when the data has it, else ``"<category> (ICD category)"``.
    """
    codes = events["code"].astype(str)
    uniq = pd.unique(codes)
    cat = {c: icd_category(c) for c in uniq}
    mapped = codes.map(lambda c: cat[c] or c)
    out = events.copy()
    changed = mapped != codes
    if not changed.any():
        return out
    own = (
        events.loc[~changed & codes.isin({v for v in cat.values() if v})]
        .dropna(subset=["description"])
        .drop_duplicates("code")
        .set_index("code")["description"]
        .to_dict()
    )
    out["code"] = mapped
    out.loc[changed, "description"] = [own.get(c, f"{c} (ICD category)") for c in mapped[changed]]
    return out


def read_mapping(path: str | Path) -> dict[str, list[str]]:
    """Read a code mapping file (CSV: ``from``,``to`` or ``icd9``,``icd10``).

    Raises
    ------
    DataSourceError, SchemaError
        A missing or unreadable file, missing columns (the columns found are listed).
    """
    from kg_editor.data.sources.events import read_table

    df = read_table(path, what="mapping file")
    cols = {c.strip().lower(): c for c in df.columns}
    pair = next(
        (
            (cols[a], cols[b])
            for a, b in (("from", "to"), ("icd9", "icd10"))
            if a in cols and b in cols
        ),
        None,
    )
    if pair is None:
        raise SchemaError(
            f"{path}: a mapping file needs the columns 'from' and 'to' (or 'icd9' and 'icd10'); "
            f"found {', '.join(repr(c) for c in df.columns)}.",
            column="from",
        )
    out: dict[str, list[str]] = {}
    for a, b in df[list(pair)].dropna().astype(str).itertuples(index=False):
        out.setdefault(a.strip(), []).append(b.strip())
    return out


def apply_mapping(events: pd.DataFrame, mapping: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Events with every ``from`` code rewritten to its ``to`` code(s) (one row each).

    The new rows take the description the data has for the ``to`` code, when it has one.
    """
    if not mapping:
        return events.copy()
    hit = events["code"].isin(list(mapping))
    if not hit.any():
        return events.copy()
    known = (
        events.dropna(subset=["description"])
        .drop_duplicates("code")
        .set_index("code")["description"]
        .to_dict()
    )
    moved = events.loc[hit].copy()
    moved["code"] = moved["code"].map(lambda c: list(mapping[c]))
    moved = moved.explode("code")
    moved["description"] = [
        known.get(c, d) for c, d in zip(moved["code"], moved["description"], strict=True)
    ]
    return pd.concat([events.loc[~hit], moved], ignore_index=True)


@dataclass(frozen=True)
class ConceptSet:
    """One named concept set (see the module docstring for the fields)."""

    name: str
    codes: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    concept_ids: tuple[int, ...] = ()
    descendants: bool = False

    @property
    def code(self) -> str:
        """The cohort variable's code: ``concept:NAME``."""
        return CONCEPT_PREFIX + self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "codes": list(self.codes),
            "prefixes": list(self.prefixes),
            "patterns": list(self.patterns),
            "names": list(self.names),
            "concept_ids": list(self.concept_ids),
            "descendants": self.descendants,
        }

    def matcher(
        self, expand: Callable[[Sequence[int]], set[str]] | None = None
    ) -> Callable[[pd.DataFrame], pd.Series]:
        """A function events -> boolean mask of the rows in this set."""
        exact = set(self.codes) | {str(i) for i in self.concept_ids}
        if self.descendants and self.concept_ids:
            if expand is None:
                raise SchemaError(
                    f"The concept set {self.name!r} asks for descendants of OMOP concept ids, but "
                    "the source has no concept_ancestor table. Read an OMOP CDM source, or list "
                    "the codes."
                )
            exact |= expand(self.concept_ids)
        rx = [re.compile(p) for p in self.patterns]
        low_names = {n.strip().lower() for n in self.names}

        def mask(ev: pd.DataFrame) -> pd.Series:
            codes = ev["code"].astype(str)
            m = codes.isin(exact)
            for p in self.prefixes:
                m |= codes.str.startswith(p)
            for r in rx:
                m |= codes.str.contains(r, regex=True)
            if low_names:
                m |= ev["description"].astype(str).str.strip().str.lower().isin(low_names)
            return m

        return mask


@dataclass
class ConceptSets:
    """Concept sets in file order, plus the optional roll-up and mapping."""

    sets: list[ConceptSet] = field(default_factory=list)
    roll_up: str | None = None
    mapping: dict[str, list[str]] = field(default_factory=dict)
    source_file: str = ""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, where: str = "concept sets") -> ConceptSets:
        """Validate a parsed concept-set document.

        Raises
        ------
        SchemaError
            An entry that is not a mapping, an unknown key, a bad pattern, an empty set.
        """
        if not isinstance(raw, Mapping):
            raise SchemaError(f"{where}: the file must map concept-set names to their codes.")
        data = dict(raw)
        roll = data.pop("roll_up", None)
        if roll is not None and roll not in ROLL_UPS:
            raise SchemaError(
                f"{where}: unknown roll_up {roll!r}; choose one of {', '.join(ROLL_UPS)}."
            )
        mapping_file = data.pop("mapping", None)
        mapping: dict[str, list[str]] = {}
        if mapping_file:
            path = Path(str(mapping_file))
            if not path.is_absolute() and where and Path(where).exists():
                path = Path(where).parent / path
            mapping = read_mapping(path)
        sets = []
        for name, spec in data.items():
            if isinstance(spec, list):
                spec = {"codes": spec}
            if not isinstance(spec, Mapping):
                raise SchemaError(
                    f"{where}: the concept set {name!r} must list codes, prefixes, patterns, "
                    "names or concept_ids."
                )
            unknown = set(spec) - _KEYS
            if unknown:
                raise SchemaError(
                    f"{where}: the concept set {name!r} has unknown key(s) "
                    f"{', '.join(sorted(map(str, unknown)))}; use {', '.join(sorted(_KEYS))}."
                )
            for p in spec.get("patterns", []) or []:
                try:
                    re.compile(str(p))
                except re.error as exc:
                    raise SchemaError(
                        f"{where}: the pattern {p!r} of the concept set {name!r} is not a valid "
                        f"regular expression ({exc})."
                    ) from exc
            try:
                ids = tuple(int(i) for i in spec.get("concept_ids", []) or [])
            except (TypeError, ValueError) as exc:
                raise SchemaError(
                    f"{where}: the concept_ids of {name!r} must be integers (OMOP concept ids)."
                ) from exc
            cs = ConceptSet(
                name=str(spec.get("label", name)),
                codes=tuple(str(c) for c in spec.get("codes", []) or []),
                prefixes=tuple(str(c) for c in spec.get("prefixes", []) or []),
                patterns=tuple(str(c) for c in spec.get("patterns", []) or []),
                names=tuple(str(c) for c in spec.get("names", []) or []),
                concept_ids=ids,
                descendants=bool(spec.get("descendants", False)),
            )
            if not (cs.codes or cs.prefixes or cs.patterns or cs.names or cs.concept_ids):
                raise SchemaError(f"{where}: the concept set {name!r} is empty.")
            sets.append(cs)
        return cls(sets=sets, roll_up=roll, mapping=mapping, source_file=where)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, recorded in the cohort settings."""
        out: dict[str, Any] = {s.name: s.to_dict() for s in self.sets}
        if self.roll_up:
            out["roll_up"] = self.roll_up
        if self.mapping:
            out["mapping"] = {k: list(v) for k, v in sorted(self.mapping.items())}
        return out


def read_concept_sets(path: str | Path) -> ConceptSets:
    """Read a concept-set file (``.yaml``/``.yml`` or ``.json``).

    Raises
    ------
    DataSourceError
        A missing file or one that is not valid YAML/JSON (line named).
    """
    p = Path(path)
    if not p.is_file():
        raise DataSourceError(f"The concept-set file {p} does not exist. Check the path.")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise DataSourceError(f"{p} is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    except Exception as exc:  # yaml.YAMLError
        raise DataSourceError(f"{p} is not valid YAML: {' '.join(str(exc).split())}") from exc
    return ConceptSets.from_dict(raw or {}, where=str(p))


@dataclass
class ConceptResult:
    """Events after concept sets, with what changed."""

    events: pd.DataFrame
    members: dict[str, list[str]]


def apply_concept_sets(
    events: pd.DataFrame,
    sets: ConceptSets,
    *,
    expand: Callable[[Sequence[int]], set[str]] | None = None,
) -> ConceptResult:
    """Recode the events: mapping, then roll-up, then each concept set to one code.

    Parameters
    ----------
    events : DataFrame
        Canonical events (see :class:`kg_editor.data.sources.EHRSource`).
    sets : ConceptSets
        From :func:`read_concept_sets` or :meth:`ConceptSets.from_dict`.
    expand : callable, optional
        OMOP concept ids -> codes of their descendants (the source gives it).

    Raises
    ------
    SchemaError
        A code that falls in two concept sets (both named), or a set no event matches.
    """
    ev = apply_mapping(events, sets.mapping)
    if sets.roll_up == "icd3":
        ev = roll_up_icd(ev)
    owner = pd.Series([None] * len(ev), index=ev.index, dtype=object)
    members: dict[str, list[str]] = {}
    for cs in sets.sets:
        m = cs.matcher(expand)(ev)
        clash = m & owner.notna()
        if clash.any():
            i = clash.to_numpy().nonzero()[0][0]
            raise SchemaError(
                f"The code {ev['code'].iloc[i]!r} is in both concept sets {owner.iloc[i]!r} and "
                f"{cs.name!r}; a code may belong to one set. Remove it from one of them."
            )
        if not m.any():
            raise SchemaError(
                f"The concept set {cs.name!r} matches no event in the source. Check its codes "
                "(they are compared exactly; use prefixes or patterns for families)."
            )
        owner[m] = cs.name
        members[cs.code] = sorted(pd.unique(ev.loc[m, "code"].astype(str)).tolist())
    hit = owner.notna()
    if hit.any():
        ev = ev.copy()
        dom = (
            ev.loc[hit]
            .groupby(owner[hit])["domain"]
            .agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
        )
        ev.loc[hit, "domain"] = owner[hit].map(dom).to_numpy()
        ev.loc[hit, "description"] = owner[hit].to_numpy()
        ev.loc[hit, "code"] = (CONCEPT_PREFIX + owner[hit].astype(str)).to_numpy()
    return ConceptResult(events=ev.reset_index(drop=True), members=members)


#: Built-in roll-ups by name.
ROLL_UPS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {"icd3": roll_up_icd}
