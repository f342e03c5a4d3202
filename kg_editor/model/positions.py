"""Canvas positions saved with a graph: where each node was drawn and which were pinned.

The layout is view state, kept in the graph's metadata under ``"layout"`` so that it
travels with a saved version (JSON and the store keep metadata as is) and a version
opened later is drawn where it was left::

    {"positions": {"node": [x, y], ...}, "pinned": ["node", ...]}

Examples
--------
>>> from kg_editor.model.graph import CausalGraph
>>> g = CausalGraph.from_edges([("a", "b")])
>>> g2 = with_layout(g, {"positions": {"a": [0, 0], "b": [10.25, 80], "gone": [1, 1]},
...                      "pinned": ["b"]})
>>> saved_layout(g2)
{'positions': {'a': [0.0, 0.0], 'b': [10.2, 80.0]}, 'pinned': ['b']}
>>> "layout" in g.metadata  # the input is unchanged
False
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import networkx as nx

from kg_editor.model.graph import CausalGraph

__all__ = ["LAYOUT_KEY", "clean_layout", "place_missing", "saved_layout", "with_layout"]

#: The metadata key of the saved layout.
LAYOUT_KEY = "layout"


def _point(value: Any) -> list[float] | None:
    if isinstance(value, Mapping):
        value = [value.get("x"), value.get("y")]
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    try:
        x, y = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    return [round(x, 1), round(y, 1)]


def clean_layout(layout: Any, nodes: Collection[str]) -> dict[str, Any]:
    """The part of ``layout`` (as the page sent it) that names nodes of the graph, with
    finite coordinates rounded to 0.1 px; anything else is dropped.

    Examples
    --------
    >>> clean_layout({"positions": {"a": {"x": 1, "y": "2"}, "b": [None, 3]}}, ["a", "b"])
    {'positions': {'a': [1.0, 2.0]}, 'pinned': []}
    >>> clean_layout("nonsense", ["a"])
    {'positions': {}, 'pinned': []}
    """
    keep = {str(n) for n in nodes}
    src = layout if isinstance(layout, Mapping) else {}
    raw = src.get("positions")
    positions: dict[str, list[float]] = {}
    if isinstance(raw, Mapping):
        for node, value in raw.items():
            p = _point(value)
            if str(node) in keep and p is not None:
                positions[str(node)] = p
    pins = src.get("pinned")
    pinned = sorted(
        {str(n) for n in pins if str(n) in positions} if isinstance(pins, list | tuple) else set()
    )
    return {"positions": positions, "pinned": pinned}


def with_layout(graph: CausalGraph, layout: Any) -> CausalGraph:
    """A copy of ``graph`` whose metadata holds ``layout`` (cleaned by
    :func:`clean_layout`); an empty layout leaves the saved one as it was."""
    clean = clean_layout(layout, graph.nodes)
    meta = dict(graph.metadata)
    if clean["positions"]:
        meta[LAYOUT_KEY] = clean
    return CausalGraph(graph.nx.copy(), metadata=meta)


def saved_layout(graph: CausalGraph) -> dict[str, Any] | None:
    """The layout saved in ``graph``'s metadata (only nodes it still has), or ``None``."""
    clean = clean_layout(graph.metadata.get(LAYOUT_KEY), graph.nodes)
    return clean if clean["positions"] else None


def place_missing(
    graph: CausalGraph, positions: Mapping[str, list[float]], gap: float = 70.0
) -> dict[str, list[float]]:
    """``positions`` plus a place for every node of ``graph`` it lacks: beside the mean of
    its placed neighbours (a new concept goes next to its parents and children), else
    in a row below everything placed.

    Examples
    --------
    >>> g = CausalGraph.from_edges([("a", "b"), ("b", "c")])
    >>> place_missing(g, {"a": [0, 0], "c": [0, 200]})["b"]
    [70.0, 100.0]
    """
    out = {str(n): list(p) for n, p in positions.items()}
    und = graph.nx.to_undirected(as_view=True)
    missing = [n for n in graph.nodes if n not in out]
    bottom = max((p[1] for p in out.values()), default=0.0) + gap
    row_x = min((p[0] for p in out.values()), default=0.0)
    taken = {(round(p[0]), round(p[1])) for p in out.values()}
    for n in missing:
        near = [out[m] for m in nx.all_neighbors(und, n) if m in out]
        if near:
            x = sum(p[0] for p in near) / len(near) + gap
            y = sum(p[1] for p in near) / len(near)
            while (round(x), round(y)) in taken:
                y += gap / 2
        else:
            x, y = row_x, bottom
            row_x += gap
        out[n] = [round(x, 1), round(y, 1)]
        taken.add((round(x), round(y)))
    return out
