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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg_editor.errors import DataSourceError, KGEditorError

__all__ = [
    "ESTIMATORS",
    "CodeTable",
    "Family",
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
    "state_dtype",
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


def _estimator(name: str) -> Callable[[np.ndarray, float], np.ndarray]:
    try:
        return ESTIMATORS[name.lower()]
    except KeyError:
        raise KGEditorError(
            f"Unknown estimator {name!r}; choose one of {', '.join(sorted(ESTIMATORS))}."
        ) from None


@dataclass(frozen=True)
class Family:
    """A fitted family: a node, its (sorted) parents, its counts and CPD.

    ``cpd[s, j]`` is P(node = state s | parents in configuration j); configurations are
    numbered with the last parent varying fastest (pgmpy's ``TabularCPD`` layout).
    """

    node: str
    parents: tuple[str, ...]
    card: int
    parent_cards: tuple[int, ...]
    counts: np.ndarray
    cpd: np.ndarray
    strides: tuple[int, ...]
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_configurations(self) -> int:
        return int(self.counts.shape[1])

    @property
    def n_parameters(self) -> int:
        """Free parameters ``q (r - 1)``."""
        return self.n_configurations * (self.card - 1)

    def drop_patient_cache(self) -> None:
        """Forget cached per-patient arrays (recomputed on demand); keeps scalar terms."""
        for key in [k for k in self.cache if isinstance(k, tuple)]:
            del self.cache[key]

    @property
    def log_cpd(self) -> np.ndarray:
        """``log(cpd)`` (cached; ``-inf`` where the MLE gives 0)."""
        out = self.cache.get("log_cpd")
        if out is None:
            with np.errstate(divide="ignore"):
                out = np.log(self.cpd)
            self.cache["log_cpd"] = out
        return out


def fit_family(
    table: CodeTable,
    node: str,
    parents: Iterable[str],
    *,
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
) -> Family:
    """Fit one family's CPD from the training codes (equal to pgmpy's estimators)."""
    pa = tuple(sorted(parents))
    counts = family_counts(table, node, pa)
    cpd = _estimator(estimator)(counts, equivalent_sample_size)
    return Family(
        node=node,
        parents=pa,
        card=table.cards[node],
        parent_cards=tuple(table.cards[p] for p in pa),
        counts=counts,
        cpd=cpd,
        strides=_strides([table.cards[p] for p in pa]),
    )


def fit_families(
    table: CodeTable,
    parents: Mapping[str, Iterable[str]],
    *,
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
) -> dict[str, Family]:
    """Fit every family; ``parents`` maps each node to its parents."""
    return {
        n: fit_family(
            table, n, pa, estimator=estimator, equivalent_sample_size=equivalent_sample_size
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
) -> dict[str, Family]:
    """A new family dict in which only ``nodes`` are refitted (the rest are shared)."""
    out = dict(families)
    for n in nodes:
        pa = tuple(sorted(parents[n]))
        if n in out and out[n].parents == pa:
            continue
        out[n] = fit_family(
            table, n, pa, estimator=estimator, equivalent_sample_size=equivalent_sample_size
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
