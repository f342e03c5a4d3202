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

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from kg_editor.errors import CycleError, FormatError, closest_names
from kg_editor.model.graph import CausalGraph

__all__ = [
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
