"""Edits are serialised per session and carry the session's revision (issue 14, build 0)."""

from __future__ import annotations

import threading

import networkx as nx

from kg_editor.errors import KGEditorError
from kg_editor.workspace import ProjectSpec, Workspace


def _workspace(demo_cohort, demo_graph, tmp_path) -> Workspace:
    return Workspace(
        ProjectSpec("demo", demo_cohort.target),
        store=f"sqlite:///{tmp_path / 'kg.db'}",
        cohort=demo_cohort,
        graph=demo_graph,
        session_options={"bootstrap": 0},
    )


def _reversible(graph, constraints):
    g = graph.nx
    for u, v in sorted(g.edges):
        if constraints.violation(v, u) is not None:
            continue
        h = nx.DiGraph(g)
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v):
            return u, v
    raise AssertionError("no reversible edge")


def test_concurrent_reversals_of_one_edge_are_serialised(demo_cohort, demo_graph, tmp_path):
    """Eight threads reverse "the edge as they last saw it" at once: under the session
    lock each sees the state the previous one left, so every reversal is applied and the
    revision counts each one; none reads a half-made graph."""
    ws = _workspace(demo_cohort, demo_graph, tmp_path)
    sid = ws.open_session(author="dr_a")
    start = ws.history_revision(sid)
    with ws.reading(sid) as s:
        u, v = _reversible(s.graph, s.constraints)
    seen: list[int] = []
    errors: list[Exception] = []

    def flip() -> None:
        try:
            with ws.editing(sid) as s:
                a, b = (u, v) if s.graph.has_edge(u, v) else (v, u)
                s.reverse(a, b, author="dr_a")
                seen.append(len(s.history))
        except KGEditorError as exc:  # pragma: no cover - would be the bug
            errors.append(exc)

    threads = [threading.Thread(target=flip) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(seen) == list(range(start + 1, start + 9))  # one revision per edit
    assert ws.history_revision(sid) == start + 8
    with ws.reading(sid) as s:
        assert s.graph.has_edge(u, v) and not s.graph.has_edge(v, u)  # an even number of flips


def test_revision_is_the_stored_history_so_another_worker_agrees(demo_cohort, demo_graph, tmp_path):
    ws = _workspace(demo_cohort, demo_graph, tmp_path)
    sid = ws.open_session(author="dr_a")
    with ws.editing(sid) as s:
        u, v = sorted(s.graph.edges)[0]
        s.remove(u, v, author="dr_a")
    with ws.editing(sid) as s:
        s.undo(author="dr_a")
    assert ws.history_revision(sid) == 3  # start, edit, undo
    ws.forget(sid)  # as a second worker would: rebuilt from the store
    assert ws.history_revision(sid) == 3
