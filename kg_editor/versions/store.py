"""The version store: projects, versions on branches, the audit log and live sessions.

A :class:`Store` sits behind SQLAlchemy: a SQLite file by default (under the data
directory ``$KG_EDITOR_HOME``, default ``~/.kg-editor``), PostgreSQL (or any SQLAlchemy
URL) when given one. Every write is one transaction; SQLite runs in WAL mode with
``synchronous=FULL`` so a process killed in the middle of a save loses nothing saved
before it. The schema is versioned with alembic migrations shipped in
:mod:`kg_editor.versions.migrations` and run when the store opens.

Server-side state of the web app lives here, keyed by ids (never in module globals):
a worker rebuilds an editing session from :meth:`Store.load_session_state`.

Examples
--------
>>> import tempfile, os
>>> from kg_editor.model.graph import AddEdge, CausalGraph, apply_edit
>>> store = Store(os.path.join(tempfile.mkdtemp(), "doc.sqlite"))
>>> p = store.ensure_project("asia", fingerprint="f00d")
>>> g = CausalGraph.from_edges([("smoke", "lung")], nodes=["xray"])
>>> v1 = store.save_version(p.id, g, author="dr_a", message="distilled")
>>> g2 = apply_edit(g, AddEdge("lung", "xray", author="dr_a", rationale="x-ray shows it"))
>>> v2 = store.save_version(p.id, g2, author="dr_a", message="lung -> xray")
>>> v2.parent_id == v1.id, [v.message for v in store.list_versions(p.id)]
(True, ['distilled', 'lung -> xray'])
>>> store.diff(v1.id, v2.id).summary()
'1 edge added, 0 removed, 0 reversed'
>>> store.close()
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kg_editor.data.privacy import DEFAULT_MIN_CELL, protect_report
from kg_editor.errors import ConflictError, StoreError
from kg_editor.jsonsafe import json_safe
from kg_editor.model.graph import CausalGraph, Edit, edit_from_dict, edit_to_dict
from kg_editor.versions.diff import GraphDiff, MergeResult, diff_graphs, merge_graphs, metric_table

__all__ = [
    "DEFAULT_BRANCH",
    "AuditEntry",
    "Comparison",
    "Project",
    "Store",
    "Version",
    "accounts_t",
    "auth_events_t",
    "data_home",
    "default_store_url",
    "graph_min_cell",
    "new_id",
    "proposals_t",
    "server_settings_t",
    "votes_t",
]

logger = logging.getLogger(__name__)

DEFAULT_BRANCH = "main"
_T = TypeVar("_T")
SCHEMA_HEAD = "0005"


def new_id() -> str:
    """A stable, short, random id (12 hex characters of a uuid4)."""
    return uuid.uuid4().hex[:12]


def data_home() -> Path:
    """The data directory: ``$KG_EDITOR_HOME`` or ``~/.kg-editor``."""
    env = os.environ.get("KG_EDITOR_HOME")
    return Path(env).expanduser() if env else Path.home() / ".kg-editor"


def default_store_url() -> str:
    """``sqlite:///<data_home>/store.sqlite``."""
    return f"sqlite:///{data_home() / 'store.sqlite'}"


def _to_url(url: str | os.PathLike[str] | None) -> str:
    if url is None:
        return default_store_url()
    text = str(url)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


_clean_json = json_safe  # the one sanitizer (kg_editor.jsonsafe)


# ---------------------------------------------------------------------------------
# Tables (the migrations in kg_editor/migrations are the source of truth; these mirror
# them for queries, and tests check that they agree)
# ---------------------------------------------------------------------------------
metadata = sa.MetaData()
projects_t = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("source_name", sa.String(500), nullable=False),
    sa.Column("target", sa.String(200)),
    sa.Column("settings", sa.JSON(), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)
versions_t = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("parent_id", sa.String(32), sa.ForeignKey("versions.id")),
    sa.Column("merge_parent_id", sa.String(32), sa.ForeignKey("versions.id")),
    sa.Column("branch", sa.String(200), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("graph", sa.JSON(), nullable=False),
    sa.Column("report", sa.JSON()),
    sa.Column("edits", sa.JSON(), nullable=False),
    sa.Index("uq_versions_project_seq", "project_id", "seq", unique=True),
)
audit_t = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("session_id", sa.String(64)),
    sa.Column("version_id", sa.String(32)),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("edit", sa.JSON()),
    sa.Column("rationale", sa.Text(), nullable=False),
    sa.Column("report_delta", sa.JSON()),
)
sessions_t = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("graph", sa.JSON()),
    sa.Column("history", sa.JSON(), nullable=False),
    sa.Column("state", sa.JSON(), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
    # 0005: whose session (the signed-in account or the name typed in the editor)
    sa.Column("owner", sa.String(200)),
    sa.Index("ix_sessions_owner", "project_id", "owner"),
)
scenarios_t = sa.Table(
    "scenarios",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("session_id", sa.String(64)),
    sa.Column("version_id", sa.String(32)),
    sa.Column("graph_key", sa.String(64)),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Index("ix_scenarios_project", "project_id"),
)
# -- 0004: serving a team (kg_editor.versions.accounts and .consensus use these) --------
accounts_t = sa.Table(
    "accounts",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)
auth_events_t = sa.Table(
    "auth_events",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_auth_events_kind_key", "kind", "key", "created"),
)
server_settings_t = sa.Table(
    "server_settings",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)
votes_t = sa.Table(
    "votes",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("round", sa.String(64), nullable=False, server_default=""),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("reviewer", sa.String(64), nullable=False),
    sa.Column("vote", sa.String(16), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False, server_default=""),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Index(
        "uq_votes_edge_reviewer", "project_id", "round", "source", "target", "reviewer", unique=True
    ),
)
proposals_t = sa.Table(
    "proposals",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("branch", sa.String(200), nullable=False),
    sa.Column("version_id", sa.String(32), sa.ForeignKey("versions.id"), nullable=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reviewer", sa.String(64)),
    sa.Column("comment", sa.Text(), nullable=False, server_default=""),
    sa.Column("merged_id", sa.String(32)),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided", sa.DateTime(timezone=True)),
    sa.Index("ix_proposals_project", "project_id", "status"),
)

#: What a version id looks like (``new_id``: hex); anything else matches no version.
_HEX_ID = __import__("re").compile(r"^[0-9a-f]{1,32}$")


# ---------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Project:
    """A dataset under study: its fingerprint (:meth:`Cohort.fingerprint`) and the
    cohort settings that built it."""

    id: str
    name: str
    fingerprint: str
    settings: dict[str, Any]
    source_name: str
    target: str | None
    created: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "settings": self.settings,
            "source_name": self.source_name,
            "target": self.target,
            "created": self.created.isoformat(),
        }


def graph_min_cell(graph: Mapping[str, Any]) -> int:
    """The small-cell threshold a graph file records (``metadata.min_cell``, else its
    cohort settings', else the default): reports stored beside it are protected at it.

    Examples
    --------
    >>> graph_min_cell({"metadata": {"cohort_settings": {"min_cell": 5}}}), graph_min_cell({})
    (5, 11)
    """
    meta = graph.get("metadata") or {}
    k = meta.get("min_cell", (meta.get("cohort_settings") or {}).get("min_cell"))
    return int(k) if k is not None else DEFAULT_MIN_CELL


def _flat_metrics(report: Mapping[str, Any] | None) -> dict[str, float]:
    if not report:
        return {}
    t = metric_table(report, None, labels=("v", "_"))
    return {f"{s}.{m}": float(x) for s, m, x in zip(t["section"], t["metric"], t["v"], strict=True)}


@dataclass(frozen=True)
class Version:
    """A saved snapshot: graph, report, the edits since its parent, and provenance.

    ``graph`` is parsed lazily from ``graph_data`` (the JSON graph format v1).
    """

    id: str
    project_id: str
    seq: int
    parent_id: str | None
    merge_parent_id: str | None
    branch: str
    author: str
    message: str
    created: datetime
    graph_data: dict[str, Any] = field(repr=False)
    report: dict[str, Any] | None = field(default=None, repr=False)
    edit_data: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def graph(self) -> CausalGraph:
        return CausalGraph.from_dict(self.graph_data)

    @property
    def edits(self) -> list[Edit]:
        return [edit_from_dict(e) for e in self.edit_data]

    @property
    def n_edges(self) -> int:
        return len(self.graph_data.get("edges", []))

    def key_metrics(self) -> dict[str, float]:
        """The report flattened to ``section.metric -> value`` (empty without a report)."""
        return _flat_metrics(self.report)

    def to_dict(self, *, include_graph: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "project_id": self.project_id,
            "seq": self.seq,
            "parent_id": self.parent_id,
            "merge_parent_id": self.merge_parent_id,
            "branch": self.branch,
            "author": self.author,
            "message": self.message,
            "created": self.created.isoformat(),
            "n_nodes": len(self.graph_data.get("nodes", [])),
            "n_edges": self.n_edges,
            "report": self.report,
            "edits": self.edit_data,
        }
        if include_graph:
            d["graph"] = self.graph_data
        return d


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when and why: an edit in a session, or a save/branch/restore/merge."""

    id: int
    project_id: str
    session_id: str | None
    version_id: str | None
    action: str
    author: str
    created: datetime
    edit: dict[str, Any] | None
    rationale: str
    report_delta: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "session_id": self.session_id,
            "version_id": self.version_id,
            "action": self.action,
            "author": self.author,
            "created": self.created.isoformat(),
            "edit": self.edit,
            "rationale": self.rationale,
            "report_delta": self.report_delta,
        }


@dataclass(frozen=True)
class Comparison:
    """Two versions compared: the graph diff and the metric table side by side."""

    a: Version
    b: Version
    diff: GraphDiff
    metrics: Any  # pandas DataFrame from kg_editor.versions.diff.metric_table

    def to_dict(self) -> dict[str, Any]:
        rows = _clean_json(self.metrics.to_dict(orient="records"))
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "diff": _clean_json(self.diff.to_dict()),
            "metrics": rows,
        }


# ---------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------
def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is
    # deferred and issued late); see _sqlite_begin.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock at BEGIN (IMMEDIATE) so that concurrent writers queue
    # on busy_timeout instead of failing on a lock upgrade; readers stay deferred and,
    # in WAL mode, never block.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("kg_write") else "BEGIN")


def run_migrations(conn: Connection) -> None:
    """Bring the schema on ``conn`` to the newest alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


class Store:
    """Projects, versions, branches, the audit log and session state in one database.

    Parameters
    ----------
    url : str or path, optional
        A SQLAlchemy URL (``sqlite:///file``, ``postgresql+psycopg://...``) or a plain
        file path (a SQLite file). ``None`` uses :func:`default_store_url`.
    migrate : bool
        Run the migrations when opening (default). Off only for read-only tooling.

    Raises
    ------
    StoreError
        The database cannot be opened or migrated.
    """

    def __init__(self, url: str | os.PathLike[str] | None = None, *, migrate: bool = True):
        self.url = _to_url(url)
        is_sqlite = self.url.startswith("sqlite")
        if is_sqlite and ":memory:" not in self.url and self.url != "sqlite://":
            path = Path(self.url.split("///", 1)[1]) if "///" in self.url else None
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(self.url, future=True)
        except Exception as exc:
            raise StoreError(f"Cannot open the store {self.url!r}: {exc}") from exc
        if is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        if migrate:
            try:
                with self._tx() as conn:
                    run_migrations(conn)
            except Exception as exc:
                raise StoreError(f"Cannot open or upgrade the store at {self.url}: {exc}") from exc

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One write transaction: commits on success, rolls back on any error."""
        with self.engine.connect() as conn:
            conn.info["kg_write"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("kg_write", None)

    def _write(self, fn: Callable[[Connection], _T]) -> _T:
        """Run ``fn`` in a write transaction; retry when a concurrent writer took the
        same version number (PostgreSQL; SQLite serialises writers at BEGIN)."""
        for attempt in range(5):
            try:
                with self._tx() as conn:
                    return fn(conn)
            except sa.exc.IntegrityError as exc:
                if "seq" not in str(exc) or attempt == 4:
                    raise StoreError(f"The store refused the write: {exc.orig}") from exc
                logger.info("version number taken by a concurrent writer; retrying")
        raise AssertionError("unreachable")  # pragma: no cover

    def schema_revision(self) -> str | None:
        """The alembic revision the database is at."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # -- projects ----------------------------------------------------------------------
    def ensure_project(
        self,
        name: str,
        fingerprint: str = "",
        settings: Mapping[str, Any] | None = None,
        *,
        source_name: str = "",
        target: str | None = None,
    ) -> Project:
        """Return the project called ``name``, creating it if needed.

        Raises
        ------
        StoreError
            The project exists with a different dataset fingerprint (the data changed:
            use a new project name).
        """
        with self._tx() as conn:
            row = (
                conn.execute(sa.select(projects_t).where(projects_t.c.name == name))
                .mappings()
                .first()
            )
            if row is not None:
                if fingerprint and row["fingerprint"] and row["fingerprint"] != fingerprint:
                    raise StoreError(
                        f"Project {name!r} was built from a different dataset (fingerprint "
                        f"{row['fingerprint']}, this one is {fingerprint}). Versions of one project "
                        "must share their data; choose another project name."
                    )
                return self._project(row)
            values = {
                "id": new_id(),
                "name": name,
                "fingerprint": fingerprint or "",
                "source_name": source_name or "",
                "target": target,
                "settings": _clean_json(dict(settings or {})),
                "created": _now(),
            }
            conn.execute(projects_t.insert().values(**values))
            logger.info("created project %s (%s)", name, values["id"])
            return self._project(values)

    def project_for_cohort(self, cohort: Any, name: str | None = None) -> Project:
        """:meth:`ensure_project` from a :class:`~kg_editor.data.cohort.Cohort`."""
        return self.ensure_project(
            name or cohort.source_name or "cohort",
            cohort.fingerprint(),
            cohort.settings,
            source_name=cohort.source_name,
            target=cohort.target,
        )

    def get_project(self, project: str) -> Project:
        """A project by id or by name."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(projects_t).where(
                        sa.or_(projects_t.c.id == project, projects_t.c.name == project)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                names = [r[0] for r in conn.execute(sa.select(projects_t.c.name))]
                raise StoreError(
                    f"No project {project!r} in the store {self.url}."
                    + (
                        f" Projects: {', '.join(sorted(names))}."
                        if names
                        else " The store is empty."
                    )
                )
            return self._project(row)

    def list_projects(self) -> list[Project]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(sa.select(projects_t).order_by(projects_t.c.created)).mappings().all()
            )
        return [self._project(r) for r in rows]

    @staticmethod
    def _project(row: Any) -> Project:
        return Project(
            id=row["id"],
            name=row["name"],
            fingerprint=row["fingerprint"],
            settings=dict(row["settings"] or {}),
            source_name=row["source_name"],
            target=row["target"],
            created=_aware(row["created"]),
        )

    # -- versions ----------------------------------------------------------------------
    @staticmethod
    def _version(row: Any) -> Version:
        return Version(
            id=row["id"],
            project_id=row["project_id"],
            seq=int(row["seq"]),
            parent_id=row["parent_id"],
            merge_parent_id=row["merge_parent_id"],
            branch=row["branch"],
            author=row["author"],
            message=row["message"],
            created=_aware(row["created"]),
            graph_data=dict(row["graph"]),
            report=dict(row["report"]) if row["report"] is not None else None,
            edit_data=list(row["edits"] or []),
        )

    def _head(self, conn: Connection, project_id: str, branch: str) -> Any:
        return (
            conn.execute(
                sa.select(versions_t.c.id, versions_t.c.seq)
                .where(versions_t.c.project_id == project_id, versions_t.c.branch == branch)
                .order_by(versions_t.c.seq.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )

    def _insert_version(
        self,
        conn: Connection,
        project_id: str,
        graph: CausalGraph | Mapping[str, Any],
        *,
        parent: str | None,
        merge_parent: str | None = None,
        branch: str,
        author: str,
        message: str,
        report: Mapping[str, Any] | None,
        edits: Sequence[Edit | Mapping[str, Any]] = (),
        action: str = "save",
    ) -> Version:
        if (
            conn.execute(sa.select(projects_t.c.id).where(projects_t.c.id == project_id)).first()
            is None
        ):
            raise StoreError(
                f"No project with id {project_id!r}; create it with ensure_project first."
            )
        if parent is not None:
            prow = conn.execute(
                sa.select(versions_t.c.project_id).where(versions_t.c.id == parent)
            ).first()
            if prow is None:
                raise StoreError(f"No version {parent!r} to use as parent.")
            if prow[0] != project_id:
                raise StoreError(f"Version {parent} belongs to another project.")
        seq = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(versions_t.c.seq), 0)).where(
                versions_t.c.project_id == project_id
            )
        ).scalar_one()
        gdata = graph.to_dict() if isinstance(graph, CausalGraph) else dict(graph)
        values = {
            "id": new_id(),
            "project_id": project_id,
            "seq": int(seq) + 1,
            "parent_id": parent,
            "merge_parent_id": merge_parent,
            "branch": branch,
            "author": author,
            "message": message,
            "created": _now(),
            "graph": _clean_json(gdata),
            "report": _clean_json(protect_report(report, graph_min_cell(gdata)))
            if report is not None
            else None,
            "edits": [_clean_json(e if isinstance(e, Mapping) else edit_to_dict(e)) for e in edits],
        }
        conn.execute(versions_t.insert().values(**values))
        conn.execute(
            audit_t.insert().values(
                project_id=project_id,
                session_id=None,
                version_id=values["id"],
                action=action,
                author=author,
                created=values["created"],
                edit=None,
                rationale=message,
                report_delta=None,
            )
        )
        logger.info("saved version %s on %s (%s)", values["id"], branch, action)
        return self._version(values)

    def save_version(
        self,
        project_id: str,
        graph: CausalGraph,
        *,
        parent: str | None = None,
        branch: str = DEFAULT_BRANCH,
        author: str = "anonymous",
        message: str = "",
        report: Mapping[str, Any] | None = None,
        edits: Sequence[Edit] = (),
        expected_head: str | None = None,
        check_head: bool = False,
    ) -> Version:
        """Save a snapshot of ``graph`` (with its report and the edits since its parent).

        Parameters
        ----------
        parent : str, optional
            The version this one derives from; ``None`` means the current head of
            ``branch`` (no parent when the branch is new).
        report : dict, optional
            ``Report.to_dict()``: sections ``accuracy``, ``targets``, ``interpretability``.
        expected_head, check_head : optional
            With ``check_head=True`` the save happens only if the head of ``branch`` is
            still ``expected_head`` (``None``: the branch must be new), checked inside the
            write transaction: a writer who started from an older head gets a
            :class:`~kg_editor.errors.ConflictError` instead of silently replacing the
            newer version's edits (merge the two instead).
        """

        def _do(conn: Connection) -> Version:
            par = parent
            head = self._head(conn, project_id, branch)
            if check_head and (head["id"] if head is not None else None) != expected_head:
                now = head["id"] if head is not None else None
                raise ConflictError(
                    f"Branch {branch!r} moved on: its newest version is now {now} (yours was "
                    f"based on {expected_head}). Someone else saved in between; nothing was "
                    "saved. Open the versions page and merge your graph with theirs.",
                    current=now,
                )
            if par is None:
                par = head["id"] if head is not None else None
            return self._insert_version(
                conn,
                project_id,
                graph,
                parent=par,
                branch=branch,
                author=author,
                message=message,
                report=report,
                edits=edits,
            )

        return self._write(_do)

    def get_version(self, version_id: str) -> Version:
        """A version by id (a unique prefix of at least 4 characters works too)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(versions_t).where(versions_t.c.id == version_id))
                .mappings()
                .first()
            )
            if row is None and len(version_id) >= 4 and _HEX_ID.match(version_id):
                # a prefix is matched literally (autoescape: no LIKE wildcards)
                rows = (
                    conn.execute(
                        sa.select(versions_t)
                        .where(versions_t.c.id.startswith(version_id, autoescape=True))
                        .limit(2)
                    )
                    .mappings()
                    .all()
                )
                if len(rows) == 1:
                    row = rows[0]
                elif len(rows) > 1:
                    raise StoreError(
                        f"The version id prefix {version_id!r} is ambiguous; give more characters."
                    )
        if row is None:
            raise StoreError(f"No version {version_id!r} in the store {self.url}.")
        return self._version(row)

    def list_versions(self, project_id: str, branch: str | None = None) -> list[Version]:
        """Versions of a project (of one branch if given), oldest first."""
        q = sa.select(versions_t).where(versions_t.c.project_id == project_id)
        if branch is not None:
            q = q.where(versions_t.c.branch == branch)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(versions_t.c.seq)).mappings().all()
        return [self._version(r) for r in rows]

    def branches(self, project_id: str) -> dict[str, Version]:
        """``branch name -> head version`` (the newest version on each branch)."""
        out: dict[str, Version] = {}
        for v in self.list_versions(project_id):
            out[v.branch] = v
        return out

    def head(self, project_id: str, branch: str = DEFAULT_BRANCH) -> Version | None:
        """The newest version on ``branch``, or ``None``."""
        with self.engine.connect() as conn:
            h = self._head(conn, project_id, branch)
        return self.get_version(h["id"]) if h is not None else None

    def branch(
        self, from_version_id: str, name: str, author: str = "anonymous", message: str = ""
    ) -> Version:
        """Start branch ``name`` at ``from_version_id``: its first version has the same
        graph and report, with ``from_version_id`` as parent.

        Raises
        ------
        StoreError
            The branch already exists.
        """
        src = self.get_version(from_version_id)

        def _do(conn: Connection) -> Version:
            if self._head(conn, src.project_id, name) is not None:
                raise StoreError(f"A branch named {name!r} already exists; choose another name.")
            return self._insert_version(
                conn,
                src.project_id,
                src.graph_data,
                parent=src.id,
                branch=name,
                author=author,
                message=message or f"Branch {name} from {src.id} ({src.branch})",
                report=src.report,
                action="branch",
            )

        return self._write(_do)

    def restore(self, version_id: str, author: str = "anonymous", message: str = "") -> Version:
        """Make an old version current again: a new head on its branch (parent: the
        current head) whose graph and report equal the old one's. History is kept."""
        old = self.get_version(version_id)

        def _do(conn: Connection) -> Version:
            head = self._head(conn, old.project_id, old.branch)
            return self._insert_version(
                conn,
                old.project_id,
                old.graph_data,
                parent=head["id"] if head is not None else old.id,
                branch=old.branch,
                author=author,
                message=message
                or f"Restore {old.id}" + (f" ({old.message})" if old.message else ""),
                report=old.report,
                action="restore",
            )

        return self._write(_do)

    def ancestors(self, version_id: str) -> list[str]:
        """Ids of ``version_id`` and all its ancestors (parents and merge parents), nearest
        first (breadth-first)."""
        with self.engine.connect() as conn:
            return self._ancestors(conn, version_id)

    @staticmethod
    def _ancestors(conn: Connection, version_id: str) -> list[str]:
        seen: list[str] = []
        queue: deque[str] = deque([version_id])
        while queue:
            vid = queue.popleft()
            if vid in seen:
                continue
            seen.append(vid)
            row = conn.execute(
                sa.select(versions_t.c.parent_id, versions_t.c.merge_parent_id).where(
                    versions_t.c.id == vid
                )
            ).first()
            if row is None:
                continue
            queue.extend(p for p in row if p)
        return seen

    def common_ancestor(self, a_id: str, b_id: str) -> str | None:
        """The nearest version both ``a_id`` and ``b_id`` descend from."""
        with self.engine.connect() as conn:
            anc_b = set(self._ancestors(conn, b_id))
            for vid in self._ancestors(conn, a_id):
                if vid in anc_b:
                    return vid
        return None

    # -- comparison and merge ----------------------------------------------------------------
    def diff(self, a_id: str, b_id: str) -> GraphDiff:
        """What changed from version ``a_id`` to version ``b_id``."""
        return diff_graphs(self.get_version(a_id).graph, self.get_version(b_id).graph)

    def compare(self, a_id: str, b_id: str) -> Comparison:
        """Diff plus the two reports' metrics side by side (columns named by version id)."""
        a, b = self.get_version(a_id), self.get_version(b_id)
        la, lb = (a.id, b.id) if a.id != b.id else (f"{a.id} (a)", f"{b.id} (b)")
        return Comparison(
            a, b, diff_graphs(a.graph, b.graph), metric_table(a.report, b.report, labels=(la, lb))
        )

    def preview_merge(
        self, a_id: str, b_id: str, resolutions: Mapping[str, Any] | None = None
    ) -> MergeResult:
        """Merge ``b_id`` into ``a_id`` without saving: the graph or the conflicts."""
        a, b = self.get_version(a_id), self.get_version(b_id)
        if a.project_id != b.project_id:
            raise StoreError("Versions from different projects cannot be merged.")
        base_id = self.common_ancestor(a.id, b.id)
        base = (
            self.get_version(base_id).graph
            if base_id
            else CausalGraph.from_edges([], nodes=a.graph.nodes)
        )
        return merge_graphs(base, a.graph, b.graph, resolutions)

    def merge(
        self,
        a_id: str,
        b_id: str,
        resolutions: Mapping[str, Any] | None = None,
        *,
        author: str = "anonymous",
        message: str = "",
        report: Mapping[str, Any] | None = None,
    ) -> Version:
        """Merge version ``b_id`` into ``a_id`` (three-way, against their common ancestor)
        and save the result as the new head of ``a_id``'s branch.

        Raises
        ------
        kg_editor.versions.diff.MergeConflictError
            (a :class:`StoreError`) listing the unresolved conflicts; pass
            ``resolutions`` keyed by each conflict's ``key``.
        """
        result = self.preview_merge(a_id, b_id, resolutions)
        graph = result.raise_for_conflicts()
        a, b = self.get_version(a_id), self.get_version(b_id)

        def _do(conn: Connection) -> Version:
            return self._insert_version(
                conn,
                a.project_id,
                graph,
                parent=a.id,
                merge_parent=b.id,
                branch=a.branch,
                author=author,
                message=message or f"Merge {b.branch} ({b.id}) into {a.branch} ({a.id})",
                report=report,
                action="merge",
            )

        return self._write(_do)

    # -- audit log ---------------------------------------------------------------------
    def log_edit(
        self,
        project_id: str,
        session_id: str | None,
        edit: Edit,
        report_delta: Mapping[str, Any] | None = None,
        *,
        action: str = "edit",
    ) -> int:
        """Record one edit (who, when, what, why) and what it did to the report.
        Returns the audit entry id. ``action`` may be ``"edit"``, ``"undo"``, ``"redo"``."""
        with self._tx() as conn:
            res = conn.execute(
                audit_t.insert().values(
                    **self._audit_values(project_id, session_id, edit, report_delta, action)
                )
            )
            pk = res.inserted_primary_key
            return int(pk[0]) if pk else 0

    @staticmethod
    def _audit_values(
        project_id: str,
        session_id: str | None,
        edit: Edit,
        report_delta: Mapping[str, Any] | None = None,
        action: str = "edit",
    ) -> dict[str, Any]:
        return {
            "project_id": project_id,
            "session_id": session_id,
            "version_id": None,
            "action": action,
            "author": edit.author,
            "created": _aware(edit.created),
            "edit": _clean_json(edit_to_dict(edit)),
            "rationale": edit.rationale,
            "report_delta": _clean_json(dict(report_delta)) if report_delta is not None else None,
        }

    def audit(
        self, project_id: str, *, session_id: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """The audit log of a project (of one session if given), oldest first."""
        q = sa.select(audit_t).where(audit_t.c.project_id == project_id)
        if session_id is not None:
            q = q.where(audit_t.c.session_id == session_id)
        q = q.order_by(audit_t.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        if limit is not None:
            rows = rows[-limit:]
        return [
            AuditEntry(
                id=r["id"],
                project_id=r["project_id"],
                session_id=r["session_id"],
                version_id=r["version_id"],
                action=r["action"],
                author=r["author"],
                created=_aware(r["created"]),
                edit=r["edit"],
                rationale=r["rationale"],
                report_delta=r["report_delta"],
            )
            for r in rows
        ]

    # -- live sessions -----------------------------------------------------------------
    def save_session_state(
        self,
        session_id: str,
        project_id: str,
        state: Mapping[str, Any],
        *,
        expected_revision: int | None = None,
        audit: Sequence[Mapping[str, Any]] = (),
        owner: str | None = None,
    ) -> int:
        """Store (insert or replace) a live editing session's state; returns its new
        revision (0 for a new session, +1 on every save).

        ``state`` is a JSON-ready dict; its ``"graph"`` (graph format v1) and
        ``"history"`` (list of edit dicts) keys get their own columns, the rest is kept
        as is. :meth:`load_session_state` gives the same dict back.

        Parameters
        ----------
        expected_revision : int, optional
            Compare-and-set: write only if the stored revision is still this one, else
            raise :class:`~kg_editor.errors.ConflictError` and write nothing.
        audit : sequence of dict, optional
            Audit entries (keyword arguments of :meth:`log_edit`: ``edit``,
            ``report_delta``, ``action``) written in the same transaction, so an edit and
            its audit entry are stored together or not at all.
        owner : str, optional
            Whose session it is (set when given; an existing owner is kept otherwise).
        """
        st = _clean_json(dict(state))
        st.pop("revision", None)
        graph = st.pop("graph", None)
        history = st.pop("history", [])
        values = {
            "project_id": project_id,
            "graph": graph,
            "history": history,
            "state": st,
            "updated": _now(),
        }
        if owner:
            values["owner"] = str(owner)[:200]
        with self._tx() as conn:
            cur = conn.execute(
                sa.select(sessions_t.c.revision).where(sessions_t.c.id == session_id)
            ).first()
            if expected_revision is not None and (cur is None or int(cur[0]) != expected_revision):
                raise ConflictError(
                    f"This editing session was changed elsewhere (another tab, person or "
                    f"server process) since you loaded it: it is at revision "
                    f"{cur[0] if cur else 'none'}, your page at {expected_revision}. Nothing "
                    "was applied; reload the page to see the current graph and try again.",
                    current=None if cur is None else int(cur[0]),
                )
            if cur is None:
                revision = 0
                conn.execute(sessions_t.insert().values(id=session_id, revision=0, **values))
            else:
                revision = int(cur[0]) + 1
                done = conn.execute(
                    sessions_t.update()
                    .where(sessions_t.c.id == session_id, sessions_t.c.revision == cur[0])
                    .values(revision=revision, **values)
                )
                if done.rowcount != 1:  # a concurrent writer won the race (PostgreSQL)
                    raise ConflictError(
                        "This editing session was changed by another writer at the same "
                        "moment; nothing was applied. Reload the page and try again.",
                        current=None,
                    )
            for entry in audit:
                conn.execute(
                    audit_t.insert().values(**self._audit_values(project_id, session_id, **entry))
                )
        return revision

    def session_revision(self, session_id: str) -> int | None:
        """The stored revision of a session (``None`` when unknown); cheap, so a worker
        can check whether its cached copy is stale before using it."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions_t.c.revision).where(sessions_t.c.id == session_id)
            ).first()
        return None if row is None else int(row[0])

    def expire_sessions(self, older_than: datetime, *, unedited_only: bool = True) -> int:
        """Delete sessions not touched since ``older_than`` (by default only those nobody
        ever edited nor claimed: revision 0 and no owner, i.e. anonymous page loads);
        returns how many."""
        q = sessions_t.delete().where(sessions_t.c.updated < older_than)
        if unedited_only:  # nobody edited nor claimed it (a named session is kept)
            q = q.where(sessions_t.c.revision == 0, sessions_t.c.owner.is_(None))
        with self._tx() as conn:
            return int(conn.execute(q).rowcount or 0)

    def load_session_state(self, session_id: str) -> dict[str, Any] | None:
        """The state saved by :meth:`save_session_state`, plus ``project_id`` and
        ``updated``; ``None`` for an unknown session."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(sessions_t).where(sessions_t.c.id == session_id))
                .mappings()
                .first()
            )
        if row is None:
            return None
        out = dict(row["state"] or {})
        out["graph"] = row["graph"]
        out["history"] = list(row["history"] or [])
        out.setdefault("project_id", row["project_id"])
        out.setdefault("updated", _aware(row["updated"]).isoformat())
        out["revision"] = int(row["revision"] or 0)
        return out

    def delete_session_state(self, session_id: str) -> bool:
        """Forget a session; True if it existed."""
        with self._tx() as conn:
            return bool(
                conn.execute(sessions_t.delete().where(sessions_t.c.id == session_id)).rowcount
            )

    def list_sessions(
        self, project_id: str | None = None, *, owner: str | None = None, details: bool = False
    ) -> list[dict[str, Any]]:
        """``[{"id", "project_id", "updated", "owner", "revision"}]``, newest first; only
        ``owner``'s sessions when given. ``details`` adds each session's ``graph``,
        ``history`` and ``state`` (as :meth:`load_session_state` splits them)."""
        cols = [
            sessions_t.c.id,
            sessions_t.c.project_id,
            sessions_t.c.updated,
            sessions_t.c.owner,
            sessions_t.c.revision,
        ]
        if details:
            cols += [sessions_t.c.graph, sessions_t.c.history, sessions_t.c.state]
        q = sa.select(*cols)
        if project_id is not None:
            q = q.where(sessions_t.c.project_id == project_id)
        if owner is not None:
            q = q.where(sessions_t.c.owner == owner)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(sessions_t.c.updated.desc())).mappings().all()
        out = []
        for r in rows:
            rec: dict[str, Any] = {
                "id": r["id"],
                "project_id": r["project_id"],
                "updated": _aware(r["updated"]).isoformat(),
                "owner": r["owner"],
                "revision": int(r["revision"] or 0),
            }
            if details:
                rec.update(
                    graph=r["graph"], history=list(r["history"] or []), state=r["state"] or {}
                )
            out.append(rec)
        return out

    def session_owner(self, session_id: str) -> str | None:
        """Whose session ``session_id`` is (``None``: nobody claimed it, or unknown)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions_t.c.owner).where(sessions_t.c.id == session_id)
            ).first()
        return None if row is None or not row[0] else str(row[0])

    def set_session_owner(self, session_id: str, owner: str) -> bool:
        """Record whose session it is (its revision is left alone: the open pages of the
        session stay current); True if the session exists."""
        with self._tx() as conn:
            done = conn.execute(
                sessions_t.update()
                .where(sessions_t.c.id == session_id)
                .values(owner=str(owner)[:200])
            )
        return bool(done.rowcount)

    # -- teaching scenarios ------------------------------------------------------------
    def save_scenario(
        self,
        project_id: str,
        scenario: Mapping[str, Any],
        *,
        session_id: str | None = None,
        graph_key: str | None = None,
    ) -> str:
        """Store a teaching scenario (the JSON form of :class:`kg_editor.teaching.Scenario`)
        with the project, editing session and graph it was written for; returns its id.

        Examples
        --------
        >>> s = Store("sqlite://")
        >>> p = s.ensure_project("demo", "fp")
        >>> sid = s.save_scenario(p.id, {"name": "Breathless smoker", "findings": {"smoke": "yes"}})
        >>> [r["scenario"]["name"] for r in s.list_scenarios(p.id)]
        ['Breathless smoker']
        """
        data = _clean_json(dict(scenario))
        name = str(data.get("name") or "").strip()
        if not name:
            raise StoreError("A scenario needs a name.")
        sid = new_id()
        created = _now()
        with self._tx() as conn:
            conn.execute(
                scenarios_t.insert().values(
                    id=sid,
                    project_id=project_id,
                    session_id=session_id,
                    version_id=data.get("version_id"),
                    graph_key=graph_key,
                    name=name[:200],
                    author=str(data.get("author") or "anonymous")[:200],
                    created=created,
                    data=data,
                )
            )
        return sid

    @staticmethod
    def _scenario(row: Any) -> dict[str, Any]:
        return {
            "id": row["id"],
            "project_id": row["project_id"],
            "session_id": row["session_id"],
            "version_id": row["version_id"],
            "graph_key": row["graph_key"],
            "created": _aware(row["created"]).isoformat(),
            "scenario": dict(row["data"] or {}),
        }

    def list_scenarios(
        self, project_id: str, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Saved scenarios of a project (optionally of one session), newest first: each
        ``{"id", "project_id", "session_id", "version_id", "graph_key", "created",
        "scenario"}``."""
        q = sa.select(scenarios_t).where(scenarios_t.c.project_id == project_id)
        if session_id is not None:
            q = q.where(scenarios_t.c.session_id == session_id)
        q = q.order_by(scenarios_t.c.created.desc(), scenarios_t.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [self._scenario(r) for r in rows]

    def get_scenario(self, scenario_id: str) -> dict[str, Any] | None:
        """One saved scenario (as in :meth:`list_scenarios`), ``None`` when unknown."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(scenarios_t).where(scenarios_t.c.id == scenario_id))
                .mappings()
                .first()
            )
        return None if row is None else self._scenario(row)

    def delete_scenario(self, scenario_id: str) -> bool:
        """Forget a saved scenario; True if it existed."""
        with self._tx() as conn:
            return bool(
                conn.execute(scenarios_t.delete().where(scenarios_t.c.id == scenario_id)).rowcount
            )

    # -- tabular views -------------------------------------------------------------------
    def versions_frame(self, project_id: str, branch: str | None = None) -> Any:
        """A pandas DataFrame of versions with their key metrics as columns (for the
        versions page and notebooks)."""
        import pandas as pd

        rows = []
        for v in self.list_versions(project_id, branch):
            rows.append(
                {
                    "id": v.id,
                    "seq": v.seq,
                    "branch": v.branch,
                    "parent_id": v.parent_id,
                    "author": v.author,
                    "created": v.created,
                    "message": v.message,
                    "edges": v.n_edges,
                    **v.key_metrics(),
                }
            )
        return pd.DataFrame(rows)
