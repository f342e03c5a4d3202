"""The application layer: one project from its data source to saved versions and exports.

The command line (:mod:`kg_editor.commands`) and the web editor (:mod:`kg_editor.ui`)
both call this module and nothing below it. It holds the wiring that used to be repeated
in both shells:

    ProjectSpec (source + cohort options)
      -> Workspace.cohort()          the patient x variable table, built once
      -> Workspace.distill()         the candidate graph, its evidence and constraints
      -> Workspace.open_session()    editing sessions, saved to the store after each change
      -> Workspace.save_version()    versions (graph + report + edits + provenance)
      -> Workspace.export_*()        graph files in any registered format

Every artefact records where it came from (:meth:`Workspace.provenance`): the source
and its reader options, the cohort options, the cohort's fingerprint, the distillation
settings and the constraints. :meth:`Workspace.for_graph` reads that record back, so a
graph file reopens on the same cohort without repeating any option, and a setting given
now that differs from the recorded one is refused with one message naming each
difference (:class:`~kg_editor.errors.SettingsMismatchError`).

Projects are named by :func:`project_name` (source, target and, when two cohorts of one
source differ, the data fingerprint), from the CLI and from the web alike, so each sees
the other's versions.

Examples
--------
>>> ws = Workspace.open("demo", min_patients=30)            # doctest: +SKIP
>>> graph = ws.distill().graph_                             # doctest: +SKIP
>>> sid = ws.open_session(graph)                            # doctest: +SKIP
>>> with ws.editing(sid) as s:                              # doctest: +SKIP
...     _ = s.remove(*graph.edges[0], rationale="spurious")
>>> ws.save_version(sid, message="first pass").id           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg_editor.cache import LRU
from kg_editor.errors import (
    ConflictError,
    DataSourceError,
    KGEditorError,
    SettingsMismatchError,
    StoreError,
    UnknownSessionError,
)

if TYPE_CHECKING:
    from kg_editor.data.cohort import Cohort
    from kg_editor.discovery.distill import Distiller
    from kg_editor.model.graph import CausalGraph, Constraints, Edit
    from kg_editor.model.report import ReportDelta
    from kg_editor.model.session import EditSession
    from kg_editor.teaching.beliefs import TeachingModel
    from kg_editor.versions.accounts import Accounts
    from kg_editor.versions.consensus import Consensus
    from kg_editor.versions.diff import GraphDiff
    from kg_editor.versions.merge import MergePreview
    from kg_editor.versions.sessions import SessionSummary
    from kg_editor.versions.store import Comparison, Project, Store, Version

__all__ = [
    "COHORT_DEFAULTS",
    "DEFAULT_SESSION_OPTIONS",
    "EDIT_KINDS",
    "Progress",
    "ProjectSpec",
    "TeachingCache",
    "Versions",
    "Workspace",
    "effective_edits",
    "graph_key",
    "mismatch_error",
    "project_name",
    "recorded_constraints",
    "valid_session_id",
]

logger = logging.getLogger(__name__)

#: A progress reporter: called with a step's message, returns a context manager that
#: spans the step (the CLI shows a spinner line, the web app logs).
Progress = Callable[[str], AbstractContextManager[Any]]

#: Options of :func:`kg_editor.data.cohort.build_cohort` with their defaults. A
#: :class:`ProjectSpec` records only those that differ from these.
COHORT_DEFAULTS: dict[str, Any] = {
    "min_patients": 20,
    "max_variables": 60,
    "test_size": 0.2,
    "seed": 0,
    # None: at the index date with --index, at the first event otherwise
    "age_at": None,
    "concepts": None,
    "index": None,
    "lookback_days": None,
    "outcome_days": None,
    "unmatched_persons": "warn",
    "min_cell": 11,
}

#: Settings of every :class:`~kg_editor.model.session.EditSession` the workspace opens.
DEFAULT_SESSION_OPTIONS: dict[str, Any] = {"bootstrap": 200}

#: The edits a session accepts by name (the UI and the CLI call these, never ``getattr``).
EDIT_KINDS = ("add", "remove", "reverse")

_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def valid_session_id(value: Any) -> bool:
    """True for a string shaped like a session id (letters, digits, ``-``, ``_``).

    Examples
    --------
    >>> valid_session_id("3f2a9c0d1e2b4a5f"), valid_session_id("../etc"), valid_session_id(None)
    (True, False, False)
    """
    return isinstance(value, str) and bool(_ID.match(value))


def _step(progress: Progress | None, message: str) -> AbstractContextManager[Any]:
    return nullcontext() if progress is None else progress(message)


# ---------------------------------------------------------------------------------
# What a project is: a source and the options that turn it into a cohort
# ---------------------------------------------------------------------------------
def _normal_source(source: str) -> str:
    text = str(source).strip()
    if text.lower() == "demo":
        return "demo"
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else text


@dataclass(frozen=True)
class ProjectSpec:
    """The data of a project: a source, how to read it and how to build the cohort.

    Parameters
    ----------
    source : str
        ``"demo"``, an events or wide CSV/Parquet file, or an OMOP CDM DuckDB file or
        folder (stored as an absolute path).
    target : str, optional
        Target diagnosis (code or label; the cohort's code once built).
    kind : str, optional
        Force a reader (``"wide"``, ``"events"``, ``"omop"``, ``"demo"``).
    source_options : mapping
        Reader options (e.g. ``persons=`` for an events file).
    cohort_options : mapping
        Options of :func:`~kg_editor.data.cohort.build_cohort` that differ from
        :data:`COHORT_DEFAULTS` (and any others it takes).

    Examples
    --------
    >>> a = ProjectSpec("demo", cohort_options={"min_patients": 30})
    >>> ProjectSpec.from_dict(a.to_dict()) == a
    True
    >>> a.differences(ProjectSpec("demo"))
    {'min_patients': (30, 20)}
    """

    source: str = "demo"
    target: str | None = None
    kind: str | None = None
    source_options: Mapping[str, Any] = field(default_factory=dict)
    cohort_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", _normal_source(self.source))
        opts = {
            k: v
            for k, v in dict(self.cohort_options).items()
            if v is not None and COHORT_DEFAULTS.get(k, object()) != v
        }
        object.__setattr__(self, "cohort_options", opts)
        src = {k: str(v) for k, v in dict(self.source_options).items() if v is not None}
        object.__setattr__(self, "source_options", src)

    # -- (de)serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        from kg_editor.jsonsafe import json_safe

        return {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "source_options": dict(self.source_options),
            "cohort_options": json_safe(dict(self.cohort_options)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjectSpec:
        return cls(
            source=str(data.get("source") or "demo"),
            target=data.get("target"),
            kind=data.get("kind"),
            source_options=dict(data.get("source_options") or {}),
            cohort_options=dict(data.get("cohort_options") or {}),
        )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ProjectSpec | None:
        """The spec an artefact recorded (``metadata["project"]``), or ``None``."""
        data = metadata.get("project")
        return cls.from_dict(data) if isinstance(data, Mapping) else None

    # -- comparing -------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """Every setting, defaults filled in: what :meth:`differences` compares."""
        out: dict[str, Any] = {"source": self.source, "target": self.target, "kind": self.kind}
        out.update(self.source_options)
        out.update({**COHORT_DEFAULTS, **dict(self.cohort_options)})
        return out

    def differences(self, other: ProjectSpec) -> dict[str, tuple[Any, Any]]:
        """Setting -> ``(self's, other's)`` for every setting where the two differ."""
        a, b = self.settings(), other.settings()
        out = {}
        for key in [*a, *(k for k in b if k not in a)]:
            x, y = a.get(key), b.get(key)
            if _norm(x) != _norm(y):
                out[key] = (x, y)
        return out

    def with_overrides(
        self,
        *,
        source: str | None = None,
        target: str | None = None,
        kind: str | None = None,
        source_options: Mapping[str, Any] | None = None,
        cohort_options: Mapping[str, Any] | None = None,
    ) -> ProjectSpec:
        """This spec with the settings given (``None`` keeps the recorded one)."""
        return ProjectSpec(
            source=self.source if source is None else source,
            target=self.target if target is None else target,
            kind=self.kind if kind is None else kind,
            source_options={**self.source_options, **dict(source_options or {})},
            cohort_options={
                **self.cohort_options,
                **{k: v for k, v in dict(cohort_options or {}).items() if v is not None},
            },
        )

    # -- building ----------------------------------------------------------------------
    def build_cohort(self, progress: Progress | None = None) -> Cohort:
        """Read the source and build the cohort."""
        from kg_editor.data.cohort import build_cohort
        from kg_editor.data.sources import load_source

        opts = dict(self.source_options)
        tables = {k: opts.pop(k) for k in ("events_table", "persons_table") if k in opts}
        if "://" in self.source:  # counted inside the engine holding the data
            from kg_editor.engines import EngineSource

            with _step(progress, f"Counting in {self.source.split('://', 1)[0]}"):
                return EngineSource.open(
                    self.source,
                    tables.get("events_table") or "events",
                    tables.get("persons_table"),
                ).cohort(target=self.target, **dict(self.cohort_options))
        if tables:
            raise DataSourceError(
                f"{', '.join('--' + k.replace('_', '-') for k in tables)} only apply to a "
                "SOURCE URL (duckdb:///file.duckdb, postgresql://..., spark://...); "
                f"{self.source!r} is not one."
            )
        with _step(progress, f"Reading {self.source}"):
            src = load_source(self.source, kind=self.kind, **opts)
        with _step(progress, "Building the cohort"):
            return build_cohort(src, target=self.target, **dict(self.cohort_options))

    def describe(self) -> str:
        """One line naming the source and the non-default options."""
        opts = ", ".join(f"{k}={v}" for k, v in {**self.cohort_options}.items())
        return (
            f"{self.source}"
            + (f" (target {self.target})" if self.target else "")
            + (f" with {opts}" if opts else "")
        )


def _norm(x: Any) -> Any:
    if isinstance(x, tuple | list):
        return [_norm(v) for v in x]
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def _option_flag(key: str) -> str:
    return "--" + key.replace("_", "-") if key not in ("source",) else "SOURCE"


def mismatch_error(
    what: str, differences: Mapping[str, tuple[Any, Any]], hint: str = ""
) -> SettingsMismatchError:
    """One message naming every differing setting (recorded vs given)."""
    parts = [
        f"{_option_flag(k)} {rec!r} there, {giv!r} here" for k, (rec, giv) in differences.items()
    ]
    text = f"{what} was made with other settings: {'; '.join(parts)}. " + (
        hint or "Leave these options out to use the recorded ones."
    )
    return SettingsMismatchError(text, dict(differences))


def recorded_constraints(graph: CausalGraph) -> Constraints | None:
    """The constraints a graph file records (``metadata["constraints"]``), or ``None``."""
    from kg_editor.model.graph import Constraints

    data = graph.metadata.get("constraints")
    return Constraints.from_dict(data) if isinstance(data, Mapping) else None


def project_name(
    source_name: str, target: str | None, fingerprint: str = "", *, tagged: bool = False
) -> str:
    """The name of the project of a cohort: ``"SOURCE / TARGET"``; ``tagged`` adds the
    data fingerprint (a second cohort of the same source and target)."""
    name = f"{source_name or 'cohort'} / {target or 'no target'}"
    return f"{name} [{fingerprint[:8]}]" if tagged and fingerprint else name


def effective_edits(session: EditSession) -> list[Edit]:
    """The edits that make the session's current graph from its starting graph, in order
    (undone edits are dropped, redone ones kept), replayed from ``session.history``."""
    from kg_editor.versions.sessions import effective_steps

    return effective_steps((h.kind, h.edit) for h in session.history)


# ---------------------------------------------------------------------------------
# The version store, by project
# ---------------------------------------------------------------------------------
class Versions:
    """Projects and versions of one store, for callers that have no cohort at hand
    (``kg-editor versions ...``).

    Parameters
    ----------
    store : Store or str, optional
        A store, or its URL / SQLite file (default: the user's data directory).
    """

    def __init__(self, store: Store | str | None = None):
        if store is None or isinstance(store, str):
            from kg_editor.versions.store import Store

            store = Store(store)
        self.store: Store = store
        self._accounts: Accounts | None = None

    def close(self) -> None:
        self.store.close()

    def consensus(self, project: str | None = None) -> Consensus:
        """Votes, protected branches and proposals of ``project`` (name or id, or the
        store's only project)."""
        from kg_editor.versions.consensus import Consensus

        return Consensus(self.store, self.project_id(project))

    def sign_in(
        self, username: str | None, password: str | None, required: str, doing: str
    ) -> str | None:
        """Who writes to the store from the command line, checked like the web app does.

        Without accounts the store is single-user: ``None`` (the caller's own name
        stands). With accounts, ``username`` must sign in with ``password`` and hold
        ``required`` (viewer < editor < reviewer < admin); the account name is returned
        to be recorded as the author.

        Raises
        ------
        AccessError
            No user name, a wrong password, a disabled account, or a role below
            ``required``; the message says what to do.
        """
        from kg_editor.errors import AccessError

        accounts = self.accounts
        if not accounts.any():
            return None
        if not username:
            raise AccessError(
                f"This store has accounts: {doing} needs the {required} role. Say who you are "
                "with --as USERNAME (the password is asked for, or read from KG_EDITOR_PASSWORD)."
            )
        account = accounts.authenticate(username, password or "", client="cli")
        if not account.can(required):
            raise AccessError(
                f"{account.username} is a {account.role}: {doing} needs the {required} role "
                "(ask an administrator: kg-editor users set-role)."
            )
        return account.username

    @property
    def accounts(self) -> Accounts:
        """The store's local accounts (sign-in, roles, rate-limit counts)."""
        if self._accounts is None:
            from kg_editor.versions.accounts import Accounts

            self._accounts = Accounts(self.store)
        return self._accounts

    def after_fork(self) -> None:
        """Drop the database connections inherited from a parent process (a server's
        worker calls this after the fork; each process opens its own)."""
        self.store.engine.dispose(close=False)

    def __enter__(self) -> Versions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- projects ------------------------------------------------------------------
    def ensure_project(
        self,
        source_name: str,
        target: str | None,
        fingerprint: str,
        settings: Mapping[str, Any] | None = None,
    ) -> Project:
        """The project of this cohort, named by :func:`project_name` (created if new)."""
        try:
            return self.store.ensure_project(
                project_name(source_name, target),
                fingerprint,
                settings,
                source_name=source_name,
                target=target,
            )
        except StoreError:
            # same source and target, other cohort settings: a project of its own
            return self.store.ensure_project(
                project_name(source_name, target, fingerprint, tagged=True),
                fingerprint,
                settings,
                source_name=source_name,
                target=target,
            )

    def project_for_graph(self, graph: CausalGraph) -> Project | None:
        """The project a graph's provenance names (``None`` when it records none)."""
        md = graph.metadata
        fp = md.get("cohort_fingerprint")
        if not fp:
            return None
        return self.ensure_project(
            str(md.get("source") or ""), md.get("target"), str(fp), md.get("cohort_settings")
        )

    def project_id(self, project: str | None = None) -> str:
        """The id of ``project`` (name or id), or of the store's only project."""
        if project:
            return str(self.store.get_project(project).id)
        projects = self.store.list_projects()
        if len(projects) == 1:
            return str(projects[0].id)
        names = ", ".join(p.name for p in projects) or "none yet"
        raise StoreError(f"Say which project with --project (projects: {names}).")

    def list_projects(self) -> list[Project]:
        return self.store.list_projects()

    # -- versions ------------------------------------------------------------------
    def save_graph(
        self,
        graph: CausalGraph,
        *,
        project: str | None = None,
        branch: str = "main",
        author: str = "anonymous",
        message: str = "",
        report: Mapping[str, Any] | None = None,
        parent: str | None = None,
        edits: Sequence[Edit] = (),
        account: Any = None,
    ) -> Version:
        """Save ``graph`` as a version: in ``project`` when named, else in the project its
        provenance names (the one the web editor opens on the same data), else in the
        store's only project, else in ``"default"``. A signed-in ``account`` below the
        reviewer role may not save onto a protected branch (it proposes instead)."""
        if project:
            pid = self.project_id(project)
        else:
            found = self.project_for_graph(graph)
            if found is not None:
                pid = found.id
            elif self.store.list_projects():
                pid = self.project_id(None)
            else:
                pid = self.store.ensure_project("default").id
        if account is not None:
            from kg_editor.versions.consensus import Consensus

            Consensus(self.store, pid).check_save(account, branch)
        return self.store.save_version(
            pid,
            graph,
            parent=parent,
            branch=branch,
            author=author or "anonymous",
            message=message,
            report=report,
            edits=edits,
        )

    def list_versions(self, project_id: str, branch: str | None = None) -> list[Version]:
        return self.store.list_versions(project_id, branch)

    def get(self, version_id: str) -> Version:
        return self.store.get_version(version_id)

    def head(self, project_id: str, branch: str = "main") -> Version | None:
        return self.store.head(project_id, branch)

    def branch(self, version_id: str, name: str, author: str = "anonymous") -> Version:
        name = (name or "").strip()
        if not name:
            raise KGEditorError("Type a name for the new branch first (e.g. your name).")
        return self.store.branch(version_id, name, author=author)

    def restore(self, version_id: str, author: str = "anonymous") -> Version:
        return self.store.restore(version_id, author=author)

    def merge(
        self,
        a: str,
        b: str,
        resolutions: Mapping[str, str] | None = None,
        *,
        author: str = "anonymous",
        message: str = "",
        report: Mapping[str, Any] | None = None,
        account: Any = None,
    ) -> Version:
        """Merge version ``b`` into ``a`` (three-way) and save the result as the new head
        of ``a``'s branch, by ``author`` with ``message`` (why). A signed-in ``account``
        below the reviewer role may not merge into a protected branch (it proposes
        instead: :meth:`Consensus.propose`).

        Raises
        ------
        kg_editor.versions.diff.MergeConflictError
            Conflicts are left (unanswered, or a cycle the resolutions close).
        AccessError
            ``a``'s branch is protected and ``account`` is not a reviewer.
        """
        if account is not None:
            from kg_editor.versions.consensus import Consensus

            ours = self.store.get_version(a)
            Consensus(self.store, ours.project_id).check_save(account, ours.branch)
        return self.store.merge(
            a,
            b,
            dict(resolutions or {}),
            author=author or "anonymous",
            message=message,
            report=report,
        )

    def preview_merge(
        self, a: str, b: str, choices: Mapping[str, Any] | None = None
    ) -> MergePreview:
        """Merging ``b`` into ``a`` explained, nothing saved: each conflict with both
        sides' evidence, author and why, and the result of ``choices`` (conflict key ->
        choice; :func:`kg_editor.versions.merge.choices_to_resolutions`)."""
        from kg_editor.versions.merge import explain_merge

        return explain_merge(self.store, a, b, choices)

    def compare(self, a: str, b: str) -> Comparison:
        return self.store.compare(a, b)

    def diff(self, a: str, b: str) -> GraphDiff:
        return self.store.diff(a, b)

    def audit(
        self, project_id: str, session_id: str | None = None, limit: int | None = None
    ) -> list[Any]:
        return self.store.audit(project_id, session_id=session_id, limit=limit)

    def export(
        self, version_id: str, fmt: str, out: str | None = None, cpds: Any = None
    ) -> tuple[str, str]:
        """``(file name, text)`` of a version's graph in ``fmt`` (written to ``out`` when
        given)."""
        from kg_editor.formats import get_format, write_graph

        v = self.get(version_id)
        f = get_format(fmt)
        text = write_graph(v.graph, f.name, out, cpds=cpds)
        return f"kg-{v.branch}-{v.seq}-{v.id}{f.extensions[0]}", text


# ---------------------------------------------------------------------------------
# One project with its cohort: distil, edit, save, export, teach
# ---------------------------------------------------------------------------------
class Workspace:
    """A project: its cohort, base graph, constraints, live sessions and versions.

    Everything is built on first use and kept (one cohort per workspace); sessions live
    in the store after every change and in a bounded in-process cache, so another worker
    rebuilds any session from the store.

    Parameters
    ----------
    spec : ProjectSpec
        The source and cohort options.
    store : Store or str, optional
        The store (or its URL); default: the user's SQLite file, opened on first use.
    cohort : Cohort, optional
        Use this cohort (tests, notebooks) instead of building it from ``spec``.
    graph : CausalGraph, optional
        Start sessions from this graph instead of distilling one.
    constraints : Constraints, optional
        Constraints every session honours (default: the graph's recorded ones, else the
        distiller's, else the domains' default tiers).
    session_options : mapping, optional
        Settings of :class:`~kg_editor.model.session.EditSession` (default 200 bootstrap
        resamples).
    distill_options : mapping, optional
        Settings of :class:`~kg_editor.discovery.distill.Distiller`.
    max_cached : int
        Live sessions kept in memory.
    """

    def __init__(
        self,
        spec: ProjectSpec,
        *,
        store: Store | str | None = None,
        cohort: Cohort | None = None,
        graph: CausalGraph | None = None,
        constraints: Constraints | None = None,
        session_options: Mapping[str, Any] | None = None,
        distill_options: Mapping[str, Any] | None = None,
        max_cached: int = 32,
    ):
        self.spec = spec
        self.session_options = {**DEFAULT_SESSION_OPTIONS, **dict(session_options or {})}
        self.distill_options = dict(distill_options or {})
        self._store_arg = store
        self._versions: Versions | None = None
        self._cohort = cohort
        self._graph = graph
        self._distiller: Distiller | None = None
        self._constraints = constraints
        self._stats: Any = None
        self._project: Project | None = None
        self._lock = threading.RLock()
        self._sessions: LRU[str, EditSession] = LRU(max_cached, on_evict=self._evicted)
        self._session_locks: dict[str, threading.RLock] = {}
        # no lost updates: the store revision each cached session was read at, and the
        # audit entries of the edit in progress (written with the session, one transaction)
        self._revisions: dict[str, int] = {}
        self._pending_audit: dict[str, list[dict[str, Any]]] = {}
        self.teaching = TeachingCache()

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        source: str = "demo",
        target: str | None = None,
        *,
        kind: str | None = None,
        source_options: Mapping[str, Any] | None = None,
        store: Store | str | None = None,
        session_options: Mapping[str, Any] | None = None,
        distill_options: Mapping[str, Any] | None = None,
        **cohort_options: Any,
    ) -> Workspace:
        """A workspace on ``source`` (the demo's default target is its GI bleed)."""
        if target is None and str(source).strip().lower() == "demo":
            from kg_editor.data.sources.demo import DEMO_TARGET

            target = DEMO_TARGET
        spec = ProjectSpec(source, target, kind, dict(source_options or {}), cohort_options)
        return cls(
            spec,
            store=store,
            session_options=session_options,
            distill_options=distill_options,
        )

    @classmethod
    def for_graph(
        cls,
        graph: CausalGraph | str | Path,
        *,
        source: str | None = None,
        target: str | None = None,
        kind: str | None = None,
        source_options: Mapping[str, Any] | None = None,
        cohort_options: Mapping[str, Any] | None = None,
        store: Store | str | None = None,
        constraints: Constraints | None = None,
        session_options: Mapping[str, Any] | None = None,
        cohort: Cohort | None = None,
        what: str | None = None,
    ) -> Workspace:
        """A workspace on the data a graph was made from.

        The graph's recorded spec gives every setting not given here; a setting given
        here that differs from the recorded one raises
        :class:`~kg_editor.errors.SettingsMismatchError` naming each difference. A graph
        that records no source (imported from another tool) needs ``source``.
        """
        from kg_editor.model.graph import CausalGraph

        label = what or (f"The graph {graph}" if isinstance(graph, str | Path) else "The graph")
        g = CausalGraph.from_json(graph) if isinstance(graph, str | Path) else graph
        recorded = ProjectSpec.from_metadata(g.metadata)
        given = {k: v for k, v in dict(cohort_options or {}).items() if v is not None}
        if recorded is None:
            if source is None:
                raise KGEditorError(
                    f"{label} does not record the data it was made from; give the SOURCE "
                    "(and the cohort options) to use."
                )
            # an older or imported graph: compare with the cohort settings it recorded
            old = {
                k: v
                for k, v in dict(g.metadata.get("cohort_settings") or {}).items()
                if k in COHORT_DEFAULTS
            }
            spec = ProjectSpec(source, target, kind, dict(source_options or {}), {**old, **given})
        else:
            spec = recorded.with_overrides(
                source=source,
                target=target,
                kind=kind,
                source_options=source_options,
                cohort_options=given,
            )
            # the target is compared once the cohort resolves it to a code (check_graph)
            diff = {k: v for k, v in recorded.differences(spec).items() if k != "target"}
            if diff:
                raise mismatch_error(label, diff)
        ws = cls(
            spec,
            store=store,
            cohort=cohort,
            graph=g,
            constraints=constraints if constraints is not None else recorded_constraints(g),
            session_options=session_options,
        )
        ws.check_graph(g, label)
        return ws

    def check_graph(self, graph: CausalGraph, what: str = "The graph") -> None:
        """Refuse a graph made from other data than this workspace's cohort.

        Raises
        ------
        SettingsMismatchError
            The graph's recorded cohort fingerprint differs from this cohort's (the data
            changed, or other options), or it names variables the cohort lacks.
        """
        cohort = self.cohort()
        fp = graph.metadata.get("cohort_fingerprint")
        missing = [n for n in graph.nodes if n not in cohort.variables]
        recorded_target = graph.metadata.get("target")
        if fp and recorded_target and recorded_target != cohort.target:
            raise mismatch_error(what, {"target": (recorded_target, cohort.target)})
        if fp and fp != cohort.fingerprint():
            rec = dict(graph.metadata.get("cohort_settings") or {})
            diff = {
                k: (rec.get(k), v)
                for k, v in cohort.settings.items()
                if k in rec and _norm(rec.get(k)) != _norm(v)
            }
            if diff:
                raise mismatch_error(what, diff)
            raise SettingsMismatchError(
                f"{what} was made from other data than {self.spec.source} gives now (cohort "
                f"fingerprint {fp} there, {cohort.fingerprint()} here: the source changed). "
                "Distil a new graph from this data.",
                {"cohort_fingerprint": (fp, cohort.fingerprint())},
            )
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise SettingsMismatchError(
                f"{what} names {len(missing)} variable(s) the cohort of {self.spec.describe()} "
                f"lacks ({shown}). Give the source and options the graph was made with.",
                {"variables": (missing, None)},
            )

    # -- shared, read-only objects ---------------------------------------------------
    @property
    def versions(self) -> Versions:
        with self._lock:
            if self._versions is None:
                self._versions = Versions(self._store_arg)
            return self._versions

    @property
    def store(self) -> Store:
        return self.versions.store

    @property
    def accounts(self) -> Accounts:
        """The store's local accounts (see :attr:`Versions.accounts`)."""
        return self.versions.accounts

    def after_fork(self) -> None:
        """See :meth:`Versions.after_fork`."""
        self.versions.after_fork()

    def cohort(self, progress: Progress | None = None) -> Cohort:
        """The cohort (built once)."""
        with self._lock:
            if self._cohort is None:
                self._cohort = self.spec.build_cohort(progress)
                if self.spec.target is not None and self._cohort.target:
                    self.spec = replace(self.spec, target=self._cohort.target)
            return self._cohort

    def distill(self, progress: Progress | None = None, **settings: Any) -> Distiller:
        """Distil the cohort (``settings`` of :class:`~kg_editor.discovery.distill.Distiller`
        over the workspace's ``distill_options``); the graph records the provenance and
        becomes the base graph of new sessions."""
        from kg_editor.discovery.distill import Distiller

        cohort = self.cohort(progress)
        # the cohort's small-cell threshold is the distiller's unless given
        base = {"min_cell": int(cohort.settings.get("min_cell", 11)), **self.distill_options}
        d = Distiller(**{**base, **settings})
        with _step(progress, "Distilling the causal graph"):
            d.fit(cohort)
        with self._lock:
            self._distiller = d
            self._stats = d.stats_
            self._constraints = d.constraints_
            d.graph_.metadata["project"] = self.spec.to_dict()
            self._graph = d.graph_
        return d

    def base_graph(self, progress: Progress | None = None) -> CausalGraph:
        """The starting graph: the one given, else distilled from the cohort once."""
        with self._lock:
            if self._graph is None:
                self.distill(progress)
            assert self._graph is not None
            return self._graph

    def constraints(self) -> Constraints:
        """Constraints every session honours: the given or recorded ones, else the
        distiller's (user file plus the default tiers of OMOP domains), else the domain
        tiers alone."""
        with self._lock:
            if self._constraints is None:
                from kg_editor.discovery.distill import resolve_constraints

                self._constraints = resolve_constraints(None, self.cohort())
            return self._constraints

    def pair_evidence(self, source: str, target: str) -> dict[str, Any]:
        """Evidence (suppressed counts, measures, test, precedence) for any pair, e.g. an
        edge a clinician added that the distiller did not propose."""
        from kg_editor.discovery.evidence import pair_evidence

        with self._lock:
            if self._stats is None:
                from kg_editor.discovery.distill import Distiller

                self._stats = Distiller(**self.distill_options).fit(self.cohort()).stats_
            stats = self._stats
        return pair_evidence(stats, source, target)

    def provenance(self) -> dict[str, Any]:
        """What every artefact of this workspace records: the spec, the cohort's
        fingerprint and settings, the distillation settings and the constraints."""
        cohort = self.cohort()
        graph_md = self._graph.metadata if self._graph is not None else {}
        distiller = (
            self._distiller.get_params()
            if self._distiller is not None
            else graph_md.get("distiller")
        )
        return {
            "project": self.spec.to_dict(),
            "source": cohort.source_name,
            "target": cohort.target,
            "cohort_fingerprint": cohort.fingerprint(),
            "cohort_settings": dict(cohort.settings),
            "distiller": distiller,
            "constraints": self.constraints().to_dict(),
        }

    def stamp(self, graph: CausalGraph) -> CausalGraph:
        """``graph`` with this workspace's provenance in its metadata (in place)."""
        graph.metadata.update(self.provenance())
        return graph

    @property
    def project(self) -> Project:
        """This cohort's project in the store (named by :func:`project_name`)."""
        with self._lock:
            if self._project is None:
                cohort = self.cohort()
                self._project = self.versions.ensure_project(
                    cohort.source_name or self.spec.source,
                    cohort.target,
                    cohort.fingerprint(),
                    cohort.settings,
                )
            return self._project

    @property
    def project_id(self) -> str:
        return str(self.project.id)

    @property
    def title(self) -> str:
        """The data's name for page titles."""
        return self.cohort().source_name or self.spec.source

    def warm(self, progress: Progress | None = None) -> None:
        """Build the cohort, distil (or check) the graph and open the store before serving."""
        self.base_graph(progress)
        with _step(progress, "Opening the store"):
            _ = self.project_id

    # -- sessions --------------------------------------------------------------------
    def new_session(
        self, graph: CausalGraph | None = None, *, author: str = "anonymous", **options: Any
    ) -> EditSession:
        """An editing session on ``graph`` (default: the base graph), not stored."""
        from kg_editor.model.session import EditSession

        opts = {"constraints": self.constraints(), **self.session_options, **options}
        return EditSession(self.cohort(), graph or self.base_graph(), author=author, **opts)

    def open_session(
        self,
        graph: CausalGraph | None = None,
        author: str = "anonymous",
        *,
        base_version: str | None = None,
    ) -> str:
        """Open a stored editing session on ``graph`` (default: the base graph); its id.

        ``base_version`` is the saved version the graph comes from: a later
        :meth:`save_version` on that version's branch checks the branch head is still it
        (no lost updates). A session on the base graph is based on the head of ``main``
        as it is now; one on another graph without ``base_version`` takes the head of
        the branch it is saved on, whatever it is then.
        """
        session = self.new_session(graph, author=author)
        if base_version is None and graph is None:
            head = self.store.head(self.project_id)
            base_version = head.id if head is not None else ""  # "": main was empty
        session.base_version = base_version
        sid = uuid.uuid4().hex
        owner = author if author and author != "anonymous" else None
        rev = self.store.save_session_state(sid, self.project_id, session.to_dict(), owner=owner)
        self._remember(sid, session, rev)
        logger.info("opened editing session %s", sid)
        return sid

    def _remember(self, sid: str, session: EditSession, revision: int) -> None:
        with self._lock:
            self._sessions[sid] = session
            self._revisions[sid] = int(revision)

    def _evicted(self, sid: str) -> None:
        with self._lock:
            self._session_locks.pop(sid, None)
            self._revisions.pop(sid, None)

    def _lock_for(self, sid: str) -> threading.RLock:
        with self._lock:
            return self._session_locks.setdefault(sid, threading.RLock())

    def exists(self, sid: Any) -> bool:
        if not valid_session_id(sid):
            return False
        # the store decides (an unused session may have expired behind the cache)
        return self.store.session_revision(sid) is not None

    # -- whose sessions ----------------------------------------------------------------
    def claim_session(self, sid: Any, owner: str) -> bool:
        """Record ``owner`` (a signed-in account, or the name typed in the editor) as the
        person whose session ``sid`` is; the session's revision is left alone, so its open
        pages stay current. False when the session is unknown or the name blank."""
        name = str(owner or "").strip()
        if not valid_session_id(sid) or not name or name == "anonymous":
            return False
        return self.store.set_session_owner(str(sid), name)

    def session_owner(self, sid: Any) -> str | None:
        """Whose session ``sid`` is (``None``: nobody claimed it, or no such session)."""
        return self.store.session_owner(str(sid)) if valid_session_id(sid) else None

    def sessions_of(self, owner: str) -> list[SessionSummary]:
        """``owner``'s editing sessions of this project, most recently used first: graph
        size, edits, last step and the version each was opened from."""
        from kg_editor.versions.sessions import summarize_session

        name = str(owner or "").strip()
        if not name:
            return []
        graph = self.base_graph()
        rows = self.store.list_sessions(self.project_id, owner=name, details=True)
        return [summarize_session(r, graph.label) for r in rows]

    def version_ref(self, ref: str) -> str:
        """The version id a choice names: a version id, or ``branch:NAME`` for the head of
        branch NAME."""
        text = str(ref or "").strip()
        if text.startswith("branch:"):
            name = text.split(":", 1)[1]
            head = self.store.head(self.project_id, name)
            if head is None:
                raise StoreError(f"Branch {name!r} has no version yet.")
            return head.id
        if not text:
            raise KGEditorError("Choose the two versions or branches to merge first.")
        return text

    def session(self, sid: Any) -> EditSession:
        """The live session ``sid``: the cached copy while it is at the stored revision;
        else brought up to date from the store (another worker or a restart moved it on)
        by replaying only the new history entries, or rebuilt whole when they diverge."""
        if not valid_session_id(sid):
            raise UnknownSessionError("This page has no valid editing session; reload the page.")
        hit = self._sessions.get(sid)
        if hit is not None and self.store.session_revision(sid) == self._revisions.get(sid):
            return hit
        state = self.store.load_session_state(sid)
        if state is None:
            raise UnknownSessionError(
                "This editing session is not in the store any more (unused sessions expire after "
                "two days). Open My sessions (/sessions) to resume one of yours, or the editor's "
                "bare address for a new one."
            )
        revision = int(state.get("revision", 0))
        try:
            caught_up = hit is not None and hit.catch_up(state)
        except KGEditorError:
            caught_up = False  # the partly updated copy is replaced below: rebuilt whole
        if hit is not None and caught_up:
            # replayed only the edits made elsewhere since this worker last saw it
            self._remember(sid, hit, revision)
            return hit
        from kg_editor.model.session import EditSession

        session = EditSession.from_dict(state, self.cohort())
        self._remember(sid, session, revision)
        logger.info("rebuilt editing session %s from the store", sid)
        return session

    @contextmanager
    def editing(self, sid: Any, expected_revision: int | None = None) -> Iterator[EditSession]:
        """Hold the session's lock while it changes; save it to the store afterwards
        (only when the block ends without an error).

        The save is a compare-and-set on the revision this worker read, and writes the
        audit entries queued by :meth:`log_edit` in the same transaction. If the store
        refuses (another writer got there first, a full disk), or the block fails after
        changing the session, the cached copy is dropped, so memory never holds what the
        store does not: the next request rebuilds it from the store.

        Parameters
        ----------
        expected_revision : int, optional
            The revision the page (tab) shows; a stale page gets a
            :class:`~kg_editor.errors.ConflictError` and nothing changes.
        """
        key = str(sid)
        with self._lock_for(key):
            session = self.session(sid)
            rev = self._revisions.get(key, 0)
            if expected_revision is not None and int(expected_revision) != rev:
                raise ConflictError(
                    "This graph was changed in another tab or by another person since your "
                    f"page loaded it (revision {rev}, your page {expected_revision}). Nothing "
                    "was applied; reload the page to see the current graph.",
                    current=rev,
                )
            self._pending_audit[key] = []
            n_history = len(session.history)
            try:
                try:
                    yield session
                except BaseException:
                    if len(session.history) != n_history:
                        self.forget(key)  # changed but not stored: memory follows the store
                    raise
                audit = self._pending_audit.get(key, [])
                try:
                    new = self.store.save_session_state(
                        key,
                        self.project_id,
                        session.to_dict(),
                        expected_revision=rev,
                        audit=audit,
                    )
                except BaseException:
                    self.forget(key)  # memory follows the store: the edit is undone
                    raise
                with self._lock:
                    self._revisions[key] = new
            finally:
                self._pending_audit.pop(key, None)

    def revision(self, sid: Any) -> int:
        """The store revision of the session as this worker holds it (pages keep it and
        pass it back to :meth:`editing`)."""
        self.session(sid)
        with self._lock:
            return self._revisions.get(str(sid), 0)

    @contextmanager
    def reading(self, sid: Any) -> Iterator[EditSession]:
        """Hold the session's lock while reading it."""
        with self._lock_for(str(sid)):
            yield self.session(sid)

    def history_revision(self, sid: Any) -> int:
        """The session's history revision: how many entries its history holds (every edit, undo,
        redo, accepted or rejected suggestion, merge or split of variables adds one, and
        the history is saved with the session, so any worker gives the same number). Read
        under the session's lock, it is the state a response was rendered from; the web
        page keeps the highest one it has seen and re-renders when a response carries a
        lower one."""
        with self._lock_for(str(sid)):
            return len(self.session(sid).history)

    def save_session(self, sid: str, session: EditSession) -> None:
        """Write the session's state to the store (unconditionally)."""
        rev = self.store.save_session_state(sid, self.project_id, session.to_dict())
        with self._lock:
            self._revisions[sid] = rev

    def log_edit(
        self, sid: str, edit: Any, delta: ReportDelta | None, action: str = "edit"
    ) -> None:
        """Record one edit in the store's audit log (never breaks the edit); the report
        change is written as :func:`kg_editor.data.privacy.protect_report_delta` shows it.
        Inside :meth:`editing` the entry is written with the session's new state, in the
        same transaction."""
        shown = self._shown_delta(delta)
        pending = self._pending_audit.get(str(sid))
        if pending is not None:
            pending.append({"edit": edit, "report_delta": shown, "action": action})
            return
        try:
            self.store.log_edit(self.project_id, sid, edit, shown, action=action)
        except Exception:
            logger.exception("could not write the audit log entry for %s", edit)

    def _shown_delta(self, delta: ReportDelta | None) -> dict[str, Any] | None:
        """A report change as the audit log may hold it (counts protected)."""
        if delta is None:
            return None
        from kg_editor.data.privacy import DEFAULT_MIN_CELL, protect_report_delta

        k = int(self.cohort().settings.get("min_cell", DEFAULT_MIN_CELL))
        return protect_report_delta(
            delta.to_dict(), delta.before.to_dict(), delta.after.to_dict(), k
        )

    def forget(self, sid: str) -> None:
        """Drop the cached session (the store keeps it)."""
        with self._lock:
            self._sessions.pop(sid)
            self._revisions.pop(sid, None)

    def session_revision(self, sid: Any) -> int | None:
        """The stored revision of session ``sid`` (``None``: the store does not hold it)."""
        return self.store.session_revision(str(sid)) if valid_session_id(sid) else None

    def expire_sessions(self, older_than: Any) -> int:
        """Delete the sessions nobody edited that were not used since ``older_than``."""
        return self.store.expire_sessions(older_than)

    # -- versions ----------------------------------------------------------------------
    def list_versions(self, branch: str | None = None) -> list[Version]:
        return self.versions.list_versions(self.project_id, branch)

    def save_version(
        self,
        sid: str,
        *,
        author: str = "anonymous",
        message: str = "",
        branch: str = "main",
        layout: Mapping[str, Any] | None = None,
    ) -> Version:
        """Save the session's graph as a new version on ``branch`` (parent: the branch
        head) with its current report, its provenance and the edits made after the head
        was saved. ``layout`` (the canvas positions and pinned nodes, see
        :mod:`kg_editor.model.positions`) is saved in the version's graph metadata."""
        branch = (branch or "main").strip() or "main"
        pid = self.project_id
        account = self.accounts.get(author) if author else None
        if account is not None:  # a protected branch takes an editor's work as a proposal
            self.consensus("").check_save(account, branch)
        with self.editing(sid) as session:
            head = self.store.head(pid, branch)
            edits = effective_edits(session)
            if head is not None:
                edits = [e for e in edits if e.created > head.created]
            graph = self.stamp(session.graph)
            if layout:
                from kg_editor.model.positions import with_layout

                graph = with_layout(graph, layout)
            report = {**session.report.to_dict(), "provenance": self.provenance()}
            version = self.store.save_version(
                pid,
                graph,
                branch=branch,
                author=author or "anonymous",
                message=message,
                report=report,
                edits=edits,
                # no lost updates: save only onto the version this session is based on
                expected_head=self._expected_head(session.base_version, head, branch),
                check_head=True,
            )
            session.base_version = version.id
        logger.info("session %s saved as version %s on %s", sid, version.id, branch)
        return version

    def _expected_head(self, base: str | None, head: Version | None, branch: str) -> str | None:
        """The head a save onto ``branch`` expects, from the session's ``base_version``:
        the base when it is a version of that branch; ``None`` (the branch must be new)
        when the session started on an empty ``main``; the head as it is now when the
        session was based on another branch or on nothing known."""
        if head is None:
            return None
        if base == "":
            return None if branch == "main" else head.id
        if base is None:
            return head.id
        try:
            base_branch = self.versions.get(base).branch
        except StoreError:
            return head.id
        return base if base_branch == branch else head.id

    def open_version(self, version_id: str, author: str = "anonymous") -> tuple[Version, str]:
        """Open a new editing session on a saved version: ``(version, session id)``."""
        v = self.versions.get(version_id)
        return v, self.open_session(v.graph, author=author, base_version=v.id)

    def restore_version(self, version_id: str, author: str = "anonymous") -> tuple[Version, str]:
        """Make a version the head of its branch again and open a session on it."""
        v = self.versions.restore(version_id, author=author)
        return v, self.open_session(v.graph, author=author, base_version=v.id)

    def branch_version(self, version_id: str, name: str, author: str = "anonymous") -> Version:
        return self.versions.branch(version_id, name, author=author)

    def compare(self, a: str, b: str) -> Comparison:
        return self.versions.compare(a, b)

    def preview_merge(
        self, ours: str, theirs: str, choices: Mapping[str, Any] | None = None
    ) -> MergePreview:
        """Merging ``theirs`` into ``ours`` (version ids or ``branch:NAME``) explained,
        nothing saved (see :meth:`Versions.preview_merge`)."""
        a, b = self.version_ref(ours), self.version_ref(theirs)
        if a == b:
            raise KGEditorError("Choose two different versions to merge.")
        return self.versions.preview_merge(a, b, choices)

    def merge_versions(
        self,
        ours: str,
        theirs: str,
        choices: Mapping[str, Any] | None = None,
        *,
        author: str = "anonymous",
        message: str = "",
    ) -> Version:
        """Merge ``theirs`` into ``ours`` with one choice per conflict and save it as the
        new head of ``ours``'s branch, with its report (fitted on this cohort), author
        and message. The same merge as ``kg-editor versions merge A B --resolve
        KEY=CHOICE``; a protected branch takes it only from a reviewer when the store
        has accounts (an editor proposes instead).

        Raises
        ------
        MergeConflictError
            A conflict is left unanswered, or the choices close a cycle (named).
        """
        from kg_editor.versions.merge import choices_to_resolutions

        a, b = self.version_ref(ours), self.version_ref(theirs)
        resolutions = choices_to_resolutions(choices or {})
        graph = self.versions.store.preview_merge(a, b, resolutions).raise_for_conflicts()
        account = self.accounts.get(author) if author else None
        if account is not None:  # refused before the refit, not after
            self.consensus("").check_save(account, self.versions.get(a).branch)
        try:
            report: dict[str, Any] | None = {
                **self.new_session(graph).report.to_dict(),
                "provenance": self.provenance(),
            }
        except KGEditorError:  # a graph this cohort cannot fit: saved without a report
            logger.exception("no report for the merge of %s into %s", b, a)
            report = None
        version = self.versions.merge(
            a,
            b,
            resolutions,
            author=author or "anonymous",
            message=message,
            report=report,
            account=account,
        )
        logger.info("merged %s into %s as %s", b, a, version.id)
        return version

    # -- exports ---------------------------------------------------------------------
    def fitted_model(self, graph: CausalGraph) -> Any:
        """A pgmpy model with CPDs fitted on the training rows for ``graph``."""
        from kg_editor.model.fit import CodeTable, families_to_pgmpy, fit_families

        cohort = self.cohort()
        nodes = list(graph.nodes)
        table = CodeTable.from_frame(cohort.train[nodes], cohort.cardinalities)
        opts = self.session_options
        fams = fit_families(
            table,
            {n: graph.parents(n) for n in nodes},
            estimator=str(opts.get("estimator", "bdeu")),
            equivalent_sample_size=float(opts.get("equivalent_sample_size", 10.0)),
        )
        return families_to_pgmpy(fams, cohort.states)

    def export_session(self, sid: str, fmt: str) -> tuple[str, str]:
        """``(file name, text)`` of the session's graph in ``fmt`` (with its fitted CPDs
        for BIF and XMLBIF; the provenance wherever the format keeps metadata)."""
        from kg_editor.formats import get_format, write_graph

        f = get_format(fmt)
        with self.reading(sid) as session:
            cpds = session.to_pgmpy() if f.has_cpds else None
            text = write_graph(self.stamp(session.graph), f.name, cpds=cpds)
        return f"kg-session-{sid[:8]}{f.extensions[0]}", text

    def export_version(self, version_id: str, fmt: str) -> tuple[str, str]:
        """``(file name, text)`` of a saved version's graph (CPDs fitted for it)."""
        from kg_editor.formats import get_format

        f = get_format(fmt)
        graph = self.versions.get(version_id).graph
        cpds = self.fitted_model(graph) if f.has_cpds else None
        return self.versions.export(version_id, f.name, cpds=cpds)

    # -- teaching --------------------------------------------------------------------
    def teaching_model(self, sid: str) -> tuple[TeachingModel, str, EditSession]:
        """The :class:`~kg_editor.teaching.beliefs.TeachingModel` of the session's
        current graph, the graph's key and the session (the model is built once per
        graph and kept in :attr:`teaching`)."""
        with self.reading(sid) as session:
            tm, key = self.teaching.model(str(sid), session)
            return tm, key, session

    def beliefs(
        self, sid: str, key: str, tm: TeachingModel, findings: Mapping[str, str]
    ) -> dict[str, Any]:
        """:func:`kg_editor.teaching.belief_update` for these findings (cached)."""
        return self.teaching.beliefs(str(sid), key, tm, findings)

    def save_scenario(self, sid: str | None, scenario: Any, graph_key: str | None) -> str:
        """Store a :class:`~kg_editor.teaching.Scenario` written on session ``sid`` (tied to
        the head version of ``main``); returns its id."""
        return self.store.save_scenario(
            self.project_id, scenario.to_dict(), session_id=sid, graph_key=graph_key
        )

    def head_version(self, branch: str = "main") -> Version | None:
        return self.versions.head(self.project_id, branch)

    # -- consensus ---------------------------------------------------------------------
    def consensus(self, round: str | None = None) -> Consensus:
        """Reviewers' votes, agreement and proposals of this project for one review round
        (a version id; ``None``: the head of ``main``, ``""``: the base graph)."""
        from kg_editor.versions.consensus import Consensus

        if round is None:
            round = Consensus(self.store, self.project_id).head_round()
        return Consensus(self.store, self.project_id, round)

    def review_graph(self, round: str = "") -> CausalGraph:
        """The graph a review round is about: the version ``round``, else the base graph."""
        return self.versions.get(round).graph if round else self.base_graph()

    def list_scenarios(self) -> list[dict[str, Any]]:
        return self.store.list_scenarios(self.project_id)

    def get_scenario(self, scenario_id: str) -> dict[str, Any] | None:
        return self.store.get_scenario(scenario_id)


def graph_key(edges: Iterable[tuple[str, str]]) -> str:
    """A short key of an edge set (the teaching model and saved scenarios are tied to it).

    Examples
    --------
    >>> graph_key([("a", "b")]) == graph_key([("a", "b")]) != graph_key([("b", "a")])
    True
    """
    import hashlib
    import json

    text = json.dumps(sorted([str(u), str(v)] for u, v in edges))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class TeachingCache:
    """Teaching models and belief updates, keyed by session and graph.

    The fitted model of a session's current graph is wrapped once
    (:meth:`TeachingModel.from_session`) and reused until the graph changes; belief
    updates are kept per findings. A cache only (the store holds the truth), owned by one
    workspace, never a module global.
    """

    def __init__(self, max_models: int = 8, max_updates: int = 64):
        self._models: LRU[tuple[str, str], TeachingModel] = LRU(max_models)
        self._updates: LRU[tuple[str, str, str], dict[str, Any]] = LRU(max_updates)
        self.builds = 0  # how many models were wrapped (tests check reuse)

    def model(self, sid: str, session: EditSession) -> tuple[TeachingModel, str]:
        """The model of the session's current graph and the graph's key (the caller
        holds the session lock)."""
        from kg_editor.teaching.beliefs import TeachingModel

        key = graph_key(session.graph.edges)

        def make() -> TeachingModel:
            self.builds += 1
            return TeachingModel.from_session(session)

        return self._models.get_or_set((sid, key), make), key

    def beliefs(
        self, sid: str, key: str, tm: TeachingModel, findings: Mapping[str, str]
    ) -> dict[str, Any]:
        """:func:`kg_editor.teaching.belief_update` for these findings (cached)."""
        import json

        from kg_editor.teaching import belief_update

        fkey = (sid, key, json.dumps(sorted(findings.items())))
        return self._updates.get_or_set(fkey, lambda: belief_update(tm, findings))
