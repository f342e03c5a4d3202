"""DAGitty model code: nodes with labels and roles (exposure, outcome, adjusted, latent, selected), directed edges.

Unmeasured common causes are written ``a <-> b``; reading ``<->`` gives one, and a node
with the role ``latent`` (and no causes of its own) gives one for each pair of its
children (the node itself is dropped: nothing measures it).

Unresolved edges (direction undecided, see :class:`kg_editor.model.graph.ResolveEdge`) are
written as ``u -- v`` in a ``pdag { ... }`` block, ``u`` first being the direction picked
for fitting; reading ``--`` (in ``dag`` or ``pdag``) gives an unresolved edge pointing
the written way (the other way if the written way would close a cycle).
"""

from __future__ import annotations

import re
from typing import Any

import networkx as nx

from kg_editor.errors import FormatError
from kg_editor.formats.registry import GraphFormat, register_format
from kg_editor.model.graph import CausalGraph

__all__ = [
    "DAGITTY_ROLES",
]

#: DAGitty node roles kept in the node attribute ``role``.
DAGITTY_ROLES = ("exposure", "outcome", "adjusted", "latent", "selected")
_DAG_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_DAG_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<arrow><->|->|<-|--)|(?P<punct>[\[\]{},=;])"""
    r"""|(?P<word>[^\s\[\]{},=;"<>\-]+(?:-(?![->])[^\s\[\]{},=;"<>\-]+)*))"""
)


def _dag_quote(s: str) -> str:
    return s if _DAG_ID.match(s) else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dag_unquote(tok: str) -> str:
    if tok.startswith('"'):
        return re.sub(r"\\(.)", r"\1", tok[1:-1])
    return tok


def _node_role(graph: CausalGraph, n: str) -> str | None:
    role = graph.node_attrs(n).get("role")
    if role:
        return str(role)
    meta = graph.metadata
    if meta.get("target") == n or meta.get("outcome") == n:
        return "outcome"
    if meta.get("exposure") == n:
        return "exposure"
    return None


def _write_dagitty(graph: CausalGraph, _cpds: Any) -> str:
    unresolved = set(graph.unresolved_edges)
    lines = ["pdag {" if unresolved else "dag {"]
    for n in graph.nodes:
        attrs = []
        role = _node_role(graph, n)
        if role:
            attrs.append(role)
        lab = graph.label(n)
        if lab != n:
            attrs.append(f"label={_dag_quote_always(lab)}")
        pos = graph.node_attrs(n).get("pos")
        if isinstance(pos, list | tuple) and len(pos) == 2:
            attrs.append(f'pos="{float(pos[0]):g},{float(pos[1]):g}"')
        lines.append(_dag_quote(n) + (f" [{','.join(attrs)}]" if attrs else ""))
    for u, v in graph.edges:
        arrow = "--" if (u, v) in unresolved else "->"
        lines.append(f"{_dag_quote(u)} {arrow} {_dag_quote(v)}")
    for a, b in graph.latent_pairs:
        lines.append(f"{_dag_quote(a)} <-> {_dag_quote(b)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dag_quote_always(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tokenize_dagitty(text: str) -> list[str]:
    text = re.sub(r"//[^\n]*", "", text)
    toks: list[str] = []
    pos = 0
    while pos < len(text):
        m = _DAG_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise FormatError(f"DAGitty text cannot be read near {text[pos : pos + 30]!r}.")
        tok = m.group("str") or m.group("arrow") or m.group("punct") or m.group("word")
        if tok is None:
            break
        # keep newlines as statement separators
        if "\n" in text[pos : m.start(m.lastgroup or 0)]:
            toks.append(";")
        toks.append(tok)
        pos = m.end()
    return toks


def _read_dagitty(text: str) -> tuple[CausalGraph, Any]:
    toks = _tokenize_dagitty(text)
    i = 0
    if i < len(toks) and toks[i] in ("dag", "pdag", "graph"):
        if toks[i] not in ("dag", "pdag"):
            raise FormatError(
                f"DAGitty {toks[i]!r} graphs are not DAGs; kg-editor reads 'dag {{ ... }}' only."
            )
        i += 1
    while i < len(toks) and toks[i] == ";":
        i += 1
    if i < len(toks) and toks[i] == "{":
        i += 1
        end = len(toks) - 1
        while end > i and toks[end] == ";":
            end -= 1
        if toks[end] != "}":
            raise FormatError("DAGitty text opens '{' but does not close it.")
        toks = toks[i:end]
    else:
        toks = toks[i:]
    g = nx.DiGraph()
    undirected: list[tuple[str, str]] = []
    latent: set[tuple[str, ...]] = set()
    j = 0

    def add_node(name: str) -> None:
        if name not in g:
            g.add_node(name, label=name)

    def parse_attrs(k: int, node: str) -> int:
        # toks[k] == "["
        k += 1
        while k < len(toks) and toks[k] != "]":
            key = toks[k]
            if key in (",", ";"):
                k += 1
                continue
            if k + 1 < len(toks) and toks[k + 1] == "=":
                val = _dag_unquote(toks[k + 2])
                if key == "label":
                    g.nodes[node]["label"] = val
                elif key == "pos":
                    try:
                        x, y = (float(p) for p in val.split(","))
                        g.nodes[node]["pos"] = [x, y]
                    except ValueError:
                        pass
                else:
                    g.nodes[node][key] = val
                k += 3
            else:
                if key in DAGITTY_ROLES:
                    g.nodes[node]["role"] = key
                else:
                    g.nodes[node][key] = True
                k += 1
        return k + 1

    def parse_group(k: int) -> tuple[list[str], int]:
        names = []
        if toks[k] == "{":
            k += 1
            while toks[k] != "}":
                if toks[k] not in (",", ";"):
                    names.append(_dag_unquote(toks[k]))
                k += 1
            return names, k + 1
        return [_dag_unquote(toks[k])], k + 1

    while j < len(toks):
        if toks[j] in (";", ","):
            j += 1
            continue
        left, j = parse_group(j)
        for n in left:
            add_node(n)
        if j < len(toks) and toks[j] == "[" and len(left) == 1:
            j = parse_attrs(j, left[0])
        while j < len(toks) and toks[j] in ("->", "<-", "<->", "--"):
            arrow = toks[j]
            right, j = parse_group(j + 1)
            for n in right:
                add_node(n)
            for a in left:
                for b in right:
                    if arrow == "<->":
                        if a == b:
                            raise FormatError(
                                f"The DAGitty edge {a} <-> {a} links a node to itself."
                            )
                        latent.add(tuple(sorted((a, b))))
                        continue
                    if arrow == "--":
                        undirected.append((a, b))
                        continue
                    u, v = (a, b) if arrow == "->" else (b, a)
                    g.add_edge(u, v, provenance="imported", endorsed=False, evidence={}, history=[])
            if j < len(toks) and toks[j] == "[" and len(right) == 1:
                j = parse_attrs(j, right[0])
            left = right
    for a, b in undirected:
        if g.has_edge(a, b) or g.has_edge(b, a):
            continue
        u, v = (b, a) if nx.has_path(g, b, a) else (a, b)
        g.add_edge(
            u,
            v,
            provenance="imported",
            endorsed=False,
            evidence={},
            history=[],
            unresolved=True,
            orientation="unresolved in the imported file; this direction was picked for fitting",
        )
    # a node with DAGitty's role "latent" is unmeasured: kg-editor keeps what it implies,
    # an unmeasured common cause of each pair of its children
    for n in [n for n, a in g.nodes(data=True) if a.get("role") == "latent"]:
        if any(True for _ in g.predecessors(n)):
            raise FormatError(
                f"The latent node {n} has causes of its own; kg-editor represents an unmeasured "
                "cause only as a common cause of measured variables (A <-> B)."
            )
        kids = sorted(g.successors(n))
        latent |= {(a, b) for i, a in enumerate(kids) for b in kids[i + 1 :]}
        g.remove_node(n)
    if latent:
        g.graph["latent"] = [list(p) for p in sorted(latent)]
    meta: dict[str, Any] = {}
    for n, a in g.nodes(data=True):
        if a.get("role") == "outcome":
            meta.setdefault("outcome", n)
        if a.get("role") == "exposure":
            meta.setdefault("exposure", n)
    return CausalGraph(g, metadata=meta), None


register_format(
    GraphFormat(
        "dagitty", (".dagitty", ".dag"), _read_dagitty, _write_dagitty, "DAGitty model code"
    )
)
