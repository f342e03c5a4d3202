"""Checks of the current graph against the data: implied independencies and family bounds.

Every pair of variables the graph leaves unlinked is a claim: the two are independent
given a separating set. :class:`ImpliedIndependencies` tests one minimal separating set per
non-adjacent pair (the same construction and test as pgmpy's ``ImpliedCIs``; a test proves
them equal), corrects the p-values with Benjamini-Hochberg, marks tests whose tables are
too sparse to trust, and after an edit recomputes only the pairs whose ancestral graph the
edit touched.

:func:`family_bounds` lists the families (a node and its parents) that exceed the default
bound on in-degree and on free parameters per training patient.

Examples
--------
>>> import numpy as np
>>> from kg_editor.model.graph import CausalGraph
>>> rng = np.random.default_rng(0)
>>> a = rng.integers(0, 2, 3000); b = a ^ (rng.random(3000) < .2); c = b ^ (rng.random(3000) < .2)
>>> codes = {"a": a, "b": b, "c": c}
>>> chain = CausalGraph.from_edges([("a", "b"), ("b", "c")])
>>> check = ImpliedIndependencies().fit(chain, codes, {"a": 2, "b": 2, "c": 2})
>>> [(r.x, r.y, r.given) for r in check.results_]
[('a', 'c', ('b',))]
>>> check.failures_
[]
>>> wrong = CausalGraph.from_edges([("a", "b"), ("c", "b")])  # a collider at b
>>> [(r.x, r.y, r.given, r.fails) for r in check.update(wrong).results_]
[('a', 'c', (), True)]
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from kg_editor.discovery.counting import PairCounts, count_pairs
from kg_editor.discovery.independence import ci_test_columns, table_ci_test
from kg_editor.discovery.measures import bh_qvalues
from kg_editor.errors import NotFittedError, SchemaError
from kg_editor.model.graph import CausalGraph
from kg_editor.model.separators import SEPARATED, graph_arrays, separator_kernel

__all__ = [
    "DEFAULT_MAX_PARENTS",
    "DEFAULT_PATIENTS_PER_PARAMETER",
    "ImpliedCI",
    "ImpliedIndependencies",
    "affected_nodes",
    "family_bounds",
    "minimal_separator",
    "review_queue",
]

#: Default bound on a family's in-degree (the distiller's ``max_parents``).
DEFAULT_MAX_PARENTS = 6
#: Default training patients per free parameter of a family (``patients_per_parameter``).
DEFAULT_PATIENTS_PER_PARAMETER = 10.0


def _separated(adj: Mapping[str, set[str]], x: str, y: str, given: set[str]) -> bool:
    """True when ``given`` cuts every path from ``x`` to ``y`` in the undirected ``adj``."""
    seen = {x}
    stack = [x]
    while stack:
        n = stack.pop()
        for m in adj[n]:
            if m == y:
                return False
            if m not in seen and m not in given:
                seen.add(m)
                stack.append(m)
    return True


def minimal_separator(
    graph: nx.DiGraph,
    x: str,
    y: str,
    ancestors: Mapping[str, set[str]] | None = None,
    latent: Collection[str] | None = None,
) -> tuple[str, ...] | None:
    """A minimal set that d-separates non-adjacent ``x`` and ``y`` (sorted), or ``None``.

    The construction of pgmpy's ``DAG.minimal_dseparator`` (Tian, Paz and Pearl 1998,
    algorithm 4): start from the parents of both in their ancestral graph and drop every
    member whose removal keeps the pair separated, in sorted order so the answer is
    deterministic. Every candidate set lies in the ancestral set of ``{x, y}``, so
    d-separation is separation in its moral graph (one breadth-first search per test).
    ``ancestors`` (node -> ancestor set) and ``latent`` (the unobserved nodes) may be passed
    to share work across pairs.

    Examples
    --------
    >>> g = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "d"), ("d", "c")])
    >>> minimal_separator(g, "a", "c")
    ('b', 'd')
    """
    if graph.has_edge(x, y) or graph.has_edge(y, x):
        raise SchemaError(f"{x} and {y} are linked; only unlinked pairs have a separating set.")
    anc_x = ancestors[x] if ancestors is not None else nx.ancestors(graph, x)
    anc_y = ancestors[y] if ancestors is not None else nx.ancestors(graph, y)
    keep = anc_x | anc_y | {x, y}
    adj: dict[str, set[str]] = {n: set() for n in keep}
    for n in keep:
        pa = list(graph.predecessors(n))
        for i, p in enumerate(pa):
            adj[n].add(p)
            adj[p].add(n)
            for q in pa[i + 1 :]:
                adj[p].add(q)
                adj[q].add(p)
    if latent is None:  # the unobserved nodes (latent causes); callers may pass them
        latent = [n for n in graph.nodes if graph.nodes[n].get("latent")]
    latent = [n for n in latent if n in keep]
    if latent:
        # an unmeasured cause cannot be conditioned on: eliminating it from the moral
        # graph (its neighbours joined) keeps exactly the separations by observed sets;
        # the pair's other neighbours then start the search (a separator when any exists)
        for u in sorted(latent):
            nbrs = adj.pop(u)
            for a in nbrs:
                adj[a].discard(u)
                adj[a] |= nbrs - {a}
        if y in adj[x]:
            return None  # the pair shares an unmeasured cause (or one opens a path)
        sep = adj[x] - {y}
    else:
        sep = (set(graph.predecessors(x)) | set(graph.predecessors(y))) - {x, y}
    if not _separated(adj, x, y, sep):
        return None
    minimal = set(sep)
    for u in sorted(sep):
        if _separated(adj, x, y, minimal - {u}):
            minimal.discard(u)
    return tuple(sorted(minimal))


def _observed(graph: nx.DiGraph) -> list[str]:
    """The graph's measured variables (not the unobserved nodes of latent causes)."""
    return [n for n in graph.nodes if not graph.nodes[n].get("latent")]


def affected_nodes(before: nx.DiGraph, after: nx.DiGraph, changed: Iterable[str]) -> set[str]:
    """Nodes whose ancestral graph may differ after an edit that changed the parents of
    ``changed``: the changed nodes and their descendants, before or after.

    A pair's minimal separator depends only on the ancestral graph of the pair, so pairs
    with neither end in this set keep their implication.
    """
    out: set[str] = set()
    for n in changed:
        for g in (before, after):
            if n in g:
                out |= nx.descendants(g, n) | {n}
    return out


@dataclass(frozen=True)
class ImpliedCI:
    """One implied independence ``x _||_ y | given`` and its test on the data.

    Attributes
    ----------
    x, y : str
        The unlinked pair (sorted).
    given : tuple of str
        The minimal separating set the test conditions on.
    statistic, dof, p : float, int, float
        The test (chi-square or G, stratified over ``given``).
    q : float
        Benjamini-Hochberg q-value over every implied independence of the graph.
    patients_per_cell : float
        Training patients per cell of the ``x`` by ``y`` by ``given`` table.
    reliable : bool
        False when the table is too sparse to trust (fewer than ``min_per_cell``
        patients per cell, or no degrees of freedom left): such a test is reported but
        never counted as a failure.
    fails : bool
        The data contradict the implication: ``q < alpha`` on a reliable test.
    """

    x: str
    y: str
    given: tuple[str, ...]
    statistic: float
    dof: int
    p: float
    q: float
    patients_per_cell: float
    reliable: bool
    fails: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["given"] = list(self.given)
        for k in ("statistic", "p", "q", "patients_per_cell"):
            if not math.isfinite(d[k]):
                d[k] = None
        return d

    def describe(self, label: Any = str) -> str:
        """The failing implication in words, with the edit that would remove the conflict."""
        given = ", ".join(label(z) for z in self.given) or "nothing"
        return (
            f"The graph says {label(self.x)} and {label(self.y)} are independent given {given}, "
            f"but the data disagree (test statistic {self.statistic:.1f} on {self.dof} df, "
            f"q = {self.q:.2g}). Linking {label(self.x)} and {label(self.y)}, or a path between "
            "them through a variable not in that set, removes the conflict."
        )


class ImpliedIndependencies:
    """Test every independence the graph implies (one minimal separator per unlinked pair).

    Follows the settings-then-fit contract: ``fit(graph, columns, cards)`` tests every
    unlinked pair; ``update(graph, changed)`` moves to an edited graph and re-tests only
    the pairs the edit can change (tests of an unchanged ``(x, y, given)`` are reused).

    Parameters
    ----------
    alpha : float
        Level of the Benjamini-Hochberg corrected q-values for a failure.
    test : {"chi2", "g"}
        Stratified chi-square (pgmpy's ``chi_square``) or G test.
    min_per_cell : float
        Fewest training patients per cell of the ``x`` by ``y`` by ``given`` table for a
        test to count (small cells make the chi-square approximation unreliable).
    max_given : int or None
        Separating sets larger than this are not tested (reported as ``skipped_``).

    Attributes
    ----------
    results_ : list of ImpliedCI
        Every tested implication, sorted by q (failures first).
    failures_ : list of ImpliedCI
        The reliable implications the data contradict.
    recomputed_ : int
        Pairs whose separator was recomputed by the last ``fit``/``update``.
    """

    def __init__(
        self,
        alpha: float = 0.05,
        test: str = "chi2",
        min_per_cell: float = 5.0,
        max_given: int | None = 12,
    ):
        self.alpha = alpha
        self.test = test
        self.min_per_cell = min_per_cell
        self.max_given = max_given

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        graph: CausalGraph | nx.DiGraph,
        columns: Mapping[str, np.ndarray],
        cards: Mapping[str, int],
        weights: np.ndarray | None = None,
    ) -> ImpliedIndependencies:
        """Test every implication of ``graph`` on ``columns`` (code -> state-index array);
        ``weights``: patients per row when the rows are weighted patterns."""
        if self.test not in ("chi2", "g"):
            raise SchemaError(f"Unknown test {self.test!r} for the graph check; use 'chi2' or 'g'.")
        g = graph.causal_nx() if isinstance(graph, CausalGraph) else graph
        nodes = sorted(n for n in g.nodes if not g.nodes[n].get("latent"))
        missing = [n for n in nodes if n not in columns]
        if missing:
            raise SchemaError(
                f"The data have no column for {missing[0]!r}; the graph check needs every graph variable."
            )
        self._index = {n: i for i, n in enumerate(nodes)}
        # State codes in their own small integer type (an int64 copy of millions of
        # weighted patterns x 200 variables does not fit), and every pair's table counted
        # once, for the marginal tests (most of them, for a sparse graph).
        # Kept variable-major (one contiguous row per variable): a re-test reads only
        # the columns of its table, in one compiled pass (``ci_test_columns``).
        self._columns = np.empty(
            (len(nodes), len(np.asarray(columns[nodes[0]])) if nodes else 0), np.int16
        )
        for i, n in enumerate(nodes):
            self._columns[i] = np.asarray(columns[n])
        self._codes = self._columns.T  # patients x variables (a view)
        self._cards = np.array([int(cards[n]) for n in nodes], dtype=np.int64)
        self._weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self._pair_counts: PairCounts | None = None
        if weights is None or bool(np.all(np.mod(np.asarray(weights, float), 1.0) == 0.0)):
            self._pair_counts = count_pairs(
                pd.DataFrame(self._codes, columns=nodes, copy=False),
                {n: [str(k) for k in range(int(cards[n]))] for n in nodes},
                weights=None if weights is None else np.asarray(weights).astype(np.int64),
            )
        self._n = float(self._weights.sum()) if self._weights is not None else self._codes.shape[0]
        self._tests: dict[tuple[str, str, tuple[str, ...]], tuple[float, int, float, float]] = {}
        self._graph = nx.DiGraph(g)
        # one row per unordered pair, in sorted order; the state of each pair is kept in
        # arrays so that an update touches only the pairs whose separator changed
        iu, ju = np.triu_indices(len(nodes), k=1)
        self._pi, self._pj = iu.astype(np.int64), ju.astype(np.int64)
        self._pairs = [(nodes[i], nodes[j]) for i, j in zip(iu.tolist(), ju.tolist(), strict=True)]
        self._pair_row = {p: k for k, p in enumerate(self._pairs)}
        n_pairs = len(self._pairs)
        self._sep: list[tuple[str, ...] | None] = [None] * n_pairs
        self._stat = np.full(n_pairs, np.nan)
        self._dof = np.zeros(n_pairs, dtype=np.int64)
        self._p = np.full(n_pairs, np.nan)
        self._ppc = np.full(n_pairs, np.nan)
        self._size = np.zeros(n_pairs, dtype=np.int64)
        self._status = np.full(n_pairs, -1, dtype=np.int8)
        self._rows = np.zeros((n_pairs, 0), dtype=np.uint8)  # separators, bit-packed
        self._row_nodes: list[str] = []
        self.recomputed_ = self._recompute(np.arange(n_pairs))
        self._finish()
        return self

    def update(
        self, graph: CausalGraph | nx.DiGraph, changed: Iterable[str] | None = None
    ) -> ImpliedIndependencies:
        """Move to ``graph`` (an edit of the fitted one) and re-test what it can change.

        ``changed`` names the nodes whose parents changed (see
        :func:`kg_editor.model.graph.changed_families`); by default they are found by
        comparing parent sets.
        """
        if not hasattr(self, "_graph"):
            raise NotFittedError("This check is not fitted yet. Call 'fit' with a graph first.")
        g = graph.causal_nx() if isinstance(graph, CausalGraph) else nx.DiGraph(graph)
        if set(_observed(g)) != set(_observed(self._graph)):
            raise SchemaError("The edited graph has other variables; fit the check again.")
        if changed is None:
            changed = [
                n
                for n in _observed(g)
                if set(g.predecessors(n)) != set(self._graph.predecessors(n))
            ]
        hit = affected_nodes(self._graph, g, changed)
        self._graph = g
        mask = np.zeros(len(self._index), dtype=np.bool_)
        mask[[self._index[n] for n in hit if n in self._index]] = True
        self.recomputed_ = self._recompute(np.flatnonzero(mask[self._pi] | mask[self._pj]))
        self._finish()
        return self

    def _recompute(self, rows: np.ndarray) -> int:
        """Recompute the separators of the pairs ``rows`` (one compiled pass, see
        :mod:`kg_editor.model.separators`) and re-test those whose separator changed."""
        arr = graph_arrays(self._graph)
        if arr.nodes != self._row_nodes:  # a latent cause came or went: re-index the rows
            old = np.unpackbits(self._rows, axis=1, count=len(self._row_nodes)).astype(np.bool_)
            rows_now = np.zeros((len(self._pairs), len(arr.nodes)), dtype=np.bool_)
            new_at = {n: i for i, n in enumerate(arr.nodes)}
            keep = [(i, new_at[n]) for i, n in enumerate(self._row_nodes) if n in new_at]
            if keep:
                src, dst = (list(t) for t in zip(*keep, strict=True))
                rows_now[:, dst] = old[:, src]
            self._rows = np.packbits(rows_now, axis=1)
            self._row_nodes = list(arr.nodes)
        if rows.size == 0:
            return 0
        where = {n: i for i, n in enumerate(arr.nodes)}
        at = np.array([where[n] for n in self._index], dtype=np.int64)
        status, sep = separator_kernel(
            at[self._pi[rows]],
            at[self._pj[rows]],
            arr.latent,
            arr.pa_ptr,
            arr.pa_idx,
            arr.ch_ptr,
            arr.ch_idx,
            arr.anc,
        )
        packed = np.packbits(sep, axis=1)
        moved = (status != self._status[rows]) | (packed != self._rows[rows]).any(axis=1)
        self._status[rows] = status
        self._rows[rows] = packed
        names = arr.nodes
        for k in np.flatnonzero(moved).tolist():
            r = int(rows[k])
            if status[k] != SEPARATED:
                self._sep[r] = None
                self._size[r] = 0
                continue
            given = tuple(names[c] for c in np.flatnonzero(sep[k]).tolist())
            self._sep[r] = given
            self._size[r] = len(given)
            if self.max_given is not None and len(given) > self.max_given:
                continue
            x, y = self._pairs[r]
            key = (x, y, given)
            if key not in self._tests:
                self._tests[key] = self._run(x, y, given)
            self._stat[r], self._dof[r], self._p[r], self._ppc[r] = self._tests[key]
        return int(rows.size)

    def _run(self, x: str, y: str, given: tuple[str, ...]) -> tuple[float, int, float, float]:
        idx = self._index
        if not given and self._pair_counts is not None:  # the table from the pair counts
            r = table_ci_test(self._pair_counts.table(x, y)[None], method=self.test)
        else:
            r = ci_test_columns(
                self._columns,
                self._cards,
                idx[x],
                idx[y],
                [idx[z] for z in given],
                method=self.test,
                weights=self._weights,
            )
        cells = int(self._cards[idx[x]] * self._cards[idx[y]])
        for z in given:
            cells *= int(self._cards[idx[z]])
        return r.statistic, r.dof, r.p, self._n / max(cells, 1)

    def _finish(self) -> None:
        """q-values, reliability and failures over every tested pair, as arrays; the
        :class:`ImpliedCI` rows are built for the failures only (``results_`` builds the
        rest when read)."""
        separated = self._status == SEPARATED
        if self.max_given is None:
            tested = separated
            self.skipped_ = 0
        else:
            too_big = separated & (self._size > self.max_given)
            tested = separated & ~too_big
            self.skipped_ = int(too_big.sum())
        ps = self._p[tested]
        finite = np.isfinite(ps)
        qs = np.full(ps.shape, np.nan)
        if finite.any():
            qs[finite] = bh_qvalues(ps[finite])
        self._q = np.full(self._p.shape, np.nan)
        self._q[tested] = qs
        with np.errstate(invalid="ignore"):
            reliable = tested & (self._dof > 0) & np.isfinite(self._p)
            reliable &= self._ppc >= self.min_per_cell
            fails = reliable & np.isfinite(self._q) & (self._q < self.alpha)
        self._tested, self._reliable, self._fails = tested, reliable, fails
        # failing pairs by q, then (x, y): pair rows are in sorted (x, y) order
        at = np.flatnonzero(fails)
        self._failing = at[np.lexsort((at, self._q[at]))]
        self.__dict__.pop("_results", None)
        self.__dict__.pop("_failures", None)

    def _row(self, r: int) -> ImpliedCI:
        x, y = self._pairs[r]
        given = self._sep[r]
        assert given is not None
        return ImpliedCI(
            x=x,
            y=y,
            given=given,
            statistic=float(self._stat[r]),
            dof=int(self._dof[r]),
            p=float(self._p[r]),
            q=float(self._q[r]),
            patients_per_cell=float(self._ppc[r]),
            reliable=bool(self._reliable[r]),
            fails=bool(self._fails[r]),
        )

    @property
    def failures_(self) -> list[ImpliedCI]:
        """The reliable implications the data contradict, by q; built when first read."""
        if not hasattr(self, "_tested"):
            raise NotFittedError("This check is not fitted yet. Call 'fit' with a graph first.")
        if "_failures" not in self.__dict__:
            self.__dict__["_failures"] = [self._row(r) for r in self._failing.tolist()]
        return list(self.__dict__["_failures"])

    def first_failures(self, k: int) -> list[ImpliedCI]:
        """The ``k`` first of :attr:`failures_` (the strongest contradictions), building
        only those rows: at a million patients most implications of a sparse graph fail,
        and an edit's report shows a few."""
        if not hasattr(self, "_tested"):
            raise NotFittedError("This check is not fitted yet. Call 'fit' with a graph first.")
        return [self._row(r) for r in self._failing[: max(int(k), 0)].tolist()]

    @property
    def results_(self) -> list[ImpliedCI]:
        """Every tested implication, sorted by q (failures first); built when first read."""
        if not hasattr(self, "_tested"):
            raise NotFittedError("This check is not fitted yet. Call 'fit' with a graph first.")
        if "_results" not in self.__dict__:
            out = [self._row(r) for r in np.flatnonzero(self._tested).tolist()]
            out.sort(key=lambda r: (not r.fails, r.q if math.isfinite(r.q) else 2.0, r.x, r.y))
            self.__dict__["_results"] = out
        return list(self.__dict__["_results"])

    def separator(self, x: str, y: str) -> tuple[str, ...] | None:
        """The minimal separator the check uses for the pair (``None``: linked, or no set
        of observed variables separates them)."""
        if not hasattr(self, "_tested"):
            raise NotFittedError("This check is not fitted yet. Call 'fit' with a graph first.")
        return self._sep[self._pair_row[(min(x, y), max(x, y))]]

    def summary(self) -> dict[str, Any]:
        """Counts for the report: tested, failing, unreliable (sparse) and skipped."""
        if not hasattr(self, "_tested"):
            raise NotFittedError("This check is not fitted yet. Call 'fit' with a graph first.")
        return {
            "implied_independencies": int(self._tested.sum()),
            "implied_independence_failures": int(self._failing.size),
            "implied_independence_sparse": int((self._tested & ~self._reliable).sum()),
            "implied_independence_skipped": self.skipped_,
        }


def family_bounds(
    graph: CausalGraph,
    cards: Mapping[str, int],
    n_train: int,
    *,
    max_parents: int | None = DEFAULT_MAX_PARENTS,
    patients_per_parameter: float | None = DEFAULT_PATIENTS_PER_PARAMETER,
) -> list[dict[str, Any]]:
    """Families over the bound: more than ``max_parents`` parents, or more free
    parameters than ``n_train / patients_per_parameter``; one dict per family with a
    message for the physician.

    Examples
    --------
    >>> g = CausalGraph.from_edges([(f"p{i}", "c") for i in range(4)])
    >>> cards = {n: 2 for n in g.nodes}
    >>> [f["node"] for f in family_bounds(g, cards, 1000, max_parents=3)]
    ['c']
    >>> family_bounds(g, cards, 1000, max_parents=None, patients_per_parameter=10.0)
    []
    """
    out = []
    max_par = None if patients_per_parameter is None else n_train / patients_per_parameter
    for n in graph.nodes:
        pa = graph.parents(n)
        if not pa:
            continue
        params = (int(cards[n]) - 1) * math.prod(int(cards[p]) for p in pa)
        reasons = []
        if max_parents is not None and len(pa) > max_parents:
            reasons.append(f"{len(pa)} parents (bound {max_parents})")
        if max_par is not None and params > max_par:
            reasons.append(
                f"{params:,} free parameters for {n_train:,} training patients (bound "
                f"{max_par:,.0f}: {patients_per_parameter:g} patients per parameter)"
            )
        if reasons:
            out.append(
                {
                    "node": n,
                    "parents": len(pa),
                    "parameters": params,
                    "message": f"{graph.label(n)} has {' and '.join(reasons)}: its probability table "
                    "is estimated from too few patients per cell. Remove a parent or merge states.",
                }
            )
    return out


def review_queue(graph: CausalGraph) -> list[dict[str, Any]]:
    """Edges in the order a physician should review them: unresolved directions first,
    then the least stable (by resample frequency), then the weakest data support; edges
    a clinician already added, resolved or endorsed come last.

    Examples
    --------
    >>> g = CausalGraph.from_edges([("a", "b"), ("b", "c")]).with_unresolved([("b", "c")])
    >>> [(r["source"], r["target"], r["reason"]) for r in review_queue(g)][:1]
    [('b', 'c', 'direction unresolved')]
    """
    rows: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for u, v in graph.edges:
        a = graph.edge_attrs(u, v)
        ev = a.get("evidence") or {}
        stab = (ev.get("stability") or {}).get("frequency")
        q = (ev.get("test") or {}).get("q")
        done = a.get("provenance") == "clinician" or bool(a.get("endorsed"))
        unresolved = bool(a.get("unresolved"))
        if unresolved:
            reason = "direction unresolved"
        elif isinstance(stab, int | float) and stab < 0.5:
            reason = f"found in {stab:.0%} of resamples"
        else:
            reason = "data support"
        key = (
            done,
            not unresolved,
            stab if isinstance(stab, int | float) else 1.0,
            -(q if isinstance(q, int | float) and math.isfinite(q) else 0.0),
            u,
            v,
        )
        row = {
            "source": u,
            "target": v,
            "labels": [graph.label(u), graph.label(v)],
            "reason": reason,
            "stability": stab,
            "q": q,
            "reviewed": done,
        }
        rows.append((key, row))
    rows.sort(key=lambda kr: kr[0])
    return [r for _k, r in rows]
