"""Pairwise co-occurrence statistics over a cohort: counts, measures, tests, precedence.

Counting has two interchangeable engines that give identical counts:

* in memory: a compiled (numba) pair-counting loop over each patient's list of items
  (:func:`cooccurrence_events`, :func:`cooccurrence_csr`), or a BLAS product for small
  dense cohorts;
* DuckDB (:func:`cooccurrence_duckdb`): a self-join of a distinct (patient, item) table,
  for event tables or Parquet/CSV files larger than memory.

An *item* is one non-reference state of one variable (``code`` for binary event codes,
``code=value`` for categorical ones). The item x item co-occurrence matrix holds every
full contingency table: see :class:`PairCounts`.

Examples
--------
>>> import pandas as pd
>>> data = pd.DataFrame({"a": [1, 1, 0, 0, 1], "b": [1, 0, 0, 1, 1]}, dtype="int8")
>>> pc = count_pairs(data, {"a": ("absent", "present"), "b": ("absent", "present")})
>>> pc.table("a", "b").tolist()
[[1, 1], [1, 2]]
>>> pc.cells("a", "b")  # n11, n10, n01, n00
(2, 1, 1, 1)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

from kg_editor.data.privacy import DEFAULT_MIN_CELL, suppress_counts
from kg_editor.discovery import measures as M
from kg_editor.errors import SchemaError, unknown_variable

__all__ = [
    "CITestResult",
    "PairCounts",
    "PairStatistics",
    "ci_test",
    "compute_pair_statistics",
    "cooccurrence_csr",
    "cooccurrence_duckdb",
    "cooccurrence_events",
    "count_pairs",
    "count_pairs_duckdb",
    "local_bic",
    "pair_evidence",
    "pair_table",
    "positivity_violation",
    "precedence_counts",
]

logger = logging.getLogger(__name__)

#: Above this many cells (patients x items) the numba kernel replaces a dense BLAS product.
DENSE_LIMIT = 20_000_000


# ---------------------------------------------------------------------------------
# Compiled kernels
# ---------------------------------------------------------------------------------
@numba.njit(parallel=True, cache=True, nogil=True)
def _csr_cooc_upper(
    indptr: np.ndarray, indices: np.ndarray, m: int, n_chunks: int
) -> np.ndarray:  # pragma: no cover - compiled
    # One int32 upper-triangle accumulator per chunk (no sharing between threads); each
    # patient's distinct items are insertion-sorted so that a < b needs no branch.
    n = indptr.size - 1
    acc = np.zeros((n_chunks, m, m), np.int32)
    chunk = (n + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        out = acc[c]
        seen = np.full(m, -1, np.int64)
        buf = np.empty(m, np.int64)
        stop = min(n, (c + 1) * chunk)
        for r in range(c * chunk, stop):
            k = 0
            for t in range(indptr[r], indptr[r + 1]):
                j = indices[t]
                if seen[j] != r:
                    seen[j] = r
                    # insertion sort into buf[0:k]
                    s = k
                    while s > 0 and buf[s - 1] > j:
                        buf[s] = buf[s - 1]
                        s -= 1
                    buf[s] = j
                    k += 1
            for s in range(k):
                row = out[buf[s]]
                for u in range(s, k):
                    row[buf[u]] += 1
    total = np.zeros((m, m), np.int64)
    for c in range(n_chunks):
        total += acc[c]
    return total


@numba.njit(cache=True, nogil=True)
def _counting_sort(
    patient: np.ndarray, item: np.ndarray, n_patients: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    indptr = np.zeros(n_patients + 1, np.int64)
    for i in range(patient.size):
        indptr[patient[i] + 1] += 1
    for r in range(n_patients):
        indptr[r + 1] += indptr[r]
    pos = indptr[:-1].copy()
    out = np.empty(item.size, item.dtype)
    for i in range(patient.size):
        r = patient[i]
        out[pos[r]] = item[i]
        pos[r] += 1
    return indptr, out


@numba.njit(cache=True, nogil=True)
def _sorted_indptr(
    patient: np.ndarray, n_patients: int
) -> np.ndarray:  # pragma: no cover - compiled
    indptr = np.zeros(n_patients + 1, np.int64)
    for i in range(patient.size):
        indptr[patient[i] + 1] += 1
    for r in range(n_patients):
        indptr[r + 1] += indptr[r]
    return indptr


@numba.njit(cache=True, nogil=True)
def _is_sorted(x: np.ndarray) -> bool:  # pragma: no cover - compiled
    for i in range(1, x.size):  # noqa: SIM110 (numba: no generators)
        if x[i] < x[i - 1]:
            return False
    return True


def _symmetrize(upper: np.ndarray) -> np.ndarray:
    return upper + upper.T - np.diag(np.diag(upper))


def cooccurrence_csr(indptr: np.ndarray, indices: np.ndarray, n_items: int) -> np.ndarray:
    """Item x item patient counts from a patient -> items CSR structure.

    Duplicated items within a patient count once. Entry ``[i, j]`` is the number of
    patients with both items; the diagonal holds each item's patient count.

    Examples
    --------
    >>> cooccurrence_csr(np.array([0, 2, 5]), np.array([0, 1, 1, 2, 1]), 3).tolist()
    [[1, 1, 0], [1, 2, 1], [0, 1, 1]]
    """
    chunks = max(1, numba.get_num_threads())
    if indptr.size - 1 < 4 * chunks:
        chunks = 1
    upper = _csr_cooc_upper(
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(
            indices, dtype=np.int64 if indices.dtype.kind != "i" else indices.dtype
        ),
        int(n_items),
        chunks,
    )
    return _symmetrize(upper)


def cooccurrence_events(
    patient: np.ndarray, item: np.ndarray, n_patients: int | None = None, n_items: int | None = None
) -> np.ndarray:
    """Item x item patient counts from integer-coded events ``(patient, item)``.

    ``patient`` and ``item`` are non-negative integer arrays of equal length. Events
    sorted by patient (as most extracts are) skip the counting sort.

    Examples
    --------
    >>> cooccurrence_events(np.array([1, 0, 1, 1]), np.array([0, 1, 1, 1])).tolist()
    [[1, 1], [1, 2]]
    """
    patient = np.ascontiguousarray(patient)
    item = np.ascontiguousarray(item)
    if patient.size == 0:
        return np.zeros((n_items or 0, n_items or 0), np.int64)
    n_p = int(n_patients if n_patients is not None else patient.max() + 1)
    n_i = int(n_items if n_items is not None else item.max() + 1)
    if _is_sorted(patient):
        indptr, idx = _sorted_indptr(patient, n_p), item
    else:
        indptr, idx = _counting_sort(patient, item, n_p)
    return cooccurrence_csr(indptr, idx, n_i)


def cooccurrence_duckdb(
    events: str | Path | pd.DataFrame,
    *,
    patient: str = "patient_id",
    item: str = "code",
    items: Sequence[str] | None = None,
    con: Any = None,
) -> tuple[list[str], np.ndarray]:
    """Item x item patient counts computed by DuckDB (out of core when needed).

    Parameters
    ----------
    events : path or DataFrame
        A Parquet/CSV file (or glob) or a DataFrame with a patient and an item column.
    patient, item : str
        Column names.
    items : sequence of str, optional
        Order of the result's rows/columns; by default the sorted distinct items.
    con : duckdb connection, optional
        Use this connection (e.g. with a memory limit and a temp directory set).

    Returns
    -------
    items, matrix

    Examples
    --------
    >>> ev = pd.DataFrame({"patient_id": [1, 1, 2, 2, 2], "code": ["x", "y", "y", "z", "y"]})
    >>> names, m = cooccurrence_duckdb(ev)
    >>> names, m.tolist()
    (['x', 'y', 'z'], [[1, 1, 0], [1, 2, 1], [0, 1, 1]])
    """
    import duckdb

    own = con is None
    con = con or duckdb.connect()
    try:
        if isinstance(events, pd.DataFrame):
            con.register("_kg_events", events[[patient, item]])
            src = "_kg_events"
        else:
            p = str(events).replace("'", "''")
            src = (
                f"read_parquet('{p}')"
                if p.lower().endswith(".parquet")
                else f"read_csv_auto('{p}')"
            )
        q = f"""
            WITH e AS (SELECT DISTINCT "{patient}" AS p, CAST("{item}" AS VARCHAR) AS i FROM {src}
                       WHERE "{item}" IS NOT NULL)
            SELECT a.i AS a, b.i AS b, count(*) AS n
            FROM e a JOIN e b ON a.p = b.p AND a.i <= b.i
            GROUP BY ALL
        """
        res = con.execute(q).fetchnumpy()
    finally:
        if own:
            con.close()
    names = (
        list(items)
        if items is not None
        else sorted(set(res["a"].tolist()) | set(res["b"].tolist()))
    )
    pos = {s: k for k, s in enumerate(names)}
    out = np.zeros((len(names), len(names)), np.int64)
    ia = np.array([pos.get(s, -1) for s in res["a"].tolist()], dtype=np.int64)
    ib = np.array([pos.get(s, -1) for s in res["b"].tolist()], dtype=np.int64)
    keep = (ia >= 0) & (ib >= 0)
    out[ia[keep], ib[keep]] = res["n"][keep]
    out[ib[keep], ia[keep]] = res["n"][keep]
    return names, out


# ---------------------------------------------------------------------------------
# Pair counts over a state matrix
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairCounts:
    """Every pairwise contingency table of a cohort, held as item co-occurrence counts.

    Attributes
    ----------
    codes : tuple of str
        Variable codes.
    states : tuple of tuple of str
        States per variable; state 0 is the reference (``absent``).
    n : int
        Patients counted.
    offsets : ndarray
        Variable ``j``'s items (states 1..k-1) are ``offsets[j]:offsets[j + 1]``.
    matrix : ndarray of int64
        Item x item patient counts (diagonal: patients per item).
    """

    codes: tuple[str, ...]
    states: tuple[tuple[str, ...], ...]
    n: int
    offsets: np.ndarray
    matrix: np.ndarray
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({c: i for i, c in enumerate(self.codes)})

    def index(self, code: str) -> int:
        try:
            return self._index[code]
        except KeyError:
            raise unknown_variable(code, self.codes) from None

    @property
    def items(self) -> list[str]:
        """Item names: ``code`` for binary variables, ``code=state`` otherwise."""
        out = []
        for c, st in zip(self.codes, self.states, strict=True):
            out.extend([c] if len(st) == 2 else [f"{c}={s}" for s in st[1:]])
        return out

    def marginal(self, code: str) -> np.ndarray:
        """Patients per state of ``code``."""
        j = self.index(code)
        lo, hi = self.offsets[j], self.offsets[j + 1]
        nz = np.diag(self.matrix)[lo:hi]
        return np.concatenate([[self.n - nz.sum()], nz]).astype(np.int64)

    def table(self, a: str, b: str) -> np.ndarray:
        """Full contingency table of ``a`` (rows) by ``b`` (columns)."""
        i, j = self.index(a), self.index(b)
        ma, mb = self.marginal(a), self.marginal(b)
        ai, bi = (
            slice(self.offsets[i], self.offsets[i + 1]),
            slice(self.offsets[j], self.offsets[j + 1]),
        )
        t = np.zeros((ma.size, mb.size), np.int64)
        if i == j:
            np.fill_diagonal(t, ma)
            return t
        block = self.matrix[ai, bi]
        t[1:, 1:] = block
        t[1:, 0] = ma[1:] - block.sum(axis=1)
        t[0, 1:] = mb[1:] - block.sum(axis=0)
        t[0, 0] = self.n - ma[1:].sum() - mb[1:].sum() + block.sum()
        return t

    def cells(self, a: str, b: str) -> tuple[int, int, int, int]:
        """``(n11, n10, n01, n00)`` for "any non-reference state" of ``a`` and ``b``."""
        t = self.table(a, b)
        n11 = int(t[1:, 1:].sum())
        return n11, int(t[1:, 0].sum()), int(t[0, 1:].sum()), int(t[0, 0])

    def collapsed(self) -> np.ndarray:
        """Variable x variable patient counts of "any non-reference state" (diagonal:
        patients per variable)."""
        m = self.matrix.shape[0]
        agg = np.zeros((m, len(self.codes)), np.int64)
        for j in range(len(self.codes)):
            agg[self.offsets[j] : self.offsets[j + 1], j] = 1
        return agg.T @ self.matrix @ agg


def _offsets(states: Sequence[Sequence[str]]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(s) - 1 for s in states])]).astype(np.int64)


def count_pairs(
    data: pd.DataFrame, states: Mapping[str, Sequence[str]] | None = None, *, engine: str = "auto"
) -> PairCounts:
    """Count every pairwise contingency table of a state-code frame.

    Parameters
    ----------
    data : DataFrame
        One int column per variable with state codes (0 = reference), as in
        :attr:`kg_editor.data.cohort.Cohort.data`.
    states : mapping, optional
        Code -> state names. By default binary ``absent``/``present`` or ``0..k-1``.
    engine : {"auto", "numba", "dense"}
        ``dense`` multiplies indicator matrices with BLAS (fast for small cohorts, no
        compile step); ``numba`` runs the compiled pair-counting loop. Both give
        identical counts.
    """
    codes = [str(c) for c in data.columns]
    arr = data.to_numpy()
    if arr.size and (arr.min() < 0):
        raise SchemaError("State codes must be non-negative integers (0 = reference state).")
    st: list[tuple[str, ...]] = []
    for j, c in enumerate(codes):
        if states is not None and c in states:
            st.append(tuple(states[c]))
        else:
            k = int(arr[:, j].max()) + 1 if arr.shape[0] else 2
            st.append(("absent", "present") if k <= 2 else tuple(str(s) for s in range(k)))
    offsets = _offsets(st)
    m = int(offsets[-1])
    n = arr.shape[0]
    rows, cols = np.nonzero(arr)
    item = offsets[cols] + arr[rows, cols].astype(np.int64) - 1
    if engine == "auto":
        engine = "dense" if n * m <= DENSE_LIMIT else "numba"
    if engine == "dense":
        ind = np.zeros((n, m), np.float64)
        ind[rows, item] = 1.0
        matrix = np.rint(ind.T @ ind).astype(np.int64)
    elif engine == "numba":
        matrix = cooccurrence_events(rows.astype(np.int64), item, n, m)
    else:
        raise ValueError(f"Unknown engine {engine!r}; choose 'auto', 'numba' or 'dense'.")
    return PairCounts(codes=tuple(codes), states=tuple(st), n=n, offsets=offsets, matrix=matrix)


def count_pairs_duckdb(
    events: str | Path | pd.DataFrame,
    codes: Sequence[str],
    states: Mapping[str, Sequence[str]] | None = None,
    *,
    n_patients: int | None = None,
    patients: Sequence[Any] | None = None,
    con: Any = None,
) -> PairCounts:
    """:class:`PairCounts` from a long event table by DuckDB (``patient_id``, ``code``
    and optionally ``value``); equal to :func:`count_pairs` over the matching cohort.

    ``patients`` restricts counting to those patient ids (e.g. the training split) and
    sets ``n``; otherwise ``n_patients`` (default: distinct patients in the events).
    A categorical code's item is ``code=value`` (its value at its first event is what the
    cohort keeps, so give one event per patient and code for categorical codes).
    """
    import duckdb

    st = [tuple(states[c]) if states and c in states else ("absent", "present") for c in codes]
    own = con is None
    con = con or duckdb.connect()
    try:
        if isinstance(events, pd.DataFrame):
            cols = [c for c in ("patient_id", "code", "value") if c in events.columns]
            con.register("_kg_ev", events[cols])
            src = "_kg_ev"
            has_value = "value" in cols
        else:
            p = str(events).replace("'", "''")
            src = (
                f"read_parquet('{p}')"
                if p.lower().endswith(".parquet")
                else f"read_csv_auto('{p}')"
            )
            has_value = "value" in [
                r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
            ]
        where = ""
        if patients is not None:
            con.register(
                "_kg_pat", pd.DataFrame({"patient_id": pd.Series(list(patients)).astype(str)})
            )
            where = "WHERE CAST(patient_id AS VARCHAR) IN (SELECT patient_id FROM _kg_pat)"
        binary = {c for c, s in zip(codes, st, strict=True) if len(s) == 2}
        con.register("_kg_bin", pd.DataFrame({"code": sorted(binary)}))
        value_expr = "CAST(value AS VARCHAR)" if has_value else "NULL"
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW _kg_items AS
                SELECT CAST(patient_id AS VARCHAR) AS patient_id,
                       CASE WHEN CAST(code AS VARCHAR) IN (SELECT code FROM _kg_bin) OR {value_expr} IS NULL
                            THEN CAST(code AS VARCHAR)
                            ELSE CAST(code AS VARCHAR) || '=' || {value_expr} END AS item
                FROM {src} {where}"""
        )
        if patients is not None:
            n = len(set(map(str, patients)))
        elif n_patients is not None:
            n = int(n_patients)
        else:
            n = int(con.execute("SELECT count(DISTINCT patient_id) FROM _kg_items").fetchone()[0])  # type: ignore[index]
        pc_items = PairCounts(
            codes=tuple(codes), states=tuple(st), n=n, offsets=_offsets(st), matrix=np.zeros((0, 0))
        ).items
        con.execute("CREATE OR REPLACE TEMP TABLE _kg_itemdf AS SELECT * FROM _kg_items")
        _, matrix = cooccurrence_duckdb(
            con.sql("SELECT * FROM _kg_itemdf").df(),
            patient="patient_id",
            item="item",
            items=pc_items,
        )
    finally:
        if own:
            con.close()
    return PairCounts(
        codes=tuple(codes), states=tuple(st), n=n, offsets=_offsets(st), matrix=matrix
    )


# ---------------------------------------------------------------------------------
# Temporal precedence
# ---------------------------------------------------------------------------------
def precedence_counts(dates: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every ordered pair (a, b): patients with both dated and a strictly first, and
    patients with both dated on the same day.

    Parameters
    ----------
    dates : DataFrame or ndarray
        Patients x variables of first-occurrence datetimes (NaT when absent/undated).

    Returns
    -------
    first : ndarray (p, p)
        ``first[a, b]`` = patients in whom ``a`` was recorded before ``b``.
    ties : ndarray (p, p)
        Patients with both on the same date (the diagonal: patients with ``a`` dated).

    Examples
    --------
    >>> d = pd.DataFrame({"a": pd.to_datetime(["2020-01-01", "2020-02-01", None]),
    ...                   "b": pd.to_datetime(["2020-03-01", "2020-02-01", "2020-01-01"])})
    >>> first, ties = precedence_counts(d)
    >>> first.tolist(), ties.tolist()
    ([[0, 1], [0, 0]], [[2, 1], [1, 3]])
    """
    arr = dates.to_numpy() if isinstance(dates, pd.DataFrame) else np.asarray(dates)
    vals = arr.astype("datetime64[D]").astype(np.int64)
    missing = np.isnat(arr.astype("datetime64[D]"))
    big = np.iinfo(np.int64).max
    vals = np.where(missing, big, vals)
    have = ~missing
    p = vals.shape[1]
    first = np.zeros((p, p), np.int64)
    ties = np.zeros((p, p), np.int64)
    for a in range(p):
        rows = have[:, a]
        va = vals[rows, a][:, None]
        sub = vals[rows]
        both = have[rows]
        first[a] = ((va < sub) & both).sum(axis=0)
        ties[a] = ((va == sub) & both).sum(axis=0)
    return first, ties


# ---------------------------------------------------------------------------------
# Conditional independence and local scores (equal to pgmpy's, tested)
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CITestResult:
    """Result of a conditional-independence test: statistic, degrees of freedom, p."""

    statistic: float
    dof: int
    p: float


def ci_test(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    y: int,
    z: Sequence[int] = (),
    *,
    method: str = "g",
    yates: bool = True,
) -> CITestResult:
    """Test ``x`` independent of ``y`` given ``z`` on integer-coded data.

    Stratified chi-square (``method="chi2"``) or G (``"g"``) test: per configuration of
    ``z``, rows/columns that never occur are dropped from the degrees of freedom, and
    2x2 strata get Yates' correction (``yates``). The same convention as pgmpy's
    ``ChiSquare``/``GSq`` tests; a test proves them equal.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.integers(0, 2, 5000); x = (z ^ (rng.random(5000) < .1)); y = (z ^ (rng.random(5000) < .1))
    >>> d = np.column_stack([x, y, z]).astype(np.int64)
    >>> ci_test(d, [2, 2, 2], 0, 1).p < 1e-6, ci_test(d, [2, 2, 2], 0, 1, [2]).p > 0.01
    (True, True)
    """
    kx, ky = int(cards[x]), int(cards[y])
    zi = np.zeros(codes.shape[0], np.int64)
    ns = 1
    for c in z:
        zi = zi * int(cards[c]) + codes[:, c]
        ns *= int(cards[c])
    flat = (zi * kx + codes[:, x]) * ky + codes[:, y]
    obs = np.bincount(flat, minlength=ns * kx * ky).reshape(ns, kx, ky).astype(np.float64)
    rows = obs.sum(axis=2, keepdims=True)
    cols = obs.sum(axis=1, keepdims=True)
    tot = obs.sum(axis=(1, 2), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        exp = rows * cols / tot
    ra = (rows[:, :, 0] > 0).sum(axis=1)
    ca = (cols[:, 0, :] > 0).sum(axis=1)
    dof_per = np.clip(ra - 1, 0, None) * np.clip(ca - 1, 0, None)
    dof = int(dof_per.sum())
    if yates and (dof_per == 1).any():
        diff = exp - obs
        adj = np.minimum(0.5, np.abs(diff)) * np.sign(diff)
        obs = np.where((dof_per == 1)[:, None, None], obs + np.nan_to_num(adj), obs)
    safe = exp > 0
    from scipy import special
    from scipy import stats as sst

    if method == "g":
        terms = 2.0 * (special.xlogy(obs, obs) - special.xlogy(obs, np.where(safe, exp, 0.0)))
        terms = np.where(safe, terms, 0.0)
    elif method == "chi2":
        terms = np.zeros_like(obs)
        np.divide((obs - exp) ** 2, exp, out=terms, where=safe)
    else:
        raise ValueError(f"Unknown CI test {method!r}; choose 'g' or 'chi2'.")
    stat = float(terms.sum())
    p = float(sst.chi2.sf(stat, dof)) if dof > 0 else float("nan")
    return CITestResult(statistic=stat, dof=dof, p=p)


def positivity_violation(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    z: Sequence[int],
    min_expected: float = 10.0,
) -> bool:
    """True when ``x``'s non-reference states never occur in a stratum of ``z`` where
    at least ``min_expected`` occurrences would be expected (a structural zero).

    Such a conditioning set violates positivity (``x`` is nested inside ``z``, e.g. a
    complication recorded only in patients with the broader diagnosis), so a
    conditional-independence test given ``z`` compares nothing outside the nesting
    stratum and cannot separate ``x`` from another variable.

    Examples
    --------
    >>> z = np.array([0] * 80 + [1] * 20); x = np.array([0] * 80 + [1] * 10 + [0] * 10)
    >>> d = np.column_stack([x, z])
    >>> positivity_violation(d, [2, 2], 0, [1], min_expected=5), positivity_violation(d, [2, 2], 1, [0], min_expected=5)
    (True, False)
    """
    if not len(z):
        return False
    zi = np.zeros(codes.shape[0], np.int64)
    ns = 1
    for c in z:
        zi = zi * int(cards[c]) + codes[:, c]
        ns *= int(cards[c])
    present = codes[:, x] != 0
    n_z = np.bincount(zi, minlength=ns).astype(np.float64)
    hit = np.bincount(zi[present], minlength=ns)
    expected = n_z * present.mean()
    return bool(np.any((hit == 0) & (expected >= min_expected)))


def local_bic(
    codes: np.ndarray, cards: Sequence[int] | np.ndarray, child: int, parents: Sequence[int]
) -> float:
    """BIC of one family (child given parents) on integer-coded data; equal to pgmpy's
    ``BIC.local_score`` when every state occurs in the data (tested).

    Examples
    --------
    >>> d = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    >>> round(local_bic(d, [2, 2], 1, [0]), 3)
    -4.159
    """
    r = int(cards[child])
    q = 1
    idx = np.zeros(codes.shape[0], np.int64)
    for pa in parents:
        idx = idx * int(cards[pa]) + codes[:, pa]
        q *= int(cards[pa])
    nijk = np.bincount(idx * r + codes[:, child], minlength=q * r).reshape(q, r).astype(np.float64)
    nij = nijk.sum(axis=1, keepdims=True)
    nz = nijk > 0
    ll = float(np.sum(nijk[nz] * np.log((nijk / np.where(nij > 0, nij, 1.0))[nz])))
    return ll - 0.5 * math.log(codes.shape[0]) * q * (r - 1)


# ---------------------------------------------------------------------------------
# The pair statistics table
# ---------------------------------------------------------------------------------
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
    if dates is not None and dates.shape[1] > 0:
        dd = dates.reindex(index=data.index, columns=codes)
        first, ties = precedence_counts(dd)
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
    """Evidence for the pair ``a -> b`` as a JSON-ready dict, counts suppressed below ``k``.

    Works for any pair, including one a clinician adds that the distiller did not
    propose. Directional measures (relative risk, precedence) read "``b`` given ``a``" and
    "``a`` first".

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1] * 30 + [0] * 70, "b": [1] * 25 + [0] * 60 + [1] * 15}, dtype="int8")
    >>> ev = pair_evidence(compute_pair_statistics(d), "b", "a")
    >>> ev["counts"]["n11"], ev["counts"]["n10"], round(ev["measures"]["odds_ratio"]["estimate"], 1)
    (25, 15, 18.3)
    >>> pair_evidence(compute_pair_statistics(d), "a", "b")["counts"]["n10"]
    '<11'
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
    return suppress_counts(ev, k) if suppress else ev


def pair_table(
    stats: PairStatistics, *, k: int = DEFAULT_MIN_CELL, suppress: bool = True
) -> pd.DataFrame:
    """The pair statistics as a display table: one row per unordered pair, with labels,
    counts below ``k`` shown as ``"<k"``, sorted by q-value.

    Examples
    --------
    >>> d = pd.DataFrame({"a": [1] * 30 + [0] * 70, "b": [1] * 25 + [0] * 60 + [1] * 15}, dtype="int8")
    >>> t = pair_table(compute_pair_statistics(d, labels={"a": "Asthma", "b": "Bronchitis"}))
    >>> t[["label_a", "label_b", "n11", "n10"]].values.tolist()
    [['Asthma', 'Bronchitis', 25, '<11']]
    """
    from kg_editor.data.privacy import suppress_frame

    out = stats.table.copy()
    out.insert(2, "label_a", [stats.labels.get(c, c) for c in out["a"]])
    out.insert(3, "label_b", [stats.labels.get(c, c) for c in out["b"]])
    out = out.sort_values(["q", "p", "a", "b"], kind="stable").reset_index(drop=True)
    return suppress_frame(out, k) if suppress else out
