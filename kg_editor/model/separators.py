"""Minimal d-separators of many pairs at once: a compiled kernel over arrays of the graph.

The graph-versus-data check needs one minimal separating set per unlinked pair: about
20,000 pairs at 200 variables, each a handful of separation tests in the moral graph of
the pair's ancestral set. :func:`minimal_separators` computes them all in one compiled
(numba) loop with exactly the construction of
:func:`kg_editor.model.checks.minimal_separator` (pgmpy's ``DAG.minimal_dseparator``:
the parents of both ends, then each member dropped in sorted order when the rest still
separates), so the answers are the same set for set (a test proves it).

How the kernel stays exact without building a graph per pair:

* The moral graph of the ancestral set ``A`` of ``{x, y}`` is read from the whole graph:
  the neighbours of ``w`` in ``A`` are its parents (all in ``A``), its children in ``A``
  and their other parents.
* Unobserved nodes (latent causes) are passed through, never conditioned on. Eliminating
  them from the moral graph, as the reference does, joins ``a`` and ``b`` exactly when a
  path links them through unobserved nodes only (Rose, Tarjan and Lueker 1976), so
  separation by a set of observed nodes is the same in both graphs; the starting set is
  then what ``x`` reaches through unobserved nodes.
* The greedy drops are decided on the components of ``x`` and ``y``: with ``M``
  separating the pair, ``M - {u}`` still separates exactly when ``u`` does not touch both
  components, and a dropped ``u`` merges into the component it touches. Each pair then
  costs one pass over its ancestral graph instead of one search per member.

Examples
--------
>>> import networkx as nx
>>> g = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "d"), ("d", "c")])
>>> minimal_separators(g, [("a", "c"), ("b", "d")])
[('b', 'd'), ('a',)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numba
import numpy as np

__all__ = [
    "LINKED",
    "NO_SEPARATOR",
    "SEPARATED",
    "GraphArrays",
    "graph_arrays",
    "minimal_separators",
    "separator_kernel",
]

#: Status codes of :func:`separator_kernel`, one per pair.
SEPARATED, LINKED, NO_SEPARATOR = 0, 1, 2


@dataclass(frozen=True)
class GraphArrays:
    """A DAG as arrays for the kernel: nodes in sorted order (the greedy's order).

    Attributes
    ----------
    nodes : list of str
        Every node, sorted; the kernel's index is the position here.
    latent : ndarray of bool
        Unobserved nodes (latent causes).
    pa_ptr, pa_idx, ch_ptr, ch_idx : ndarray of int64
        Parents and children in compressed rows.
    anc : ndarray of bool, shape (n, n)
        ``anc[i, j]``: node ``j`` is an ancestor of node ``i``.
    """

    nodes: list[str]
    latent: np.ndarray
    pa_ptr: np.ndarray
    pa_idx: np.ndarray
    ch_ptr: np.ndarray
    ch_idx: np.ndarray
    anc: np.ndarray


def _rows(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    flat = [i for x in lists for i in x]
    return ptr, np.asarray(flat, dtype=np.int64)


def graph_arrays(graph: nx.DiGraph) -> GraphArrays:
    """The arrays of ``graph`` (nodes flagged ``latent=True`` are unobserved)."""
    nodes = sorted(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    parents = [sorted(index[p] for p in graph.predecessors(n)) for n in nodes]
    children = [sorted(index[c] for c in graph.successors(n)) for n in nodes]
    anc = np.zeros((len(nodes), len(nodes)), dtype=np.bool_)
    for n in nx.topological_sort(graph):
        i = index[n]
        for p in parents[i]:
            anc[i, p] = True
            anc[i] |= anc[p]
    pa_ptr, pa_idx = _rows(parents)
    ch_ptr, ch_idx = _rows(children)
    latent = np.array([bool(graph.nodes[n].get("latent")) for n in nodes], dtype=np.bool_)
    return GraphArrays(nodes, latent, pa_ptr, pa_idx, ch_ptr, ch_idx, anc)


@numba.njit(cache=True, nogil=True)
def _touches(u, comp, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx):  # pragma: no cover - compiled
    """Whether ``u`` has a moral neighbour (within ``in_a``) in ``comp``."""
    for k in range(pa_ptr[u], pa_ptr[u + 1]):
        if comp[pa_idx[k]]:
            return True
    for k in range(ch_ptr[u], ch_ptr[u + 1]):
        c = ch_idx[k]
        if not in_a[c]:
            continue
        if comp[c]:
            return True
        for j in range(pa_ptr[c], pa_ptr[c + 1]):
            if comp[pa_idx[j]]:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _grow(
    start, comp, stop, blocked, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx, queue
):  # pragma: no cover
    """Add to ``comp`` what ``start`` reaches in the moral graph of ``in_a`` without
    entering ``blocked``; stop early (returning True) on reaching node ``stop``."""
    comp[start] = True
    queue[0] = start
    head, tail = 0, 1
    while head < tail:
        w = queue[head]
        head += 1
        for k in range(pa_ptr[w], pa_ptr[w + 1]):
            m = pa_idx[k]
            if m == stop:
                return True
            if not comp[m] and not blocked[m]:
                comp[m] = True
                queue[tail] = m
                tail += 1
        for k in range(ch_ptr[w], ch_ptr[w + 1]):
            c = ch_idx[k]
            if not in_a[c]:
                continue
            if c == stop:
                return True
            if not comp[c] and not blocked[c]:
                comp[c] = True
                queue[tail] = c
                tail += 1
            for j in range(pa_ptr[c], pa_ptr[c + 1]):
                m = pa_idx[j]
                if m == stop:
                    return True
                if not comp[m] and not blocked[m]:
                    comp[m] = True
                    queue[tail] = m
                    tail += 1
    return False


@numba.njit(cache=True, nogil=True)
def separator_kernel(px, py, latent, pa_ptr, pa_idx, ch_ptr, ch_idx, anc):  # pragma: no cover
    """Minimal separators of the pairs ``(px[i], py[i])``: a status per pair
    (``SEPARATED``, ``LINKED`` or ``NO_SEPARATOR``) and a membership matrix."""
    n = latent.shape[0]
    n_pairs = px.shape[0]
    status = np.zeros(n_pairs, dtype=np.int8)
    sep = np.zeros((n_pairs, n), dtype=np.bool_)
    in_a = np.zeros(n, dtype=np.bool_)
    blocked = np.zeros(n, dtype=np.bool_)
    comp_x = np.zeros(n, dtype=np.bool_)
    comp_y = np.zeros(n, dtype=np.bool_)
    queue = np.zeros(n, dtype=np.int64)
    for i in range(n_pairs):
        x, y = px[i], py[i]
        linked = False
        for k in range(pa_ptr[x], pa_ptr[x + 1]):
            linked |= pa_idx[k] == y
        for k in range(pa_ptr[y], pa_ptr[y + 1]):
            linked |= pa_idx[k] == x
        if linked:
            status[i] = LINKED
            continue
        has_latent = False
        for w in range(n):
            in_a[w] = anc[x, w] or anc[y, w]
            blocked[w] = False
            comp_x[w] = False
            comp_y[w] = False
        in_a[x] = True
        in_a[y] = True
        for w in range(n):
            has_latent |= in_a[w] and latent[w]
        if has_latent:
            # the start: what x reaches through unobserved nodes only (its neighbours once
            # they are eliminated); y among them means no observed set separates the pair
            for w in range(n):
                blocked[w] = in_a[w] and not latent[w]
            blocked[x] = False
            _grow(x, comp_x, -1, blocked, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx, queue)
            if _touches(y, comp_x, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx):
                status[i] = NO_SEPARATOR
                continue
            for w in range(n):
                blocked[w] = (
                    in_a[w]
                    and not latent[w]
                    and w != x
                    and w != y
                    and _touches(w, comp_x, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx)
                )
            for w in range(n):
                comp_x[w] = False
        else:
            for k in range(pa_ptr[x], pa_ptr[x + 1]):
                blocked[pa_idx[k]] = True
            for k in range(pa_ptr[y], pa_ptr[y + 1]):
                blocked[pa_idx[k]] = True
        blocked[x] = False
        blocked[y] = False
        if _grow(x, comp_x, y, blocked, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx, queue):
            status[i] = NO_SEPARATOR
            continue
        _grow(y, comp_y, -1, blocked, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx, queue)
        for u in range(n):
            if not blocked[u]:
                continue
            tx = _touches(u, comp_x, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx)
            ty = _touches(u, comp_y, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx)
            if tx and ty:
                sep[i, u] = True  # needed: without it x and y meet
                continue
            blocked[u] = False
            if tx:
                _grow(u, comp_x, -1, blocked, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx, queue)
            elif ty:
                _grow(u, comp_y, -1, blocked, in_a, pa_ptr, pa_idx, ch_ptr, ch_idx, queue)
    return status, sep


def minimal_separators(
    graph: nx.DiGraph | GraphArrays, pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, ...] | None]:
    """The minimal separator of each unlinked pair (sorted names), ``None`` when no set
    of observed nodes separates it; a linked pair also gives ``None``.

    Equal, pair for pair, to :func:`kg_editor.model.checks.minimal_separator`.
    """
    arr = graph if isinstance(graph, GraphArrays) else graph_arrays(graph)
    if not pairs:
        return []
    index = {n: i for i, n in enumerate(arr.nodes)}
    px = np.fromiter((index[x] for x, _ in pairs), dtype=np.int64, count=len(pairs))
    py = np.fromiter((index[y] for _, y in pairs), dtype=np.int64, count=len(pairs))
    status, sep = separator_kernel(
        px, py, arr.latent, arr.pa_ptr, arr.pa_idx, arr.ch_ptr, arr.ch_idx, arr.anc
    )
    names = arr.nodes
    rows, cols = np.nonzero(sep)
    bounds = np.searchsorted(rows, np.arange(len(pairs) + 1))
    cols_list = cols.tolist()
    out: list[tuple[str, ...] | None] = []
    for i, s in enumerate(status.tolist()):
        if s != SEPARATED:
            out.append(None)
        else:
            out.append(tuple(names[c] for c in cols_list[bounds[i] : bounds[i + 1]]))
    return out
