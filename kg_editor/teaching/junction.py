"""Exact beliefs by a compiled junction tree (clique tree), reused across queries.

A discrete Bayesian network is a product of factors (one probability table per node).
:class:`JunctionTree` compiles that product once: it moralises the factor graph,
triangulates it by greedy elimination (fewest fill-in edges first, the smallest clique
table breaking ties), keeps the maximal cliques, and joins them by a maximum-weight
spanning tree of the clique graph (weight = separator size), which for the cliques of a
chordal graph is a junction tree. Each factor is multiplied into the smallest clique that
holds its variables.

A query (:meth:`JunctionTree.calibrate`) enters the findings as zeros in one clique per
observed variable, then runs one collect and one distribute pass of Hugin message passing
with numpy: every message is a sum over the non-separator axes of a clique table, scaled to
sum 1 (the scales are kept as logarithms, so ``P(findings)`` neither underflows nor needs
log potentials). A clique table's axes follow one global variable order, so a message
reshapes into its receiver by inserting length-1 axes, and every product is a broadcast.
The result holds every variable's marginal and ``P(findings)``.

Graph surgery for ``do(X = x)`` needs no new compilation: the tree of the network is a
valid junction tree of the mutilated network too (cutting the edges into ``X`` only drops
factor scopes), so :meth:`JunctionTree.with_factors` swaps ``X``'s table for a parent-free
one and recomputes the one clique that held it.

This module knows nothing of pgmpy: factors are ``(variables, array)`` pairs.

Examples
--------
>>> import numpy as np
>>> jt = JunctionTree(
...     {"rain": 2, "wet": 2},
...     {"rain": (("rain",), np.array([0.8, 0.2])),
...      "wet": (("wet", "rain"), np.array([[0.9, 0.1], [0.1, 0.9]]))},
... )
>>> cal = jt.calibrate({"wet": 1})
>>> round(float(cal.marginals["rain"][1]), 4), round(cal.p_evidence, 4)
(0.6923, 0.26)
>>> jt.calibrate({"rain": 0, "wet": 1}).p_evidence  # doctest: +ELLIPSIS
0.0800...
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import networkx as nx
import numpy as np

__all__ = ["Calibration", "JunctionTree", "ZeroProbabilityError"]

FactorSpec = tuple[Sequence[str], np.ndarray]


class ZeroProbabilityError(ArithmeticError):
    """The findings have probability zero under the factors (raised by :meth:`JunctionTree.calibrate`).

    The teaching layer turns it into an :class:`~kg_editor.teaching.beliefs.ImpossibleFindingsError`
    that names the findings.
    """


@dataclass(frozen=True)
class Calibration:
    """The answer of one query.

    Attributes
    ----------
    marginals : dict
        ``{variable: 1-d array}``, ``P(variable | findings)`` for every variable (an
        observed variable gets its indicator).
    p_evidence : float
        ``P(findings)`` under the factors (1.0, up to rounding, with no findings).
    log_p_evidence : float
        Its natural logarithm (finite even when ``p_evidence`` underflows).
    """

    marginals: dict[str, np.ndarray]
    p_evidence: float
    log_p_evidence: float


def _elimination_cliques(moral: nx.Graph, cards: Mapping[str, int]) -> list[frozenset[str]]:
    """Cliques of a greedy min-fill elimination (ties: smallest table, then name)."""
    adj: dict[str, set[str]] = {v: set(moral[v]) for v in moral}

    def fill(v: str) -> int:
        nb = list(adj[v])
        return sum(1 for a, b in combinations(nb, 2) if b not in adj[a])

    def weight(v: str) -> float:
        return math.fsum(math.log(cards[u]) for u in adj[v]) + math.log(cards[v])

    score = {v: (fill(v), weight(v), v) for v in adj}
    cliques: list[frozenset[str]] = []
    while adj:
        v = min(score, key=score.__getitem__)
        nb = adj.pop(v)
        del score[v]
        cliques.append(frozenset(nb | {v}))
        for a, b in combinations(nb, 2):
            adj[a].add(b)
            adj[b].add(a)
        touched = set(nb)
        for u in nb:
            adj[u].discard(v)
        for u in nb:
            touched |= adj[u]
        for u in touched:
            score[u] = (fill(u), weight(u), u)
    maximal = [c for c in cliques if not any(c < d for d in cliques)]
    out: list[frozenset[str]] = []
    for c in maximal:  # equal cliques can repeat; keep one
        if c not in out:
            out.append(c)
    return out


class JunctionTree:
    """A compiled junction tree over discrete factors; :meth:`calibrate` answers queries.

    Parameters
    ----------
    cards : mapping variable -> number of states
        Its order is the global axis order of every clique table.
    factors : mapping name -> (variables, array)
        Non-negative tables; ``array`` has one axis per variable, in the order given.
        The name (for a Bayesian network, the node whose table it is) is what
        :meth:`with_factors` replaces.

    Attributes
    ----------
    cliques : list of tuple of str
        The clique variables, each in the global order.
    edges : list of (int, int)
        Tree edges (parent clique, child clique).

    Examples
    --------
    >>> import numpy as np
    >>> jt = JunctionTree({"a": 2, "b": 2, "c": 2}, {
    ...     "a": (("a",), np.array([0.5, 0.5])),
    ...     "b": (("b", "a"), np.array([[0.9, 0.2], [0.1, 0.8]])),
    ...     "c": (("c", "b"), np.array([[0.7, 0.4], [0.3, 0.6]])),
    ... })
    >>> sorted(map(sorted, jt.cliques))
    [['a', 'b'], ['b', 'c']]
    >>> round(float(jt.calibrate({"c": 1}).marginals["a"][1]), 5)  # 0.54 / (0.33 + 0.54)
    0.62069
    """

    def __init__(self, cards: Mapping[str, int], factors: Mapping[str, FactorSpec]):
        self.cards = {str(v): int(k) for v, k in cards.items()}
        self._pos = {v: i for i, v in enumerate(self.cards)}
        self._factors = {
            name: (tuple(map(str, vs)), np.asarray(arr, dtype=float))
            for name, (vs, arr) in factors.items()
        }
        for name, (vs, arr) in self._factors.items():
            if arr.shape != tuple(self.cards[v] for v in vs):
                raise ValueError(
                    f"The table of {name} has shape {arr.shape}, expected "
                    f"{tuple(self.cards[v] for v in vs)} for variables {vs}."
                )
        moral = nx.Graph()
        moral.add_nodes_from(self.cards)
        for vs, _ in self._factors.values():
            moral.add_edges_from(combinations(vs, 2))
        raw = _elimination_cliques(moral, self.cards)
        self.cliques: list[tuple[str, ...]] = [
            tuple(sorted(c, key=self._pos.__getitem__)) for c in raw
        ]
        self._compile_tree()
        self._assign_factors()

    # -- compilation ----------------------------------------------------------------
    def _compile_tree(self) -> None:
        k = len(self.cliques)
        sets = [frozenset(c) for c in self.cliques]
        cg = nx.Graph()
        cg.add_nodes_from(range(k))
        by_var: dict[str, list[int]] = {}
        for i, members_of in enumerate(sets):
            for v in members_of:
                by_var.setdefault(v, []).append(i)
        for members in by_var.values():
            for i, j in combinations(members, 2):
                if not cg.has_edge(i, j):
                    cg.add_edge(i, j, weight=len(sets[i] & sets[j]))
        tree = nx.maximum_spanning_tree(cg, weight="weight")
        self.parent: list[int | None] = [None] * k
        self.children: list[list[int]] = [[] for _ in range(k)]
        self.preorder: list[int] = []
        self.edges: list[tuple[int, int]] = []
        for comp in nx.connected_components(tree):
            # root at the largest clique of the component (shortest messages to it)
            root = max(comp, key=lambda i: (self._size(i), -i))
            self.preorder.append(root)
            for p, c in nx.bfs_edges(tree, root):
                self.parent[c] = p
                self.children[p].append(c)
                self.preorder.append(c)
                self.edges.append((p, c))
        self.roots = [i for i in range(k) if self.parent[i] is None]
        self.postorder = self.preorder[::-1]
        # per tree edge: axes to sum in the child (upward) and the parent (downward), and
        # the separator's broadcast shape in each
        self._up_axes: list[tuple[int, ...]] = [()] * k
        self._up_shape: list[tuple[int, ...]] = [()] * k
        self._down_axes: list[tuple[int, ...]] = [()] * k
        self._down_shape: list[tuple[int, ...]] = [()] * k
        for p, c in self.edges:
            sep = sets[p] & sets[c]
            self._up_axes[c] = tuple(i for i, v in enumerate(self.cliques[c]) if v not in sep)
            self._up_shape[c] = tuple(self.cards[v] if v in sep else 1 for v in self.cliques[p])
            self._down_axes[c] = tuple(i for i, v in enumerate(self.cliques[p]) if v not in sep)
            self._down_shape[c] = tuple(self.cards[v] if v in sep else 1 for v in self.cliques[c])
        # each variable is read from (and observed in) the smallest clique holding it
        self._home: dict[str, int] = {}
        for v in self.cards:
            self._home[v] = min(by_var[v], key=lambda i: (self._size(i), i))
        self._marg_axes = {
            v: tuple(i for i, u in enumerate(self.cliques[h]) if u != v)
            for v, h in self._home.items()
        }
        self._axis = {v: self.cliques[h].index(v) for v, h in self._home.items()}

    def _size(self, i: int) -> int:
        return int(np.prod([self.cards[v] for v in self.cliques[i]]))

    def _assign_factors(self) -> None:
        sets = [frozenset(c) for c in self.cliques]
        self._where: dict[str, int] = {}
        for name, (vs, _) in self._factors.items():
            scope = frozenset(vs)
            holders = [i for i, c in enumerate(sets) if scope <= c]
            self._where[name] = min(holders, key=lambda i: (self._size(i), i))
        self._pots: list[np.ndarray] = [np.empty(0)] * len(self.cliques)
        for i in range(len(self.cliques)):
            self._pots[i] = self._clique_potential(i)

    def _clique_potential(self, i: int) -> np.ndarray:
        clique = self.cliques[i]
        pot = np.ones(tuple(self.cards[v] for v in clique))
        for name, where in self._where.items():
            if where != i:
                continue
            vs, arr = self._factors[name]
            order = sorted(range(len(vs)), key=lambda a: self._pos[vs[a]])
            aligned = np.transpose(arr, order)
            inside = {vs[a] for a in order}
            pot = pot * aligned.reshape(tuple(self.cards[v] if v in inside else 1 for v in clique))
        return pot

    def with_factors(self, replace: Mapping[str, FactorSpec]) -> JunctionTree:
        """The same tree with some factors replaced (graph surgery for ``do``-queries).

        Each new factor's variables must lie within the clique that held the old one
        (true for a parent-free table of the node itself). Only those cliques are
        recomputed; the tree and the other tables are shared.

        Examples
        --------
        >>> import numpy as np
        >>> jt = JunctionTree({"a": 2, "b": 2}, {
        ...     "a": (("a",), np.array([0.3, 0.7])),
        ...     "b": (("b", "a"), np.array([[0.9, 0.2], [0.1, 0.8]])),
        ... })
        >>> cut = jt.with_factors({"b": (("b",), np.array([0.5, 0.5]))})
        >>> [round(float(x), 3) for x in cut.calibrate({"b": 1}).marginals["a"]]  # b says nothing now
        [0.3, 0.7]
        """
        new = object.__new__(JunctionTree)
        new.__dict__.update(self.__dict__)
        new._factors = dict(self._factors)
        new._pots = list(self._pots)
        dirty = set()
        for name, (vs, arr) in replace.items():
            vs = tuple(map(str, vs))
            where = self._where[name]
            if not set(vs) <= set(self.cliques[where]):
                raise ValueError(
                    f"The new table of {name} spans {vs}, outside its clique {self.cliques[where]}."
                )
            new._factors[name] = (vs, np.asarray(arr, dtype=float))
            dirty.add(where)
        for i in dirty:
            new._pots[i] = new._clique_potential(i)
        return new

    # -- queries --------------------------------------------------------------------
    def calibrate(self, evidence: Mapping[str, int] | None = None) -> Calibration:
        """Every variable's marginal and ``P(evidence)`` under hard findings ``{variable: state index}``.

        Raises
        ------
        ZeroProbabilityError
            The findings have probability zero.
        """
        pots = list(self._pots)
        for v, state in (evidence or {}).items():
            h = self._home[v]
            mask = np.zeros(self.cards[v])
            mask[int(state)] = 1.0
            shape = [1] * len(self.cliques[h])
            shape[self._axis[v]] = self.cards[v]
            pots[h] = pots[h] * mask.reshape(shape)
        k = len(pots)
        up: list[np.ndarray] = [np.empty(0)] * k
        msg: list[np.ndarray] = [np.empty(0)] * k
        belief: list[np.ndarray] = [np.empty(0)] * k
        log_z = 0.0
        for c in self.postorder:
            u = pots[c]
            for ch in self.children[c]:
                u = u * msg[ch]
            up[c] = u
            p = self.parent[c]
            if p is None:
                s = float(u.sum())
                if not s > 0.0:
                    raise ZeroProbabilityError("The findings have probability zero.")
                log_z += math.log(s)
                belief[c] = u / s
            else:
                m = u.sum(axis=self._up_axes[c]).reshape(self._up_shape[c])
                s = float(m.sum())
                if not s > 0.0:
                    raise ZeroProbabilityError("The findings have probability zero.")
                log_z += math.log(s)
                msg[c] = m / s
        for c in self.preorder:
            p = self.parent[c]
            if p is None:
                continue
            new = belief[p].sum(axis=self._down_axes[c]).reshape(self._down_shape[c])
            old = msg[c].reshape(self._down_shape[c])
            ratio = np.divide(new, old, out=np.zeros_like(new), where=old > 0.0)
            b = up[c] * ratio
            belief[c] = b / b.sum()
        marginals: dict[str, np.ndarray] = {}
        for v, h in self._home.items():
            axes = self._marg_axes[v]
            m = belief[h].sum(axis=axes) if axes else belief[h]
            marginals[v] = m / m.sum()
        return Calibration(marginals, math.exp(log_z), log_z)
