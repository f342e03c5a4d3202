"""One row per edge for the researcher's edge table: who decided its direction and how,
its evidence (odds ratio with CI, q-value, co-patients), its stability, its conflicts
with the data, and what clinicians said about it.

Plain functions of a :class:`~kg_editor.model.graph.CausalGraph`; counts pass through the
one suppression function (:func:`kg_editor.data.privacy.suppress_counts`), so a small
number of co-patients reads ``"<11"`` here as it does on the edge card.

Examples
--------
>>> from kg_editor.model.graph import CausalGraph
>>> g = CausalGraph.from_edges([("a", "b")], labels={"a": "Aspirin", "b": "Bleeding"})
>>> row = edge_rows(g)[0]
>>> row["source_label"], row["target_label"], row["direction"]
('Aspirin', 'Bleeding', 'not recorded')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

from kg_editor.data.privacy import DEFAULT_MIN_CELL, suppress_counts
from kg_editor.model.graph import CausalGraph

__all__ = [
    "DIRECTION_STATUSES",
    "direction_status",
    "edge_row",
    "edge_rows",
]

#: Orientation rule of the distiller -> how the direction was decided.
_RULE_STATUS: dict[str, str] = {
    "required": "by constraint",
    "tier": "by constraint",
    "forbidden": "by constraint",
    "demographic": "by constraint",
    "precedence": "by time",
    "v-structure": "by data",
    "meek": "by data",
    "score": "by data",
    "cycle-break": "by data",
    "unresolved": "unresolved",
}

#: Every value :func:`direction_status` returns.
DIRECTION_STATUSES = (
    "by constraint",
    "by time",
    "by data",
    "by clinician",
    "unresolved",
    "not recorded",
)


def direction_status(attrs: Mapping[str, Any]) -> str:
    """How an edge's direction was decided, from its attributes.

    ``"unresolved"`` when the data cannot tell the direction; ``"by clinician"`` when a
    clinician added, reversed or resolved it; else the distiller's rule grouped as
    ``"by constraint"`` (expert tiers, required or forbidden edges), ``"by time"``
    (recorded order) or ``"by data"`` (colliders, Meek's rules, the score).

    Examples
    --------
    >>> direction_status({"unresolved": True})
    'unresolved'
    >>> direction_status({"evidence": {"orientation": {"rule": "precedence"}}})
    'by time'
    >>> direction_status({"provenance": "clinician"})
    'by clinician'
    """
    if attrs.get("unresolved"):
        return "unresolved"
    if attrs.get("provenance") == "clinician":
        return "by clinician"
    if attrs.get("provenance") == "required":
        return "by constraint"
    orientation = (attrs.get("evidence") or {}).get("orientation")
    rule = orientation.get("rule") if isinstance(orientation, Mapping) else None
    return _RULE_STATUS.get(str(rule), "not recorded")


def _num(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _round(x: Any, digits: int) -> float | None:
    value = _num(x)
    return None if value is None else round(value, digits)


def edge_row(
    graph: CausalGraph,
    source: str,
    target: str,
    *,
    against_time: bool = False,
    alpha: float = 0.05,
    min_cell: int = DEFAULT_MIN_CELL,
    evidence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The table row of the edge ``source -> target``.

    Parameters
    ----------
    graph : CausalGraph
    source, target : str
    against_time : bool
        The effect is usually recorded before the cause.
    alpha : float
        A q-value at or above it means the data do not support the edge.
    min_cell : int
        Counts below it are suppressed.
    evidence : mapping, optional
        The data's evidence for an edge that carries none (one a clinician added).

    Returns
    -------
    dict
        ``id``, ``source``, ``target``, ``source_label``, ``target_label``,
        ``direction``, ``odds_ratio``, ``ci_low``, ``ci_high``, ``q``, ``co_patients``
        (a number or ``"<11"``), ``stability`` (share of resamples), ``conflicts``
        (text, empty when none), ``endorsed`` and ``clinician_added`` (``"yes"``/``""``).
    """
    a = graph.edge_attrs(source, target)
    raw = a.get("evidence") or {}
    if not raw.get("counts") and evidence:
        raw = {**evidence, **{k: v for k, v in raw.items() if v}}
    ev = suppress_counts(raw, min_cell)
    orr = (ev.get("measures") or {}).get("odds_ratio") or {}
    q = _num((ev.get("test") or {}).get("q"))
    stab = _num((ev.get("stability") or {}).get("frequency"))
    co = (ev.get("counts") or {}).get("n11")
    conflicts = []
    if against_time:
        conflicts.append("against time")
    if q is not None and q >= alpha:
        conflicts.append(f"no data support (q {q:.2f})")
    if (o := _num(orr.get("estimate"))) is not None and o < 1:
        conflicts.append("inverse association")
    added = any(str(h.get("kind")) == "add" for h in a.get("history") or ())
    return {
        "id": f"{source}->{target}",
        "source": str(source),
        "target": str(target),
        "source_label": graph.label(source),
        "target_label": graph.label(target),
        "direction": direction_status(a),
        "odds_ratio": _round(orr.get("estimate"), 2),
        "ci_low": _round(orr.get("ci_low"), 2),
        "ci_high": _round(orr.get("ci_high"), 2),
        "q": _round(q, 4),
        "co_patients": co if isinstance(co, int | str) else None,
        "stability": _round(stab, 2),
        "conflicts": "; ".join(conflicts),
        "endorsed": "yes" if a.get("endorsed") else "",
        "clinician_added": "yes" if added else "",
    }


def edge_rows(
    graph: CausalGraph,
    *,
    against_time: Collection[tuple[str, str]] = (),
    alpha: float = 0.05,
    min_cell: int = DEFAULT_MIN_CELL,
    evidence_for: Callable[[str, str], Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`edge_row` for every edge of ``graph`` (sorted by the labels of its ends).

    ``evidence_for(source, target)`` supplies the data's evidence of an edge a clinician
    added (it carries none); edges of an imported graph without evidence, and edges
    whose evidence cannot be computed, keep empty evidence cells.
    """
    contra = {(str(u), str(v)) for u, v in against_time}
    rows = []
    for u, v in graph.edges:
        extra = None
        a = graph.edge_attrs(u, v)
        if (
            evidence_for is not None
            and not (a.get("evidence") or {}).get("counts")
            and any(str(h.get("kind")) == "add" for h in a.get("history") or ())
        ):
            try:
                extra = evidence_for(u, v)
            except Exception:  # evidence is informative only: the row keeps its blanks
                extra = None
        rows.append(
            edge_row(
                graph,
                u,
                v,
                against_time=(u, v) in contra,
                alpha=alpha,
                min_cell=min_cell,
                evidence=extra,
            )
        )
    rows.sort(key=lambda r: (r["source_label"].lower(), r["target_label"].lower()))
    return rows
