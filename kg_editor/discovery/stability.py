"""Edge stability: how often each edge, and each of its directions, is distilled again
from resampled training patients.

:class:`EdgeStability` follows the settings-then-fit contract. Resample ``i`` draws the
training patients with replacement from ``numpy.random.default_rng([seed, i])`` (so a
direct loop reproduces it exactly), distils each resample with the same settings, and
counts, for every pair, the resamples that link it, that point it each way and that leave
it unresolved. :meth:`EdgeStability.annotate` writes the figures into each edge's
evidence (``evidence["stability"]``).

Examples
--------
>>> from kg_editor.data.sources.synthetic import network_events
>>> from kg_editor.data.cohort import build_cohort
>>> from kg_editor.discovery.distill import Distiller
>>> cohort = build_cohort(network_events("asia", 2000, seed=1).source, min_patients=5)
>>> st = EdgeStability(Distiller(), n_resamples=4, n_jobs=1).fit(cohort)
>>> 0.0 <= st.frequency("either", "xray") <= 1.0
True
"""

from __future__ import annotations

import copy
import logging
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

import numpy as np

from kg_editor.data.cohort import Cohort
from kg_editor.discovery.distill import Distiller
from kg_editor.errors import NotFittedError, SchemaError
from kg_editor.model.graph import CausalGraph

__all__ = ["DEFAULT_RESAMPLES", "EdgeStability", "resample_cohort", "resample_indices"]

logger = logging.getLogger(__name__)

#: Default number of resamples (cheap enough for the demo to open in a few seconds).
DEFAULT_RESAMPLES = 30

#: Patients x variables from which ``n_jobs=None`` resamples in worker processes.
PARALLEL_FROM = 2_000_000

Progress = Callable[[int, int], None]
_Found = list[tuple[str, str, bool]]


def resample_indices(n: int, seed: int, i: int) -> np.ndarray:
    """Row positions of resample ``i``: ``n`` draws with replacement, seeded by ``[seed, i]``."""
    return np.random.default_rng([seed, i]).integers(0, n, n)


def resample_cohort(cohort: Cohort, rows: np.ndarray) -> Cohort:
    """A cohort of the training patients at positions ``rows`` (duplicates get new ids),
    every one of them a training patient."""
    train_mask = ~np.asarray(cohort.is_test, dtype=bool)
    data = cohort.data.loc[train_mask].iloc[rows].copy()
    ids = [f"{pid}#{k}" for k, pid in enumerate(data.index)]
    data.index = ids
    data.index.name = cohort.data.index.name
    persons = cohort.persons.reindex(cohort.data.index[train_mask]).iloc[rows].copy()
    persons.index = data.index
    dates = None
    if cohort.first_dates is not None:
        dates = cohort.first_dates.reindex(index=cohort.data.index[train_mask]).iloc[rows].copy()
        dates.index = data.index
    return replace(
        cohort,
        data=data,
        persons=persons,
        first_dates=dates,
        is_test=np.zeros(len(data), dtype=bool),
    )


def _distil_one(distiller: Distiller, cohort: Cohort, seed: int, i: int) -> _Found:
    n = int((~np.asarray(cohort.is_test, dtype=bool)).sum())
    d = copy.deepcopy(distiller).fit(resample_cohort(cohort, resample_indices(n, seed, i)))
    g = d.graph_
    return [(u, v, bool(g.edge_attrs(u, v).get("unresolved"))) for u, v in g.edges]


class EdgeStability:
    """Per-edge and per-direction frequencies over resampled training patients.

    Parameters
    ----------
    distiller : Distiller, optional
        Settings to distil each resample with (default ``Distiller()``); it is copied,
        never fitted itself.
    n_resamples : int
        Number of resamples (default 30).
    seed : int
        Seed of the resamples (resample ``i`` uses ``default_rng([seed, i])``).
    n_jobs : int or None
        Worker processes; ``-1`` uses every core, ``1`` runs in this process, ``None``
        (default) every core from :data:`PARALLEL_FROM` training patients x variables on
        (below it, starting workers costs more than it saves). Without working worker
        processes the resamples run in this process.
    progress : callable, optional
        ``progress(done, total)`` after each resample.

    Attributes
    ----------
    n_resamples_ : int
    counts_ : dict
        Unordered pair (frozenset) -> resamples that link it.
    directed_ : dict
        ``(source, target)`` -> resamples with that direction (unresolved picks included).
    unresolved_ : dict
        Unordered pair -> resamples in which its direction was unresolved.
    """

    def __init__(
        self,
        distiller: Distiller | None = None,
        n_resamples: int = DEFAULT_RESAMPLES,
        seed: int = 0,
        n_jobs: int | None = None,
        progress: Progress | None = None,
    ):
        self.distiller = distiller
        self.n_resamples = n_resamples
        self.seed = seed
        self.n_jobs = n_jobs
        self.progress = progress

    def fit(self, cohort: Cohort) -> EdgeStability:
        """Distil ``n_resamples`` resamples of ``cohort``'s training patients; returns ``self``."""
        if not isinstance(self.n_resamples, int) or self.n_resamples < 1:
            raise SchemaError(
                f"The number of stability resamples must be a whole number of at least 1, "
                f"got {self.n_resamples!r}."
            )
        for attr in ("n_resamples_", "counts_", "directed_", "unresolved_"):
            self.__dict__.pop(attr, None)
        distiller = self.distiller if self.distiller is not None else Distiller()
        if self.n_jobs is None:
            # worker start-up costs seconds: use every core only for large cohorts
            work = int((~np.asarray(cohort.is_test, dtype=bool)).sum()) * len(cohort.variables)
            jobs = (os.cpu_count() or 1) if work >= PARALLEL_FROM else 1
        elif self.n_jobs == -1:
            jobs = os.cpu_count() or 1
        else:
            jobs = self.n_jobs
        jobs = max(1, min(int(jobs), self.n_resamples))
        found: list[_Found] = []
        total = self.n_resamples
        if jobs > 1:
            try:
                # forkserver: workers fork from a clean server, never from a threaded web app
                ctx = multiprocessing.get_context("forkserver")
                with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                    futures = [
                        pool.submit(_distil_one, distiller, cohort, self.seed, i)
                        for i in range(total)
                    ]
                    for i, fut in enumerate(futures):
                        found.append(fut.result())
                        if self.progress is not None:
                            self.progress(i + 1, total)
            except (BrokenProcessPool, OSError, RuntimeError, pickle.PicklingError) as exc:
                # no worker processes here (an interactive main, a sandbox): run in-process
                logger.info("stability workers unavailable (%s); resampling in-process", exc)
                found = []
        for i in range(len(found), total):
            found.append(_distil_one(distiller, cohort, self.seed, i))
            if self.progress is not None:
                self.progress(i + 1, total)
        counts: dict[frozenset[str], int] = {}
        directed: dict[tuple[str, str], int] = {}
        unresolved: dict[frozenset[str], int] = {}
        for edges in found:
            for u, v, unres in edges:
                e = frozenset((u, v))
                counts[e] = counts.get(e, 0) + 1
                directed[(u, v)] = directed.get((u, v), 0) + 1
                if unres:
                    unresolved[e] = unresolved.get(e, 0) + 1
        self.n_resamples_ = total
        self.counts_ = counts
        self.directed_ = directed
        self.unresolved_ = unresolved
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "counts_"):
            raise NotFittedError(
                "This EdgeStability is not fitted yet. Call 'fit' with a cohort first."
            )

    def frequency(self, a: str, b: str) -> float:
        """Share of resamples linking ``a`` and ``b`` (either direction)."""
        self._check_fitted()
        return self.counts_.get(frozenset((a, b)), 0) / self.n_resamples_

    def direction_frequency(self, source: str, target: str) -> float:
        """Share of resamples with the edge ``source -> target``."""
        self._check_fitted()
        return self.directed_.get((source, target), 0) / self.n_resamples_

    def record(self, source: str, target: str) -> dict[str, Any]:
        """The stability evidence of the edge ``source -> target``."""
        self._check_fitted()
        e = frozenset((source, target))
        return {
            "resamples": self.n_resamples_,
            "frequency": self.frequency(source, target),
            "this_direction": self.direction_frequency(source, target),
            "reverse_direction": self.direction_frequency(target, source),
            "unresolved": self.unresolved_.get(e, 0) / self.n_resamples_,
            "seed": self.seed,
        }

    def annotate(self, graph: CausalGraph) -> CausalGraph:
        """A copy of ``graph`` with ``evidence["stability"]`` on every edge."""
        self._check_fitted()
        g = graph.to_networkx()
        for u, v in g.edges:
            ev = dict(g.edges[u, v].get("evidence") or {})
            ev["stability"] = self.record(u, v)
            g.edges[u, v]["evidence"] = ev
        meta = dict(graph.metadata)
        meta["stability"] = {"resamples": self.n_resamples_, "seed": self.seed}
        return CausalGraph(g, metadata=meta)

    def unstable(self, graph: CausalGraph, below: float = 0.5) -> list[tuple[str, str]]:
        """Edges of ``graph`` found in fewer than ``below`` of the resamples, least stable first."""
        self._check_fitted()
        rows = [(self.frequency(u, v), u, v) for u, v in graph.edges]
        return [(u, v) for f, u, v in sorted(rows) if f < below]

    def pairs(self) -> Iterable[tuple[frozenset[str], int]]:
        """Every pair linked in at least one resample, with its count."""
        self._check_fitted()
        return sorted(self.counts_.items(), key=lambda kv: (-kv[1], sorted(kv[0])))
