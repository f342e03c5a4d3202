"""Fitting the probability tables of a graph, fast and (for reference) with pgmpy.

Reading the networks bundled with pgmpy, sampling them, and fitting discrete Bayesian
networks with pgmpy's own estimators are done here through
:mod:`kg_editor.adapters.pgmpy`, the only module that imports pgmpy.

Two ways to fit the conditional probability tables (CPDs) of a graph are offered:

* :func:`pgmpy_fit` builds a ``DiscreteBayesianNetwork`` and fits it with pgmpy's
  ``DiscreteBayesianEstimator`` (BDeu prior) or ``DiscreteMLE``: the reference.
* :func:`fit_family` / :func:`fit_families` count each family with one ``numpy.bincount``
  over the int8 state codes of :attr:`Cohort.data` and give the same CPDs (the tests
  prove it to 1e-12). :func:`refit_families` refits only the families an edit touched;
  :func:`families_to_pgmpy` turns our CPDs into a pgmpy model when a reference is needed.

Examples
--------
>>> import numpy as np, pandas as pd
>>> df = pd.DataFrame({"a": np.array([0, 0, 1, 1, 1], dtype=np.int8),
...                    "b": np.array([0, 1, 1, 1, 0], dtype=np.int8)})
>>> table = CodeTable.from_frame(df, {"a": 2, "b": 2})
>>> fam = fit_family(table, "b", ("a",), estimator="mle")
>>> fam.counts.tolist()
[[1, 1], [1, 2]]
>>> np.round(fam.cpd, 3).tolist()
[[0.5, 0.333], [0.5, 0.667]]
"""

from __future__ import annotations

import functools
import gzip
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg_editor.errors import DataSourceError, KGEditorError

__all__ = [
    "ESTIMATORS",
    "SPARSE_MIN_CELLS",
    "SPARSE_ROW_RATIO",
    "CodeTable",
    "Family",
    "SparseCounts",
    "bundled_network",
    "bundled_network_names",
    "families_to_pgmpy",
    "family_counts",
    "fit_families",
    "fit_family",
    "pgmpy_fit",
    "refit_families",
    "sample_network",
    "sampled_cohort",
    "sorted_positions",
    "sparse_family_counts",
    "state_dtype",
    "use_sparse",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------
# bundled networks
# ---------------------------------------------------------------------------------
def _example_dir() -> Path:
    from kg_editor.adapters.pgmpy import example_models_dir

    return example_models_dir()


def bundled_network_names() -> list[str]:
    """Names of the ``.bif.gz`` networks that ship inside pgmpy (no download needed)."""
    return sorted(p.name[: -len(".bif.gz")] for p in _example_dir().glob("*.bif.gz"))


def bundled_network(name: str) -> Any:
    """Read a network bundled with pgmpy (``asia``, ``alarm``, ``child``, ``hepar2`` ...).

    Reads the file that ships in the wheel; never downloads (pgmpy's
    ``get_example_model`` fetches from a hub and fails offline).

    Examples
    --------
    >>> m = bundled_network("asia")
    >>> sorted(m.nodes())[:3]
    ['asia', 'bronc', 'dysp']
    """
    from kg_editor.adapters.pgmpy import read_bif_model

    path = _example_dir() / f"{name.lower()}.bif.gz"
    if not path.exists():
        raise DataSourceError(
            f"No bundled network named {name!r}; choose one of {', '.join(bundled_network_names())}."
        )
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        text = fh.read()
    return read_bif_model(text)


def sample_network(model: Any, n: int, seed: int = 0) -> pd.DataFrame:
    """Forward-sample ``n`` rows of state names from a discrete Bayesian network."""
    from kg_editor.adapters.pgmpy import forward_sample

    return forward_sample(model, n, seed=seed).astype(str)


# ---------------------------------------------------------------------------------
# the fast family estimator
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CodeTable:
    """Columns of integer state codes, one contiguous array per variable.

    A table is either one row per patient or, with ``weights``, one row per distinct
    pattern and its patient count (:meth:`from_patterns`); every count and sum taken
    from it (family counts, likelihoods, metrics) is then weighted and equals the
    row-level figure.

    Attributes
    ----------
    columns : dict
        Variable code -> array of state indices (one entry per row), in the smallest
        integer type that holds the variable's states (``int8`` up to 127 states):
        a 109-variable table of 1M patients takes 109 MB, not 872 MB. Index
        arithmetic (:meth:`config_index`) is done in ``int64``.
    cards : dict
        Variable code -> number of states.
    n : int
        Number of patients (the sum of ``weights`` when weighted).
    weights : ndarray or None
        Patients per row (``None``: one patient per row).
    """

    columns: dict[str, np.ndarray]
    cards: dict[str, int]
    n: int
    weights: np.ndarray | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, cards: Mapping[str, int]) -> CodeTable:
        """Build from a frame of state codes (such as ``Cohort.train``)."""
        cols = {
            str(c): np.ascontiguousarray(frame[c].to_numpy(), dtype=state_dtype(cards[c]))
            for c in frame.columns
        }
        return cls(columns=cols, cards={c: int(cards[c]) for c in cols}, n=int(frame.shape[0]))

    # weighted patterns
    @classmethod
    def from_patterns(
        cls,
        codes: np.ndarray,
        columns: Sequence[str],
        cards: Mapping[str, int],
        weights: np.ndarray,
    ) -> CodeTable:
        """Build from distinct patterns (rows of ``codes``) and their patient counts
        (:class:`kg_editor.engines.Patterns` gives all four)."""
        w = np.ascontiguousarray(weights)
        cols = {
            str(c): np.ascontiguousarray(codes[:, j], dtype=state_dtype(cards[c]))
            for j, c in enumerate(columns)
        }
        total = w.sum()
        n = round(float(total))
        return cls(columns=cols, cards={c: int(cards[c]) for c in cols}, n=n, weights=w)

    @property
    def n_rows(self) -> int:
        """Rows held: patients, or distinct patterns when weighted."""
        if self.weights is not None:
            return int(self.weights.shape[0])
        return self.n

    @functools.cached_property
    def float_weights(self) -> np.ndarray | None:
        """``weights`` as float64, converted once: a dot product with integer counts
        converts them on every call (60x slower at 100k patterns, the same sum)."""
        return None if self.weights is None else np.asarray(self.weights, dtype=np.float64)

    def total(self, values: np.ndarray) -> float:
        """The sum of a per-row quantity over patients (weighted when rows are patterns)."""
        w = self.float_weights
        if w is None:
            return float(values.sum())
        return float(np.dot(values, w))

    def config_index(self, parents: Sequence[str]) -> tuple[np.ndarray, int, tuple[int, ...]]:
        """Parent-configuration index of every row (last parent varies fastest, as pgmpy).

        Returns the index array, the number of configurations ``q`` and each parent's
        stride.
        """
        strides = _strides([self.cards[p] for p in parents])
        q = int(np.prod([self.cards[p] for p in parents], dtype=np.int64)) if parents else 1
        if not parents:
            return np.zeros(self.n_rows, dtype=np.int64), 1, ()
        idx = self.columns[parents[0]].astype(np.int64)
        if strides[0] != 1:
            idx *= strides[0]
        for p, s in zip(parents[1:], strides[1:], strict=True):
            if s != 1:
                idx += self.columns[p].astype(np.int64) * s
            else:
                idx += self.columns[p]
        return idx, q, strides


def state_dtype(card: int) -> type[np.signedinteger[Any]]:
    """The smallest signed integer type holding state codes ``0 .. card - 1``.

    Examples
    --------
    >>> state_dtype(2).__name__, state_dtype(300).__name__
    ('int8', 'int16')
    """
    if card <= 128:
        return np.int8
    if card <= 32768:
        return np.int16
    return np.int32 if card <= 2**31 else np.int64


def _strides(cards: Sequence[int]) -> tuple[int, ...]:
    out = []
    acc = 1
    for c in reversed(cards):
        out.append(acc)
        acc *= int(c)
    return tuple(reversed(out))


def family_counts(table: CodeTable, node: str, parents: Sequence[str]) -> np.ndarray:
    """Counts ``N[state, parent_configuration]`` of a family by one ``numpy.bincount``.

    The column order is pgmpy's: parents sorted, the last parent varying fastest.
    """
    cfg, q, _ = table.config_index(parents)
    r = table.cards[node]
    codes = table.columns[node]
    flat = codes.astype(np.int64) * q + cfg if q > 1 else codes
    if table.weights is not None:  # weighted patterns: patient counts (exact for integers)
        w = table.weights
        counts = np.bincount(flat, weights=w, minlength=r * q).reshape(r, q)
        return np.rint(counts).astype(np.int64) if w.dtype.kind in "iub" else counts
    return np.bincount(flat, minlength=r * q).reshape(r, q)


#: A family is counted over its non-empty cells only (:class:`SparseCounts`) when its
#: table ``r x q`` has at least this many cells ...
SPARSE_MIN_CELLS = 1 << 16
#: ... and more than this many cells per training row (a table that large is mostly
#: zeros: 80,000 rows fill at most 80,000 of its cells).
SPARSE_ROW_RATIO = 4
#: Keys ``configuration * r + state`` must stay below this (int64 arithmetic).
_MAX_CELLS = 1 << 62


def use_sparse(cells: int, rows: int) -> bool:
    """Whether a family table of ``cells`` cells, counted from ``rows`` rows, is counted
    sparsely: large tables (at least :data:`SPARSE_MIN_CELLS`) with more than
    :data:`SPARSE_ROW_RATIO` cells per row.

    Examples
    --------
    >>> use_sparse(63 * 138_240, 80_000), use_sparse(2 * 8, 80_000)
    (True, False)
    """
    return cells >= SPARSE_MIN_CELLS and cells > SPARSE_ROW_RATIO * rows


@dataclass(frozen=True, eq=False)
class SparseCounts:
    """The non-empty cells of a family's count table ``N[state, configuration]``.

    A family of a 63-state node with five or six parents has millions of cells, of
    which the training rows fill at most one per row; its scores, CPD entries and
    held-out factors are computed from these cells alone (the dense table is built on
    demand only, :meth:`dense`).

    Attributes
    ----------
    shape : (int, int)
        ``(r, q)``: the node's states and its parents' configurations.
    keys : ndarray of int64
        The non-empty cells, keyed ``configuration * r + state``, sorted (so the cells
        of one configuration are contiguous).
    values : ndarray
        Their counts (``int64``; ``float64`` for non-integer pattern weights), all > 0.
    configs : ndarray of int64
        The configurations holding at least one row, sorted.
    totals : ndarray
        ``N_j`` of those configurations.
    owner : ndarray of int64
        For each cell, the position of its configuration in ``configs``.
    """

    shape: tuple[int, int]
    keys: np.ndarray
    values: np.ndarray
    configs: np.ndarray
    totals: np.ndarray
    owner: np.ndarray

    @classmethod
    def from_keys(
        cls, keys: np.ndarray, shape: tuple[int, int], weights: np.ndarray | None = None
    ) -> SparseCounts:
        """Count the cell keys ``configuration * r + state`` of every row (weighted by
        ``weights``: patients per pattern; integer weights give integer counts)."""
        r = int(shape[0])
        if weights is None:
            cells, values = np.unique(keys, return_counts=True)
            values = values.astype(np.int64, copy=False)
        else:
            cells, inverse = np.unique(keys, return_inverse=True)
            summed = np.bincount(inverse.ravel(), weights=weights, minlength=cells.size)
            values = np.rint(summed).astype(np.int64) if weights.dtype.kind in "iub" else summed
            keep = values > 0
            if not keep.all():
                cells, values = cells[keep], values[keep]
        cells = cells.astype(np.int64, copy=False)
        cfg = cells // r
        if cells.size:
            starts = np.flatnonzero(np.concatenate(([True], cfg[1:] != cfg[:-1])))
            totals = np.add.reduceat(values, starts)
            owner = np.repeat(
                np.arange(starts.size, dtype=np.int64), np.diff(np.append(starts, cells.size))
            )
        else:
            starts = np.zeros(0, dtype=np.int64)
            totals = values[:0]
            owner = np.zeros(0, dtype=np.int64)
        return cls((r, int(shape[1])), cells, values, cfg[starts], totals, owner)

    @functools.cached_property
    def states(self) -> np.ndarray:
        """The node's state of every non-empty cell."""
        return self.keys % self.shape[0]

    @functools.cached_property
    def cell_configs(self) -> np.ndarray:
        """The parent configuration of every non-empty cell."""
        return self.keys // self.shape[0]

    def dense(self) -> np.ndarray:
        """The full ``r x q`` table (equal to :func:`family_counts`)."""
        out = np.zeros(self.shape, dtype=self.values.dtype)
        out[self.states, self.cell_configs] = self.values
        return out


def sparse_family_counts(table: CodeTable, node: str, parents: Sequence[str]) -> SparseCounts:
    """The non-empty cells of a family's counts (one sort of the rows' cell keys): the
    same numbers as :func:`family_counts` without its ``r x q`` table.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0, 0, 1, 1, 1], "b": [0, 1, 1, 1, 0]})
    >>> sp = sparse_family_counts(CodeTable.from_frame(df, {"a": 2, "b": 2}), "b", ("a",))
    >>> sp.dense().tolist(), sp.totals.tolist()
    ([[1, 1], [1, 2]], [2, 3])
    """
    r = table.cards[node]
    q = _n_configurations(table.cards, node, parents)
    keys, _, _ = table.config_index(parents)
    if r != 1:
        keys *= r
    keys += table.columns[node]
    return SparseCounts.from_keys(keys, (r, q), table.weights)


def _n_configurations(cards: Mapping[str, int], node: str, parents: Sequence[str]) -> int:
    q = 1
    for p in parents:
        q *= int(cards[p])
    if q * int(cards[node]) >= _MAX_CELLS:
        raise KGEditorError(
            f"The variable {node!r} has {len(parents)} parents with {q:,} combinations of "
            "states, too many to estimate its probabilities; remove some of its parents."
        )
    return q


def _bdeu_cpd(counts: np.ndarray, equivalent_sample_size: float) -> np.ndarray:
    r, q = counts.shape
    pseudo = float(equivalent_sample_size) / (r * q)
    values = counts + np.ones((r, q), dtype=float) * pseudo
    return values / values.sum(axis=0)


def _mle_cpd(counts: np.ndarray, equivalent_sample_size: float) -> np.ndarray:
    values = counts.astype(float)
    values[:, (counts == 0).all(axis=0)] = 1.0
    return values / values.sum(axis=0)


#: Parameter estimators by name: ``f(counts, equivalent_sample_size) -> cpd``. ``bdeu``
#: adds ``ess / (r q)`` to every cell (pgmpy ``DiscreteBayesianEstimator(prior_type=
#: "BDeu")``); ``mle`` is relative frequency, unseen parent configurations uniform
#: (pgmpy ``DiscreteMLE``).
ESTIMATORS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "bdeu": _bdeu_cpd,
    "mle": _mle_cpd,
}

#: The estimators whose probabilities are also computed from the non-empty cells alone.
_SPARSE_ESTIMATORS = ("bdeu", "mle")


def _estimator(name: str) -> Callable[[np.ndarray, float], np.ndarray]:
    try:
        return ESTIMATORS[name.lower()]
    except KeyError:
        raise KGEditorError(
            f"Unknown estimator {name!r}; choose one of {', '.join(sorted(ESTIMATORS))}."
        ) from None


def sorted_positions(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``queries`` in the sorted ``keys`` and whether each is there (a
    position is valid where it is).

    Examples
    --------
    >>> pos, found = sorted_positions(np.array([2, 5, 9]), np.array([5, 3, 9, 11]))
    >>> pos.tolist(), found.tolist()
    ([1, 1, 2, 2], [True, False, True, False])
    """
    if keys.size == 0:
        return np.zeros(queries.shape, dtype=np.intp), np.zeros(queries.shape, dtype=bool)
    pos = np.searchsorted(keys, queries)
    np.minimum(pos, keys.size - 1, out=pos)
    return pos, keys[pos] == queries


class Family:
    """A fitted family: a node, its (sorted) parents, its counts and CPD.

    ``cpd[s, j]`` is P(node = state s | parents in configuration j); configurations are
    numbered with the last parent varying fastest (pgmpy's ``TabularCPD`` layout).

    A family is either *dense* (``counts`` and ``cpd`` given as ``r x q`` tables) or
    *sparse* (``sparse``: its non-empty cells, :class:`SparseCounts`, with the
    estimator that turns them into probabilities). A sparse family computes its scores
    and the probabilities the held-out rows need from the non-empty cells alone;
    :attr:`counts`, :attr:`cpd` and :attr:`log_cpd` build the full tables on demand,
    equal to those of the dense family (``tests/test_sparse_family.py``).

    Families are immutable; :attr:`cache` keeps derived arrays.
    """

    __slots__ = (
        "_counts",
        "_cpd",
        "cache",
        "card",
        "equivalent_sample_size",
        "estimator",
        "node",
        "parent_cards",
        "parents",
        "sparse",
        "strides",
    )

    node: str
    parents: tuple[str, ...]
    card: int
    parent_cards: tuple[int, ...]
    strides: tuple[int, ...]
    cache: dict[Any, Any]
    sparse: SparseCounts | None
    estimator: str
    equivalent_sample_size: float
    _counts: np.ndarray | None
    _cpd: np.ndarray | None

    def __init__(
        self,
        node: str,
        parents: tuple[str, ...],
        card: int,
        parent_cards: tuple[int, ...],
        counts: np.ndarray | None = None,
        cpd: np.ndarray | None = None,
        strides: tuple[int, ...] = (),
        cache: dict[Any, Any] | None = None,
        *,
        sparse: SparseCounts | None = None,
        estimator: str = "bdeu",
        equivalent_sample_size: float = 10.0,
    ):
        if sparse is None and (counts is None or cpd is None):
            raise KGEditorError(
                f"The family of {node!r} needs its counts and probabilities (or its sparse counts)."
            )
        if sparse is not None and estimator.lower() not in _SPARSE_ESTIMATORS:
            raise KGEditorError(
                f"Sparse counts support the estimators {', '.join(_SPARSE_ESTIMATORS)}, not {estimator!r}."
            )
        values = {
            "node": node,
            "parents": tuple(parents),
            "card": int(card),
            "parent_cards": tuple(parent_cards),
            "strides": tuple(strides),
            "cache": {} if cache is None else cache,
            "sparse": sparse,
            "estimator": estimator.lower(),
            "equivalent_sample_size": float(equivalent_sample_size),
            "_counts": counts if sparse is None else None,
            "_cpd": cpd if sparse is None else None,
        }
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"A fitted family is immutable (cannot set {name!r}).")

    def __repr__(self) -> str:
        kind = "sparse" if self.sparse is not None else "dense"
        return (
            f"Family(node={self.node!r}, parents={self.parents!r}, card={self.card}, "
            f"configurations={self.n_configurations}, {kind})"
        )

    # ---- tables
    @property
    def counts(self) -> np.ndarray:
        """``N[state, configuration]`` (built from the non-empty cells when sparse)."""
        if self._counts is not None:
            return self._counts
        assert self.sparse is not None
        return self.sparse.dense()

    @property
    def cpd(self) -> np.ndarray:
        """``P(node = s | parents = j)`` as an ``r x q`` table (built on demand when
        sparse, by the same estimator as a dense family: the same numbers)."""
        if self._cpd is not None:
            return self._cpd
        return _estimator(self.estimator)(self.counts, self.equivalent_sample_size)

    @property
    def count_table(self) -> np.ndarray | SparseCounts:
        """The counts as held: the sparse cells, or the dense table (what the score
        functions of :mod:`kg_editor.model.metrics` take)."""
        return self.sparse if self.sparse is not None else self.counts

    @property
    def n_configurations(self) -> int:
        if self.sparse is not None:
            return self.sparse.shape[1]
        return int(self.counts.shape[1])

    @property
    def n_parameters(self) -> int:
        """Free parameters ``q (r - 1)``."""
        return self.n_configurations * (self.card - 1)

    def uncached(self) -> Family:
        """The same fitted family with an empty cache."""
        return Family(
            self.node,
            self.parents,
            self.card,
            self.parent_cards,
            self._counts,
            self._cpd,
            self.strides,
            sparse=self.sparse,
            estimator=self.estimator,
            equivalent_sample_size=self.equivalent_sample_size,
        )

    def drop_patient_cache(self) -> None:
        """Forget cached per-patient arrays (recomputed on demand); keeps scalar terms."""
        for key in [k for k in self.cache if isinstance(k, tuple)]:
            del self.cache[key]

    @property
    def log_cpd(self) -> np.ndarray:
        """``log(cpd)`` (``-inf`` where the MLE gives 0); cached when dense, built on
        demand (not kept) when sparse."""
        out = self.cache.get("log_cpd")
        if out is None:
            with np.errstate(divide="ignore"):
                out = np.log(self.cpd)
            if self.sparse is None:
                self.cache["log_cpd"] = out
        return out

    # ---- probabilities from the non-empty cells (sparse families)
    def sparse_logs(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``log P`` of every non-empty cell, of an empty cell in each configuration
        holding rows (``-inf`` under the MLE), and of any cell of a configuration no
        training row has (cached; sizes of the non-empty cells, not of the table)."""
        hit = self.cache.get("sparse_logs")
        if hit is not None:
            out: tuple[np.ndarray, np.ndarray, float] = hit
            return out
        sp = self.sparse
        assert sp is not None
        r, q = sp.shape
        c = sp.values.astype(float)
        n_j = sp.totals.astype(float)
        with np.errstate(divide="ignore"):
            if self.estimator == "bdeu":
                pseudo = self.equivalent_sample_size / (r * q)
                den = n_j + r * pseudo
                cells = np.log((c + pseudo) / den[sp.owner])
                empty = np.log(pseudo / den)
                unseen = math.log(pseudo / (r * pseudo))
            else:  # mle
                cells = np.log(c / n_j[sp.owner])
                empty = np.full(n_j.shape, -np.inf)
                unseen = math.log(1.0 / r)
        out = (cells, empty, unseen)
        self.cache["sparse_logs"] = out
        return out

    @property
    def all_finite(self) -> bool:
        """Whether every entry of :attr:`log_cpd` is finite (no zero probability)."""
        hit = self.cache.get("all_finite")
        if hit is None:
            if self.sparse is not None:
                sp = self.sparse
                if self.estimator == "bdeu":
                    hit = self.equivalent_sample_size > 0
                else:
                    hit = sp.keys.size == sp.shape[0] * sp.configs.size
            else:
                hit = bool(np.isfinite(self.log_cpd).all())
            self.cache["all_finite"] = hit
        return bool(hit)

    def log_prob(self, states: np.ndarray, configs: np.ndarray) -> np.ndarray:
        """``log P(node = states[i] | parents = configs[i])`` for every ``i`` (a gather
        from :attr:`log_cpd` when dense, sorted look-ups in the non-empty cells when
        sparse)."""
        if self.sparse is None:
            out: np.ndarray = self.log_cpd[states, configs]
            return out
        sp = self.sparse
        cells, empty, unseen = self.sparse_logs()
        cfg = np.asarray(configs, dtype=np.int64)
        pos, hit = sorted_positions(sp.keys, cfg * self.card + states)
        cpos, chit = sorted_positions(sp.configs, cfg)
        if not cells.size:  # no training row at all
            return np.full(cfg.shape, unseen)
        res: np.ndarray = np.where(hit, cells[pos], np.where(chit, empty[cpos], unseen))
        return res


def fit_family(
    table: CodeTable,
    node: str,
    parents: Iterable[str],
    *,
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
    sparse: bool | None = None,
) -> Family:
    """Fit one family's CPD from the training codes (equal to pgmpy's estimators).

    ``sparse`` counts the non-empty cells only (:class:`SparseCounts`); by default
    (``None``) a family is sparse when :func:`use_sparse` says its table is large and
    mostly empty, and the estimator is ``bdeu`` (with a positive sample size) or ``mle``.
    """
    pa = tuple(sorted(parents))
    fn = _estimator(estimator)
    kind = estimator.lower()
    r = table.cards[node]
    q = _n_configurations(table.cards, node, pa)
    can = kind in _SPARSE_ESTIMATORS and (kind != "bdeu" or equivalent_sample_size > 0)
    if sparse is None:
        sparse = can and use_sparse(r * q, table.n_rows)
    elif sparse and not can:
        raise KGEditorError(
            f"The family of {node!r} cannot be counted sparsely with the estimator "
            f"{estimator!r} and sample size {equivalent_sample_size}."
        )
    parent_cards = tuple(table.cards[p] for p in pa)
    strides = _strides(parent_cards)
    if sparse:
        return Family(
            node,
            pa,
            r,
            parent_cards,
            strides=strides,
            sparse=sparse_family_counts(table, node, pa),
            estimator=kind,
            equivalent_sample_size=equivalent_sample_size,
        )
    counts = family_counts(table, node, pa)
    return Family(
        node,
        pa,
        r,
        parent_cards,
        counts,
        fn(counts, equivalent_sample_size),
        strides,
        estimator=kind,
        equivalent_sample_size=equivalent_sample_size,
    )


def fit_families(
    table: CodeTable,
    parents: Mapping[str, Iterable[str]],
    *,
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
    sparse: bool | None = None,
) -> dict[str, Family]:
    """Fit every family; ``parents`` maps each node to its parents (``sparse`` as in
    :func:`fit_family`)."""
    return {
        n: fit_family(
            table,
            n,
            pa,
            estimator=estimator,
            equivalent_sample_size=equivalent_sample_size,
            sparse=sparse,
        )
        for n, pa in parents.items()
    }


def refit_families(
    families: Mapping[str, Family],
    table: CodeTable,
    parents: Mapping[str, Iterable[str]],
    nodes: Iterable[str],
    *,
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
    sparse: bool | None = None,
) -> dict[str, Family]:
    """A new family dict in which only ``nodes`` are refitted (the rest are shared)."""
    out = dict(families)
    for n in nodes:
        pa = tuple(sorted(parents[n]))
        if n in out and out[n].parents == pa:
            continue
        out[n] = fit_family(
            table,
            n,
            pa,
            estimator=estimator,
            equivalent_sample_size=equivalent_sample_size,
            sparse=sparse,
        )
    return out


# ---------------------------------------------------------------------------------
# pgmpy references
# ---------------------------------------------------------------------------------
def _pgmpy_model(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> Any:
    from kg_editor.adapters.pgmpy import new_network

    return new_network(nodes, edges)


def pgmpy_fit(
    data: pd.DataFrame,
    edges: Iterable[tuple[str, str]],
    state_names: Mapping[str, Sequence[str]],
    *,
    nodes: Iterable[str] | None = None,
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
) -> Any:
    """Fit a ``DiscreteBayesianNetwork`` with pgmpy's own estimators (the reference).

    Parameters
    ----------
    data : DataFrame
        Training rows with state *names* (``Cohort.labelled(cohort.train)``).
    edges : iterable of (source, target)
    state_names : mapping
        Every state of every variable, in code order.
    estimator : ``"bdeu"`` or ``"mle"``
    """
    from kg_editor.adapters.pgmpy import estimate_cpds

    kind = estimator.lower()
    if kind not in ("bdeu", "mle"):
        _estimator(estimator)  # raises the clear error
    model = _pgmpy_model(nodes if nodes is not None else data.columns, edges)
    cols = list(model.nodes())
    names = {c: list(state_names[c]) for c in cols}
    frame = pd.DataFrame({c: data[c].astype(str).to_numpy() for c in cols}, index=data.index)
    model.add_cpds(
        *estimate_cpds(
            model,
            frame,
            estimator=kind,
            equivalent_sample_size=equivalent_sample_size,
            state_names=names,
        )
    )
    return model


def families_to_pgmpy(
    families: Mapping[str, Family], state_names: Mapping[str, Sequence[str]]
) -> Any:
    """A pgmpy ``DiscreteBayesianNetwork`` carrying our fitted CPDs."""
    from kg_editor.adapters.pgmpy import tabular_cpd

    edges = [(p, n) for n, f in families.items() for p in f.parents]
    model = _pgmpy_model(families, edges)
    cpds = []
    for n, f in families.items():
        cpds.append(
            tabular_cpd(
                n,
                f.card,
                f.cpd,
                evidence=list(f.parents) or None,
                evidence_card=list(f.parent_cards) or None,
                state_names={v: list(state_names[v]) for v in (n, *f.parents)},
            )
        )
    model.add_cpds(*cpds)
    return model


def sampled_cohort(
    name: str, n: int, *, target: str | None = None, seed: int = 0, test_size: float = 0.2
) -> Any:
    """A :class:`~kg_editor.data.cohort.Cohort` sampled straight from a bundled network.

    Every state of every node is kept (state 0 is the node's first state in the BIF
    file); persons get a random sex and age band so that subgroup measures have data.
    Used by benchmarks and tests that need many patients fast.

    Examples
    --------
    >>> c = sampled_cohort("asia", 200, target="lung", seed=1)
    >>> c.n_patients, c.target, int(c.is_test.sum())
    (200, 'lung', 40)
    """
    from kg_editor.data.cohort import Cohort, Variable, stratified_split

    model = bundled_network(name)
    samples = sample_network(model, n, seed=seed)
    data = {}
    variables = {}
    ids = pd.Index([f"S{i:07d}" for i in range(n)], name="patient_id")
    for node in sorted(model.nodes()):
        states = tuple(str(s) for s in model.get_cpds(node).state_names[node])
        lookup = {s: i for i, s in enumerate(states)}
        codes = samples[node].map(lookup).to_numpy().astype(np.int8)
        data[node] = codes
        nz = int((codes != 0).sum())
        variables[node] = Variable(node, node.replace("_", " "), "condition", states, nz, nz / n)
    frame = pd.DataFrame(data, index=ids)
    rng = np.random.default_rng(seed + 1)
    persons = pd.DataFrame(
        {
            "sex": rng.choice(np.array(["F", "M"]), n),
            "birth_year": rng.integers(1930, 2005, n).astype(float),
            "age_band": rng.choice(np.array(["18-39", "40-64", "65+"]), n),
        },
        index=ids,
    )
    y = frame[target].to_numpy() if target else np.zeros(n, dtype=np.int8)
    return Cohort(
        data=frame,
        variables=variables,
        persons=persons,
        first_dates=None,
        is_test=stratified_split(y, test_size=test_size, seed=seed),
        target=target,
        source_name=f"sampled-{name}",
        settings={"n": n, "seed": seed, "test_size": test_size},
    )
