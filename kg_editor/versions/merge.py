"""A merge explained to the person doing it: each conflict with both sides' evidence and
who changed it and why, the choices that make sense for it, and the result of the
choices made so far.

:func:`explain_merge` wraps :meth:`~kg_editor.versions.store.Store.preview_merge`
(three-way, :func:`~kg_editor.versions.diff.merge_graphs`): the conflicts come from the
merge without any choice; the result from the merge with the choices, so a choice that
closes a cycle shows that cycle, named, and nothing can be saved until it is undone.
:func:`choices_to_resolutions` turns the choices (one per conflict) into the
``resolutions`` the store, the CLI (``versions merge --resolve``) and the web page all
pass to the same merge, so the three give one result.

Examples
--------
>>> choices_to_resolutions({"a -- b": "theirs", "x": "keep", "cycle:a -> b -> a": "a -- b=none"})
{'a -- b': 'none', 'x': 'keep'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kg_editor.versions.diff import Conflict, MergeResult, pair_key

if TYPE_CHECKING:
    from kg_editor.model.graph import CausalGraph
    from kg_editor.versions.store import Store, Version

__all__ = [
    "ConflictSide",
    "ConflictView",
    "MergePreview",
    "choices_to_resolutions",
    "explain_merge",
]


@dataclass(frozen=True)
class ConflictSide:
    """One branch's side of a conflict.

    Attributes
    ----------
    side : str
        ``"ours"`` (the version merged into) or ``"theirs"`` (the one merged in).
    version, branch : str
        That side's version id and branch.
    state : str
        What the side holds, in words (``"Smoking -> Lung cancer"``, ``"no edge"``,
        ``"kept"``, ``"removed"``).
    evidence : dict
        The edge's evidence on that side (the ancestor's when the side removed it).
    author, rationale : str
        Who made the change on that side and why (the version's author and message when
        no edit records it).
    when : datetime or None
        When the change was made.
    """

    side: str
    version: str
    branch: str
    state: str
    evidence: dict[str, Any]
    author: str
    rationale: str
    when: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "when": self.when.isoformat() if self.when else None}


@dataclass(frozen=True)
class ConflictView:
    """A conflict with both sides and the choices offered for it (``(value, text)``;
    the value is what :func:`choices_to_resolutions` reads)."""

    conflict: Conflict
    ours: ConflictSide
    theirs: ConflictSide
    choices: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return self.conflict.key

    def to_dict(self) -> dict[str, Any]:
        return {
            "conflict": self.conflict.to_dict(),
            "ours": self.ours.to_dict(),
            "theirs": self.theirs.to_dict(),
            "choices": [list(c) for c in self.choices],
        }


@dataclass
class MergePreview:
    """What merging ``theirs`` into ``ours`` gives.

    Attributes
    ----------
    ours, theirs : Version
        The version merged into (its branch receives the merge) and the one merged in.
    base : str or None
        Their common ancestor.
    conflicts : list of ConflictView
        What a person must decide (from the merge without choices).
    resolutions : dict
        The resolutions the choices made.
    result : MergeResult
        The merge with those resolutions: its graph when it can be saved, else the
        conflicts still open (unanswered ones, or a cycle the choices close).
    """

    ours: Version
    theirs: Version
    base: str | None
    conflicts: list[ConflictView]
    resolutions: dict[str, str] = field(default_factory=dict)
    result: MergeResult = field(default_factory=lambda: MergeResult(None))

    @property
    def ready(self) -> bool:
        """True when the merge can be saved as it stands."""
        return self.result.ok

    @property
    def problems(self) -> list[Conflict]:
        """Conflicts the choices leave open (a cycle among them names its variables)."""
        return list(self.result.conflicts)

    @property
    def graph(self) -> CausalGraph | None:
        return self.result.graph


def choices_to_resolutions(choices: Mapping[str, Any]) -> dict[str, str]:
    """The ``resolutions`` of a merge from one choice per conflict key.

    An edge or variable conflict's choice is its resolution (``"ours"``, ``"theirs"``,
    ``"unresolved"``, ``"keep"``, ...); a cycle's choice names the pair to change and
    how (``"a -- b=none"``). Empty choices (not answered yet) are left out.
    """
    out: dict[str, str] = {}
    for key, value in choices.items():
        if value is None or str(value).strip() == "":
            continue
        if str(key).startswith("cycle:") and "=" in str(value):
            pair, _, choice = str(value).partition("=")
            out[pair.strip()] = choice.strip()
        else:
            out[str(key)] = str(value).strip()
    return out


def _changes(store: Store, head: Version, base: str | None) -> list[Version]:
    """The versions on ``head``'s side since ``base``, nearest first."""
    since = set(store.ancestors(base)) if base else set()
    return [store.get_version(v) for v in store.ancestors(head.id) if v not in since]


def _why(versions: Sequence[Version], touches: Any) -> tuple[str, str, datetime | None]:
    for v in versions:
        for e in reversed(v.edit_data):
            if touches(e):
                when = e.get("created")
                return (
                    str(e.get("author") or v.author),
                    str(e.get("rationale") or v.message or ""),
                    datetime.fromisoformat(when) if isinstance(when, str) else v.created,
                )
    if versions:
        v = versions[0]
        return v.author, v.message or "(no message)", v.created
    return "", "", None


def _side(
    store: Store,
    side: str,
    head: Version,
    base_graph: CausalGraph,
    base: str | None,
    c: Conflict,
) -> ConflictSide:
    graph = head.graph
    changes = _changes(store, head, base)
    state = c.ours if side == "ours" else c.theirs
    if c.kind == "node":
        node = c.key
        author, why, when = _why(
            changes, lambda e: node in (str(e.get("source")), str(e.get("target")))
        )
        return ConflictSide(
            side, head.id, head.branch, "kept" if state else "removed", {}, author, why, when
        )
    if c.kind == "edge":
        u, v = c.key.split(" -- ", 1)
        edge = tuple(state) if state else None
        text = "no edge" if edge is None else f"{graph.label(edge[0])} -> {graph.label(edge[1])}"
        evidence: dict[str, Any] = {}
        for g in (graph, base_graph):
            for s, t in ((u, v), (v, u)):
                if g.has_edge(s, t) and not evidence:
                    evidence = dict(g.nx.edges[s, t].get("evidence") or {})
        author, why, when = _why(
            changes,
            lambda e: pair_key(str(e.get("source")), str(e.get("target"))) == c.key,
        )
        return ConflictSide(side, head.id, head.branch, text, evidence, author, why, when)
    author, why, when = _why(changes, lambda e: False)
    return ConflictSide(side, head.id, head.branch, "", {}, author, why, when)


def _choices(c: Conflict, ours: ConflictSide, theirs: ConflictSide) -> tuple[tuple[str, str], ...]:
    if c.kind == "node":
        return (("keep", "keep the variable"), ("remove", "remove the variable"))
    if c.kind == "cycle":
        return tuple((f"{p}=none", f"drop the edge {p.replace(' -- ', ' – ')}") for p in c.options)
    out = [("ours", f"ours: {ours.state}"), ("theirs", f"theirs: {theirs.state}")]
    if c.ours is not None and c.theirs is not None:
        # both keep an edge, in opposite directions: keep it, direction undecided
        out.append(("unresolved", "keep the edge, leave its direction unresolved"))
    return tuple(out)


def explain_merge(
    store: Store, ours_id: str, theirs_id: str, choices: Mapping[str, Any] | None = None
) -> MergePreview:
    """Merge version ``theirs_id`` into ``ours_id`` without saving, with ``choices``
    (conflict key -> choice) applied; see :class:`MergePreview`."""
    ours, theirs = store.get_version(ours_id), store.get_version(theirs_id)
    base = store.common_ancestor(ours.id, theirs.id)
    open_ = store.preview_merge(ours.id, theirs.id)
    base_graph = store.get_version(base).graph if base else ours.graph
    views = []
    for c in open_.conflicts:
        o = _side(store, "ours", ours, base_graph, base, c)
        t = _side(store, "theirs", theirs, base_graph, base, c)
        views.append(ConflictView(c, o, t, _choices(c, o, t)))
    resolutions = choices_to_resolutions(choices or {})
    result = store.preview_merge(ours.id, theirs.id, resolutions) if resolutions else open_
    return MergePreview(ours, theirs, base, views, resolutions, result)
