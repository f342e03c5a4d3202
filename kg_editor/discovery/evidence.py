"""The pair statistics table: every pair's counts, association measures, test, FDR and precedence, and the evidence an edge carries."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kg_editor.data.privacy import DEFAULT_MIN_CELL
from kg_editor.discovery import measures as M
from kg_editor.discovery.counting import PairCounts, count_pairs, precedence_counts

__all__ = [
    "PairStatistics",
    "compute_pair_statistics",
    "pair_evidence",
    "pair_statistics_from_counts",
    "pair_table",
]


@dataclass
class PairStatistics:
    """Every unordered pair's counts, measures, test and precedence, one row per pair.

    Attributes
    ----------
    counts : PairCounts
    table : DataFrame
        Columns ``a``, ``b`` (codes; ``a`` before ``b`` in cohort order), ``n``, ``n_a``,
        ``n_b``, ``n11``, ``n10``, ``n01``, ``n00`` ("any non-reference state" of each),
        ``k_a``, ``k_b`` (number of states), one column per registered measure
        (``lift``, ``pmi``, ``npmi``, ``odds_ratio`` + ``_low``/``_high``,
        ``relative_risk`` + CI, ``phi``, ``mutual_information``), ``cramers_v`` and
        ``mi_table`` (full table), ``test``, ``statistic``, ``dof``, ``p``, ``q``
        (Benjamini-Hochberg over all pairs), and, with dates, ``n_both_dated``,
        ``a_first``, ``b_first``, ``ties``, ``precedence_share`` (share of a-first among
        ordered pairs), ``precedence_p``, ``precedence_q``.
    labels : dict
        Code -> label.
    """

    counts: PairCounts
    table: pd.DataFrame
    labels: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    _pos: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._pos = {
            (a, b): i for i, (a, b) in enumerate(zip(self.table["a"], self.table["b"], strict=True))
        }

    def row(self, a: str, b: str) -> tuple[pd.Series, bool]:
        """The row of the pair and whether it is stored as ``(b, a)``."""
        if (a, b) in self._pos:
            return self.table.iloc[self._pos[(a, b)]], False
        if (b, a) in self._pos:
            return self.table.iloc[self._pos[(b, a)]], True
        for c in (a, b):
            self.counts.index(c)  # raises a clear error for an unknown code
        raise KeyError((a, b))

    @property
    def has_dates(self) -> bool:
        return "precedence_share" in self.table.columns


def compute_pair_statistics(
    data: pd.DataFrame,
    states: Mapping[str, Sequence[str]] | None = None,
    dates: pd.DataFrame | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    test: str = "chi2",
    fisher_below: float = 5.0,
    engine: str = "auto",
) -> PairStatistics:
    """Counts, every registered measure, a test per pair, BH q-values and precedence.

    Parameters
    ----------
    data : DataFrame
        State codes (patients x variables), e.g. ``cohort.train``.
    states : mapping, optional
        Code -> state names.
    dates : DataFrame, optional
        First-occurrence dates aligned with ``data`` (``cohort.first_dates``).
    test : {"chi2", "g"}
        Test of independence; 2x2 tables with an expected count below ``fisher_below``
        use Fisher's exact test.

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1] * 30 + [0] * 70, "b": [1] * 25 + [0] * 60 + [1] * 15}, dtype="int8")
    >>> ps = compute_pair_statistics(d)
    >>> row = ps.table.iloc[0]
    >>> (row.a, row.b, int(row.n11), round(float(row.odds_ratio), 1), row.test)
    ('a', 'b', 25, 18.3, 'chi2')
    """
    pc = count_pairs(data, states, engine=engine)
    precedence = None
    if dates is not None and dates.shape[1] > 0:
        precedence = precedence_counts(dates.reindex(index=data.index, columns=list(pc.codes)))
    return pair_statistics_from_counts(
        pc, precedence, labels=labels, test=test, fisher_below=fisher_below
    )


def pair_statistics_from_counts(
    pc: PairCounts,
    precedence: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    test: str = "chi2",
    fisher_below: float = 5.0,
) -> PairStatistics:
    """:func:`compute_pair_statistics` from counts alone: the pair counts and, optionally,
    the precedence counts ``(first, ties)`` (:func:`~kg_editor.discovery.counting.precedence_counts`),
    e.g. as an engine or weighted patterns give them.

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1] * 30 + [0] * 70, "b": [1] * 25 + [0] * 60 + [1] * 15}, dtype="int8")
    >>> a = compute_pair_statistics(d).table
    >>> b = pair_statistics_from_counts(count_pairs(d)).table
    >>> bool(a.equals(b))
    True
    """
    codes = list(pc.codes)
    p = len(codes)
    col = pc.collapsed()
    ia, ib = np.triu_indices(p, k=1)
    n = pc.n
    n11 = col[ia, ib]
    na, nb = np.diag(col)[ia], np.diag(col)[ib]
    n10, n01 = na - n11, nb - n11
    n00 = n - na - nb + n11
    ka = np.array([len(pc.states[i]) for i in ia], dtype=np.int64)
    kb = np.array([len(pc.states[i]) for i in ib], dtype=np.int64)
    out: dict[str, Any] = {
        "a": [codes[i] for i in ia],
        "b": [codes[i] for i in ib],
        "n": np.full(ia.size, n, np.int64),
        "n_a": na,
        "n_b": nb,
        "n11": n11,
        "n10": n10,
        "n01": n01,
        "n00": n00,
        "k_a": ka,
        "k_b": kb,
    }
    for name, res in M.compute_measures(n11, n10, n01, n00).items():
        out[name] = res["estimate"]
        if "ci_low" in res:
            out[f"{name}_low"] = res["ci_low"]
            out[f"{name}_high"] = res["ci_high"]
    stat, pval, tname = M.independence_test(
        n11, n10, n01, n00, method=test, fisher_below=fisher_below
    )
    dof = np.ones(ia.size, np.int64)
    cv = np.abs(out["phi"]).astype(np.float64)
    mi_t = np.asarray(out["mutual_information"], dtype=np.float64).copy()
    for k in np.flatnonzero((ka > 2) | (kb > 2)):
        t = pc.table(codes[ia[k]], codes[ib[k]])
        s, d, pv = M.table_test(t, method=test)
        stat[k], dof[k], pval[k], tname[k] = s, d, pv, test
        cv[k] = M.cramers_v(t)
        mi_t[k] = M.mutual_information_table(t)
    out.update(
        {
            "cramers_v": np.nan_to_num(cv),
            "mi_table": mi_t,
            "test": tname,
            "statistic": stat,
            "dof": dof,
            "p": pval,
        }
    )
    out["q"] = M.bh_qvalues(pval)
    if precedence is not None:
        first, ties = precedence
        out["a_first"] = first[ia, ib]
        out["b_first"] = first[ib, ia]
        out["ties"] = ties[ia, ib]
        out["n_both_dated"] = out["a_first"] + out["b_first"] + out["ties"]
        share, pp = M.precedence_test(out["a_first"], out["b_first"])
        out["precedence_share"] = share
        out["precedence_p"] = pp
        out["precedence_q"] = M.bh_qvalues(pp)
    table = pd.DataFrame(out)
    table["a"] = table["a"].astype(object)
    table["b"] = table["b"].astype(object)
    table["test"] = table["test"].astype(object)
    return PairStatistics(
        counts=pc,
        table=table,
        labels=dict(labels or {c: c for c in codes}),
        settings={"test": test, "fisher_below": fisher_below},
    )


def _f(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def pair_evidence(
    stats: PairStatistics, a: str, b: str, *, k: int = DEFAULT_MIN_CELL, suppress: bool = True
) -> dict[str, Any]:
    """Evidence for the pair ``a -> b`` as a JSON-ready dict, protected for release.

    Works for any pair, including one a clinician adds that the distiller did not
    propose. Directional measures (relative risk, precedence) read "``b`` given ``a``" and
    "``a`` first". With ``suppress`` (the default) the table passes
    :func:`kg_editor.data.privacy.protect_table`: when a cell is below ``k`` all four
    cells are hidden and every measure, CI, statistic and p-value becomes bounds over
    all tables consistent with what is shown (``estimate`` is then ``None``, ``bounds``
    holds ``[low, high]``, ``p``/``q`` are upper bounds); precedence counts go the same
    way. ``privacy`` records the threshold.

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1] * 40 + [0] * 60, "b": [1] * 25 + [0] * 50 + [1] * 25}, dtype="int8")
    >>> ev = pair_evidence(compute_pair_statistics(d), "a", "b")
    >>> ev["counts"]["n11"], ev["counts"]["n10"], round(ev["measures"]["odds_ratio"]["estimate"], 2)
    (25, 15, 2.33)
    >>> d = pd.DataFrame({"a": [1] * 30 + [0] * 70, "b": [1] * 25 + [0] * 60 + [1] * 15}, dtype="int8")
    >>> hidden = pair_evidence(compute_pair_statistics(d), "a", "b")
    >>> hidden["counts"]["n10"], hidden["counts"]["n11"], hidden["measures"]["odds_ratio"]["estimate"]
    ('<11', 'suppressed', None)
    """
    row, flipped = stats.row(a, b)
    n11, n10, n01, n00 = (int(row[c]) for c in ("n11", "n10", "n01", "n00"))
    na, nb = int(row["n_a"]), int(row["n_b"])
    if flipped:
        n10, n01, na, nb = n01, n10, nb, na
    meas = M.compute_measures(n11, n10, n01, n00)
    measures = {}
    for name, res in meas.items():
        entry: dict[str, Any] = {"estimate": _f(np.asarray(res["estimate"]).item())}
        if "ci_low" in res:
            entry["ci_low"] = _f(np.asarray(res["ci_low"]).item())
            entry["ci_high"] = _f(np.asarray(res["ci_high"]).item())
        measures[name] = entry
    measures["cramers_v"] = {"estimate": _f(row["cramers_v"])}
    counts = {
        "n": int(row["n"]),
        "n_a": na,
        "n_b": nb,
        "n11": n11,
        "n10": n10,
        "n01": n01,
        "n00": n00,
    }
    multi = int(row["k_a"]) > 2 or int(row["k_b"]) > 2
    ev: dict[str, Any] = {
        "source": a,
        "target": b,
        "counts": counts,
        "measures": measures,
        "test": {
            "name": str(row["test"]),
            "statistic": _f(row["statistic"]),
            "dof": int(row["dof"]),
            "p": _f(row["p"]),
            "q": _f(row["q"]),
        },
        "states": {
            "source": int(row["k_b"] if flipped else row["k_a"]),
            "target": int(row["k_a"] if flipped else row["k_b"]),
        },
    }
    if stats.has_dates:
        af, bf = int(row["a_first"]), int(row["b_first"])
        share = _f(row["precedence_share"])
        if flipped:
            af, bf = bf, af
            share = None if share is None else 1.0 - share
        ev["precedence"] = {
            "n_both_dated": int(row["n_both_dated"]),
            "source_first": af,
            "target_first": bf,
            "ties": int(row["ties"]),
            "share_source_first": share,
            "p": _f(row["precedence_p"]),
            "q": _f(row["precedence_q"]),
        }
    if not suppress:
        return ev
    return _protect_evidence(
        ev,
        k,
        test=str(stats.settings.get("test", "chi2")),
        fisher_below=float(stats.settings.get("fisher_below", 5.0)),
        n_tests=len(stats.table),
        multi=multi,
    )


def _p_bucket(p: float | None) -> float | None:
    """``p`` rounded up to the next power of ten (a coarse, conservative bound)."""
    if p is None:
        return None
    if p <= 0:
        return 1e-300
    return float(min(1.0, 10.0 ** math.ceil(math.log10(p))))


def _protect_evidence(
    ev: dict[str, Any], k: int, *, test: str, fisher_below: float, n_tests: int, multi: bool
) -> dict[str, Any]:
    from kg_editor.data.privacy import HIDDEN, protect_partition, protect_table
    from kg_editor.data.privacy import suppress as suppress_one

    c = ev["counts"]

    def recompute(a: np.ndarray, b: np.ndarray, cc: np.ndarray, d: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, res in M.compute_measures(a, b, cc, d).items():
            out[name] = res["estimate"]
            if "ci_low" in res:
                out[f"{name}:ci_low"] = res["ci_low"]
                out[f"{name}:ci_high"] = res["ci_high"]
        out["cramers_v"] = np.abs(np.asarray(out["phi"], dtype=float))
        stat, pval, _ = M.independence_test(a, b, cc, d, method=test, fisher_below=fisher_below)
        out["statistic"], out["p"] = stat, pval
        return out

    tab = protect_table(c, k, recompute=recompute)
    out = dict(ev)
    out["counts"] = {**tab["margins"], **tab["cells"]}
    hidden = bool(tab["hidden"])
    if hidden:
        bounds = tab["bounds"]
        measures = {}
        for name, entry in ev["measures"].items():
            new: dict[str, Any] = {"estimate": None, "bounds": bounds.get(name, [None, None])}
            if "ci_low" in entry:
                new["ci_low"] = bounds.get(f"{name}:ci_low", [None, None])[0]
                new["ci_high"] = bounds.get(f"{name}:ci_high", [None, None])[1]
            if multi and name == "cramers_v":
                new["bounds"] = [None, None]
            measures[name] = new
        out["measures"] = measures
        test_ev = dict(ev["test"])
        p_hi = bounds.get("p", [None, None])[1]
        if multi or p_hi is None:
            p_hi = _p_bucket(test_ev.get("p"))
        test_ev.update(
            {
                "statistic": None,
                "statistic_bounds": [None, None] if multi else bounds.get("statistic"),
                "p": p_hi,
                "q": None if p_hi is None else min(1.0, p_hi * max(n_tests, 1)),
                "bounded": True,
            }
        )
        out["test"] = test_ev
    prec = ev.get("precedence")
    if prec is not None:
        cells = {
            "source_first": prec["source_first"],
            "target_first": prec["target_first"],
            "ties": prec["ties"],
        }
        small = any(v < k for v in cells.values())
        if hidden or small:
            shown = {key: (f"<{k}" if v < k else HIDDEN) for key, v in cells.items()}
            nbd = prec["n_both_dated"]
            share = prec["share_source_first"]
            out["precedence"] = {
                "n_both_dated": (f"<{k}" if nbd < k else HIDDEN)
                if hidden
                else suppress_one(nbd, k),
                **shown,
                "share_source_first": None if share is None else round(share, 2),
                "p": _p_bucket(prec["p"]),
                "q": _p_bucket(prec["q"]),
                "bounded": True,
            }
        else:
            part = protect_partition(cells, k)
            out["precedence"] = {**prec, **part}
    out["privacy"] = {"min_cell": k, "hidden": hidden}
    return out


def pair_table(
    stats: PairStatistics, *, k: int = DEFAULT_MIN_CELL, suppress: bool = True
) -> pd.DataFrame:
    """The pair statistics as a display table: one row per unordered pair, with labels,
    counts below ``k`` shown as ``"<k"``, sorted by q-value.

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1] * 30 + [0] * 70, "b": [1] * 25 + [0] * 60 + [1] * 15}, dtype="int8")
    >>> t = pair_table(compute_pair_statistics(d, labels={"a": "Asthma", "b": "Bronchitis"}))
    >>> t[["label_a", "label_b", "n11", "n10", "odds_ratio"]].values.tolist()
    [['Asthma', 'Bronchitis', 'suppressed', '<11', None]]
    """
    from kg_editor.data.privacy import HIDDEN, suppress_frame

    out = stats.table.copy()
    out.insert(2, "label_a", [stats.labels.get(c, c) for c in out["a"]])
    out.insert(3, "label_b", [stats.labels.get(c, c) for c in out["b"]])
    out = out.sort_values(["q", "p", "a", "b"], kind="stable").reset_index(drop=True)
    if not suppress:
        return out
    cells = ["n11", "n10", "n01", "n00"]
    small = out[cells].to_numpy() < k
    hidden = small.any(axis=1)
    shown = suppress_frame(out, k)
    # a table with a small cell: every cell and every number derived from them goes
    # (see kg_editor.data.privacy.protect_table; pair_evidence gives bounds instead)
    for j, c in enumerate(cells):
        shown.loc[hidden & ~small[:, j], c] = HIDDEN
    derived = [
        c
        for c in out.columns
        if c
        not in {
            "a",
            "b",
            "label_a",
            "label_b",
            "n",
            "n_a",
            "n_b",
            "k_a",
            "k_b",
            "test",
            "dof",
            *cells,
        }
        and pd.api.types.is_numeric_dtype(out[c])
    ]
    for c in derived:
        shown[c] = shown[c].astype(object)
        shown.loc[hidden, c] = None
    for c in ("n_a", "n_b"):
        near_all = (out["n"] - out[c]).to_numpy() < k
        shown[c] = shown[c].astype(object)
        shown.loc[near_all, c] = HIDDEN
    return shown
