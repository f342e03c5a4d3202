"""Compare and merge causal graphs: diffs, metric tables and three-way merges.

Diffs are computed, never hand-kept: :func:`diff_graphs` compares two
:class:`~kg_editor.model.graph.CausalGraph` objects edge by edge; :func:`metric_table` lays two
report dicts side by side; :func:`merge_graphs` merges two branches against their common
ancestor and returns every :class:`Conflict` it cannot decide alone.

Examples
--------
>>> from kg_editor.model.graph import CausalGraph
>>> a = CausalGraph.from_edges([("smoke", "lung"), ("lung", "xray")], nodes=["asia"])
>>> b = CausalGraph.from_edges([("lung", "smoke"), ("asia", "xray")], nodes=["asia"])
>>> d = diff_graphs(a, b)
>>> [(c.source, c.target) for c in d.added], [(c.source, c.target) for c in d.removed]
([('asia', 'xray')], [('lung', 'xray')])
>>> [(c.source, c.target) for c in d.reversed]  # shown in b's direction
[('lung', 'smoke')]
>>> d.summary()
'1 edge added, 1 removed, 1 reversed'
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from kg_editor.errors import StoreError
from kg_editor.model.graph import CausalGraph

__all__ = [
    "EDGE_STATUSES",
    "Conflict",
    "EdgeChange",
    "GraphDiff",
    "MergeConflictError",
    "MergeResult",
    "NodeChange",
    "diff_graphs",
    "merge_graphs",
    "metric_table",
    "pair_key",
]

logger = logging.getLogger(__name__)

#: Status of an edge in a diff, as the compare view draws it.
EDGE_STATUSES = ("added", "removed", "reversed", "changed", "unchanged")

#: Edge attributes compared when deciding whether a kept edge "changed".
_COMPARED_EDGE_ATTRS = ("provenance", "endorsed", "evidence", "orientation")


@dataclass(frozen=True)
class EdgeChange:
    """One edge that differs between graph ``a`` and graph ``b``.

    ``source -> target`` is the edge as it stands in ``b`` (for ``removed``: as it stood
    in ``a``). ``before``/``after`` hold the edge attributes (provenance, evidence, ...)
    in ``a`` and ``b`` (``None`` where the edge is absent).
    """

    source: str
    target: str
    status: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    @property
    def evidence(self) -> dict[str, Any]:
        """The edge's statistical evidence (from ``b`` when present, else ``a``)."""
        for attrs in (self.after, self.before):
            if attrs and attrs.get("evidence"):
                return dict(attrs["evidence"])
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "status": self.status,
            "before": self.before,
            "after": self.after,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class NodeChange:
    """A variable added, removed or with changed attributes (label, tier, ...)."""

    node: str
    status: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "status": self.status,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class GraphDiff:
    """Everything that differs from graph ``a`` to graph ``b``.

    Attributes
    ----------
    added, removed, reversed, changed : tuple of EdgeChange
        ``changed`` holds edges present in both (same direction) whose provenance,
        endorsement, evidence or orientation differ.
    nodes : tuple of NodeChange
    unchanged : tuple of (source, target)
        Edges identical in direction in both graphs.
    """

    added: tuple[EdgeChange, ...] = ()
    removed: tuple[EdgeChange, ...] = ()
    reversed: tuple[EdgeChange, ...] = ()
    changed: tuple[EdgeChange, ...] = ()
    nodes: tuple[NodeChange, ...] = ()
    unchanged: tuple[tuple[str, str], ...] = ()

    @property
    def structural(self) -> tuple[EdgeChange, ...]:
        """Added, removed and reversed edges (what changes the model's families)."""
        return (*self.added, *self.removed, *self.reversed)

    def is_empty(self, structural_only: bool = False) -> bool:
        """True when the two graphs have the same edges (and, unless
        ``structural_only``, the same edge and node attributes)."""
        if structural_only:
            return not self.structural and not any(c.status != "changed" for c in self.nodes)
        return not (self.structural or self.changed or self.nodes)

    def edge_status(self) -> dict[tuple[str, str], str]:
        """``(source, target) -> status`` for every edge of either graph: what a canvas
        needs to style the comparison (removed edges keep ``a``'s direction)."""
        out: dict[tuple[str, str], str] = dict.fromkeys(self.unchanged, "unchanged")
        for c in (*self.added, *self.removed, *self.reversed, *self.changed):
            out[(c.source, c.target)] = c.status
        return out

    def summary(self) -> str:
        """One line for people: ``"2 edges added, 1 removed, 0 reversed"``."""
        n = len(self.added)
        parts = [
            f"{n} edge{'s' if n != 1 else ''} added",
            f"{len(self.removed)} removed",
            f"{len(self.reversed)} reversed",
        ]
        if self.changed:
            parts.append(f"{len(self.changed)} with changed evidence or endorsement")
        if self.nodes:
            parts.append(f"{len(self.nodes)} variable change{'s' if len(self.nodes) != 1 else ''}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the web compare view and ``kg-editor versions diff`` use)."""
        return {
            "summary": self.summary(),
            "added": [c.to_dict() for c in self.added],
            "removed": [c.to_dict() for c in self.removed],
            "reversed": [c.to_dict() for c in self.reversed],
            "changed": [c.to_dict() for c in self.changed],
            "nodes": [c.to_dict() for c in self.nodes],
            "unchanged": [list(e) for e in self.unchanged],
        }

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per differing edge: source, target, status and
        the evidence keys flattened as columns."""
        import pandas as pd

        rows = []
        for c in (*self.added, *self.removed, *self.reversed, *self.changed):
            rows.append({"source": c.source, "target": c.target, "status": c.status, **c.evidence})
        return pd.DataFrame(rows, columns=None if rows else ["source", "target", "status"])


def _edge_view(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in _COMPARED_EDGE_ATTRS}


def diff_graphs(a: CausalGraph, b: CausalGraph) -> GraphDiff:
    """Diff two graphs: edges added, removed, reversed, changed; variable changes.

    An edge ``u -> v`` in ``a`` that is ``v -> u`` in ``b`` counts once, as reversed
    (reported in ``b``'s direction), never as one removal plus one addition.

    Examples
    --------
    >>> from kg_editor.model.graph import CausalGraph
    >>> a = CausalGraph.from_edges([("x", "y")])
    >>> diff_graphs(a, a).is_empty()
    True
    """
    ga, gb = a.nx, b.nx
    ea, eb = set(ga.edges), set(gb.edges)
    added: list[EdgeChange] = []
    removed: list[EdgeChange] = []
    reversed_: list[EdgeChange] = []
    changed: list[EdgeChange] = []
    unchanged: list[tuple[str, str]] = []
    for u, v in sorted(eb - ea):
        after = dict(gb.edges[u, v])
        if (v, u) in ea:
            reversed_.append(EdgeChange(u, v, "reversed", dict(ga.edges[v, u]), after))
        else:
            added.append(EdgeChange(u, v, "added", None, after))
    for u, v in sorted(ea - eb):
        if (v, u) not in eb:
            removed.append(EdgeChange(u, v, "removed", dict(ga.edges[u, v]), None))
    for u, v in sorted(ea & eb):
        before, after = dict(ga.edges[u, v]), dict(gb.edges[u, v])
        if _edge_view(before) != _edge_view(after):
            changed.append(EdgeChange(u, v, "changed", before, after))
        else:
            unchanged.append((u, v))
    nodes: list[NodeChange] = []
    na, nb = set(ga.nodes), set(gb.nodes)
    for n in sorted(nb - na, key=str):
        nodes.append(NodeChange(n, "added", None, dict(gb.nodes[n])))
    for n in sorted(na - nb, key=str):
        nodes.append(NodeChange(n, "removed", dict(ga.nodes[n]), None))
    for n in sorted(na & nb, key=str):
        if dict(ga.nodes[n]) != dict(gb.nodes[n]):
            nodes.append(NodeChange(n, "changed", dict(ga.nodes[n]), dict(gb.nodes[n])))
    return GraphDiff(
        tuple(added),
        tuple(removed),
        tuple(reversed_),
        tuple(changed),
        tuple(nodes),
        tuple(unchanged),
    )


# ---------------------------------------------------------------------------------
# Metric tables
# ---------------------------------------------------------------------------------
REPORT_SECTIONS = ("accuracy", "targets", "interpretability")
_SKIPPED_SECTIONS = ("settings",)  # estimator settings, not metrics


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, bool) or value is None:
        out[prefix] = None if value is None else float(value)
    elif isinstance(value, int | float):
        out[prefix] = float(value)
    elif hasattr(value, "item"):
        out[prefix] = float(value.item())


def metric_table(
    report_a: Mapping[str, Any] | None,
    report_b: Mapping[str, Any] | None,
    labels: Sequence[str] = ("a", "b"),
) -> Any:
    """Two report dicts side by side as a pandas DataFrame.

    Reports are dicts with sections ``accuracy``, ``targets`` and ``interpretability``
    whose values are dicts of numbers (nested dicts are flattened with dots). Other
    sections are included after these (``settings`` is left out: it holds no metrics). Columns: ``section``, ``metric``, one column per
    label, and ``delta`` (b minus a). Metrics present in only one report get NaN on the
    other side.

    Examples
    --------
    >>> ra = {"accuracy": {"auroc": 0.70}, "interpretability": {"edges": 10}}
    >>> rb = {"accuracy": {"auroc": 0.75}, "interpretability": {"edges": 12}}
    >>> t = metric_table(ra, rb, labels=("v1", "v2"))
    >>> t[["metric", "v1", "v2", "delta"]].round(2).values.tolist()
    [['auroc', 0.7, 0.75, 0.05], ['edges', 10.0, 12.0, 2.0]]
    """
    import numpy as np
    import pandas as pd

    la, lb = labels
    flat: list[dict[str, Any]] = []
    for rep in (report_a or {}, report_b or {}):
        f: dict[str, Any] = {}
        for sec, body in rep.items():
            if isinstance(body, Mapping) and sec not in _SKIPPED_SECTIONS:
                _flatten(str(sec), body, f)
        flat.append(f)
    keys: list[str] = []
    for f in flat:
        for k in f:
            if k not in keys:
                keys.append(k)
    order = {s: i for i, s in enumerate(REPORT_SECTIONS)}
    first_seen = {k: i for i, k in enumerate(keys)}
    keys.sort(key=lambda k: (order.get(k.split(".", 1)[0], len(order)), first_seen[k]))
    rows = []
    for k in keys:
        sec, _, metric = k.partition(".")
        va = flat[0].get(k)
        vb = flat[1].get(k)
        va = np.nan if va is None else va
        vb = np.nan if vb is None else vb
        rows.append({"section": sec, "metric": metric, la: va, lb: vb, "delta": vb - va})
    return pd.DataFrame(rows, columns=["section", "metric", la, lb, "delta"])


# ---------------------------------------------------------------------------------
# Three-way merge
# ---------------------------------------------------------------------------------
def pair_key(u: str, v: str) -> str:
    """The key naming the unordered pair of variables ``{u, v}`` in merge conflicts and
    resolutions: the two codes sorted and joined by ``" -- "``.

    >>> pair_key("smoke", "lung")
    'lung -- smoke'
    """
    a, b = sorted((str(u), str(v)))
    return f"{a} -- {b}"


def _state(g: nx.DiGraph, u: str, v: str) -> tuple[str, str] | None:
    if g.has_edge(u, v):
        return (u, v)
    if g.has_edge(v, u):
        return (v, u)
    return None


def _describe_state(st: tuple[str, str] | None, label: Any) -> str:
    return "no edge" if st is None else f"{label(st[0])} -> {label(st[1])}"


@dataclass(frozen=True)
class Conflict:
    """A change the two branches disagree on, which a person must resolve.

    Attributes
    ----------
    key : str
        What to put in the ``resolutions`` mapping: a :func:`pair_key` for edge conflicts
        (``kind`` ``"edge"``), the variable code for ``"node"`` conflicts, and
        ``"cycle:A -> B -> A"`` for ``"cycle"`` conflicts (a cycle is resolved by
        resolving one of the pairs listed in ``options``).
    kind : str
        ``"edge"``, ``"node"`` or ``"cycle"``.
    base, ours, theirs : optional
        The edge (``(source, target)`` or ``None`` for no edge) in the common ancestor and
        the two branches; for node conflicts, whether the variable is present.
    message : str
        The conflict in words, naming the variables.
    options : tuple of str
        Accepted resolution values (for a cycle: pair keys that break it).
    """

    key: str
    kind: str
    base: Any
    ours: Any
    theirs: Any
    message: str
    options: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def enc(x: Any) -> Any:
            return list(x) if isinstance(x, tuple) else x

        return {
            "key": self.key,
            "kind": self.kind,
            "base": enc(self.base),
            "ours": enc(self.ours),
            "theirs": enc(self.theirs),
            "message": self.message,
            "options": list(self.options),
        }


class MergeConflictError(StoreError):
    """A merge left conflicts unresolved; ``conflicts`` lists them."""

    def __init__(self, message: str, conflicts: Sequence[Conflict]):
        super().__init__(message)
        self.conflicts = list(conflicts)


@dataclass
class MergeResult:
    """The outcome of :func:`merge_graphs`.

    ``graph`` is the merged DAG, or ``None`` while ``conflicts`` is not empty.
    ``decisions`` maps every pair key whose edge differs from the ancestor to where its
    merged state came from (``"ours"``, ``"theirs"``, ``"both"``, ``"resolution"``).
    """

    graph: CausalGraph | None
    conflicts: list[Conflict] = field(default_factory=list)
    decisions: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.graph is not None and not self.conflicts

    def raise_for_conflicts(self) -> CausalGraph:
        """Return the graph, or raise :class:`MergeConflictError` listing the conflicts."""
        if self.graph is None or self.conflicts:
            lines = "\n".join(f"  - [{c.key}] {c.message}" for c in self.conflicts)
            raise MergeConflictError(
                f"The merge has {len(self.conflicts)} conflict(s) to resolve:\n{lines}\n"
                "Pass a resolution for each key (ours, theirs, base, none, unresolved, or "
                "'A -> B').",
                self.conflicts,
            )
        return self.graph


_EDGE_OPTIONS = ("ours", "theirs", "base", "none", "unresolved")

#: The resolution that keeps the pair's edge with its direction left undecided.
UNRESOLVED = "unresolved"


def _parse_edge_resolution(
    value: Any, key: str, u: str, v: str, states: Mapping[str, tuple[str, str] | None]
) -> tuple[str, str] | None:
    if isinstance(value, tuple | list) and len(value) == 2:
        s, t = str(value[0]), str(value[1])
        if {s, t} == {u, v}:
            return (s, t)
    elif value is None:
        return None
    elif isinstance(value, str):
        val = value.strip()
        if val in states:
            return states[val]
        if val == UNRESOLVED:
            present = [states[k] for k in ("ours", "theirs", "base") if states.get(k) is not None]
            if present:
                return present[0]
            raise StoreError(
                f"{key}: neither branch has an edge there, so there is no direction to leave "
                "unresolved; choose ours, theirs or none."
            )
        if val in ("none", "absent", "remove"):
            return None
        if "->" in val:
            s, t = (x.strip() for x in val.split("->", 1))
            if {s, t} == {u, v}:
                return (s, t)
    raise StoreError(
        f"Resolution {value!r} for {key} is not understood; use one of "
        f"{', '.join(_EDGE_OPTIONS)}, '{u} -> {v}' or '{v} -> {u}'."
    )


def merge_graphs(
    base: CausalGraph,
    ours: CausalGraph,
    theirs: CausalGraph,
    resolutions: Mapping[str, Any] | None = None,
) -> MergeResult:
    """Merge two branches ``ours`` and ``theirs`` against their common ancestor ``base``.

    For every pair of variables the edge state (absent, ``u -> v`` or ``v -> u``) is taken
    from the side that changed it; when both sides changed it differently (an edge added
    in opposite directions, removed in one and reversed in the other, ...) the pair is a
    :class:`Conflict`. A variable removed in one branch while the other changed one of its
    edges is a conflict too. The merged graph must be acyclic: if the combined changes
    close a cycle, that is a ``"cycle"`` conflict naming the pairs that could break it.

    Parameters
    ----------
    resolutions : mapping, optional
        ``conflict key -> choice``. For an edge pair: ``"ours"``, ``"theirs"``,
        ``"base"``, ``"none"`` (no edge), ``"unresolved"`` (keep the edge, its direction
        marked unresolved for a physician to settle) or ``"A -> B"`` (or a ``(A, B)``
        tuple). For a
        variable: ``"keep"`` or ``"remove"``. A resolution may also name a pair that
        did not conflict, to override the automatic choice (this is how a cycle is
        broken).

    Examples
    --------
    >>> from kg_editor.model.graph import CausalGraph
    >>> base = CausalGraph.from_edges([("a", "b")], nodes=["c"])
    >>> ours = CausalGraph.from_edges([("b", "a")], nodes=["c"])   # reversed
    >>> theirs = CausalGraph.from_edges([], nodes=["a", "b", "c"])  # removed
    >>> r = merge_graphs(base, ours, theirs)
    >>> [(c.key, c.message) for c in r.conflicts]
    [('a -- b', 'a -> b was reversed to b -> a in ours but removed in theirs.')]
    >>> merge_graphs(base, ours, theirs, {"a -- b": "ours"}).graph.edges
    [('b', 'a')]
    """
    res = dict(resolutions or {})
    gb, go, gt = base.nx, ours.nx, theirs.nx
    label = ours.label

    def lab(n: str) -> str:
        return label(n) if n in go else theirs.label(n)

    conflicts: list[Conflict] = []
    decisions: dict[str, str] = {}

    # -- variables -------------------------------------------------------------------
    nb, no, nt = set(gb.nodes), set(go.nodes), set(gt.nodes)
    nodes = (nb & no & nt) | (no - nb) | (nt - nb)
    removed_nodes = nb - (no & nt)
    changed_pairs_o = {pair_key(u, v) for u, v in set(go.edges) ^ set(gb.edges)}
    changed_pairs_t = {pair_key(u, v) for u, v in set(gt.edges) ^ set(gb.edges)}

    def touches(n: str, pairs: Iterable[str]) -> bool:
        return any(n in p.split(" -- ") for p in pairs)

    for n in sorted(removed_nodes, key=str):
        if n not in no and n not in nt:
            continue  # removed on both sides
        keeper, keeper_pairs = ("ours", changed_pairs_o) if n in no else ("theirs", changed_pairs_t)
        remover = "theirs" if keeper == "ours" else "ours"
        choice = res.get(n)
        if choice is None and touches(n, keeper_pairs):
            conflicts.append(
                Conflict(
                    n,
                    "node",
                    True,
                    n in no,
                    n in nt,
                    f"{lab(n)} was removed in {remover} but {keeper} changed its edges.",
                    ("keep", "remove"),
                )
            )
            nodes.add(n)
        elif choice == "keep":
            nodes.add(n)
        elif choice not in (None, "remove"):
            raise StoreError(
                f"Resolution {choice!r} for variable {n} is not understood; use keep or remove."
            )

    # -- edges -----------------------------------------------------------------------
    pairs: dict[str, tuple[str, str]] = {}
    for g in (gb, go, gt):
        for u, v in g.edges:
            a_, b_ = sorted((u, v))
            pairs.setdefault(pair_key(u, v), (a_, b_))
    for key in res:
        if " -- " in str(key) and key not in pairs:
            a, b = str(key).split(" -- ", 1)
            pairs[key] = (a, b)
    merged: dict[str, tuple[str, str] | None] = {}
    left_unresolved: set[str] = set()
    node_conflict_keys = {c.key for c in conflicts}
    for key in sorted(pairs):
        u, v = pairs[key]
        sb, so, st = _state(gb, u, v), _state(go, u, v), _state(gt, u, v)
        states = {"base": sb, "ours": so, "theirs": st}
        if key in res:
            merged[key] = _parse_edge_resolution(res[key], key, u, v, states)
            decisions[key] = "resolution"
            if str(res[key]).strip() == UNRESOLVED:
                left_unresolved.add(key)
            continue
        if so == st:
            merged[key] = so
            if so != sb:
                decisions[key] = "both"
        elif so == sb:
            merged[key] = st
            decisions[key] = "theirs"
        elif st == sb:
            merged[key] = so
            decisions[key] = "ours"
        else:
            if sb is None:
                msg = f"The edge was added as {_describe_state(so, lab)} in ours but as {_describe_state(st, lab)} in theirs."
            elif so is None:
                msg = f"{_describe_state(sb, lab)} was removed in ours but reversed to {_describe_state(st, lab)} in theirs."
            elif st is None:
                msg = f"{_describe_state(sb, lab)} was reversed to {_describe_state(so, lab)} in ours but removed in theirs."
            else:  # pragma: no cover - with three states, two differing changes hit a case above
                msg = f"{_describe_state(sb, lab)} became {_describe_state(so, lab)} in ours and {_describe_state(st, lab)} in theirs."
            conflicts.append(
                Conflict(
                    key, "edge", sb, so, st, msg, (*_EDGE_OPTIONS, f"{u} -> {v}", f"{v} -> {u}")
                )
            )
            merged[key] = sb  # the base state stands until the user resolves it
    if conflicts:
        return MergeResult(None, conflicts, decisions)

    # -- build and check acyclicity ----------------------------------------------------
    g = nx.DiGraph()
    for n in sorted(nodes, key=str):
        attrs = go.nodes[n] if n in go else (gt.nodes[n] if n in gt else gb.nodes[n])
        g.add_node(n, **dict(attrs))
    for key, st_ in merged.items():
        if st_ is None:
            continue
        s, t = st_
        if s not in nodes or t not in nodes:
            if key in node_conflict_keys:
                continue
            decisions[key] = decisions.get(key, "ours") + " (dropped: variable removed)"
            continue
        src = next((gg for gg in (go, gt, gb) if gg.has_edge(s, t)), None)
        attrs = (
            dict(src.edges[s, t])
            if src is not None
            else {
                "provenance": "clinician",
                "endorsed": True,
                "evidence": {},
                "history": [],
                "orientation": "set when merging",
            }
        )
        if decisions.get(key) == "theirs" and gt.has_edge(s, t):
            attrs = dict(gt.edges[s, t])
        if key in left_unresolved:
            attrs["unresolved"] = True
        elif decisions.get(key) == "resolution" and attrs.get("unresolved"):
            attrs.pop("unresolved")  # a direction chosen when merging is decided
        g.add_edge(s, t, **attrs)
    if not nx.is_directed_acyclic_graph(g):
        cyc = [u for u, _ in nx.find_cycle(g)]
        path = [*cyc, cyc[0]]
        culprits = tuple(
            pair_key(a, b) for a, b in itertools.pairwise(path) if pair_key(a, b) in decisions
        ) or tuple(pair_key(a, b) for a, b in itertools.pairwise(path))
        desc = " -> ".join(lab(n) for n in path)
        conflicts.append(
            Conflict(
                "cycle:" + " -> ".join(path),
                "cycle",
                None,
                None,
                None,
                f"Together the two branches create the cycle {desc}; resolve one of its edges "
                f"({', '.join(culprits)}) to break it.",
                culprits,
            )
        )
        return MergeResult(None, conflicts, decisions)
    # latent common causes: a set, merged three-way (added on either side, kept unless
    # removed on either side); pairs whose variables left the graph are dropped
    lb, lo, lt = (set(x.latent_pairs) for x in (base, ours, theirs))
    latent = sorted(
        p for p in (lb & lo & lt) | (lo - lb) | (lt - lb) if p[0] in nodes and p[1] in nodes
    )
    if latent:
        g.graph["latent"] = [list(p) for p in latent]
    meta = {**base.metadata, **theirs.metadata, **ours.metadata}
    return MergeResult(CausalGraph(g, metadata=meta), [], decisions)
