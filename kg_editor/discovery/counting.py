"""Pairwise co-occurrence counts over a cohort, and temporal precedence counts.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

from kg_editor.errors import SchemaError, unknown_variable

__all__ = [
    "PairCounts",
    "cooccurrence_csr",
    "cooccurrence_duckdb",
    "cooccurrence_events",
    "count_pairs",
    "count_pairs_duckdb",
    "precedence_counts",
]

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
            GROUP BY a.i, b.i
        """  # grouping columns spelled out: the all-columns form is DuckDB-only
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
    data: pd.DataFrame,
    states: Mapping[str, Sequence[str]] | None = None,
    *,
    engine: str = "auto",
    weights: np.ndarray | None = None,
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
    weights : ndarray, optional
        Patients each row stands for (rows as distinct weighted patterns,
        :class:`kg_editor.engines.Patterns`): the counts of the row-level cohort, from a
        sparse weighted product.
    """
    codes = [str(c) for c in data.columns]
    # column by column (each column is contiguous; a 2-D np.nonzero over
    # the frame's column-major block walked it with a stride and dominated the time)
    cols_np = [np.asarray(data.iloc[:, j].to_numpy()) for j in range(len(codes))]
    n = int(data.shape[0])
    if n and any(int(col.min()) < 0 for col in cols_np):
        raise SchemaError("State codes must be non-negative integers (0 = reference state).")
    st: list[tuple[str, ...]] = []
    for c, col in zip(codes, cols_np, strict=True):
        if states is not None and c in states:
            st.append(tuple(states[c]))
        else:
            k = int(col.max()) + 1 if n else 2
            st.append(("absent", "present") if k <= 2 else tuple(str(s) for s in range(k)))
    offsets = _offsets(st)
    m = int(offsets[-1])
    nz = [np.flatnonzero(col) for col in cols_np]
    rows = np.concatenate(nz) if nz else np.zeros(0, np.int64)
    item = (
        np.concatenate([offsets[j] + cols_np[j][r].astype(np.int64) - 1 for j, r in enumerate(nz)])
        if nz
        else np.zeros(0, np.int64)
    )
    if weights is not None:
        from scipy import sparse

        w = np.asarray(weights, dtype=np.int64)
        ind = sparse.csr_matrix(
            (np.ones(rows.size, np.int64), (rows, item)), shape=(n, m), dtype=np.int64
        )
        weighted = sparse.csr_matrix((w[rows], (rows, item)), shape=(n, m), dtype=np.int64)
        matrix = np.asarray((ind.T @ weighted).toarray(), dtype=np.int64)
        return PairCounts(
            codes=tuple(codes), states=tuple(st), n=int(w.sum()), offsets=offsets, matrix=matrix
        )
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
    A categorical code's item is ``code=value`` at the code's first event, as in the
    cohort. The counts come from the one SQL definition in
    :mod:`kg_editor.engines.queries` (:meth:`kg_editor.engines.EngineSource.pair_counts`),
    which PostgreSQL and Spark run too.
    """
    # delegated to the counts engine
    from kg_editor.engines import DuckDBEngine, EngineSource, Var

    st = [tuple(states[c]) if states and c in states else ("absent", "present") for c in codes]
    eng = DuckDBEngine(con=con) if con is not None else DuckDBEngine()
    try:
        if isinstance(events, pd.DataFrame):
            src = EngineSource.from_frames(eng, events, name="events")
        else:
            src = EngineSource.open(eng, str(events), name=str(events))
        return src.pair_counts(
            [Var(c, s) for c, s in zip(codes, st, strict=True)],
            patients=patients,
            n_patients=n_patients,
        )
    finally:
        eng.close()


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
