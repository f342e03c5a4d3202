"""Teaching mode: beliefs under findings, seeing versus doing, active trails, adjustment sets.

Pure functions over a graph or a fitted model; every output is JSON-ready (plain dicts,
lists, strings and floats) so the canvas can draw it as is. Probabilities come from the
pgmpy adapter :mod:`kg_editor.teaching.beliefs` (exact variable elimination); graph questions
(d-separation, trails, back-door sets) are answered with networkx.

``model`` arguments take a :class:`~kg_editor.teaching.beliefs.TeachingModel` or a fitted pgmpy
``DiscreteBayesianNetwork``; ``graph`` arguments take a
:class:`~kg_editor.model.graph.CausalGraph`, a TeachingModel or any networkx ``DiGraph``.
Nodes may be named by id or by label.

Examples
--------
>>> from kg_editor.teaching.beliefs import TeachingModel
>>> tm = TeachingModel.from_bundled("asia")
>>> round(posteriors(tm, {"xray": "yes"})["lung"]["yes"], 3)
0.489
>>> [t["text"] for t in active_trails(tm, "smoke", "dysp")]
['smoke -> bronc -> dysp', 'smoke -> lung -> either -> dysp']
>>> [sorted(s) for s in adjustment_sets(tm, "either", "dysp")]  # smoking confounds
[['bronc'], ['lung'], ['smoke'], ['lung', 'tub']]
>>> sd = seeing_vs_doing(tm, "either", "yes", "dysp")
>>> round(sd["seeing"]["yes"], 3), round(sd["doing"]["yes"], 3), sd["open_backdoor_paths"][0]["text"]
(0.811, 0.79, 'either <- lung <- smoke -> bronc -> dysp')
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeAlias

import networkx as nx

from kg_editor.errors import FormatError, SchemaError, unknown_variable
from kg_editor.model.graph import CausalGraph
from kg_editor.teaching.beliefs import TeachingModel, as_teaching_model

__all__ = [
    "SCENARIO_FORMAT",
    "SCENARIO_FORMAT_VERSION",
    "TRAIL_SEARCH_BUDGET",
    "Scenario",
    "active_trails",
    "adjustment_report",
    "adjustment_sets",
    "belief_update",
    "d_separated",
    "dump_scenarios",
    "is_backdoor_set",
    "load_scenarios",
    "path_report",
    "posteriors",
    "replay",
    "seeing_vs_doing",
]

logger = logging.getLogger(__name__)

SCENARIO_FORMAT = "kg-editor-scenario"
SCENARIO_FORMAT_VERSION = 1

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
        return _View(graph.nx, graph.label, graph.resolve)
    if isinstance(graph, nx.DiGraph):
        g = graph

        def resolve(name: str) -> str:
            if name in g:
                return name
            raise unknown_variable(str(name), [str(n) for n in g.nodes])

        return _View(g, str, resolve)
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
    given = f" given {', '.join(v.label(n) for n in sorted(z, key=str))}" if z else ""
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


# ---------------------------------------------------------------------------------
# Back-door adjustment sets
# ---------------------------------------------------------------------------------
def is_backdoor_set(graph: GraphLike, cause: str, outcome: str, adjust: Iterable[str]) -> bool:
    """Whether ``adjust`` satisfies Pearl's back-door criterion for ``cause -> outcome``.

    No member is a descendant of ``cause``, and the set blocks every trail from
    ``cause`` to ``outcome`` that starts with an arrow into ``cause`` (d-separation in
    the graph with the edges out of ``cause`` removed).

    Examples
    --------
    >>> g = CausalGraph.from_edges([("age", "statin"), ("age", "mi"), ("statin", "mi")])
    >>> is_backdoor_set(g, "statin", "mi", []), is_backdoor_set(g, "statin", "mi", ["age"])
    (False, True)
    """
    v = _view(graph)
    x, y = v.resolve(cause), v.resolve(outcome)
    zs = {v.resolve(str(n)) for n in adjust}
    if x in zs or y in zs or zs & nx.descendants(v.g, x):
        return False
    gb = nx.DiGraph(v.g)
    gb.remove_edges_from(list(v.g.out_edges(x)))
    return bool(nx.is_d_separator(gb, {x}, {y}, zs))


_SINK = ("__outcome_and_its_mediators__",)  # a node id no graph uses


def _minimal_backdoor_sets(g: nx.DiGraph, x: str, y: str, max_sets: int) -> list[frozenset[str]]:
    """All inclusion-minimal back-door sets, as minimal x-y vertex separators.

    The back-door graph (edges out of ``x`` removed) restricted to the ancestors of
    ``{x, y}`` is moralised; a set of those ancestors d-separates ``x`` and ``y`` exactly
    when it separates them in this moral graph (Lauritzen). Descendants of ``x`` may not
    be used, and each one left in the moral graph reaches ``y`` through descendants only,
    so they are merged into ``y``. The minimal x-y separators of the result are listed
    with the closure of Kloks and Kratsch (1998): start from the separator closest to
    ``x`` and move one vertex at a time towards ``y``.
    """
    gb = nx.DiGraph(g)
    gb.remove_edges_from(list(g.out_edges(x)))
    anc = nx.ancestors(gb, x) | nx.ancestors(gb, y) | {x, y}
    moral = nx.moral_graph(gb.subgraph(anc))
    forbidden = (nx.descendants(g, x) & anc) | {y}
    adj: dict[Any, set[Any]] = {n: set() for n in anc - forbidden}
    adj[_SINK] = set()
    for u, w in moral.edges:
        uu = _SINK if u in forbidden else u
        ww = _SINK if w in forbidden else w
        if uu != ww:
            adj[uu].add(ww)
            adj[ww].add(uu)
    if _SINK in adj[x]:
        return []  # the outcome (or a mediator) is a parent of the cause: no set works

    def component(start: Any, removed: set[Any]) -> set[Any]:
        seen = {start}
        queue = deque([start])
        while queue:
            n = queue.popleft()
            for m in adj[n]:
                if m not in seen and m not in removed:
                    seen.add(m)
                    queue.append(m)
        return seen

    def boundary(nodes: set[Any]) -> frozenset[Any]:
        return frozenset(set().union(*(adj[n] for n in nodes)) - nodes)

    first = boundary(component(_SINK, set(adj[x]) | {x}))
    found = [first]
    seen = {first}
    queue = deque([first])
    while queue and len(found) < max_sets:
        s = queue.popleft()
        for node in sorted(s, key=str):
            if _SINK in adj[node]:
                continue
            near_x = component(x, set(s)) | {node}
            t = boundary(near_x)
            nxt = boundary(component(_SINK, set(t)))
            if nxt not in seen:
                seen.add(nxt)
                found.append(nxt)
                queue.append(nxt)
                if len(found) >= max_sets:
                    break
    return sorted((frozenset(str(n) for n in s) for s in found), key=lambda s: (len(s), sorted(s)))


def adjustment_sets(
    graph: GraphLike,
    cause: str,
    outcome: str,
    *,
    max_sets: int = 50,
    include_parents: bool = True,
) -> list[frozenset[str]]:
    """Valid back-door adjustment sets for the effect of ``cause`` on ``outcome``.

    Every inclusion-minimal back-door set first (smallest first, then by name), listed
    in polynomial time per set rather than by trying every subset; then, when
    ``include_parents`` and it is not already listed, the parents of ``cause`` (always a
    valid set unless ``outcome`` is one of them). ``[frozenset()]`` means no adjustment
    is needed; ``[]`` means no back-door set exists (the outcome is a parent of the
    cause, so the cause cannot affect it).

    Examples
    --------
    >>> g = CausalGraph.from_edges(
    ...     [("age", "diabetes"), ("age", "statin"), ("diabetes", "statin"),
    ...      ("diabetes", "mi"), ("statin", "mi")]
    ... )
    >>> [sorted(s) for s in adjustment_sets(g, "statin", "mi")]
    [['diabetes'], ['age', 'diabetes']]
    >>> adjustment_sets(g, "age", "mi")
    [frozenset()]
    """
    v = _view(graph)
    x, y = v.resolve(cause), v.resolve(outcome)
    if x == y:
        raise SchemaError(f"Choose two different variables (both are {v.label(x)}).")
    sets = _minimal_backdoor_sets(v.g, x, y, max_sets)
    if include_parents and sets:
        pa = frozenset(str(p) for p in v.g.predecessors(x))
        if pa not in sets and y not in pa:
            sets.append(pa)
    return sets


def adjustment_report(
    graph: GraphLike, cause: str, outcome: str, *, max_sets: int = 50
) -> dict[str, Any]:
    """:func:`adjustment_sets` in JSON-ready form, with labels and a sentence for the canvas.

    Returns
    -------
    dict
        ``cause``, ``outcome``, ``sets`` (each ``{"nodes", "labels", "minimal",
        "parents_of_cause"}``; minimal ones first), ``needed`` (false when the empty set
        works), ``possible`` (false when no set works) and ``explanation``.

    Examples
    --------
    >>> g = CausalGraph.from_edges([("age", "statin"), ("age", "mi"), ("statin", "mi")],
    ...                            labels={"mi": "Myocardial infarction"})
    >>> rep = adjustment_report(g, "statin", "mi")
    >>> rep["sets"][0]["labels"], rep["explanation"]
    (['age'], 'To estimate the effect of statin on Myocardial infarction from data, adjust for one of these sets: {age}.')
    """
    v = _view(graph)
    x, y = v.resolve(cause), v.resolve(outcome)
    sets = adjustment_sets(v.g, x, y, max_sets=max_sets)
    n_min = len(adjustment_sets(v.g, x, y, max_sets=max_sets, include_parents=False))
    pa = frozenset(str(p) for p in v.g.predecessors(x))
    rows: list[dict[str, Any]] = [
        {
            "nodes": sorted(s, key=str),
            "labels": [v.label(n) for n in sorted(s, key=str)],
            "minimal": i < n_min,
            "parents_of_cause": s == pa,
        }
        for i, s in enumerate(sets)
    ]
    lx, ly = v.label(x), v.label(y)
    if not sets:
        text = (
            f"{ly} is a direct cause of {lx}, so no adjustment can isolate an effect of {lx} on "
            f"{ly} (setting {lx} leaves {ly} unchanged)."
        )
    elif sets == [frozenset()]:
        text = f"No back-door path links {lx} and {ly}: their association needs no adjustment."
    else:
        listed = "; ".join("{" + ", ".join(r["labels"]) + "}" for r in rows)
        text = f"To estimate the effect of {lx} on {ly} from data, adjust for one of these sets: {listed}."
    return {
        "cause": x,
        "outcome": y,
        "sets": rows,
        "needed": bool(sets) and sets != [frozenset()],
        "possible": bool(sets),
        "explanation": text,
    }


# ---------------------------------------------------------------------------------
# Beliefs
# ---------------------------------------------------------------------------------
def posteriors(
    model: Any, evidence: Mapping[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """``P(node = state | evidence)`` for every node (exact, pgmpy VariableElimination).

    Observed nodes get probability 1 on their observed state. Nodes come in a
    topological order. Use :func:`belief_update` for the prior and the shift too.
    """
    return as_teaching_model(model).marginals(evidence)


def belief_update(model: Any, evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every node's prior, posterior and shift under the findings, ready for the canvas.

    Returns
    -------
    dict
        ``findings`` (resolved ids -> state), ``p_findings`` (how probable the findings
        are together under the model), ``nodes`` (one record per node in topological
        order: ``id``, ``label``, ``observed`` (state or ``None``), ``prior``,
        ``posterior``, ``shift`` (posterior - prior, per state) and ``max_shift`` (the
        largest absolute shift)), and ``most_changed`` (unobserved ids, largest shift
        first).

    Examples
    --------
    >>> from kg_editor.teaching.beliefs import TeachingModel
    >>> upd = belief_update(TeachingModel.from_bundled("cancer"), {"Xray": "positive"})
    >>> top = upd["most_changed"][0]
    >>> node = next(n for n in upd["nodes"] if n["id"] == top)
    >>> top, round(node["shift"]["True"], 4)
    ('Cancer', 0.0387)
    """
    tm = as_teaching_model(model)
    fnd = tm.resolve_findings(evidence)
    p = tm.probability_of_findings(fnd)
    prior = tm.prior()
    post = tm.marginals(fnd)
    nodes: list[dict[str, Any]] = []
    for n in tm.nodes:
        shift = {s: post[n][s] - prior[n][s] for s in prior[n]}
        nodes.append(
            {
                "id": n,
                "label": tm.label(n),
                "observed": fnd.get(n),
                "prior": prior[n],
                "posterior": post[n],
                "shift": shift,
                "max_shift": max(abs(d) for d in shift.values()),
            }
        )
    ranked = sorted((r for r in nodes if r["observed"] is None), key=lambda r: -r["max_shift"])
    return {
        "findings": fnd,
        "p_findings": p,
        "nodes": nodes,
        "most_changed": [r["id"] for r in ranked],
    }


def seeing_vs_doing(
    model: Any,
    cause: str,
    cause_state: str,
    outcome: str,
    evidence: Mapping[str, Any] | None = None,
    *,
    max_paths: int = 20,
) -> dict[str, Any]:
    """``P(outcome | cause = x, findings)`` beside ``P(outcome | do(cause = x), findings)``.

    Observing the cause also carries information along the back-door paths (trails
    that enter the cause through an arrow into it); setting it cuts them. The two agree
    when no back-door path is open given the findings (rule 2 of the do-calculus), so
    the open ones, listed here, explain the difference.

    Returns
    -------
    dict
        ``cause``, ``cause_label``, ``cause_state``, ``outcome``, ``outcome_label``,
        ``findings``; ``seeing``, ``doing`` and ``prior`` (``P(outcome | findings)``) as
        state -> probability; ``difference`` (seeing - doing, per state) and
        ``max_abs_difference``; ``open_backdoor_paths`` (trails as in
        :func:`active_trails`, in the graph without the edges out of the cause),
        ``confounded`` (any open), ``truncated``; ``adjustment_sets`` (minimal back-door
        sets with no findings, as sorted lists) and ``explanation``.
    """
    tm = as_teaching_model(model)
    x, y = tm.resolve(cause), tm.resolve(outcome)
    if x == y:
        raise SchemaError(f"Choose an outcome other than the cause ({tm.label(x)}).")
    (x_state,) = tm.resolve_findings({x: cause_state}).values()
    fnd = tm.resolve_findings(evidence)
    if y in fnd:
        raise SchemaError(
            f"{tm.label(y)} is already observed as {fnd[y]}; remove that finding to ask about it.",
            column=y,
        )
    if x in fnd and fnd[x] != x_state:
        raise SchemaError(
            f"{tm.label(x)} is observed as {fnd[x]}; remove that finding to compare {tm.label(x)} = {x_state}.",
            column=x,
        )
    fnd.pop(x, None)
    seeing = tm.marginal(y, {**fnd, x: x_state})
    doing = tm.interventional(y, {x: x_state}, fnd)
    prior = tm.marginal(y, fnd)
    diff = {s: seeing[s] - doing[s] for s in seeing}

    g = tm.graph.nx
    gb = nx.DiGraph(g)
    gb.remove_edges_from(list(g.out_edges(x)))
    z = set(fnd) - {x, y}
    paths, truncated = _enumerate_trails(gb, x, y, z, max_paths, TRAIL_SEARCH_BUDGET)
    backdoor = [_trail_dict(g, p, tm.label) for p in paths]
    sets = [sorted(s) for s in _minimal_backdoor_sets(g, x, y, 10)]

    lx, ly = tm.label(x), tm.label(y)
    given = f" given {', '.join(f'{tm.label(n)} = {s}' for n, s in fnd.items())}" if fnd else ""
    gap = max(abs(d) for d in diff.values())
    if not backdoor:
        text = (
            f"No back-door path from {lx} to {ly} is open{given}, so observing {lx} = {x_state} "
            f"and setting it tell the same story about {ly}."
        )
    else:
        adj = (
            f" Adjusting for {{{', '.join(tm.label(n) for n in sets[0])}}} removes it."
            if sets and sets[0]
            else ""
        )
        text = (
            f"Observing {lx} = {x_state} also says something about {ly} through "
            f"{len(backdoor)}{'+' if truncated else ''} open back-door path(s){given}, e.g. "
            f"{backdoor[0]['text']}; setting {lx} cuts them. The two differ by up to "
            f"{100 * gap:.1f} percentage points.{adj}"
        )
    return {
        "cause": x,
        "cause_label": lx,
        "cause_state": x_state,
        "outcome": y,
        "outcome_label": ly,
        "findings": fnd,
        "prior": prior,
        "seeing": seeing,
        "doing": doing,
        "difference": diff,
        "max_abs_difference": gap,
        "open_backdoor_paths": backdoor,
        "confounded": bool(backdoor),
        "truncated": truncated,
        "adjustment_sets": sets,
        "explanation": text,
    }


# ---------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------
def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Scenario:
    """A named teaching case: findings, a question, and optionally a cause and outcome.

    Saved with the graph version it was written for (``version_id``), replayable with
    :func:`replay`, exportable as JSON.

    Examples
    --------
    >>> sc = Scenario("Breathless smoker", {"smoke": "yes", "dysp": "yes"},
    ...               question="Is it bronchitis or lung cancer?", cause="smoke",
    ...               cause_state="yes", outcome="lung", created="2026-01-01T00:00:00+00:00")
    >>> Scenario.from_dict(sc.to_dict()) == sc
    True
    >>> sc.findings["smoke"]
    'yes'
    """

    name: str
    findings: Mapping[str, str] = field(default_factory=dict)
    question: str = ""
    cause: str | None = None
    cause_state: str | None = None
    outcome: str | None = None
    version_id: str | None = None
    author: str = ""
    created: str = field(default_factory=_now_iso)

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise SchemaError("A scenario needs a name.")
        if self.cause_state is not None and self.cause is None:
            raise SchemaError(f"Scenario {self.name!r} gives a cause state but no cause.")
        object.__setattr__(
            self,
            "findings",
            MappingProxyType({str(k): str(v) for k, v in dict(self.findings).items()}),
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                tuple(sorted(self.findings.items())),
                self.question,
                self.cause,
                self.cause_state,
                self.outcome,
                self.version_id,
                self.author,
                self.created,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``format``/``version`` tagged)."""
        return {
            "format": SCENARIO_FORMAT,
            "version": SCENARIO_FORMAT_VERSION,
            "name": self.name,
            "question": self.question,
            "findings": dict(self.findings),
            "cause": self.cause,
            "cause_state": self.cause_state,
            "outcome": self.outcome,
            "version_id": self.version_id,
            "author": self.author,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        if data.get("format", SCENARIO_FORMAT) != SCENARIO_FORMAT:
            raise FormatError(
                f"This is not a kg-editor scenario (format is {data.get('format')!r}, expected {SCENARIO_FORMAT!r})."
            )
        if int(data.get("version", 1)) > SCENARIO_FORMAT_VERSION:
            raise FormatError(
                f"This scenario has format version {data.get('version')}; this kg-editor reads up to "
                f"{SCENARIO_FORMAT_VERSION}. Upgrade kg-editor to open it."
            )
        if "name" not in data:
            raise FormatError("A scenario must have a 'name'.")
        findings = data.get("findings") or {}
        if not isinstance(findings, Mapping):
            raise FormatError("A scenario's 'findings' must map variables to states.")
        kw = {
            k: data[k]
            for k in (
                "question",
                "cause",
                "cause_state",
                "outcome",
                "version_id",
                "author",
                "created",
            )
            if data.get(k) is not None
        }
        return cls(name=str(data["name"]), findings=findings, **kw)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise FormatError(f"The scenario is not valid JSON: {exc}") from exc


def dump_scenarios(scenarios: Iterable[Scenario], indent: int | None = 2) -> str:
    """Several scenarios as one JSON document (a list)."""
    return json.dumps([s.to_dict() for s in scenarios], indent=indent)


def load_scenarios(text: str) -> list[Scenario]:
    """Read what :func:`dump_scenarios` wrote (a single scenario object is accepted too)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"The scenarios file is not valid JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    return [Scenario.from_dict(d) for d in items]


def replay(scenario: Scenario, model: Any, *, max_trails: int = 50) -> dict[str, Any]:
    """Run a scenario on a model: beliefs, and with a cause and outcome the do-contrast and paths.

    Returns
    -------
    dict
        ``scenario`` (its JSON form), ``beliefs`` (:func:`belief_update`),
        ``seeing_vs_doing`` (a list, one :func:`seeing_vs_doing` result per cause state:
        the scenario's ``cause_state`` or every state; empty without cause and outcome;
        findings on the cause or the outcome are set aside for this contrast),
        ``paths`` (:func:`path_report` between cause and outcome given the findings, or
        ``None``) and ``adjustment_sets`` (sorted lists, or ``None``).

    Examples
    --------
    >>> from kg_editor.teaching.beliefs import TeachingModel
    >>> sc = Scenario("Smoker", {"smoke": "yes"}, cause="either", cause_state="yes", outcome="dysp")
    >>> out = replay(sc, TeachingModel.from_bundled("asia"))
    >>> round(out["seeing_vs_doing"][0]["doing"]["yes"], 3), out["paths"]["d_separated"]
    (0.82, False)
    """
    tm = as_teaching_model(model)
    findings = dict(scenario.findings)
    out: dict[str, Any] = {
        "scenario": scenario.to_dict(),
        "beliefs": belief_update(tm, findings),
        "seeing_vs_doing": [],
        "paths": None,
        "adjustment_sets": None,
    }
    if scenario.cause is not None and scenario.outcome is not None:
        x, y = tm.resolve(scenario.cause), tm.resolve(scenario.outcome)
        # the cause is set in turn to each state, and the outcome is the question: a
        # finding on either is set aside for the contrast (the beliefs above keep it)
        rest = {k: v for k, v in findings.items() if tm.resolve(k) not in (x, y)}
        states = [scenario.cause_state] if scenario.cause_state is not None else list(tm.states(x))
        out["seeing_vs_doing"] = [seeing_vs_doing(tm, x, s, y, rest) for s in states]
        out["paths"] = path_report(tm, x, y, findings, max_trails=max_trails)
        out["adjustment_sets"] = [sorted(s) for s in adjustment_sets(tm, x, y)]
    return out
