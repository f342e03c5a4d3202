"""GraphML and GML through networkx: scalar attributes as they are, the rest as JSON text."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import networkx as nx

from kg_editor.errors import FormatError
from kg_editor.formats.registry import GraphFormat, register_format
from kg_editor.model.graph import CausalGraph

__all__: list[str] = []

_JSON_PREFIX = "json:"


def _flat_attrs(attrs: dict[str, Any], rename: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        key = (rename or {}).get(k, k)
        if v is None:
            continue
        if isinstance(v, bool | int | float | str) and not (
            isinstance(v, str) and v.startswith(_JSON_PREFIX)
        ):
            out[key] = v
        else:
            out[key] = _JSON_PREFIX + json.dumps(v, default=str, allow_nan=False)
    return out


def _unflat_attrs(attrs: dict[str, Any], rename: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        key = (rename or {}).get(k, k)
        if isinstance(v, str) and v.startswith(_JSON_PREFIX):
            with contextlib.suppress(json.JSONDecodeError):
                v = json.loads(v[len(_JSON_PREFIX) :])
        if key == "states" and isinstance(v, list):
            v = tuple(v)
        out[key] = v
    return out


def _portable_nx(graph: CausalGraph, node_rename: dict[str, str] | None = None) -> nx.DiGraph:
    g = nx.DiGraph()
    for k, v in _flat_attrs(dict(graph.metadata)).items():
        g.graph[k] = v
    for n, a in graph.nx.nodes(data=True):
        g.add_node(n, **_flat_attrs(dict(a), node_rename))
    for u, v, a in graph.nx.edges(data=True):
        g.add_edge(u, v, **_flat_attrs(dict(a)))
    return g


def _from_portable(g: nx.Graph, node_rename: dict[str, str] | None = None) -> CausalGraph:
    if not g.is_directed():
        raise FormatError(
            "The graph in the file is undirected; a causal graph needs directed edges."
        )
    if g.is_multigraph():
        g = nx.DiGraph(g)
    out = nx.DiGraph()
    for n, a in g.nodes(data=True):
        attrs = _unflat_attrs(dict(a), node_rename)
        attrs.pop("id", None)
        attrs.setdefault("label", str(n))
        out.add_node(str(n), **attrs)
    for u, v, a in g.edges(data=True):
        attrs = _unflat_attrs(dict(a))
        attrs.pop("id", None)
        attrs.setdefault("provenance", "imported")
        attrs.setdefault("endorsed", False)
        attrs.setdefault("evidence", {})
        attrs.setdefault("history", [])
        out.add_edge(str(u), str(v), **attrs)
    meta = _unflat_attrs(
        {k: v for k, v in g.graph.items() if k not in ("node_default", "edge_default")}
    )
    return CausalGraph(out, metadata=meta)


def _write_graphml(graph: CausalGraph, _cpds: Any) -> str:
    buf = io.BytesIO()
    nx.write_graphml(_portable_nx(graph), buf, encoding="utf-8", prettyprint=True)
    return buf.getvalue().decode("utf-8")


def _read_graphml(text: str) -> tuple[CausalGraph, Any]:
    return _from_portable(nx.parse_graphml(text, node_type=str)), None


# GML: networkx stores the node id in ``label``; our human label travels as ``name``.
def _write_gml(graph: CausalGraph, _cpds: Any) -> str:
    g = _portable_nx(graph, node_rename={"label": "name"})
    return "\n".join(nx.generate_gml(g)) + "\n"


def _read_gml(text: str) -> tuple[CausalGraph, Any]:
    g = nx.parse_gml(text, label="label")
    return _from_portable(g, node_rename={"name": "label"}), None


register_format(
    GraphFormat(
        "graphml", (".graphml",), _read_graphml, _write_graphml, "GraphML (yEd, Gephi, Cytoscape)"
    )
)
register_format(
    GraphFormat("gml", (".gml",), _read_gml, _write_gml, "GML (Graph Modelling Language)")
)
