"""Read and write causal graphs in the formats the field uses, through one registry.

Built-in formats (see ``docs/formats.md``): ``json`` (ours, lossless), ``bif`` and
``xmlbif`` (with probability tables, through :mod:`kg_editor.adapters.pgmpy`),
``dagitty`` (exposure/outcome roles kept), ``graphml``, ``gml``, ``dot`` and ``csv``
(edge list). A new format registers a :class:`GraphFormat` with
:func:`register_format`; the built-ins use the same hook.

Examples
--------
>>> from kg_editor.model.graph import CausalGraph
>>> g = CausalGraph.from_edges([("smoking", "cancer")], labels={"smoking": "Smoking"})
>>> text = write_graph(g, "dagitty")
>>> print(text.strip())
dag {
smoking [label="Smoking"]
cancer
smoking -> cancer
}
>>> read_graph(text, "dagitty") == g
True
>>> sorted(f.name for f in list_formats())
['bif', 'csv', 'dagitty', 'dot', 'gml', 'graphml', 'json', 'xmlbif']
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from kg_editor.errors import CycleError, FormatError, closest_names
from kg_editor.model.graph import CausalGraph

__all__ = [
    "DAGITTY_ROLES",
    "GraphFormat",
    "align_to_cohort",
    "check_against_cohort",
    "format_for_path",
    "get_format",
    "list_formats",
    "read_graph",
    "read_graph_with_model",
    "register_format",
    "write_graph",
]

logger = logging.getLogger(__name__)

Reader = Callable[[str], "tuple[CausalGraph, Any]"]
Writer = Callable[[CausalGraph, Any], str]


@dataclass(frozen=True)
class GraphFormat:
    """A named graph file format.

    Attributes
    ----------
    name : str
        Registry key (``--format`` value).
    extensions : tuple of str
        File suffixes that select it (``".bif"``), first one used for new files.
    reader : callable, optional
        ``text -> (CausalGraph, model or None)``; the model carries probability tables
        for formats that have them.
    writer : callable, optional
        ``(graph, cpds) -> text``; ``cpds`` is ``None``, a list of pgmpy CPDs, a pgmpy
        model or ``"uniform"``.
    description : str
    has_cpds : bool
        The format holds probability tables.
    """

    name: str
    extensions: tuple[str, ...]
    reader: Reader | None
    writer: Writer | None
    description: str = ""
    has_cpds: bool = False


_REGISTRY: dict[str, GraphFormat] = {}


def register_format(fmt: GraphFormat, *, replace: bool = False) -> GraphFormat:
    """Add a format to the registry (``replace=True`` to override a built-in)."""
    key = fmt.name.lower()
    if key in _REGISTRY and not replace:
        raise FormatError(f"A format named {fmt.name!r} is already registered.")
    _REGISTRY[key] = fmt
    return fmt


def list_formats() -> list[GraphFormat]:
    """Registered formats, in registration order."""
    return list(_REGISTRY.values())


def get_format(name: str) -> GraphFormat:
    """A format by name (case-insensitive); clear error naming the known ones."""
    fmt = _REGISTRY.get(str(name).lower().lstrip("."))
    if fmt is None:
        for f in _REGISTRY.values():
            if "." + str(name).lower().lstrip(".") in f.extensions:
                return f
        raise FormatError(
            f"Unknown graph format {name!r}; choose one of {', '.join(sorted(_REGISTRY))}."
        )
    return fmt


def format_for_path(path: str | Path) -> GraphFormat:
    """The format a file name's suffix selects (``.xml`` -> xmlbif, ``.gv`` -> dot ...)."""
    name = Path(path).name.lower()
    best: tuple[int, GraphFormat] | None = None
    for f in _REGISTRY.values():
        for ext in f.extensions:
            if name.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), f)
    if best is None:
        raise FormatError(
            f"Cannot tell the format of {Path(path).name} from its suffix; pass --format "
            f"({', '.join(sorted(_REGISTRY))})."
        )
    return best[1]


def _text_of(source: str | Path) -> tuple[str, Path | None]:
    if isinstance(source, Path):
        if not source.exists():
            raise FormatError(f"Graph file {source} does not exist.")
        return source.read_text(encoding="utf-8"), source
    text = str(source)
    if "\n" not in text and len(text) < 4096:
        p = Path(text).expanduser()
        if p.suffix and p.exists():
            return p.read_text(encoding="utf-8"), p
        if p.suffix and not text.lstrip().startswith(("{", "<", "dag", "digraph", "graph")):
            raise FormatError(f"Graph file {p} does not exist.")
    return text, None


def read_graph_with_model(source: str | Path, format: str | None = None) -> tuple[CausalGraph, Any]:
    """Read a graph from a path or from text; also return the pgmpy model (with CPDs)
    for formats that hold probability tables (``None`` otherwise)."""
    text, path = _text_of(source)
    if format is None:
        if path is None:
            raise FormatError("Give the format of graph text (for example format='dagitty').")
        fmt = format_for_path(path)
    else:
        fmt = get_format(format)
    if fmt.reader is None:
        raise FormatError(f"kg-editor can write {fmt.name} but not read it.")
    try:
        graph, model = fmt.reader(text)
    except FormatError:
        raise
    except CycleError as exc:
        raise FormatError(f"The graph in the file is not acyclic: {exc}") from exc
    except (nx.NetworkXError, ValueError, KeyError, SyntaxError) as exc:
        where = f" {path.name}" if path else ""
        raise FormatError(f"The{where} {fmt.name} file cannot be read: {exc}") from exc
    if len(graph) == 0:
        raise FormatError(f"The {fmt.name} text holds no variables.")
    return graph, model


def read_graph(source: str | Path, format: str | None = None, *, cohort: Any = None) -> CausalGraph:
    """Read a graph from a path or from text.

    Parameters
    ----------
    format : str, optional
        A registered name; by default taken from the file suffix.
    cohort : Cohort, optional
        When given, variables are matched to the cohort by code or label and any the
        cohort lacks raise :class:`FormatError` (see :func:`align_to_cohort`).
    """
    graph, _ = read_graph_with_model(source, format)
    return align_to_cohort(graph, cohort) if cohort is not None else graph


def write_graph(
    graph: CausalGraph, format: str, path: str | Path | None = None, *, cpds: Any = None
) -> str:
    """Write ``graph`` in ``format``; return the text (and write it to ``path`` if given).

    ``cpds`` (pgmpy CPDs or a fitted model, or ``"uniform"``) is needed by formats with
    probability tables (BIF, XMLBIF) and ignored by the others.
    """
    fmt = get_format(format)
    if fmt.writer is None:
        raise FormatError(f"kg-editor can read {fmt.name} but not write it.")
    text = fmt.writer(graph, cpds)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


# ---------------------------------------------------------------------------------
# Cohort checks
# ---------------------------------------------------------------------------------
def check_against_cohort(graph: CausalGraph, cohort: Any) -> None:
    """Raise :class:`FormatError` listing every graph variable the cohort lacks.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cohort = SimpleNamespace(codes=["asthma", "smoking"], labels={})
    >>> check_against_cohort(CausalGraph.from_edges([("smoking", "asthma")]), cohort)
    >>> check_against_cohort(CausalGraph.from_edges([("smokin", "copd")]), cohort)
    Traceback (most recent call last):
    ...
    kg_editor.errors.FormatError: The graph names 2 variables the cohort lacks: 'smokin' (did you mean 'smoking'?), 'copd'. Rename them in the file or rebuild the cohort with them.
    """
    codes = set(cohort.codes)
    missing = [n for n in graph.nodes if n not in codes]
    if missing:
        raise FormatError(
            _missing_message(missing, [*cohort.codes, *getattr(cohort, "labels", {}).values()])
        )
    return None


def _missing_message(missing: list[str], known: Iterable[str]) -> str:
    known = list(known)
    parts = []
    for n in missing:
        sugg = closest_names(n, known, n=1)
        parts.append(f"{n!r} (did you mean {sugg[0]!r}?)" if sugg else repr(n))
    noun = "variable" if len(missing) == 1 else "variables"
    return (
        f"The graph names {len(missing)} {noun} the cohort lacks: {', '.join(parts)}. "
        "Rename them in the file or rebuild the cohort with them."
    )


def align_to_cohort(graph: CausalGraph, cohort: Any) -> CausalGraph:
    """Map graph variables to cohort codes (by code, else by case-insensitive label), add
    the cohort's labels/domains/states, and fail listing every variable not found.

    Raises
    ------
    FormatError
        One or more variables are not in the cohort; all of them are listed.
    """
    codes = list(cohort.codes)
    by_label = {str(lbl).lower(): c for c, lbl in getattr(cohort, "labels", {}).items()}
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for n in graph.nodes:
        if n in cohort.codes:
            mapping[n] = n
        else:
            lbl = graph.label(n).lower()
            hit = by_label.get(str(n).lower()) or by_label.get(lbl)
            if hit is None:
                missing.append(n)
            else:
                mapping[n] = hit
    if missing:
        raise FormatError(_missing_message(missing, [*codes, *by_label.values()]))
    if len(set(mapping.values())) < len(mapping):
        raise FormatError(
            "Two variables of the graph map to the same cohort variable; rename one of them."
        )
    g = nx.relabel_nodes(graph.to_networkx(), mapping, copy=True)
    variables = getattr(cohort, "variables", {})
    for n in g.nodes:
        var = variables.get(n)
        if var is not None:
            g.nodes[n]["label"] = var.label
            g.nodes[n]["domain"] = var.domain
            g.nodes[n]["states"] = tuple(var.states)
    return CausalGraph(g, metadata=graph.metadata)


# ---------------------------------------------------------------------------------
# JSON (ours)
# ---------------------------------------------------------------------------------
def _read_json(text: str) -> tuple[CausalGraph, Any]:
    return CausalGraph.from_json(text), None


def _write_json(graph: CausalGraph, _cpds: Any) -> str:
    return graph.to_json() + "\n"


# ---------------------------------------------------------------------------------
# BIF / XMLBIF (pgmpy adapter)
# ---------------------------------------------------------------------------------
def _read_bif(text: str) -> tuple[CausalGraph, Any]:
    from kg_editor.adapters.pgmpy import read_bif

    return read_bif(text)


def _write_bif(graph: CausalGraph, cpds: Any) -> str:
    from kg_editor.adapters.pgmpy import write_bif

    return write_bif(graph, cpds)


def _read_xmlbif(text: str) -> tuple[CausalGraph, Any]:
    from kg_editor.adapters.pgmpy import read_xmlbif

    return read_xmlbif(text)


def _write_xmlbif(graph: CausalGraph, cpds: Any) -> str:
    from kg_editor.adapters.pgmpy import write_xmlbif

    return write_xmlbif(graph, cpds)


# ---------------------------------------------------------------------------------
# DAGitty
# ---------------------------------------------------------------------------------
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
    lines = ["dag {"]
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
        lines.append(f"{_dag_quote(u)} -> {_dag_quote(v)}")
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
        if toks[i] != "dag":
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
            if arrow in ("<->", "--"):
                kind = "bidirected (a hidden common cause)" if arrow == "<->" else "undirected"
                raise FormatError(
                    f"The DAGitty edge {left[0]} {arrow} {right[0]} is {kind}; kg-editor graphs hold "
                    "directed edges only. Orient it or model the common cause as a variable."
                )
            for a in left:
                for b in right:
                    u, v = (a, b) if arrow == "->" else (b, a)
                    g.add_edge(u, v, provenance="imported", endorsed=False, evidence={}, history=[])
            if j < len(toks) and toks[j] == "[" and len(right) == 1:
                j = parse_attrs(j, right[0])
            left = right
    meta: dict[str, Any] = {}
    for n, a in g.nodes(data=True):
        if a.get("role") == "outcome":
            meta.setdefault("outcome", n)
        if a.get("role") == "exposure":
            meta.setdefault("exposure", n)
    return CausalGraph(g, metadata=meta), None


# ---------------------------------------------------------------------------------
# GraphML / GML: scalar attributes as they are, the rest as JSON text
# ---------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------
# DOT (Graphviz)
# ---------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------
# CSV edge list
# ---------------------------------------------------------------------------------
_CSV_COLUMNS = (
    "source",
    "target",
    "source_label",
    "target_label",
    "provenance",
    "endorsed",
    "orientation",
    "evidence",
)
_SOURCE_ALIASES = ("source", "from", "cause", "parent", "src")
_TARGET_ALIASES = ("target", "to", "effect", "child", "dst")


def _write_csv(graph: CausalGraph, _cpds: Any) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_COLUMNS)
    for u, v in graph.edges:
        a = graph.edge_attrs(u, v)
        w.writerow(
            [
                u,
                v,
                graph.label(u),
                graph.label(v),
                a.get("provenance", ""),
                str(bool(a.get("endorsed", False))).lower(),
                a.get("orientation", "") or "",
                json.dumps(a.get("evidence") or {}, default=str) if a.get("evidence") else "",
            ]
        )
    connected = {n for e in graph.edges for n in e}
    for n in graph.nodes:
        if n not in connected:  # isolated variables: a row with an empty target
            w.writerow([n, "", graph.label(n), "", "", "", "", ""])
    return buf.getvalue()


def _read_csv(text: str) -> tuple[CausalGraph, Any]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows and not text.strip():
        raise FormatError("The CSV edge list is empty.")
    header = {h.strip().lower(): h for h in (csv.DictReader(io.StringIO(text)).fieldnames or [])}
    s_col = next((header[a] for a in _SOURCE_ALIASES if a in header), None)
    t_col = next((header[a] for a in _TARGET_ALIASES if a in header), None)
    if s_col is None or t_col is None:
        raise FormatError(
            f"The CSV edge list needs a source and a target column (found: {', '.join(header.values())})."
        )
    g = nx.DiGraph()
    for i, r in enumerate(rows, start=2):
        u = (r.get(s_col) or "").strip()
        v = (r.get(t_col) or "").strip()
        if not u:
            raise FormatError(f"CSV edge list row {i}: the source is empty.")
        if u not in g:
            g.add_node(u, label=(r.get("source_label") or u).strip() or u)
        if not v:
            continue
        if v not in g:
            g.add_node(v, label=(r.get("target_label") or v).strip() or v)
        ev: dict[str, Any] = {}
        if r.get("evidence"):
            try:
                ev = json.loads(r["evidence"])
            except json.JSONDecodeError as exc:
                raise FormatError(
                    f"CSV edge list row {i}: the evidence column is not JSON ({exc})."
                ) from exc
        attrs: dict[str, Any] = {
            "provenance": (r.get("provenance") or "imported").strip() or "imported",
            "endorsed": (r.get("endorsed") or "").strip().lower() in ("true", "1", "yes"),
            "evidence": ev,
            "history": [],
        }
        if r.get("orientation"):
            attrs["orientation"] = r["orientation"]
        if g.has_edge(u, v):
            raise FormatError(f"CSV edge list row {i}: the edge {u} -> {v} is listed twice.")
        g.add_edge(u, v, **attrs)
    return CausalGraph(g), None


# ---------------------------------------------------------------------------------
# Built-in registrations
# ---------------------------------------------------------------------------------
for _fmt in (
    GraphFormat(
        "json",
        (".json", ".kg.json"),
        _read_json,
        _write_json,
        "kg-editor graph format v1 (lossless)",
    ),
    GraphFormat(
        "bif", (".bif",), _read_bif, _write_bif, "Bayesian Interchange Format 0.15 with CPDs", True
    ),
    GraphFormat(
        "xmlbif", (".xmlbif", ".xml"), _read_xmlbif, _write_xmlbif, "XMLBIF 0.3 with CPDs", True
    ),
    GraphFormat(
        "dagitty", (".dagitty", ".dag"), _read_dagitty, _write_dagitty, "DAGitty model code"
    ),
    GraphFormat(
        "graphml", (".graphml",), _read_graphml, _write_graphml, "GraphML (yEd, Gephi, Cytoscape)"
    ),
    GraphFormat("gml", (".gml",), _read_gml, _write_gml, "GML (Graph Modelling Language)"),
    GraphFormat("dot", (".dot", ".gv"), _read_dot, _write_dot, "Graphviz DOT"),
    GraphFormat("csv", (".csv",), _read_csv, _write_csv, "CSV edge list"),
):
    register_format(_fmt)
