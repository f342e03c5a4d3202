"""The common shape every EHR reader produces, and the reader registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kg_editor.errors import DataSourceError

__all__ = [
    "EVENT_COLUMNS",
    "PERSON_COLUMNS",
    "EHRSource",
    "load_source",
    "register_reader",
    "registered_readers",
]

#: Columns of the canonical long event table (``value`` is optional and makes a code
#: categorical).
EVENT_COLUMNS = ("patient_id", "code", "date", "description", "domain", "value")
#: Columns of the canonical persons table.
PERSON_COLUMNS = ("patient_id", "sex", "birth_year")


@dataclass
class EHRSource:
    """What every reader returns: a long event table plus persons, or a wide table.

    Attributes
    ----------
    events : DataFrame
        ``patient_id`` (str), ``code`` (str), ``date`` (datetime64, may be NaT),
        ``description`` (str), ``domain`` (str), ``value`` (str or missing).
    persons : DataFrame or None
        ``patient_id``, ``sex``, ``birth_year``.
    wide : DataFrame or None
        One row per patient (index ``patient_id``), categorical columns. When set,
        ``events`` is empty and the cohort uses the wide table.
    name, kind : str
        Where the data came from.
    labels, domains : mapping
        For wide tables: column -> label / domain.
    descendants : callable, optional
        OMOP concept ids -> codes of every descendant (``concept_ancestor``), for concept
        sets with ``descendants: true``; set by the OMOP reader.
    notes : dict
        What the reader did that the user should know (rows dropped and why), counted.
    """

    events: pd.DataFrame
    persons: pd.DataFrame | None = None
    wide: pd.DataFrame | None = None
    name: str = ""
    kind: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    domains: Mapping[str, str] = field(default_factory=dict)
    descendants: Callable[[Sequence[int]], set[str]] | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_frames(
        cls, events: pd.DataFrame, persons: pd.DataFrame | None = None, name: str = "frames"
    ) -> EHRSource:
        """Wrap in-memory frames, filling optional columns.

        Examples
        --------
        >>> src = EHRSource.from_frames(pd.DataFrame({"patient_id": [1], "code": ["A"]}))
        >>> list(src.events.columns)
        ['patient_id', 'code', 'date', 'description', 'domain', 'value']
        """
        from kg_editor.data.sources.events import normalise_events, normalise_persons

        ev = normalise_events(events, where=name)
        pe = normalise_persons(persons, where=name) if persons is not None else None
        return cls(events=ev, persons=pe, name=name, kind="frames")

    def person_ids(self) -> list[str]:
        if self.persons is None:
            return []
        return self.persons["patient_id"].astype(str).tolist()

    @property
    def n_patients(self) -> int:
        if self.wide is not None:
            return int(self.wide.shape[0])
        ids = set(self.events["patient_id"].unique()) | set(self.person_ids())
        return len(ids)


Reader = Callable[..., EHRSource]
_READERS: dict[str, tuple[Callable[[str], bool], Reader]] = {}


def register_reader(name: str, detect: Callable[[str], bool]) -> Callable[[Reader], Reader]:
    """Register a reader under ``name``; ``detect(spec)`` says whether it takes a spec.

    The built-in readers (demo, omop, events, wide) use this same hook.
    """

    def deco(fn: Reader) -> Reader:
        _READERS[name] = (detect, fn)
        return fn

    return deco


def registered_readers() -> list[str]:
    return list(_READERS)


def load_source(spec: str | Path, *, kind: str | None = None, **options: Any) -> EHRSource:
    """Read an EHR source.

    Parameters
    ----------
    spec : str or path
        ``"demo"``, an OMOP CDM DuckDB file or folder of CSVs, an events CSV/Parquet, or a
        wide CSV/Parquet (with ``kind="wide"``).
    kind : str, optional
        Force a reader: ``demo``, ``omop``, ``events``, ``wide``.
    **options
        Passed to the reader (e.g. ``persons=`` for an events file).
    """
    from kg_editor.data.sources import demo, events, omop  # noqa: F401  (registers the built-in readers)

    text = str(spec)
    if kind is not None:
        if kind not in _READERS:
            raise DataSourceError(
                f"Unknown source kind {kind!r}; choose one of {', '.join(_READERS)}."
            )
        return _READERS[kind][1](text, **options)
    for _name, (detect, fn) in _READERS.items():
        if detect(text):
            return fn(text, **options)
    if not Path(text).exists():
        raise DataSourceError(
            f"The source {text!r} does not exist. Give 'demo', an events or wide CSV/Parquet file, "
            "or an OMOP CDM DuckDB file or folder."
        )
    raise DataSourceError(
        f"Cannot tell what kind of source {text!r} is. Use a .csv/.parquet events file, a .duckdb OMOP "
        "database, or a folder of OMOP CSVs."
    )
