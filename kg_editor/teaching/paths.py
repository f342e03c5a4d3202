"""Graph questions for teaching: d-separation, active trails between two variables, and the path report the canvas draws."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import networkx as nx

from kg_editor.errors import SchemaError, unknown_variable
from kg_editor.model.graph import CausalGraph
from kg_editor.teaching.beliefs import TeachingModel

__all__ = [
    "TRAIL_SEARCH_BUDGET",
    "active_trails",
    "d_separated",
    "path_report",
]

#: Search steps allowed when listing active trails (about 0.1 s); past it the list is
#: cut and flagged ``truncated``. d-separation itself is always answered exactly.
TRAIL_SEARCH_BUDGET = 100_000

GraphLike: TypeAlias = "CausalGraph | TeachingModel | nx.DiGraph"
Evidence: TypeAlias = Mapping[str, Any] | Iterable[str] | None


# ---------------------------------------------------------------------------------
# Helpers: graph access, name resolution
# ---------------------------------------------------------------------------------
class _View:
    """A DiGraph plus how to name and resolve its nodes."""

    __slots__ = ("g", "label", "resolve")

    def __init__(self, g: nx.DiGraph, label: Callable[[str], str], resolve: Callable[[str], str]):
        self.g = g
        self.label = label
        self.resolve = resolve


def _view(graph: GraphLike) -> _View:
    if isinstance(graph, TeachingModel):
        graph = graph.graph
    if isinstance(graph, CausalGraph):
        # unmeasured common causes are unobserved parents here: trails run through them
        cg = graph.causal_nx()
        known = graph

        def latent_label(node: str) -> str:
            return known.label(node) if node in known else str(cg.nodes[node].get("label", node))

        return _View(cg, latent_label, graph.resolve)
    if isinstance(graph, nx.DiGraph):
        g = graph

        def label(node: str) -> str:
            return str(g.nodes[node].get("label") or node)

        def resolve(name: str) -> str:
            if name in g:
                return name
            named = [n for n in g.nodes if g.nodes[n].get("label") == name]
            if len(named) == 1:
                return str(named[0])
            raise unknown_variable(str(name), [label(n) for n in g.nodes])

        return _View(g, label, resolve)
    raise TypeError(
        f"Expected a CausalGraph, TeachingModel or networkx DiGraph, got {type(graph).__name__}."
    )


def _evidence_nodes(view: _View, evidence: Evidence) -> set[str]:
    if evidence is None:
        return set()
    names = evidence.keys() if isinstance(evidence, Mapping) else evidence
    if isinstance(names, str):
        names = [names]
    return {view.resolve(str(n)) for n in names}


def _edge_of(g: nx.DiGraph, u: str, v: str) -> tuple[str, str]:
    return (u, v) if g.has_edge(u, v) else (v, u)


def _trail_text(g: nx.DiGraph, path: Sequence[str], label: Callable[[str], str]) -> str:
    parts = [label(path[0])]
    for u, v in itertools.pairwise(path):
        parts.append(("-> " if g.has_edge(u, v) else "<- ") + label(v))
    return " ".join(parts)


def _trail_kind(g: nx.DiGraph, path: Sequence[str]) -> str:
    if all(g.has_edge(u, v) for u, v in itertools.pairwise(path)):
        return "causal"
    if g.has_edge(path[1], path[0]):
        return "back-door"
    return "non-causal"


def _trail_dict(g: nx.DiGraph, path: Sequence[str], label: Callable[[str], str]) -> dict[str, Any]:
    return {
        "nodes": list(path),
        "labels": [label(n) for n in path],
        "edges": [list(_edge_of(g, u, v)) for u, v in itertools.pairwise(path)],
        "text": _trail_text(g, path, label),
        "kind": _trail_kind(g, path),
        "length": len(path) - 1,
    }


# ---------------------------------------------------------------------------------
# d-separation and active trails
# ---------------------------------------------------------------------------------
def d_separated(graph: GraphLike, a: str, b: str, evidence: Evidence = None) -> bool:
    """Whether ``a`` and ``b`` are d-separated given the observed nodes (networkx).

    ``evidence`` is a findings mapping or a list of observed nodes; ``a`` and ``b``
    themselves are left out of it.

    Examples
    --------
    >>> g = CausalGraph.from_edges([("flu", "fever"), ("covid", "fever")])
    >>> d_separated(g, "flu", "covid"), d_separated(g, "flu", "covid", {"fever": "1"})
    (True, False)
    """
    v = _view(graph)
    a, b = v.resolve(a), v.resolve(b)
    z = _evidence_nodes(v, evidence) - {a, b}
    if a == b:
        return False
    return bool(nx.is_d_separator(v.g, {a}, {b}, z))


def _between_blocks(skeleton: nx.Graph, a: str, b: str) -> set[str] | None:
    """Nodes that some simple a-b path can visit: the biconnected blocks between a and b.

    Every simple path from ``a`` to ``b`` stays inside the blocks met along the path
    from ``a`` to ``b`` in the block-cut tree, so dead-end branches are never searched.
    ``None`` when ``a`` and ``b`` are not connected.
    """
    comp = nx.node_connected_component(skeleton, a)
    if b not in comp:
        return None
    tree = nx.Graph()
    blocks = [frozenset(c) for c in nx.biconnected_components(skeleton.subgraph(comp))]
    for i, blk in enumerate(blocks):
        for n in blk:
            tree.add_edge(("block", i), ("node", n))
    path = nx.shortest_path(tree, ("node", a), ("node", b))
    out: set[str] = set()
    for kind, ref in path:
        if kind == "block":
            out |= blocks[ref]
    return out


def _enumerate_trails(
    g: nx.DiGraph, a: str, b: str, z: set[str], max_trails: int, budget: int
) -> tuple[list[list[str]], bool]:
    """Active simple trails a ... b given z, shortest first (iterative deepening)."""
    open_colliders = set(z)
    for n in z:
        open_colliders |= nx.ancestors(g, n)
    skeleton = g.to_undirected(as_view=True)
    allowed = _between_blocks(skeleton, a, b)
    if allowed is None:
        return [], False
    sub = skeleton.subgraph(allowed)
    adj = {n: sorted(sub.neighbors(n), key=str) for n in sub.nodes}
    # distance to b within those blocks: a lower bound on the remaining trail length
    dist = nx.single_source_shortest_path_length(sub, b)
    found: list[list[str]] = []
    steps = 0
    truncated = False

    def is_open(prev: str, mid: str, nxt: str) -> bool:
        if g.has_edge(prev, mid) and g.has_edge(nxt, mid):  # collider
            return mid in open_colliders
        return mid not in z

    def dfs(path: list[str], on: set[str], length: int) -> bool:
        nonlocal steps, truncated
        last = path[-1]
        for nxt in adj[last]:
            if nxt in on:
                continue
            used = len(path)  # edges after adding nxt
            if used + dist.get(nxt, length + 1) > length:
                continue
            if len(path) >= 2 and not is_open(path[-2], last, nxt):
                continue
            steps += 1
            if steps > budget:
                truncated = True
                return False
            if nxt == b:
                if used == length:
                    found.append([*path, b])
                    if len(found) >= max_trails:
                        truncated = True
                        return False
                continue
            path.append(nxt)
            on.add(nxt)
            ok = dfs(path, on, length)
            path.pop()
            on.discard(nxt)
            if not ok:
                return False
        return True

    for length in range(dist[a], g.number_of_nodes()):
        if not dfs([a], {a}, length):
            break
    return found, truncated


def active_trails(
    graph: GraphLike,
    a: str,
    b: str,
    evidence: Evidence = None,
    *,
    max_trails: int = 100,
) -> list[dict[str, Any]]:
    """Every trail between ``a`` and ``b`` that is active given the observed nodes.

    A trail is a simple path in the graph ignoring edge directions. It is active when
    every collider on it (``-> m <-``) is observed or has an observed descendant and no
    other node on it is observed. ``a`` and ``b`` are left out of the observed set.

    Parameters
    ----------
    graph : CausalGraph, TeachingModel or networkx.DiGraph
    a, b : str
        Node ids or labels.
    evidence : mapping node -> state, or iterable of observed nodes, optional
    max_trails : int
        At most this many trails, shortest first (use :func:`path_report` to learn
        whether the list was cut).

    Returns
    -------
    list of dict
        Each with ``nodes`` (ids from ``a`` to ``b``), ``labels``, ``edges`` (the graph's
        directed edges ``[source, target]`` the trail uses, for highlighting), ``text``
        (``"A -> B <- C"``), ``kind`` (``"causal"``, ``"back-door"`` or
        ``"non-causal"``) and ``length`` (number of edges).

    Examples
    --------
    >>> g = CausalGraph.from_edges([("age", "statin"), ("age", "mi"), ("statin", "mi")])
    >>> [(t["text"], t["kind"]) for t in active_trails(g, "statin", "mi")]
    [('statin -> mi', 'causal'), ('statin <- age -> mi', 'back-door')]
    >>> [t["text"] for t in active_trails(g, "statin", "mi", {"age": "old"})]
    ['statin -> mi']
    """
    return path_report(graph, a, b, evidence, max_trails=max_trails)["trails"]


def path_report(
    graph: GraphLike,
    a: str,
    b: str,
    evidence: Evidence = None,
    *,
    max_trails: int = 100,
    budget: int = TRAIL_SEARCH_BUDGET,
) -> dict[str, Any]:
    """The active trails between two nodes with what the canvas needs to highlight them.

    Returns
    -------
    dict
        ``a``, ``b``, ``observed`` (sorted ids), ``d_separated`` (networkx's answer),
        ``trails`` (as in :func:`active_trails`), ``edges`` and ``nodes`` (the union over
        the trails), ``truncated`` (true when ``max_trails`` or the search ``budget``
        cut the list) and ``explanation`` (one sentence for a clinician).

    Examples
    --------
    >>> g = CausalGraph.from_edges([("flu", "fever"), ("covid", "fever")])
    >>> r = path_report(g, "flu", "covid")
    >>> r["d_separated"], r["trails"], r["explanation"]
    (True, [], 'flu and covid are d-separated: no trail between them is open, so learning one tells nothing about the other.')
    """
    v = _view(graph)
    a, b = v.resolve(a), v.resolve(b)
    if a == b:
        raise SchemaError(f"Choose two different variables (both are {v.label(a)}).")
    z = _evidence_nodes(v, evidence) - {a, b}
    sep = bool(nx.is_d_separator(v.g, {a}, {b}, z))
    paths: list[list[str]] = []
    truncated = False
    if not sep:
        paths, truncated = _enumerate_trails(v.g, a, b, z, max_trails, budget)
    trails = [_trail_dict(v.g, p, v.label) for p in paths]
    edges = sorted({tuple(e) for t in trails for e in t["edges"]})
    nodes = sorted({n for t in trails for n in t["nodes"]}, key=str)
    given = f" given {', '.join(sorted(map(v.label, z), key=str.casefold))}" if z else ""
    if sep:
        text = (
            f"{v.label(a)} and {v.label(b)} are d-separated{given}: no trail between them is "
            "open, so learning one tells nothing about the other."
        )
    else:
        n = f"{len(trails)}{'+' if truncated else ''}"
        text = (
            f"{v.label(a)} and {v.label(b)} are d-connected{given}: {n} open trail(s) carry "
            f"information between them, the shortest {trails[0]['text'] if trails else '(not listed)'}."
        )
    return {
        "a": a,
        "b": b,
        "observed": sorted(z, key=str),
        "d_separated": sep,
        "trails": trails,
        "edges": [list(e) for e in edges],
        "nodes": nodes,
        "truncated": truncated,
        "explanation": text,
    }
