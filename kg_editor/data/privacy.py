"""Small-cell suppression: one mechanism for every patient count shown or written.

The threshold ``k`` (default 11, the usual rule for releasing health statistics; a
setting everywhere, ``--min-cell`` on the CLI) is recorded in every artefact.

* :func:`suppress` is the one decision for a single count: below ``k`` it reads
  ``"<k"``. Zero is suppressed too: "no patient" is as identifying as "three patients"
  when combined with other tables.
* Complementary suppression, so that no hidden cell comes back from the numbers beside
  it. A count shown with its total (a variable's patients beside the cohort size, a
  subgroup beside the others, a 2x2 table beside its margins) is hidden when it **or its
  complement** is below ``k``, and every number derived from it goes with it:

  - :func:`protect_margin`: a count and its prevalence out of a shown total;
  - :func:`protect_partition`: categories that add up to a shown total (sex, age band,
    report subgroups); when only one category is hidden the next smallest is hidden as
    well (``"suppressed"``), so subtraction gives nothing;
  - :func:`protect_table`: a 2x2 table with shown margins has one free cell, so one small
    cell hides all four, and each measure, CI, statistic and p-value is replaced by
    bounds over **every** table consistent with what is shown (the caller gives the
    function that recomputes them); the bounds depend only on what is public, so no
    number in them points back to the hidden cell.

* :func:`protect_summary` and :func:`protect_node` apply these to the cohort summary
  and to graph nodes; :func:`kg_editor.discovery.evidence.pair_evidence` applies
  :func:`protect_table` to edge evidence.

Examples
--------
>>> suppress(4), suppress(11), suppress(250)
('<11', 11, 250)
>>> suppress_counts({"n11": 3, "n10": 40, "share": 0.7})
{'n11': '<11', 'n10': 40, 'share': 0.7}
>>> protect_margin(2690, 2694)
{'patients': 'suppressed', 'prevalence': None, 'hidden': True}
>>> protect_partition({"F": 1300, "M": 1390, "unknown": 4})
{'F': 'suppressed', 'M': 1390, 'unknown': '<11'}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_MIN_CELL",
    "HIDDEN",
    "is_suppressed",
    "protect_margin",
    "protect_node",
    "protect_partition",
    "protect_report",
    "protect_report_delta",
    "protect_summary",
    "protect_table",
    "protect_target",
    "suppress",
    "suppress_counts",
    "suppress_frame",
]

#: The smallest patient count that may be shown as a number.
DEFAULT_MIN_CELL = 11

#: What a count hidden only to protect another (complementary suppression) reads.
HIDDEN = "suppressed"

#: Keys of evidence dictionaries that hold patient counts (suppressed by default).
COUNT_KEYS: frozenset[str] = frozenset(
    {
        "n",
        "n_a",
        "n_b",
        "n11",
        "n10",
        "n01",
        "n00",
        "patients",
        "positives",
        "n_both_dated",
        "a_first",
        "b_first",
        "ties",
        "source_first",
        "target_first",
    }
)


def suppress(count: Any, k: int = DEFAULT_MIN_CELL) -> int | str | None:
    """A patient count as it may be shown: the number, or ``"<k"`` below ``k``.

    ``None``/NaN stay ``None`` (no count), and an already suppressed string passes through.

    Examples
    --------
    >>> suppress(0), suppress(10, k=5), suppress(None)
    ('<11', 10, None)
    """
    if count is None or isinstance(count, str):
        return count
    if isinstance(count, float | np.floating) and not np.isfinite(count):
        return None
    value = int(count)
    return f"<{k}" if value < k else value


def is_suppressed(value: Any) -> bool:
    """True for a value :func:`suppress` or complementary suppression replaced."""
    return isinstance(value, str) and (value.startswith("<") or value == HIDDEN)


def _hide(count: int, k: int) -> str:
    return f"<{k}" if count < k else HIDDEN


def protect_margin(count: Any, total: Any, k: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """A count shown beside its total, with its prevalence.

    Hidden when the count or ``total - count`` is below ``k``; the prevalence is hidden
    with it (it would give the count back).

    Examples
    --------
    >>> protect_margin(3, 2694)["patients"], protect_margin(300, 2694)["prevalence"]
    ('<11', 0.111359)
    """
    if count is None or total is None:
        return {"patients": suppress(count, k), "prevalence": None, "hidden": False}
    c, n = int(count), int(total)
    if c < k or n - c < k:
        return {"patients": _hide(c, k), "prevalence": None, "hidden": True}
    return {"patients": c, "prevalence": round(c / n, 6) if n else None, "hidden": False}


def protect_partition(counts: Mapping[str, Any], k: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """Counts of categories that add up to a shown total, with complementary suppression.

    Every count below ``k`` reads ``"<k"``; when exactly one category is hidden the
    smallest other one reads ``"suppressed"``, so the total minus the shown counts
    gives a sum of two unknowns, never one cell.
    """
    vals = {key: (None if v is None else int(v)) for key, v in counts.items()}
    hidden = {key for key, v in vals.items() if v is not None and v < k}
    if len(hidden) == 1:
        others = [(v, key) for key, v in vals.items() if key not in hidden and v is not None]
        if others:
            hidden.add(min(others)[1])
    return {key: (_hide(v, k) if key in hidden and v is not None else v) for key, v in vals.items()}


def _bounds(values: np.ndarray) -> list[float | None]:
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    lo = float(finite.min()) if finite.size else None
    hi = float(finite.max()) if finite.size else None
    if np.isposinf(v).any():
        hi = None  # unbounded above
    if np.isneginf(v).any():
        lo = None
    return [lo, hi]


def protect_table(
    cells: Mapping[str, int],
    k: int = DEFAULT_MIN_CELL,
    recompute: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], dict[str, Any]]
    | None = None,
) -> dict[str, Any]:
    """A 2x2 table (``n11``, ``n10``, ``n01``, ``n00``) with margins, suppressed as a whole.

    Parameters
    ----------
    cells : mapping
        The four cells.
    k : int
        Threshold.
    recompute : callable, optional
        ``(n11, n10, n01, n00)`` arrays -> ``{name: array}`` of every number derived from
        the table (measures, CIs, statistic, p). Used to publish bounds over all tables
        consistent with what is shown.

    Returns
    -------
    dict
        ``hidden`` (bool); ``cells`` (shown cells); ``margins`` (``n``, ``n_a``,
        ``n_b``: each hidden when it or its complement is below ``k``); ``bounds``
        (name -> ``[low, high]``, only when hidden and ``recompute`` is given).

    Examples
    --------
    >>> t = protect_table({"n11": 395, "n10": 3, "n01": 84, "n00": 2212})
    >>> t["hidden"], t["cells"]["n10"], t["cells"]["n11"], t["margins"]["n_a"]
    (True, '<11', 'suppressed', 398)
    """
    n11, n10, n01, n00 = (int(cells[c]) for c in ("n11", "n10", "n01", "n00"))
    n_a, n_b = n11 + n10, n11 + n01
    n = n_a + n_b - n11 + n00
    margins: dict[str, Any] = {
        "n": suppress(n, k),
        "n_a": protect_margin(n_a, n, k)["patients"],
        "n_b": protect_margin(n_b, n, k)["patients"],
    }
    small = {c: v < k for c, v in (("n11", n11), ("n10", n10), ("n01", n01), ("n00", n00))}
    if not any(small.values()):
        return {
            "hidden": False,
            "cells": {"n11": n11, "n10": n10, "n01": n01, "n00": n00},
            "margins": margins,
            "bounds": {},
        }
    shown_cells = {c: (f"<{k}" if small[c] else HIDDEN) for c in small}
    out: dict[str, Any] = {"hidden": True, "cells": shown_cells, "margins": margins, "bounds": {}}
    if recompute is None:
        return out

    # every table the public numbers allow: the shown margins (a hidden margin ranges
    # over its hidden interval) and the small / not-small pattern of the cells
    def options(m: int) -> np.ndarray:
        if m < k:
            return np.arange(0, min(k, n + 1), dtype=np.int64)
        if n - m < k:
            return np.arange(max(0, n - k + 1), n + 1, dtype=np.int64)
        return np.array([m], dtype=np.int64)

    opt_a, opt_b = options(n_a), options(n_b)
    lo11 = max(0, int(opt_a.min() + opt_b.min()) - n)
    hi11 = int(min(opt_a.max(), opt_b.max()))
    ga, gb, g11 = np.meshgrid(
        opt_a, opt_b, np.arange(lo11, hi11 + 1, dtype=np.int64), indexing="ij"
    )
    ga, gb, g11 = ga.ravel(), gb.ravel(), g11.ravel()
    g10, g01 = ga - g11, gb - g11
    g00 = n - ga - gb + g11
    keep = (g10 >= 0) & (g01 >= 0) & (g00 >= 0)
    for c, arr in (("n11", g11), ("n10", g10), ("n01", g01), ("n00", g00)):
        keep &= (arr < k) == small[c]
    a, b, c_, d = (x[keep].astype(np.float64) for x in (g11, g10, g01, g00))
    derived = recompute(a, b, c_, d)
    out["bounds"] = {name: _bounds(vals) for name, vals in derived.items()}
    out["consistent_tables"] = int(a.size)
    return out


def suppress_counts(
    mapping: Mapping[str, Any], k: int = DEFAULT_MIN_CELL, keys: Iterable[str] = COUNT_KEYS
) -> dict[str, Any]:
    """Copy of ``mapping`` with every count under ``keys`` suppressed (nested dicts too)."""
    wanted = set(keys)
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            out[key] = suppress_counts(value, k, wanted)
        elif key in wanted:
            out[key] = suppress(value, k)
        else:
            out[key] = value
    return out


def suppress_frame(
    frame: pd.DataFrame, k: int = DEFAULT_MIN_CELL, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """Copy of ``frame`` whose count columns (``COUNT_KEYS`` present, or ``columns``) are
    object columns holding numbers or ``"<k"``.

    Examples
    --------
    >>> suppress_frame(pd.DataFrame({"n11": [3, 30], "lift": [1.5, 2.0]}))["n11"].tolist()
    ['<11', 30]
    """
    cols = [c for c in (columns if columns is not None else COUNT_KEYS) if c in frame.columns]
    out = frame.copy()
    for c in cols:
        out[c] = pd.Series(
            [suppress(v, k) for v in frame[c].tolist()], index=frame.index, dtype=object
        )
    return out


def protect_node(
    patients: Any, total: Any, prevalence: Any = None, k: int = DEFAULT_MIN_CELL
) -> dict[str, Any]:
    """A graph node's ``patients`` and ``prevalence`` as they may be written."""
    if total is None and prevalence is not None and patients is not None and prevalence > 0:
        total = round(int(patients) / float(prevalence))
    m = protect_margin(patients, total, k)
    return {"patients": m["patients"], "prevalence": m["prevalence"]}


def protect_summary(summary: Mapping[str, Any], k: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """A cohort summary (:meth:`kg_editor.data.cohort.Cohort.summary`) as it may be shown.

    Variables: patients and prevalence through :func:`protect_margin`; subgroups and
    split through :func:`protect_partition`; build counts through :func:`suppress`
    except counts of codes. The threshold is recorded under ``privacy``.
    """
    out = dict(summary)
    n = summary.get("patients")
    out["patients"] = suppress(n, k)
    out["variables"] = []
    for v in summary.get("variables", []):
        w = dict(v)
        m = protect_margin(v.get("patients"), n, k)
        w["patients"], w["prevalence"] = m["patients"], m["prevalence"]
        out["variables"].append(w)
    out["subgroups"] = {
        name: protect_partition(counts, k) for name, counts in summary.get("subgroups", {}).items()
    }
    if "split" in summary:
        out["split"] = protect_partition(summary["split"], k)
    build = dict(summary.get("build", {}))
    for key, value in list(build.items()):
        if isinstance(value, int) and not key.startswith("codes_"):
            build[key] = suppress(value, k) if value else 0
    out["build"] = build
    out["privacy"] = {"min_cell": k, "rule": "small-cell and complementary suppression"}
    return out


def protect_target(block: Mapping[str, Any], k: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """One target's report block (``Report.targets[code]``) as it may be shown.

    The prevalence goes with the positives it gives back (:func:`protect_margin`);
    subgroup sizes within one attribute are a partition of the held-out patients
    (:func:`protect_partition`), and a row whose size or positives are hidden loses its
    AUROC and Brier too; reliability bins are a partition of the held-out patients, and a
    hidden bin loses its rates.

    Examples
    --------
    >>> b = {"n": 200, "prevalence": 0.04, "subgroups": [
    ...     {"attribute": "sex", "group": "F", "n": 195, "positives": 8, "auroc": 0.7},
    ...     {"attribute": "sex", "group": "M", "n": 5, "positives": 0, "auroc": None}]}
    >>> t = protect_target(b)
    >>> t["prevalence"], [(r["n"], r["positives"]) for r in t["subgroups"]]
    (None, [('suppressed', '<11'), ('<11', '<11')])
    """
    import copy

    t = copy.deepcopy(dict(block))
    n, prev = t.get("n"), t.get("prevalence")
    if (
        isinstance(n, int)
        and isinstance(prev, float)
        and protect_margin(round(prev * n), n, k)["hidden"]
    ):
        t["prevalence"] = None
    rows = t.get("subgroups") or []
    by_attr: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_attr.setdefault(str(r.get("attribute")), {})[str(r.get("group"))] = r.get("n")
    parts = {a: protect_partition(g, k) for a, g in by_attr.items()}
    for r in rows:
        shown_n = parts[str(r.get("attribute"))][str(r.get("group"))]
        pos = r.get("positives")
        m = protect_margin(pos, r.get("n"), k) if isinstance(pos, int) else None
        hide = is_suppressed(shown_n) or (m is not None and m["hidden"])
        r["n"] = shown_n
        if m is not None:
            r["positives"] = m["patients"]
        if hide:
            r["auroc"] = None
            r["brier"] = None
    # the positives of one attribute's groups add up to the target's positives (shown
    # through its prevalence or another attribute): one hidden cell takes a second with it
    for attr in by_attr:
        group = [r for r in rows if str(r.get("attribute")) == attr]
        if sum(is_suppressed(r.get("positives")) for r in group) == 1:
            shown_pos = [r for r in group if isinstance(r.get("positives"), int)]
            if shown_pos:
                min(shown_pos, key=lambda r: r["positives"])["positives"] = HIDDEN
    bins = t.get("reliability") or []
    counts = {str(i): b.get("count") for i, b in enumerate(bins) if b.get("count")}
    shown = protect_partition(counts, k)
    for i, b in enumerate(bins):
        c = b.get("count")
        if not c:
            continue
        rate = b.get("observed_rate")
        pos = round(rate * c) if isinstance(rate, float) else None
        hidden = is_suppressed(shown[str(i)]) or (
            pos is not None and protect_margin(pos, c, k)["hidden"]
        )
        b["count"] = shown[str(i)]
        if hidden:
            b["observed_rate"] = None
            if is_suppressed(shown[str(i)]):
                b["mean_predicted"] = None
    return t


def protect_report(report: Mapping[str, Any], k: int = DEFAULT_MIN_CELL) -> dict[str, Any]:
    """A model report (:meth:`kg_editor.model.report.Report.to_dict`) as it may be shown:
    every target block through :func:`protect_target`, the threshold recorded under
    ``privacy``. A report that already records its ``privacy`` is returned as it is.
    """
    import copy

    if "privacy" in report:
        return copy.deepcopy(dict(report))
    out = copy.deepcopy(dict(report))
    out["targets"] = {c: protect_target(t, k) for c, t in out.get("targets", {}).items()}
    out["privacy"] = {"min_cell": k, "rule": "small-cell and complementary suppression"}
    return out


def protect_report_delta(
    delta: Mapping[str, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    k: int = DEFAULT_MIN_CELL,
) -> dict[str, Any]:
    """A report change (:meth:`kg_editor.model.report.ReportDelta.to_dict`) as it may be
    written: a target's prevalence that :func:`protect_target` hides in the report
    ``before`` or ``after`` (``Report.to_dict()``) is hidden in the change too, with the
    difference that would give it back.

    Examples
    --------
    >>> rep = {"targets": {"t": {"n": 300, "prevalence": 0.02}}}
    >>> d = {"targets": {"t": {"prevalence": {"before": 0.02, "after": 0.02, "delta": 0.0}}}}
    >>> protect_report_delta(d, rep, rep)["targets"]["t"]["prevalence"]
    {'before': None, 'after': None, 'delta': None}
    """
    import copy

    out = copy.deepcopy(dict(delta))
    shown = {
        side: {c: protect_target(t, k) for c, t in rep.get("targets", {}).items()}
        for side, rep in (("before", before), ("after", after))
    }
    for code, row in out.get("targets", {}).items():
        prev = row.get("prevalence")
        if not isinstance(prev, dict):
            continue
        for side in ("before", "after"):
            block = shown[side].get(code)
            if block is not None and block.get("prevalence") is None:
                prev[side] = None
                prev["delta"] = None
    out["privacy"] = {"min_cell": k, "rule": "small-cell and complementary suppression"}
    return out
