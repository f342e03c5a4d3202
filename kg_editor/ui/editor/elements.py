"""Cytoscape elements, stylesheet and legend for a :class:`~kg_editor.model.graph.CausalGraph`.

Pure functions of the graph (no Dash callbacks here), so they are unit-tested without a
browser. Node ids are the variable codes; labels are plain text (Cytoscape draws them on a
canvas, so markup in a concept name is shown, never interpreted).

Examples
--------
>>> from kg_editor.model.graph import CausalGraph
>>> g = CausalGraph.from_edges([("a", "b")], labels={"a": "Aspirin", "b": "Bleeding"})
>>> els = graph_elements(g, target="b")
>>> [e["data"]["id"] for e in els]
['a', 'b', 'e-a-b']
>>> "target" in els[1]["classes"]
True
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import networkx as nx

from kg_editor.data.privacy import DEFAULT_MIN_CELL, protect_node
from kg_editor.model.edge_table import direction_status
from kg_editor.model.graph import CausalGraph

__all__ = [
    "DOMAIN_COLOURS",
    "PROVENANCE_STYLES",
    "edge_id",
    "edge_strength",
    "graph_elements",
    "layout_options",
    "neighbourhood",
    "node_size",
    "stylesheet",
    "with_positions",
]

#: Node colour by OMOP domain (colour-blind safe, Okabe-Ito based).
DOMAIN_COLOURS: dict[str, str] = {
    "condition": "#0072B2",
    "drug": "#009E73",
    "procedure": "#CC79A7",
    "observation": "#E69F00",
    "measurement": "#D55E00",
    "demographic": "#7F7F7F",
    "other": "#56B4E9",
}

#: Edge appearance by provenance: (line colour, line style, legend text).
PROVENANCE_STYLES: dict[str, tuple[str, str, str]] = {
    "distilled": ("#8a9bb0", "solid", "distilled from the data"),
    "clinician": ("#1b5e8c", "solid", "added or re-oriented by a clinician"),
    "required": ("#5b4b8a", "solid", "required by an expert constraint"),
    "imported": ("#8a9bb0", "solid", "imported from a file"),
    "suggested": ("#d9822b", "dashed", "suggested (ghost, not in the model)"),
}

#: An edge found in fewer than this share of the stability resamples is drawn as unstable.
UNSTABLE_BELOW = 0.5

CONTRADICTS_COLOUR = "#c2410c"
CYCLE_COLOUR = "#d7263d"
SELECT_COLOUR = "#f2a900"
#: An unmeasured common cause (A <-> B).
LATENT_COLOUR = "#7b3fa0"

_SAFE = re.compile(r"[^A-Za-z0-9_]")


def _safe(code: str) -> str:
    return _SAFE.sub(lambda m: f"x{ord(m.group()):x}", str(code))


def edge_id(source: str, target: str) -> str:
    """A stable element id for the edge ``source -> target`` (selector-safe characters).

    Examples
    --------
    >>> edge_id("a", "b"), edge_id("a b", "c>d")
    ('e-a-b', 'e-ax20b-cx3ed')
    """
    return f"e-{_safe(source)}-{_safe(target)}"


def node_size(prevalence: float | None) -> float:
    """Node diameter in pixels: area grows with prevalence (18 px to 60 px).

    Examples
    --------
    >>> node_size(0.0), node_size(1.0), node_size(None)
    (18.0, 60.0, 24.0)
    """
    if prevalence is None or not math.isfinite(float(prevalence)):
        return 24.0
    return round(18.0 + 42.0 * math.sqrt(min(max(float(prevalence), 0.0), 1.0)), 1)


def _lookup(evidence: Mapping[str, Any] | None, *names: str) -> Any:
    """First value found under any of ``names``, searching nested dicts breadth-first."""
    if not evidence:
        return None
    queue: list[Mapping[str, Any]] = [evidence]
    while queue:
        cur = queue.pop(0)
        for n in names:
            if n in cur and cur[n] is not None and not isinstance(cur[n], Mapping):
                return cur[n]
            if n in cur and isinstance(cur[n], Mapping):
                inner = cur[n]
                for key in ("value", "estimate", "point"):
                    if inner.get(key) is not None:
                        return inner[key]
        queue.extend(v for v in cur.values() if isinstance(v, Mapping))
    return None


def edge_strength(evidence: Mapping[str, Any] | None) -> float | None:
    """Strength of an edge's association: ``|log odds ratio|`` from its evidence.

    Examples
    --------
    >>> round(edge_strength({"odds_ratio": 4.0}), 3)
    1.386
    >>> edge_strength({}) is None
    True
    """
    orr = _lookup(evidence, "odds_ratio", "or")
    try:
        value = float(orr)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return abs(math.log(value))


def _edge_width(strength: float | None) -> float:
    if strength is None:
        return 2.0
    return round(1.5 + 5.0 * min(strength, 2.5) / 2.5, 2)


def neighbourhood(graph: CausalGraph, centre: str, hops: int) -> set[str]:
    """Nodes within ``hops`` links of ``centre``, ignoring edge direction.

    Examples
    --------
    >>> g = CausalGraph.from_edges([("a", "b"), ("b", "c"), ("c", "d")])
    >>> sorted(neighbourhood(g, "b", 1))
    ['a', 'b', 'c']
    """
    graph._check_node(centre)
    ego = nx.ego_graph(graph.nx.to_undirected(as_view=True), centre, radius=max(int(hops), 0))
    return set(ego.nodes)


def graph_elements(
    graph: CausalGraph,
    *,
    target: str | None = None,
    contradicting: Iterable[Collection[str]] = (),
    cycle: Iterable[str] = (),
    nodes: Collection[str] | None = None,
    selected_edge: tuple[str, str] | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
) -> list[dict[str, Any]]:
    """Cytoscape elements (nodes, then edges) for ``graph``.

    Parameters
    ----------
    graph : CausalGraph
    target : str, optional
        The target diagnosis (drawn with a heavy outline).
    contradicting : iterable of (source, target)
        Edges that contradict temporal precedence (marked distinctly).
    cycle : iterable of str
        A refused cycle as a node path (``[a, b, c, a]``); its nodes and edges are
        highlighted, the closing edge that was refused is drawn as a ghost.
    nodes : collection of str, optional
        Only these nodes (and the edges between them): the focused neighbourhood view.
    selected_edge : (source, target), optional
        Kept selected across re-renders.
    min_cell : int
        A node's prevalence is hidden from its tooltip when it (or its complement)
        counts fewer patients.
    """
    keep = set(graph.nodes) if nodes is None else set(nodes) & set(graph.nodes)
    contra = {(str(u), str(v)) for u, v in contradicting}
    cyc = [str(n) for n in cycle]
    cyc_nodes = set(cyc)
    cyc_edges = set(itertools.pairwise(cyc))
    g = graph.nx
    out: list[dict[str, Any]] = []
    for n in graph.nodes:
        if n not in keep:
            continue
        a = g.nodes[n]
        domain = str(a.get("domain") or "other")
        prevalence = a.get("prevalence")
        classes = [f"dom-{domain if domain in DOMAIN_COLOURS else 'other'}"]
        if n == target:
            classes.append("target")
        if n in cyc_nodes:
            classes.append("cycle")
        label = str(a.get("label") or n)
        shown_prev, prev_hidden = _shown_prevalence(a.get("patients"), prevalence, min_cell)
        out.append(
            {
                "data": {
                    "id": str(n),
                    "label": label if len(label) <= 34 else label[:32] + "…",
                    "full_label": label,
                    "domain": domain,
                    "tier": a.get("tier"),
                    "prevalence": None if prevalence is None else round(float(prevalence), 4),
                    "size": node_size(prevalence),
                    # the tooltip's prevalence: hidden with a small count (privacy.py)
                    "prev_shown": shown_prev,
                    "prev_hidden": prev_hidden,
                },
                "classes": " ".join(classes),
            }
        )
    for u, v in graph.edges:
        if u not in keep or v not in keep:
            continue
        a = g.edges[u, v]
        prov = str(a.get("provenance") or "distilled")
        strength = edge_strength(a.get("evidence"))
        classes = [f"prov-{prov if prov in PROVENANCE_STYLES else 'distilled'}"]
        if (u, v) in contra:
            classes.append("contradicts")
        if (u, v) in cyc_edges:
            classes.append("cycle")
        # direction undecided by the data / edge seldom found in resamples
        if a.get("unresolved"):
            classes.append("unresolved")
        stab = (a.get("evidence") or {}).get("stability") or {}
        freq = stab.get("frequency")
        if isinstance(freq, int | float) and freq < UNSTABLE_BELOW:
            classes.append("unstable")
        el: dict[str, Any] = {
            "data": {
                "id": edge_id(u, v),
                "source": str(u),
                "target": str(v),
                "provenance": prov,
                "width": _edge_width(strength),
                "strength": None if strength is None else round(strength, 3),
                **_tooltip_evidence(a),
            },
            "classes": " ".join(classes),
        }
        if selected_edge == (u, v):
            el["selected"] = True
        out.append(el)
    # Unmeasured common causes (A <-> B): a curved dashed edge with two arrowheads.
    for a, b in graph.latent_pairs:
        if a in keep and b in keep:
            el = {
                "data": {
                    "id": "latent-" + edge_id(a, b),
                    "source": a,
                    "target": b,
                    "latent": True,
                    "width": 2,
                },
                "classes": "latent",
            }
            if selected_edge == (a, b):
                el["selected"] = True
            out.append(el)
    # The refused closing edge of a cycle is not in the graph: draw it as a ghost.
    for u, v in cyc_edges:
        if not graph.has_edge(u, v) and u in keep and v in keep:
            out.append(
                {
                    "data": {
                        "id": "refused-" + edge_id(u, v),
                        "source": u,
                        "target": v,
                        "width": 3,
                    },
                    "classes": "cycle refused",
                    "selectable": False,
                }
            )
    return out


def _shown_prevalence(patients: Any, prevalence: Any, k: int) -> tuple[float | None, bool]:
    """The prevalence a tooltip may show, and whether it was hidden for privacy."""
    if prevalence is None or isinstance(prevalence, str):
        return None, isinstance(prevalence, str)
    if patients is None:  # no count to give back
        return round(float(prevalence), 4), False
    if isinstance(patients, str):  # suppressed when the graph was built
        return None, True
    shown = protect_node(patients, None, prevalence, k)["prevalence"]
    return (None, True) if shown is None else (round(float(shown), 4), False)


def _tooltip_evidence(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """What an edge's tooltip shows: odds ratio with its CI, and the direction status."""
    orr = ((attrs.get("evidence") or {}).get("measures") or {}).get("odds_ratio") or {}

    def num(x: Any) -> float | None:
        try:
            v = float(x)
        except (TypeError, ValueError):
            return None
        return round(v, 2) if math.isfinite(v) else None

    return {
        "or": num(orr.get("estimate")),
        "ci": [num(orr.get("ci_low")), num(orr.get("ci_high"))],
        "direction": direction_status(attrs),
    }


def with_positions(
    elements: list[dict[str, Any]],
    positions: Mapping[str, Sequence[float]],
    pinned: Collection[str] = (),
) -> list[dict[str, Any]]:
    """``elements`` with a saved ``position`` on each node that has one (drawn with the
    preset layout) and ``data.pinned`` on the pinned ones.

    Examples
    --------
    >>> els = [{"data": {"id": "a"}}, {"data": {"id": "e-a-b", "source": "a", "target": "b"}}]
    >>> with_positions(els, {"a": [1.0, 2.0]}, ["a"])[0]
    {'data': {'id': 'a', 'pinned': True}, 'position': {'x': 1.0, 'y': 2.0}}
    """
    pins = set(pinned)
    out = []
    for el in elements:
        nid = el["data"].get("id")
        if "source" in el["data"] or nid not in positions:
            out.append(el)
            continue
        x, y = positions[nid]
        data = {**el["data"], **({"pinned": True} if nid in pins else {})}
        out.append({**el, "data": data, "position": {"x": float(x), "y": float(y)}})
    return out


def layout_options(name: str = "dagre", nonce: int = 0) -> dict[str, Any]:
    """The hierarchical layout (computed once in the browser, then kept as is).

    ``nonce`` makes a re-layout request a new value so Dash sends it again.
    """
    if name == "preset":
        return {"name": "preset", "fit": False}
    return {
        "name": name,
        "rankDir": "TB",
        "nodeSep": 18,
        "rankSep": 70,
        "edgeSep": 8,
        "ranker": "network-simplex",
        "animate": False,
        "fit": True,
        "padding": 24,
        "nonce": nonce,
    }


def stylesheet() -> list[dict[str, Any]]:
    """The Cytoscape stylesheet: colour by domain, size by prevalence, width by strength,
    line style by provenance, a distinct mark for precedence contradictions."""
    css: list[dict[str, Any]] = [
        {
            "selector": "node",
            "style": {
                "width": "data(size)",
                "height": "data(size)",
                "label": "data(label)",
                "font-family": "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
                "font-size": 10,
                "color": "#1f2933",
                "text-valign": "bottom",
                "text-margin-y": 3,
                "text-wrap": "wrap",
                "text-max-width": 120,
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.75,
                "text-background-padding": 1,
                "border-width": 1.5,
                "border-color": "#ffffff",
                "background-color": DOMAIN_COLOURS["other"],
            },
        },
    ]
    for dom, col in DOMAIN_COLOURS.items():
        css.append({"selector": f"node.dom-{dom}", "style": {"background-color": col}})
    css += [
        {
            "selector": "node.target",
            "style": {
                "border-width": 4,
                "border-color": "#7a1f2b",
                "font-weight": "bold",
                "font-size": 12,
            },
        },
        {
            "selector": "edge",
            "style": {
                "width": "data(width)",
                "curve-style": "bezier",
                "target-arrow-shape": "triangle",
                "arrow-scale": 1.1,
                "line-color": PROVENANCE_STYLES["distilled"][0],
                "target-arrow-color": PROVENANCE_STYLES["distilled"][0],
                "opacity": 0.9,
            },
        },
    ]
    for prov, (col, style, _) in PROVENANCE_STYLES.items():
        rule: dict[str, Any] = {
            "line-color": col,
            "target-arrow-color": col,
            "line-style": style,
        }
        if prov == "suggested":
            rule["opacity"] = 0.65
        css.append({"selector": f"edge.prov-{prov}", "style": rule})
    css += [
        {
            "selector": "edge.contradicts",
            "style": {
                "mid-target-arrow-shape": "diamond",
                "mid-target-arrow-color": CONTRADICTS_COLOUR,
                "mid-target-arrow-fill": "filled",
                "arrow-scale": 1.4,
                "line-color": CONTRADICTS_COLOUR,
                "target-arrow-color": CONTRADICTS_COLOUR,
            },
        },
        {
            "selector": "edge.ghost",
            "style": {
                "line-style": "dashed",
                "line-color": PROVENANCE_STYLES["suggested"][0],
                "target-arrow-color": PROVENANCE_STYLES["suggested"][0],
                "opacity": 0.85,
                "width": 3,
                "z-index": 50,
            },
        },
        {
            "selector": "edge.ghost-remove",
            "style": {"line-color": "#9b1c1c", "target-arrow-color": "#9b1c1c", "opacity": 0.35},
        },
        # an edit drawn ahead of the server's answer (assets/03_kg_editor.js)
        {
            "selector": "edge.kg-optimistic",
            "style": {
                "line-style": "dashed",
                "line-color": "#1d4ed8",
                "target-arrow-color": "#1d4ed8",
                "width": 3,
                "z-index": 60,
                "events": "no",
            },
        },
        {
            "selector": ".cycle",
            "style": {
                "line-color": CYCLE_COLOUR,
                "target-arrow-color": CYCLE_COLOUR,
                "border-color": CYCLE_COLOUR,
                "border-width": 4,
                "z-index": 40,
            },
        },
        {"selector": "edge.refused", "style": {"line-style": "dashed", "width": 3}},
        # no arrowhead for an undecided direction; faint for an unstable edge
        {
            "selector": "edge.unresolved",
            "style": {
                "target-arrow-shape": "none",
                "line-style": "dotted",
                "line-dash-pattern": [2, 3],
            },
        },
        {"selector": "edge.unstable", "style": {"opacity": 0.45, "line-style": "dashed"}},
        # an unmeasured common cause, drawn A <-> B
        {
            "selector": "edge.latent",
            "style": {
                "curve-style": "unbundled-bezier",
                "control-point-distances": [40],
                "control-point-weights": [0.5],
                "line-style": "dashed",
                "line-color": LATENT_COLOUR,
                "source-arrow-shape": "triangle",
                "target-arrow-shape": "triangle",
                "source-arrow-color": LATENT_COLOUR,
                "target-arrow-color": LATENT_COLOUR,
                "width": 2,
            },
        },
        {
            "selector": "edge.unresolved.unstable",
            "style": {"target-arrow-shape": "none", "line-style": "dotted", "opacity": 0.45},
        },
        {
            "selector": "node:selected",
            "style": {"border-width": 4, "border-color": SELECT_COLOUR},
        },
        {
            "selector": "edge:selected",
            "style": {
                "line-color": SELECT_COLOUR,
                "target-arrow-color": SELECT_COLOUR,
                "z-index": 60,
                "width": "mapData(width, 1, 7, 4, 9)",
            },
        },
        {
            "selector": "node.pending-source",
            "style": {"border-width": 5, "border-style": "double", "border-color": "#1b5e8c"},
        },
        # a pinned node keeps its place across edits and re-layouts
        {
            "selector": "node[?pinned]",
            "style": {"border-width": 3, "border-style": "dashed", "border-color": "#1f2933"},
        },
        {
            "selector": "node.search-hit",
            "style": {"overlay-color": SELECT_COLOUR, "overlay-opacity": 0.25},
        },
        # cytoscape-edgehandles (drag to connect)
        {
            "selector": ".eh-handle",
            "style": {
                "background-color": "#1b5e8c",
                "width": 12,
                "height": 12,
                "shape": "ellipse",
                "overlay-opacity": 0,
                "border-width": 10,
                "border-opacity": 0,
                "label": "",
            },
        },
        {"selector": ".eh-hover", "style": {"background-color": "#1b5e8c"}},
        {"selector": ".eh-source", "style": {"border-width": 3, "border-color": "#1b5e8c"}},
        {"selector": ".eh-target", "style": {"border-width": 3, "border-color": "#1b5e8c"}},
        {
            "selector": ".eh-preview, .eh-ghost-edge",
            "style": {
                "background-color": "#1b5e8c",
                "line-color": "#1b5e8c",
                "target-arrow-color": "#1b5e8c",
                "source-arrow-color": "#1b5e8c",
                "line-style": "dashed",
            },
        },
        {"selector": ".eh-ghost-edge.eh-preview-active", "style": {"opacity": 0}},
    ]
    return css
