"""Graphviz DOT: provenance and orientation drawn as edge styles, attributes kept for reading back."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from typing import Any

import networkx as nx

from kg_editor.errors import FormatError
from kg_editor.formats.registry import GraphFormat, register_format
from kg_editor.model.graph import CausalGraph

__all__: list[str] = []

_DOT_ATTRS_NODE = ("label", "domain", "tier", "role")
_DOT_ATTRS_EDGE = ("provenance", "endorsed", "orientation")
_DOT_STYLE = {
    "clinician": "bold",
    "required": "bold",
    "suggested": "dashed",
    "distilled": "solid",
    "imported": "solid",
}


def _dot_quote(s: Any) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _write_dot(graph: CausalGraph, _cpds: Any) -> str:
    lines = ["digraph kg_editor {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for n in graph.nodes:
        a = graph.node_attrs(n)
        attrs = [f"label={_dot_quote(graph.label(n))}"]
        attrs += [f"{k}={_dot_quote(a[k])}" for k in _DOT_ATTRS_NODE[1:] if a.get(k) is not None]
        if a.get("states"):
            attrs.append(f"states={_dot_quote('|'.join(map(str, a['states'])))}")
        lines.append(f"  {_dot_quote(n)} [{', '.join(attrs)}];")
    for u, v in graph.edges:
        a = graph.edge_attrs(u, v)
        attrs = [f"{k}={_dot_quote(a[k])}" for k in _DOT_ATTRS_EDGE if a.get(k) is not None]
        attrs.append(f"style={_DOT_STYLE.get(str(a.get('provenance')), 'solid')}")
        if a.get("evidence"):
            attrs.append(f"evidence={_dot_quote(json.dumps(a['evidence'], default=str))}")
        lines.append(f"  {_dot_quote(u)} -> {_dot_quote(v)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_DOT_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<arrow>->|--)|(?P<punct>[\[\]{},=;:])|(?P<word>[A-Za-z0-9_.\-]+(?<!-)))""",
    re.S,
)


def _read_dot(text: str) -> tuple[CausalGraph, Any]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^\s*(//|#)[^\n]*", "", text, flags=re.M)
    toks: list[str] = []
    pos = 0
    while pos < len(text):
        m = _DOT_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if not text[pos:].strip():
                break
            raise FormatError(f"DOT text cannot be read near {text[pos : pos + 30]!r}.")
        toks.append(m.group(0).strip())
        pos = m.end()

    def unq(t: str) -> str:
        if t.startswith('"'):
            return re.sub(r"\\(.)", lambda mm: "\n" if mm.group(1) == "n" else mm.group(1), t[1:-1])
        return t

    i = 0
    while i < len(toks) and toks[i].lower() in ("strict", "digraph", "graph"):
        if toks[i].lower() == "graph":
            raise FormatError(
                "This DOT file holds an undirected graph; a causal graph needs 'digraph'."
            )
        i += 1
    if i < len(toks) and toks[i] != "{":
        i += 1  # graph name
    if i >= len(toks) or toks[i] != "{":
        raise FormatError("DOT text must look like 'digraph NAME { ... }'.")
    body = toks[i + 1 : len(toks) - 1 if toks[-1] == "}" else len(toks)]
    g = nx.DiGraph()
    j = 0

    def attrs_at(k: int) -> tuple[dict[str, str], int]:
        out: dict[str, str] = {}
        while k < len(body) and body[k] == "[":
            k += 1
            while k < len(body) and body[k] != "]":
                if body[k] in (",", ";"):
                    k += 1
                    continue
                key = unq(body[k])
                if k + 2 < len(body) and body[k + 1] == "=":
                    out[key] = unq(body[k + 2])
                    k += 3
                else:
                    k += 1
            k += 1
        return out, k

    while j < len(body):
        t = body[j]
        if t in (";", ","):
            j += 1
            continue
        if t in ("node", "edge", "graph") and j + 1 < len(body) and body[j + 1] == "[":
            _, j = attrs_at(j + 1)
            continue
        if j + 1 < len(body) and body[j + 1] == "=":  # graph attribute a=b
            j += 3
            continue
        if t in ("{", "}") or t.lower() == "subgraph":
            j += 1
            continue
        chain = [unq(t)]
        j += 1
        while j < len(body) and body[j] in ("->", "--"):
            if body[j] == "--":
                raise FormatError("DOT edge '--' is undirected; a causal graph needs '->'.")
            chain.append(unq(body[j + 1]))
            j += 2
        attrs, j = attrs_at(j)
        if len(chain) == 1:
            n = chain[0]
            node = {k: v for k, v in attrs.items() if k in _DOT_ATTRS_NODE}
            if "states" in attrs:
                node["states"] = tuple(attrs["states"].split("|"))  # type: ignore[assignment]
            if "tier" in node:
                with contextlib.suppress(ValueError):
                    node["tier"] = int(node["tier"])  # type: ignore[assignment]
            if n in g:
                g.nodes[n].update(node)
            else:
                g.add_node(n, **node)
        else:
            for u, v in itertools.pairwise(chain):
                for x in (u, v):
                    if x not in g:
                        g.add_node(x)
                ev: dict[str, Any] = {}
                if "evidence" in attrs:
                    try:
                        ev = json.loads(attrs["evidence"])
                    except json.JSONDecodeError:
                        ev = {}
                g.add_edge(
                    u,
                    v,
                    provenance=attrs.get("provenance", "imported"),
                    endorsed=attrs.get("endorsed", "False") == "True",
                    evidence=ev,
                    history=[],
                    **({"orientation": attrs["orientation"]} if "orientation" in attrs else {}),
                )
    for n in g.nodes:
        g.nodes[n].setdefault("label", n)
    return CausalGraph(g), None


register_format(GraphFormat("dot", (".dot", ".gv"), _read_dot, _write_dot, "Graphviz DOT"))
