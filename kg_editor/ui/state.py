"""Server-side state of the web editor: cohorts, the distilled graph, live sessions.

The store is the truth: after every change a session's state (``EditSession.to_dict()``)
is written to it. The in-process dictionary of live :class:`EditSession` objects is only a
cache; a worker that has never seen a session id rebuilds the session from the store and
the cohort (the cohort and the distilled graph are cached per source and target). The
registry is an object owned by one app, never a module-level global.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from kg_editor.errors import KGEditorError, StoreError

__all__ = ["SessionRegistry", "UnknownSessionError", "valid_session_id"]

logger = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class UnknownSessionError(KGEditorError):
    """The browser names a session the store does not hold."""


def valid_session_id(value: Any) -> bool:
    """True for a string shaped like a session id (letters, digits, ``-``, ``_``).

    Examples
    --------
    >>> valid_session_id("3f2a9c0d1e2b4a5f"), valid_session_id("../etc"), valid_session_id(None)
    (True, False, False)
    """
    return isinstance(value, str) and bool(_ID.match(value))


class SessionRegistry:
    """Cohort, base graph and live sessions of one web app.

    Parameters
    ----------
    source : str
        The EHR source (``"demo"``, a path, ...), as for ``kg-editor cohort``.
    target : str, optional
        Target diagnosis (code or label).
    store_url : str, optional
        SQLAlchemy URL of the store (default: the user's SQLite file).
    graph : CausalGraph, optional
        Start from this graph instead of distilling one.
    cohort : Cohort, optional
        Use this cohort instead of building one from ``source``.
    cohort_options : dict, optional
        Extra keyword arguments of :func:`kg_editor.data.cohort.build_cohort`.
    session_options : dict, optional
        Extra keyword arguments of :class:`kg_editor.model.session.EditSession`.
    max_cached : int
        Live sessions kept in memory (least recently used are dropped; the store keeps
        them all).
    """

    def __init__(
        self,
        source: str = "demo",
        target: str | None = None,
        *,
        store_url: str | None = None,
        graph: Any = None,
        cohort: Any = None,
        cohort_options: Mapping[str, Any] | None = None,
        session_options: Mapping[str, Any] | None = None,
        max_cached: int = 32,
        store: Any = None,
    ):
        self.source = source
        self.target = target
        self.store_url = store_url
        self.cohort_options = dict(cohort_options or {})
        self.session_options = {"bootstrap": 200, **dict(session_options or {})}
        self.max_cached = max_cached
        self._given_graph = graph
        self._cohort = cohort
        self._graph = graph
        self._stats: Any = None
        self._constraints: Any = None
        self._store = store
        self._project_id: str | None = None
        self._lock = threading.RLock()
        self._sessions: OrderedDict[str, Any] = OrderedDict()
        self._session_locks: dict[str, threading.RLock] = {}

    # -- shared, read-only objects ----------------------------------------------------
    @property
    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from kg_editor.versions.store import Store

                self._store = Store(self.store_url)
            return self._store

    def cohort(self, progress: Callable[[str], Any] | None = None) -> Any:
        """The cohort (built once per registry)."""
        with self._lock:
            if self._cohort is None:
                from kg_editor.data.cohort import build_cohort
                from kg_editor.data.sources import load_source

                with _step(progress, f"Reading {self.source}"):
                    src = load_source(self.source)
                with _step(progress, "Building the cohort"):
                    self._cohort = build_cohort(src, target=self.target, **self.cohort_options)
            return self._cohort

    def base_graph(self, progress: Callable[[str], Any] | None = None) -> Any:
        """The starting graph: the one given, else distilled from the cohort once."""
        with self._lock:
            if self._graph is None:
                cohort = self.cohort(progress)
                from kg_editor.discovery.distill import Distiller

                with _step(progress, "Distilling the causal graph"):
                    distiller = Distiller().fit(cohort)
                self._graph, self._stats = distiller.graph_, distiller.stats_
                self._constraints = distiller.constraints_
            return self._graph

    def constraints(self) -> Any:
        """Expert constraints every session honours: the distiller's (user file plus the
        default tiers of OMOP domains), or, for a given graph, the domain tiers alone."""
        with self._lock:
            if self._constraints is None:
                from kg_editor.discovery.distill import resolve_constraints

                self._constraints = resolve_constraints(None, self.cohort())
            return self._constraints

    def pair_evidence(self, source: str, target: str) -> dict[str, Any]:
        """Evidence (suppressed counts, measures, test, precedence) for any pair, e.g. an
        edge a clinician added that the distiller did not propose."""
        with self._lock:
            if self._stats is None:
                from kg_editor.discovery.distill import Distiller

                self._stats = Distiller().fit(self.cohort()).stats_
            stats = self._stats
        from kg_editor.discovery.evidence import pair_evidence

        return pair_evidence(stats, source, target)

    @property
    def project_id(self) -> str:
        with self._lock:
            if self._project_id is None:
                cohort = self.cohort()
                name = f"{cohort.source_name or self.source} / {cohort.target or 'no target'}"
                try:
                    project = self.store.project_for_cohort(cohort, name=name)
                except StoreError:
                    # same source and target, other cohort settings (split, age bands...):
                    # a project of its own, named by its data fingerprint
                    name = f"{name} [{cohort.fingerprint()[:8]}]"
                    project = self.store.project_for_cohort(cohort, name=name)
                self._project_id = project.id
            return self._project_id

    def warm(self, progress: Callable[[str], Any] | None = None) -> None:
        """Load the cohort, distil the graph and open the store before serving."""
        self.base_graph(progress)
        with _step(progress, "Opening the store"):
            _ = self.project_id

    # -- sessions ------------------------------------------------------------------------
    def create(self, author: str = "anonymous") -> str:
        """Open a new editing session on the base graph; returns its id."""
        from kg_editor.model.session import EditSession

        cohort = self.cohort()
        graph = self.base_graph()
        options = {"constraints": self.constraints(), **self.session_options}
        session = EditSession(cohort, graph, author=author, **options)
        sid = uuid.uuid4().hex
        self.store.save_session_state(sid, self.project_id, session.to_dict())
        self._remember(sid, session)
        logger.info("opened editing session %s", sid)
        return sid

    def _remember(self, sid: str, session: Any) -> None:
        with self._lock:
            self._sessions[sid] = session
            self._sessions.move_to_end(sid)
            while len(self._sessions) > self.max_cached:
                old, _ = self._sessions.popitem(last=False)
                self._session_locks.pop(old, None)

    def _lock_for(self, sid: str) -> threading.RLock:
        with self._lock:
            return self._session_locks.setdefault(sid, threading.RLock())

    def exists(self, sid: str) -> bool:
        if not valid_session_id(sid):
            return False
        with self._lock:
            if sid in self._sessions:
                return True
        return self.store.load_session_state(sid) is not None

    def get(self, sid: str) -> Any:
        """The live session ``sid`` (rebuilt from the store when this worker lacks it)."""
        if not valid_session_id(sid):
            raise UnknownSessionError("This page has no valid editing session; reload the page.")
        with self._lock:
            if sid in self._sessions:
                self._sessions.move_to_end(sid)
                return self._sessions[sid]
        state = self.store.load_session_state(sid)
        if state is None:
            raise UnknownSessionError(
                "This editing session is not in the store any more; reload the page to start a new one."
            )
        from kg_editor.model.session import EditSession

        session = EditSession.from_dict(state, self.cohort())
        self._remember(sid, session)
        logger.info("rebuilt editing session %s from the store", sid)
        return session

    @contextmanager
    def editing(self, sid: str) -> Iterator[Any]:
        """Hold the session's lock while it changes; save it to the store afterwards
        (only when the block ends without an error)."""
        with self._lock_for(sid):
            session = self.get(sid)
            yield session
            self.save(sid, session)

    @contextmanager
    def reading(self, sid: str) -> Iterator[Any]:
        """Hold the session's lock while reading it."""
        with self._lock_for(sid):
            yield self.get(sid)

    def save(self, sid: str, session: Any) -> None:
        """Write the session's state to the store."""
        self.store.save_session_state(sid, self.project_id, session.to_dict())

    def log_edit(self, sid: str, edit: Any, delta: Any, action: str = "edit") -> None:
        """Record one edit in the store's audit log."""
        try:
            self.store.log_edit(self.project_id, sid, edit, delta, action=action)
        except Exception:  # the audit log must never break an edit
            logger.exception("could not write the audit log entry for %s", edit)

    def forget(self, sid: str) -> None:
        """Drop the cached session (the store keeps it); used by tests."""
        with self._lock:
            self._sessions.pop(sid, None)


def _step(progress: Callable[[str], Any] | None, message: str) -> Any:
    if progress is None:
        return nullcontext()
    return progress(message)
