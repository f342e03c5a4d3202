"""One person's editing sessions, as the store keeps them: what each is about, how far
it went and when it was last touched, read from the stored history without replaying it
on the cohort.

A session belongs to an *owner*: the signed-in account, or on a single-user computer the
name typed in the editor (:meth:`kg_editor.versions.store.Store.set_session_owner`).
:func:`summarize_session` turns one stored session (``Store.list_sessions(details=True)``)
into a :class:`SessionSummary`, the row of the "My sessions" page.

Examples
--------
>>> from kg_editor.model.graph import AddEdge, RemoveEdge, edit_to_dict
>>> a = edit_to_dict(AddEdge("smoke", "lung", author="dr_a", rationale="known"))
>>> r = edit_to_dict(RemoveEdge("x", "y", author="dr_a"))
>>> history = [{"kind": "start"}, {"kind": "edit", "edit": a},
...            {"kind": "edit", "edit": r}, {"kind": "undo"}]
>>> [e["kind"] for e in effective_steps((h["kind"], h.get("edit")) for h in history)]
['add']
>>> s = summarize_session({"id": "3f2a9c0d1e2b4a5f", "project_id": "p", "owner": "dr_a",
...     "updated": "2026-12-07T05:00:00+00:00", "revision": 3, "history": history,
...     "graph": {"nodes": [{"id": "smoke"}, {"id": "lung"}],
...               "edges": [{"source": "smoke", "target": "lung"}]},
...     "state": {"settings": {"targets": ["lung"]}, "base_version": ""}})
>>> s.n_edits, s.n_variables, s.n_edges, s.last_edit
(1, 2, 1, 'undid an edit')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "SessionSummary",
    "describe_step",
    "edges_key",
    "effective_steps",
    "summarize_session",
]

#: History entries that change the graph (kept, undone and redone by the session).
_GRAPH_STEPS = ("edit", "accept")

_VERBS = {
    "add": "added",
    "remove": "removed",
    "reverse": "reversed",
    "add_latent": "added a latent cause of",
    "remove_latent": "removed the latent cause of",
    "endorse": "endorsed",
    "resolve": "settled the direction of",
}


def effective_steps(entries: Iterable[tuple[str, Any]]) -> list[Any]:
    """The edits that make a session's graph, from its history as ``(kind, edit)``
    pairs in order: undone edits are dropped, redone ones kept."""
    stack: list[Any] = []
    undone: list[Any] = []
    for kind, edit in entries:
        if kind in _GRAPH_STEPS and edit is not None:
            stack.append(edit)
            undone.clear()
        elif kind == "undo" and stack:
            undone.append(stack.pop())
        elif kind == "redo" and undone:
            stack.append(undone.pop())
    return stack


def describe_step(entry: Mapping[str, Any], label: Callable[[str], str] | None = None) -> str:
    """One history entry in words (``"removed Smoking -> Lung cancer"``).

    Examples
    --------
    >>> describe_step({"kind": "edit", "edit": {"kind": "reverse", "source": "a", "target": "b"}})
    'reversed a -> b'
    >>> describe_step({"kind": "merge", "concept": {"name": "Diabetes"}})
    'merged variables into Diabetes'
    """
    name = label or str
    kind = str(entry.get("kind") or "")
    edit = entry.get("edit") or {}
    if kind in ("undo", "redo"):
        return "undid an edit" if kind == "undo" else "redid an edit"
    if kind == "reject":
        return "declined a suggestion"
    if kind in ("merge", "split"):
        what = (entry.get("concept") or {}).get("name") or "a concept"
        return f"merged variables into {what}" if kind == "merge" else f"split {what}"
    if edit:
        verb = _VERBS.get(str(edit.get("kind")), str(edit.get("kind") or "changed"))
        arrow = "<->" if "latent" in str(edit.get("kind")) else "->"
        return f"{verb} {name(str(edit.get('source')))} {arrow} {name(str(edit.get('target')))}"
    return "opened"


@dataclass(frozen=True)
class SessionSummary:
    """A stored editing session, as a person choosing one to resume sees it.

    Attributes
    ----------
    id, owner : str
        The session id (its editor address is ``/?session=<id>``) and whose it is.
    updated : datetime
        When it was last saved (every edit saves it).
    n_edits : int
        Edits its graph holds now (undone ones not counted).
    n_steps : int
        Every step of its history (edits, undos, accepted or declined suggestions).
    last_edit : str
        Its last step in words, or ``"opened"`` when nothing was done yet.
    last_author : str
        Who made that step (``""`` when nothing was done).
    n_variables, n_edges : int
        The size of its current graph.
    target : str or None
        The target the report is about.
    base_version : str or None
        The saved version its saves go onto (``None``: none was saved yet).
    start_key : str
        :func:`edges_key` of the graph it started from (equal to a version's when it
        was opened on that version).
    """

    id: str
    owner: str
    updated: datetime
    n_edits: int
    n_steps: int
    last_edit: str
    last_author: str
    n_variables: int
    n_edges: int
    target: str | None
    base_version: str | None
    start_key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "updated": self.updated.isoformat()}


def summarize_session(
    record: Mapping[str, Any], label: Callable[[str], str] | None = None
) -> SessionSummary:
    """The :class:`SessionSummary` of one row of ``Store.list_sessions(details=True)``."""
    history = [h for h in record.get("history") or [] if isinstance(h, Mapping)]
    steps = [h for h in history if h.get("kind") != "start"]
    kept = effective_steps((str(h.get("kind")), h.get("edit")) for h in history)
    graph = record.get("graph") or {}
    state = record.get("state") or {}
    targets = list((state.get("settings") or {}).get("targets") or [])
    last = steps[-1] if steps else None
    return SessionSummary(
        id=str(record["id"]),
        owner=str(record.get("owner") or ""),
        updated=datetime.fromisoformat(str(record["updated"])),
        n_edits=len(kept),
        n_steps=len(steps),
        last_edit=describe_step(last, label) if last is not None else "opened",
        last_author=str((last or {}).get("author") or ""),
        n_variables=len(graph.get("nodes") or []),
        n_edges=len(graph.get("edges") or []),
        target=str(targets[0]) if targets else None,
        base_version=state.get("base_version") or None,
        start_key=edges_key((state.get("initial_graph") or {}).get("edges") or []),
    )


def edges_key(edges: Iterable[Any]) -> str:
    """A short key of a graph's edge list (dicts with ``source``/``target``, or pairs):
    two graphs with the same edges have the same key.

    Examples
    --------
    >>> edges_key([{"source": "a", "target": "b"}]) == edges_key([("a", "b")])
    True
    """
    import hashlib
    import json

    pairs = sorted(
        [str(e["source"]), str(e["target"])] if isinstance(e, Mapping) else [str(e[0]), str(e[1])]
        for e in edges
    )
    return hashlib.sha1(json.dumps(pairs).encode()).hexdigest()[:16]
