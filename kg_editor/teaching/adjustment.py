"""Back-door adjustment sets: checks, minimal sets and the JSON-ready report with labels and explanation."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import networkx as nx

from kg_editor.errors import SchemaError
from kg_editor.teaching.paths import (
    GraphLike,
    _view,
)

__all__ = [
    "adjustment_report",
    "adjustment_sets",
    "is_backdoor_set",
]


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
    >>> from kg_editor.model.graph import CausalGraph
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
    # an unmeasured cause cannot be adjusted for: eliminating it (its neighbours
    # joined) keeps exactly the separations by sets of measured variables
    for u in sorted((n for n in adj if n != _SINK and g.nodes[n].get("latent")), key=str):
        nbrs = adj.pop(u)
        for a in nbrs:
            adj[a].discard(u)
            adj[a] |= nbrs - {a}
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
    >>> from kg_editor.model.graph import CausalGraph
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
        measured = not any(v.g.nodes[p].get("latent") for p in pa)
        if pa not in sets and y not in pa and measured:
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
    >>> from kg_editor.model.graph import CausalGraph
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

    def by_label(s: frozenset[str]) -> list[str]:
        return sorted(s, key=lambda n: (v.label(n).casefold(), str(n)))

    rows: list[dict[str, Any]] = [
        {
            "nodes": by_label(s),
            "labels": [v.label(n) for n in by_label(s)],
            "minimal": i < n_min,
            "parents_of_cause": s == pa,
        }
        for i, s in enumerate(sets)
    ]
    lx, ly = v.label(x), v.label(y)
    if not sets and y in v.g.predecessors(x):
        text = (
            f"{ly} is a direct cause of {lx}, so no adjustment can isolate an effect of {lx} on "
            f"{ly} (setting {lx} leaves {ly} unchanged)."
        )
    elif not sets:
        text = (
            f"No set of measured variables blocks every back-door path from {lx} to {ly}: an "
            f"unmeasured common cause (or {ly} through a mediator) keeps one open, so the "
            f"effect of {lx} on {ly} cannot be estimated by adjustment."
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
