"""One exception tree for kg-editor.

Every error a user can meet derives from :class:`KGEditorError`. Messages are written for
a clinician: they name the file, the column, the row, the variable or the cycle, and say
what to do next.

Examples
--------
>>> from kg_editor.errors import CycleError, KGEditorError
>>> err = CycleError("Adding A -> B would create the cycle A -> B -> A", cycle=["A", "B", "A"])
>>> isinstance(err, KGEditorError), err.cycle
(True, ['A', 'B', 'A'])
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "AccessError",
    "ConflictError",
    "ConstraintError",
    "CycleError",
    "DataSourceError",
    "EdgeError",
    "FormatError",
    "KGEditorError",
    "NotFittedError",
    "ResourceLimitError",
    "SchemaError",
    "SettingsMismatchError",
    "StoreError",
    "UnknownSessionError",
    "UnknownVariableError",
    "closest_names",
]


class KGEditorError(Exception):
    """Base class of every error kg-editor raises on purpose."""


class DataSourceError(KGEditorError):
    """A data source cannot be read: missing, empty, not UTF-8, unknown kind."""


class SchemaError(KGEditorError, ValueError):
    """Input data does not have the expected shape or content.

    Attributes
    ----------
    column, row : optional
        Where the problem is, when it is in one place.
    """

    def __init__(self, message: str, *, column: str | None = None, row: int | None = None):
        super().__init__(message)
        self.column = column
        self.row = row


class ResourceLimitError(KGEditorError, MemoryError):
    """A step would need more memory than its budget; raised before it starts."""


class UnknownVariableError(KGEditorError, KeyError):
    """A variable named by the user is not in the cohort or graph."""

    def __init__(self, message: str, *, name: str = "", suggestions: Sequence[str] = ()):
        super().__init__(message)
        self.name = name
        self.suggestions = list(suggestions)

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class EdgeError(KGEditorError, ValueError):
    """An edit names an edge that cannot be added, removed or reversed as asked."""


class CycleError(EdgeError):
    """An edit would close a directed cycle; ``cycle`` holds the node path."""

    def __init__(self, message: str, *, cycle: Sequence[str] = ()):
        super().__init__(message)
        self.cycle = list(cycle)


class ConstraintError(EdgeError):
    """An edit goes against an expert constraint (required/forbidden edge or tier)."""

    def __init__(self, message: str, *, constraint: str = ""):
        super().__init__(message)
        self.constraint = constraint


class NotFittedError(KGEditorError, AttributeError):
    """An estimator was used before ``fit``."""


class FormatError(KGEditorError, ValueError):
    """A graph file cannot be read or written in the asked format."""


class StoreError(KGEditorError):
    """The version store cannot do what was asked (unknown version, conflict, ...)."""


class SettingsMismatchError(KGEditorError):
    """An artefact (graph file, version) was made with other data or settings than the
    ones given now; the message names every differing setting.

    Attributes
    ----------
    differences : dict
        Setting -> ``(recorded, given)``.
    """

    def __init__(self, message: str, differences: dict[str, tuple[object, object]] | None = None):
        super().__init__(message)
        self.differences = dict(differences or {})


class UnknownSessionError(KGEditorError):
    """The browser (or a caller) names an editing session the store does not hold."""


class ConflictError(StoreError):
    """Someone else changed the session or branch since this writer read it (a stale
    revision); nothing was written. ``current`` holds the revision or head now stored."""

    def __init__(self, message: str, *, current: object = None):
        super().__init__(message)
        self.current = current


class AccessError(KGEditorError):
    """The signed-in account (or no account) may not do what was asked; ``required``
    names the role that may."""

    def __init__(self, message: str, *, required: str = ""):
        super().__init__(message)
        self.required = required


def closest_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidates that look most like ``name`` (case-insensitive).

    Examples
    --------
    >>> closest_names("Gastrointestinal hemorrage", ["Gastrointestinal hemorrhage", "Sprain"])
    ['Gastrointestinal hemorrhage']
    """
    cands = list(candidates)
    lowered = {c.lower(): c for c in cands}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    out = [lowered[h] for h in hits]
    if len(out) < n:
        needle = name.lower()
        for c in cands:
            if needle and needle in c.lower() and c not in out:
                out.append(c)
            if len(out) >= n:
                break
    return out


def unknown_variable(
    name: str, known: Iterable[str], what: str = "variable"
) -> UnknownVariableError:
    """Build an :class:`UnknownVariableError` that suggests the closest known names."""
    sugg = closest_names(name, known)
    hint = f" Did you mean {', '.join(repr(s) for s in sugg)}?" if sugg else ""
    return UnknownVariableError(f"No {what} named {name!r}.{hint}", name=name, suggestions=sugg)
