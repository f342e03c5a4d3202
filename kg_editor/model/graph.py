"""The causal knowledge graph, expert constraints, and the edits physicians make to it.

A :class:`CausalGraph` is immutable: :func:`apply_edit` returns a new graph and never
changes its input. Node ids are stable variable codes; human labels live in node
attributes. Every edge carries its provenance and evidence.

Examples
--------
>>> g = CausalGraph.from_edges([("smoking", "cancer"), ("cancer", "xray")])
>>> g2 = apply_edit(g, AddEdge("smoking", "xray", author="dr_a", rationale="direct effect"))
>>> sorted(g2.edges)
[('cancer', 'xray'), ('smoking', 'cancer'), ('smoking', 'xray')]
>>> g.has_edge("smoking", "xray")  # the input is unchanged
False
>>> apply_edit(g, AddEdge("xray", "smoking"))
Traceback (most recent call last):
...
kg_editor.errors.CycleError: Adding xray -> smoking would create the cycle xray -> smoking -> cancer -> xray.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import networkx as nx
from networkx import DiGraph

from kg_editor.errors import ConstraintError, CycleError, EdgeError, FormatError, unknown_variable
from kg_editor.jsonsafe import json_safe

__all__ = [
    "GRAPH_FORMAT",
    "GRAPH_FORMAT_VERSION",
    "LATENT_PREFIX",
    "PROVENANCES",
    "AddEdge",
    "AddLatent",
    "CausalGraph",
    "Constraints",
    "Edit",
    "EndorseEdge",
    "RemoveEdge",
    "RemoveLatent",
    "ResolveEdge",
    "ReverseEdge",
    "apply_edit",
    "changed_families",
    "edit_from_dict",
    "edit_to_dict",
    "inverse_edit",
    "is_unresolved",
    "latent_node",
]

GRAPH_FORMAT = "kg-editor-graph"
GRAPH_FORMAT_VERSION = 1

#: Id prefix of the unobserved node that stands for an unmeasured common cause.
LATENT_PREFIX = "latent:"


def latent_node(a: str, b: str) -> str:
    """The id of the unmeasured common cause of ``a`` and ``b`` (order-free).

    Examples
    --------
    >>> latent_node("b", "a")
    'latent:a|b'
    """
    x, y = sorted((a, b))
    return f"{LATENT_PREFIX}{x}|{y}"


#: Where an edge came from. ``distilled``: the statistics; ``clinician``: added or
#: re-oriented by a person; ``required``: an expert constraint; ``suggested``: a ghost
#: edge proposed but not accepted; ``imported``: read from a file.
PROVENANCES = ("distilled", "clinician", "required", "suggested", "imported")


def _now() -> datetime:
    return datetime.now(UTC)


class CausalGraph:
    """An immutable directed acyclic graph of clinical variables with evidence on edges.

    Parameters
    ----------
    graph : networkx.DiGraph
        Node ids are variable codes. Node attributes: ``label``, ``domain``, ``tier``,
        ``prevalence``, ``states`` (all optional). Edge attributes: ``provenance`` (one of
        :data:`PROVENANCES`), ``endorsed`` (bool), ``evidence`` (dict), ``orientation``
        (why the edge points this way), ``history`` (list of edit dicts), ``unresolved``
        (bool: the data cannot tell the direction; the stored direction is only the one
        picked for fitting, see :class:`ResolveEdge`).
    metadata : mapping, optional
        Free-form provenance of the whole graph (source, method, settings).

    Examples
    --------
    >>> g = CausalGraph.from_edges([("a", "b")], labels={"a": "Asthma"})
    >>> g.label("a"), g.label("b"), g.parents("b")
    ('Asthma', 'b', ('a',))
    """

    __slots__ = ("_g", "metadata")

    def __init__(self, graph: nx.DiGraph, metadata: Mapping[str, Any] | None = None):
        if not nx.is_directed_acyclic_graph(graph):
            cyc = [u for u, _ in nx.find_cycle(graph)]
            raise CycleError(
                "The graph has the cycle "
                + " -> ".join([*cyc, cyc[0]])
                + "; a causal graph must be acyclic.",
                cycle=[*cyc, cyc[0]],
            )
        self._g = graph
        self.metadata: dict[str, Any] = dict(metadata or {})

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[str, str]],
        nodes: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        provenance: str = "imported",
    ) -> CausalGraph:
        """Build a graph from ``(source, target)`` pairs (and extra isolated ``nodes``)."""
        g = nx.DiGraph()
        for n in nodes:
            g.add_node(n)
        for u, v in edges:
            g.add_edge(u, v, provenance=provenance, endorsed=False, evidence={}, history=[])
        for n in g.nodes:
            g.nodes[n].setdefault("label", (labels or {}).get(n, n))
        return cls(g)

    # -- read access --------------------------------------------------------------
    @property
    def nx(self) -> DiGraph:
        """A read-only view of the underlying networkx graph."""
        return self._g.copy(as_view=True)

    def to_networkx(self) -> DiGraph:
        """A deep copy of the underlying networkx graph, free to mutate."""
        return copy.deepcopy(self._g)

    @property
    def nodes(self) -> list[str]:
        return list(self._g.nodes)

    @property
    def edges(self) -> list[tuple[str, str]]:
        return list(self._g.edges)

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def __contains__(self, node: object) -> bool:
        return node in self._g

    def __iter__(self) -> Iterator[str]:
        return iter(self._g.nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalGraph):
            return NotImplemented
        return (
            set(self._g.nodes) == set(other._g.nodes)
            and set(self._g.edges) == set(other._g.edges)
            and self.latent_pairs == other.latent_pairs
        )

    def __hash__(self) -> int:
        return hash((frozenset(self._g.nodes), frozenset(self._g.edges), tuple(self.latent_pairs)))

    # -- unmeasured common causes (bidirected edges, A <-> B) -------------------------
    @property
    def latent_pairs(self) -> list[tuple[str, str]]:
        """Pairs of variables that share an unmeasured common cause (``A <-> B``), each
        sorted, in sorted order.

        A latent cause is no variable of the fitted model (nothing measures it); it is
        an unobserved parent of both in :meth:`causal_nx`, the graph that d-separation,
        implied independencies, active trails and adjustment sets are read from.

        Examples
        --------
        >>> g = apply_edit(CausalGraph.from_edges([("a", "b"), ("b", "c")]), AddLatent("c", "a"))
        >>> g.latent_pairs, g.edges
        ([('a', 'c')], [('a', 'b'), ('b', 'c')])
        """
        return sorted((str(a), str(b)) for a, b in self._g.graph.get("latent", ()))

    def causal_nx(self) -> DiGraph:
        """The DAG with one unobserved node per latent pair (id :func:`latent_node`,
        attribute ``latent=True``, a parent of both): the graph for d-separation,
        implied independencies, trails and adjustment sets. The fitted model keeps the
        observed variables only."""
        g = nx.DiGraph(self._g)
        for a, b in self.latent_pairs:
            g.add_node(
                latent_node(a, b),
                latent=True,
                label=f"unmeasured cause of {self.label(a)} and {self.label(b)}",
            )
            g.add_edge(latent_node(a, b), a)
            g.add_edge(latent_node(a, b), b)
        return g

    def __repr__(self) -> str:
        return f"CausalGraph(nodes={self._g.number_of_nodes()}, edges={self._g.number_of_edges()})"

    def has_edge(self, source: str, target: str) -> bool:
        return bool(self._g.has_edge(source, target))

    def parents(self, node: str) -> tuple[str, ...]:
        """Parents of ``node`` in a deterministic (sorted) order."""
        self._check_node(node)
        return tuple(sorted(self._g.predecessors(node)))

    def children(self, node: str) -> tuple[str, ...]:
        self._check_node(node)
        return tuple(sorted(self._g.successors(node)))

    @property
    def unresolved_edges(self) -> list[tuple[str, str]]:
        """Edges whose direction the data could not decide (stored direction = the one
        picked for fitting), in a deterministic order.

        Examples
        --------
        >>> g = CausalGraph.from_edges([("a", "b")]).with_unresolved([("a", "b")])
        >>> g.unresolved_edges
        [('a', 'b')]
        """
        return sorted((u, v) for u, v, a in self._g.edges(data=True) if a.get("unresolved"))

    def with_unresolved(self, edges: Iterable[tuple[str, str]]) -> CausalGraph:
        """A copy with ``edges`` marked unresolved (their direction undecided)."""
        g = self._copy_graph()
        for u, v in edges:
            if not g.has_edge(u, v):
                raise EdgeError(f"There is no edge {self.label(u)} -> {self.label(v)}.")
            g.edges[u, v]["unresolved"] = True
        return CausalGraph(g, metadata=self.metadata)

    def markov_blanket(self, node: str) -> set[str]:
        """Parents, children and the children's other parents of ``node``."""
        self._check_node(node)
        mb = set(self._g.predecessors(node)) | set(self._g.successors(node))
        for c in self._g.successors(node):
            mb |= set(self._g.predecessors(c))
        mb.discard(node)
        return mb

    def node_attrs(self, node: str) -> dict[str, Any]:
        self._check_node(node)
        return dict(self._g.nodes[node])

    def edge_attrs(self, source: str, target: str) -> dict[str, Any]:
        if not self._g.has_edge(source, target):
            raise EdgeError(f"There is no edge {self.label(source)} -> {self.label(target)}.")
        return dict(self._g.edges[source, target])

    def label(self, node: str) -> str:
        """Human label of ``node`` (its code when no label was given)."""
        if node in self._g:
            return str(self._g.nodes[node].get("label") or node)
        return str(node)

    def describe_path(self, path: Sequence[str]) -> str:
        """``"A -> B -> C"`` using labels."""
        return " -> ".join(self.label(n) for n in path)

    def _check_node(self, node: str) -> None:
        if node not in self._g:
            labels = {self.label(n): n for n in self._g.nodes}
            raise unknown_variable(str(node), [*self._g.nodes, *labels])

    def resolve(self, name: str) -> str:
        """Return the node id for a code or a label (case-insensitive label match)."""
        if name in self._g:
            return name
        low = name.lower()
        for n in self._g.nodes:
            if self.label(n).lower() == low:
                return str(n)
        self._check_node(name)
        return name  # pragma: no cover - _check_node raised

    # -- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The documented, versioned JSON form (see ``docs/formats.md``)."""
        return {
            "format": GRAPH_FORMAT,
            "version": GRAPH_FORMAT_VERSION,
            "metadata": json_safe(self.metadata),
            "nodes": [{"id": n, **json_safe(dict(a))} for n, a in self._g.nodes(data=True)],
            "edges": [
                {"source": u, "target": v, **json_safe(dict(a))}
                for u, v, a in self._g.edges(data=True)
            ],
            **({"latent": [list(p) for p in self.latent_pairs]} if self.latent_pairs else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CausalGraph:
        if data.get("format") != GRAPH_FORMAT:
            raise FormatError(
                f"This is not a kg-editor graph (format is {data.get('format')!r}, expected {GRAPH_FORMAT!r})."
            )
        if int(data.get("version", 0)) > GRAPH_FORMAT_VERSION:
            raise FormatError(
                f"This graph file has format version {data.get('version')}; this kg-editor reads up to "
                f"{GRAPH_FORMAT_VERSION}. Upgrade kg-editor to open it."
            )
        g = nx.DiGraph()
        for nd in data.get("nodes", []):
            attrs = dict(nd)
            nid = attrs.pop("id")
            if "states" in attrs and attrs["states"] is not None:
                attrs["states"] = tuple(attrs["states"])
            g.add_node(nid, **attrs)
        for ed in data.get("edges", []):
            attrs = dict(ed)
            u, v = attrs.pop("source"), attrs.pop("target")
            for end in (u, v):
                if end not in g:
                    raise FormatError(
                        f"Edge {u} -> {v} names {end!r}, which is not among the graph's nodes."
                    )
            attrs.setdefault("provenance", "imported")
            attrs.setdefault("endorsed", False)
            attrs.setdefault("evidence", {})
            attrs.setdefault("history", [])
            g.add_edge(u, v, **attrs)
        latent = []
        for pair in data.get("latent") or []:
            if len(pair) != 2 or any(end not in g for end in pair) or pair[0] == pair[1]:
                raise FormatError(
                    f"The latent pair {pair!r} must name two different nodes of the graph."
                )
            latent.append(sorted(pair))
        if latent:
            g.graph["latent"] = latent
        return cls(g, metadata=data.get("metadata") or {})

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> CausalGraph:
        """Read from a path or a JSON string."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            p = Path(source)
            if not p.exists():
                raise FormatError(f"Graph file {p} does not exist.")
            text = p.read_text(encoding="utf-8")
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise FormatError(f"The graph file is not valid JSON: {exc}") from exc

    # -- private mutation helpers (used by apply_edit on a copy) ---------------------
    def _copy_graph(self) -> DiGraph:
        g = nx.DiGraph()
        if self._g.graph.get("latent"):
            g.graph["latent"] = [list(p) for p in self._g.graph["latent"]]
        g.add_nodes_from((n, dict(a)) for n, a in self._g.nodes(data=True))
        g.add_edges_from(
            (u, v, {**a, "history": list(a.get("history", []))})
            for u, v, a in self._g.edges(data=True)
        )
        return g


def is_unresolved(attrs: Mapping[str, Any]) -> bool:
    """True when an edge's attributes mark its direction as unresolved."""
    return bool(attrs.get("unresolved", False))


# ---------------------------------------------------------------------------------
# Constraints
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Constraints:
    """Expert knowledge the graph must honour.

    Parameters
    ----------
    required, forbidden : frozenset of (source, target)
        Edges that must be present / must never be present.
    tiers : mapping node -> int
        Tier of each node (0 = earliest, e.g. demographics). An edge may not point from a
        later tier to an earlier one.
    forbid_within_tier : bool
        When true, edges between two nodes of the same tier are forbidden too.

    Examples
    --------
    >>> c = Constraints(forbidden=frozenset({("a", "b")}), tiers={"sex": 0, "mi": 2})
    >>> c.violation("mi", "sex")
    "tier order: 'mi' (tier 2) cannot cause 'sex' (tier 0)"
    >>> c.violation("a", "b")
    'forbidden edge a -> b'
    >>> c.violation("sex", "mi") is None
    True
    """

    required: frozenset[tuple[str, str]] = frozenset()
    forbidden: frozenset[tuple[str, str]] = frozenset()
    tiers: Mapping[str, int] = field(default_factory=dict)
    forbid_within_tier: bool = False

    def violation(self, source: str, target: str, label: Callable[[str], str] = str) -> str | None:
        """Why an edge ``source -> target`` is not allowed, or ``None``; ``label`` names
        the variables in the message (codes by default)."""
        if (source, target) in self.forbidden:
            return f"forbidden edge {label(source)} -> {label(target)}"
        ts, tt = self.tiers.get(source), self.tiers.get(target)
        if ts is not None and tt is not None:
            if ts > tt:
                return f"tier order: {label(source)!r} (tier {ts}) cannot cause {label(target)!r} (tier {tt})"
            if ts == tt and self.forbid_within_tier:
                return f"tier order: {label(source)!r} and {label(target)!r} share tier {ts}"
        return None

    def is_required(self, source: str, target: str) -> bool:
        return (source, target) in self.required

    def to_dict(self) -> dict[str, Any]:
        tiers_list: dict[int, list[str]] = {}
        for n, t in self.tiers.items():
            tiers_list.setdefault(int(t), []).append(n)
        return {
            "required": sorted([list(e) for e in self.required]),
            "forbidden": sorted([list(e) for e in self.forbidden]),
            "tiers": [sorted(tiers_list[t]) for t in sorted(tiers_list)],
            "forbid_within_tier": self.forbid_within_tier,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], domains: Mapping[str, str] | None = None
    ) -> Constraints:
        """Read the documented constraints format (see ``docs/formats.md``).

        ``tiers`` is an ordered list; each entry is a list of variable codes and/or
        ``"domain:NAME"`` items that place every variable of that domain in the tier
        (``domains`` maps variable code -> domain and is needed for those).
        """

        def pairs(key: str) -> frozenset[tuple[str, str]]:
            out = set()
            for i, item in enumerate(data.get(key) or []):
                if not isinstance(item, list | tuple) or len(item) != 2:
                    raise FormatError(
                        f"Constraints: entry {i + 1} of {key!r} must be a [source, target] pair, got {item!r}."
                    )
                out.add((str(item[0]), str(item[1])))
            return frozenset(out)

        tiers: dict[str, int] = {}
        for t, entry in enumerate(data.get("tiers") or []):
            items = [entry] if isinstance(entry, str) else list(entry)
            for item in items:
                item = str(item)
                if item.startswith("domain:"):
                    dom = item.split(":", 1)[1].strip().lower()
                    for var, d in (domains or {}).items():
                        if str(d).lower() == dom:
                            tiers.setdefault(var, t)
                else:
                    tiers[item] = t
        req, forb = pairs("required"), pairs("forbidden")
        clash = req & forb
        if clash:
            u, v = sorted(clash)[0]
            raise FormatError(f"Constraints: edge {u} -> {v} is both required and forbidden.")
        return cls(
            required=req,
            forbidden=forb,
            tiers=tiers,
            forbid_within_tier=bool(data.get("forbid_within_tier", False)),
        )

    @classmethod
    def from_file(cls, path: str | Path, domains: Mapping[str, str] | None = None) -> Constraints:
        """Read constraints from a YAML or JSON file."""
        p = Path(path)
        if not p.exists():
            raise FormatError(f"Constraints file {p} does not exist.")
        text = p.read_text(encoding="utf-8")
        try:
            if p.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text) or {}
        except Exception as exc:
            raise FormatError(f"Constraints file {p} cannot be parsed: {exc}") from exc
        if not isinstance(data, dict):
            raise FormatError(
                f"Constraints file {p} must hold a mapping with required/forbidden/tiers."
            )
        return cls.from_dict(data, domains=domains)


# ---------------------------------------------------------------------------------
# Edits
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """Base class of an edit to one edge. Use :class:`AddEdge`, :class:`RemoveEdge` or
    :class:`ReverseEdge`.

    ``override`` lets an edit go against an expert constraint; the override is recorded
    with the author in the edge's history.
    """

    source: str
    target: str
    author: str = "anonymous"
    rationale: str = ""
    created: datetime = field(default_factory=_now)
    override: bool = False

    kind: ClassVar[str] = "edit"
    verb: ClassVar[str] = "Editing"

    def describe(self, graph: CausalGraph | None = None) -> str:
        lab = graph.label if graph is not None else str
        return f"{self.verb} {lab(self.source)} -> {lab(self.target)}"


@dataclass(frozen=True)
class AddEdge(Edit):
    """Add the edge ``source -> target``."""

    kind: ClassVar[str] = "add"
    verb: ClassVar[str] = "Adding"


@dataclass(frozen=True)
class RemoveEdge(Edit):
    """Remove the edge ``source -> target``."""

    kind: ClassVar[str] = "remove"
    verb: ClassVar[str] = "Removing"


@dataclass(frozen=True)
class ReverseEdge(Edit):
    """Reverse the edge ``source -> target`` into ``target -> source``."""

    kind: ClassVar[str] = "reverse"
    verb: ClassVar[str] = "Reversing"


@dataclass(frozen=True)
class AddLatent(Edit):
    """Say that ``source`` and ``target`` share an unmeasured common cause (``A <-> B``).

    Nothing is refitted (nothing measures the cause); d-separation, implied
    independencies, active trails and adjustment sets take it into account.
    """

    kind: ClassVar[str] = "add_latent"
    verb: ClassVar[str] = "Adding an unmeasured common cause of"

    def describe(self, graph: CausalGraph | None = None) -> str:
        lab = graph.label if graph is not None else str
        return f"{self.verb} {lab(self.source)} and {lab(self.target)}"


@dataclass(frozen=True)
class RemoveLatent(Edit):
    """Withdraw the unmeasured common cause of ``source`` and ``target``."""

    kind: ClassVar[str] = "remove_latent"
    verb: ClassVar[str] = "Removing the unmeasured common cause of"

    def describe(self, graph: CausalGraph | None = None) -> str:
        lab = graph.label if graph is not None else str
        return f"{self.verb} {lab(self.source)} and {lab(self.target)}"


@dataclass(frozen=True)
class EndorseEdge(Edit):
    """Confirm the edge ``source -> target`` as clinically right, direction included.

    The structure is unchanged (no family is refitted); the edge is marked ``endorsed``,
    an unresolved direction is settled as drawn, and the step joins the edge's history.
    It counts in the report's endorsed share and moves the edge to the end of the review
    queue.
    """

    kind: ClassVar[str] = "endorse"
    verb: ClassVar[str] = "Endorsing"


@dataclass(frozen=True)
class ResolveEdge(Edit):
    """Settle the direction of an unresolved edge as ``source -> target``.

    The edge may be stored either way (the stored direction of an unresolved edge is
    only the one picked for fitting); afterwards it points ``source -> target`` and is
    no longer unresolved. One action, whichever way the physician decides.

    Examples
    --------
    >>> g = CausalGraph.from_edges([("a", "b")]).with_unresolved([("a", "b")])
    >>> g2 = apply_edit(g, ResolveEdge("b", "a", author="dr"))
    >>> g2.edges, g2.unresolved_edges
    ([('b', 'a')], [])
    """

    kind: ClassVar[str] = "resolve"
    verb: ClassVar[str] = "Resolving"


_EDIT_TYPES: dict[str, type[Edit]] = {
    c.kind: c
    for c in (AddEdge, RemoveEdge, ReverseEdge, ResolveEdge, EndorseEdge, AddLatent, RemoveLatent)
}


def edit_to_dict(edit: Edit) -> dict[str, Any]:
    """JSON-ready dict of an edit.

    Examples
    --------
    >>> e = AddEdge("a", "b", author="dr", rationale="why")
    >>> edit_from_dict(edit_to_dict(e)) == e
    True
    """
    d = asdict(edit)
    d["created"] = edit.created.isoformat()
    d["kind"] = edit.kind
    return d


def edit_from_dict(data: Mapping[str, Any]) -> Edit:
    d = dict(data)
    kind = d.pop("kind", None)
    if kind not in _EDIT_TYPES:
        raise FormatError(f"Unknown edit kind {kind!r}; expected one of {sorted(_EDIT_TYPES)}.")
    created = d.get("created")
    if isinstance(created, str):
        d["created"] = datetime.fromisoformat(created)
    elif created is None:
        d.pop("created", None)
    return _EDIT_TYPES[kind](**d)


def inverse_edit(edit: Edit) -> Edit:
    """The edit that undoes ``edit`` structurally (attributes are not restored)."""
    if isinstance(edit, AddEdge):
        return RemoveEdge(edit.source, edit.target, edit.author, "undo", override=True)
    if isinstance(edit, RemoveEdge):
        return AddEdge(edit.source, edit.target, edit.author, "undo", override=True)
    if isinstance(edit, EndorseEdge):
        # an endorsement changes no structure: its structural inverse changes none either
        return edit
    if isinstance(edit, AddLatent):
        return RemoveLatent(edit.source, edit.target, edit.author, "undo", override=True)
    if isinstance(edit, RemoveLatent):
        return AddLatent(edit.source, edit.target, edit.author, "undo", override=True)
    if isinstance(edit, ResolveEdge):
        # structurally the edge ends source -> target; undoing a resolution that kept
        # the stored direction is a no-op the session handles by restoring its snapshot
        return ReverseEdge(edit.source, edit.target, edit.author, "undo", override=True)
    return ReverseEdge(edit.target, edit.source, edit.author, "undo", override=True)


def changed_families(edit: Edit) -> tuple[str, ...]:
    """Nodes whose parent sets an edit changes: the only CPDs a refit must touch.

    Examples
    --------
    >>> changed_families(AddEdge("a", "b")), changed_families(ReverseEdge("a", "b"))
    (('b',), ('a', 'b'))
    >>> changed_families(EndorseEdge("a", "b"))
    ()
    """
    if isinstance(edit, ReverseEdge | ResolveEdge):
        return (edit.source, edit.target)
    if isinstance(edit, EndorseEdge | AddLatent | RemoveLatent):
        return ()
    return (edit.target,)


def _cycle_through(g: nx.DiGraph, source: str, target: str) -> list[str] | None:
    """If adding ``source -> target`` closes a cycle, the cycle as a node path."""
    try:
        path = nx.shortest_path(g, target, source)
    except nx.NetworkXNoPath:
        return None
    return [source, *path]


def apply_edit(
    graph: CausalGraph, edit: Edit, constraints: Constraints | None = None
) -> CausalGraph:
    """Return a new graph with ``edit`` applied, or raise a clear error.

    Raises
    ------
    UnknownVariableError
        A variable is not in the graph (closest names suggested).
    EdgeError
        Self-loop, duplicate edge, or removing/reversing an edge that is not there.
    CycleError
        The edit would close a directed cycle; the message names it.
    ConstraintError
        The edit goes against a required/forbidden/tier constraint and ``override`` is
        false.
    """
    for n in (edit.source, edit.target):
        graph._check_node(n)
    lab = graph.label
    u, v = edit.source, edit.target
    if u == v:
        raise EdgeError(f"{lab(u)} cannot cause itself: an edge needs two different variables.")
    cons = constraints or Constraints()
    record = {**edit_to_dict(edit)}
    g = graph._copy_graph()

    if isinstance(edit, AddEdge):
        if g.has_edge(u, v):
            raise EdgeError(f"The edge {lab(u)} -> {lab(v)} is already in the graph.")
        if g.has_edge(v, u):
            raise EdgeError(
                f"The edge {lab(v)} -> {lab(u)} already links these variables; reverse it instead of adding {lab(u)} -> {lab(v)}."
            )
        why = cons.violation(u, v, lab)
        if why and not edit.override:
            raise ConstraintError(
                f"Adding {lab(u)} -> {lab(v)} goes against the constraint: {why}. "
                "Override it explicitly if you are sure (your name is recorded).",
                constraint=why,
            )
        cyc = _cycle_through(g, u, v)
        if cyc:
            raise CycleError(
                f"Adding {lab(u)} -> {lab(v)} would create the cycle {graph.describe_path(cyc)}.",
                cycle=cyc,
            )
        if why:
            record["overridden_constraint"] = why
        g.add_edge(
            u,
            v,
            provenance="clinician",
            endorsed=True,
            evidence={},
            orientation="set by a clinician",
            history=[record],
        )
    elif isinstance(edit, RemoveEdge):
        if not g.has_edge(u, v):
            hint = f" (the graph has {lab(v)} -> {lab(u)})" if g.has_edge(v, u) else ""
            raise EdgeError(f"There is no edge {lab(u)} -> {lab(v)} to remove{hint}.")
        if cons.is_required(u, v) and not edit.override:
            raise ConstraintError(
                f"Removing {lab(u)} -> {lab(v)} goes against the constraint: required edge {lab(u)} -> {lab(v)}. "
                "Override it explicitly if you are sure (your name is recorded).",
                constraint=f"required edge {lab(u)} -> {lab(v)}",
            )
        g.remove_edge(u, v)
    elif isinstance(edit, ReverseEdge):
        if not g.has_edge(u, v):
            hint = f" (the graph has {lab(v)} -> {lab(u)})" if g.has_edge(v, u) else ""
            raise EdgeError(f"There is no edge {lab(u)} -> {lab(v)} to reverse{hint}.")
        why = cons.violation(v, u, lab)
        if cons.is_required(u, v):
            why = f"required edge {lab(u)} -> {lab(v)}"
        if why and not edit.override:
            raise ConstraintError(
                f"Reversing {lab(u)} -> {lab(v)} goes against the constraint: {why}. "
                "Override it explicitly if you are sure (your name is recorded).",
                constraint=why,
            )
        attrs = g.edges[u, v]
        g.remove_edge(u, v)
        cyc = _cycle_through(g, v, u)
        if cyc:
            raise CycleError(
                f"Reversing {lab(u)} -> {lab(v)} would create the cycle {graph.describe_path(cyc)}.",
                cycle=cyc,
            )
        if why:
            record["overridden_constraint"] = why
        attrs = {
            **attrs,
            "provenance": "clinician",
            "endorsed": True,
            "orientation": "reversed by a clinician",
        }
        attrs["history"] = [*attrs.get("history", []), record]
        attrs.pop("unresolved", None)
        g.add_edge(v, u, **attrs)
    elif isinstance(edit, ResolveEdge):
        if not (g.has_edge(u, v) or g.has_edge(v, u)):
            raise EdgeError(f"There is no edge between {lab(u)} and {lab(v)} to resolve.")
        why = cons.violation(u, v, lab)
        if cons.is_required(v, u):
            why = f"required edge {lab(v)} -> {lab(u)}"
        if why and not edit.override:
            raise ConstraintError(
                f"Resolving the edge as {lab(u)} -> {lab(v)} goes against the constraint: {why}. "
                "Override it explicitly if you are sure (your name is recorded).",
                constraint=why,
            )
        if why:
            record["overridden_constraint"] = why
        if g.has_edge(v, u):
            attrs = dict(g.edges[v, u])
            g.remove_edge(v, u)
            cyc = _cycle_through(g, u, v)
            if cyc:
                raise CycleError(
                    f"Resolving the edge as {lab(u)} -> {lab(v)} would create the cycle "
                    f"{graph.describe_path(cyc)}; reverse or remove an edge on it first.",
                    cycle=cyc,
                )
        else:
            attrs = dict(g.edges[u, v])
            g.remove_edge(u, v)
        attrs = {
            **attrs,
            "provenance": "clinician",
            "endorsed": True,
            "orientation": f"direction {lab(u)} -> {lab(v)} set by a clinician",
        }
        attrs.pop("unresolved", None)
        attrs["history"] = [*attrs.get("history", []), record]
        g.add_edge(u, v, **attrs)
    elif isinstance(edit, AddLatent | RemoveLatent):
        pair = sorted((u, v))
        pairs = [sorted(p) for p in g.graph.get("latent", ())]
        if isinstance(edit, AddLatent):
            if pair in pairs:
                raise EdgeError(f"{lab(u)} and {lab(v)} already share an unmeasured common cause.")
            g.graph["latent"] = [*pairs, pair]
        else:
            if pair not in pairs:
                raise EdgeError(f"{lab(u)} and {lab(v)} have no unmeasured common cause to remove.")
            g.graph["latent"] = [p for p in pairs if p != pair]
    elif isinstance(edit, EndorseEdge):
        if not g.has_edge(u, v):
            hint = f" (the graph has {lab(v)} -> {lab(u)})" if g.has_edge(v, u) else ""
            raise EdgeError(f"There is no edge {lab(u)} -> {lab(v)} to endorse{hint}.")
        attrs = g.edges[u, v]
        if attrs.pop("unresolved", None):
            attrs["orientation"] = f"direction {lab(u)} -> {lab(v)} confirmed by a clinician"
        attrs["endorsed"] = True
        attrs["history"] = [*attrs.get("history", []), record]
    else:  # pragma: no cover - closed set of edit types
        raise TypeError(f"Unknown edit {edit!r}")
    return CausalGraph(g, metadata=graph.metadata)
