"""The Dash app factory of the web editor.

Examples
--------
>>> app = create_app("demo", "Gastrointestinal hemorrhage")  # doctest: +SKIP
>>> app.run(host="127.0.0.1", port=8050)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dash
import dash_cytoscape as cyto
from dash import Input, Output, State, dcc, html

from kg_editor.errors import KGEditorError
from kg_editor.ui import ids
from kg_editor.ui.consensus import register_consensus_page
from kg_editor.ui.editor.callbacks import editor_page, register_callbacks
from kg_editor.ui.editor.cards import node_details
from kg_editor.ui.editor.search import register_search_callbacks
from kg_editor.ui.security import SecurityPolicy, current_account, install_security
from kg_editor.ui.sessions import (
    missing_session_page,
    register_sessions_callbacks,
    sessions_page,
)
from kg_editor.ui.state import branch_of, page_of, query_value
from kg_editor.ui.teaching.callbacks import register_teaching_callbacks
from kg_editor.ui.versions.callbacks import register_versions_callbacks, versions_page
from kg_editor.workspace import Workspace, recorded_constraints

if TYPE_CHECKING:
    from kg_editor.data.cohort import Cohort
    from kg_editor.model.graph import CausalGraph

__all__ = ["assets_folder", "create_app", "render_page"]

logger = logging.getLogger(__name__)


def assets_folder() -> Path:
    """The ``assets/`` folder (CSS, edgehandles, glue script): at the project root in a
    checkout or editable install, under ``<prefix>/share/kg-editor`` otherwise."""
    import sys

    here = Path(__file__).resolve()
    share = Path(sys.prefix) / "share" / "kg-editor" / "assets"
    for cand in (here.parents[2] / "assets", share):
        if (cand / "kg_editor.css").exists():
            return cand
    return here.parents[2] / "assets"


def render_page(
    workspace: Workspace, pathname: str | None, search: str | None, account: str | None = None
) -> Any:
    """The page the URL names: ``/versions`` the versions page, ``/sessions`` the person's
    sessions, anything else the editor, for the session of ``?session=``. Without
    ``?session=`` a new session is opened (owned by ``account``, the signed-in account's
    name); a ``?session=`` the store does not hold shows why, with links to the person's
    sessions and to a new one, and opens nothing."""
    try:
        page = page_of(pathname)
        raw = query_value(search, "session")
        if page == "sessions":
            current = raw if raw is not None and workspace.exists(raw) else None
            return sessions_page(
                workspace, name=query_value(search, "name"), current=current, signed_in=account
            )
        if raw is not None and not workspace.exists(raw):
            return missing_session_page(raw, account)
        sid = raw if raw is not None else workspace.open_session(author=account or "anonymous")
        if page == "versions":
            return versions_page(workspace, sid, branch_of(search), account=account)
        return editor_page(workspace, sid)
    except KGEditorError as exc:
        return html.Div(
            [html.H2("kg-editor cannot open this data"), html.P(str(exc))], className="fatal"
        )
    except Exception:
        logger.exception("could not build the page %s", pathname)
        return html.Div(
            [
                html.H2("kg-editor could not start"),
                html.P("The error was logged; see the server output."),
            ],
            className="fatal",
        )


def create_app(
    source: str = "demo",
    target: str | None = None,
    store_url: str | None = None,
    *,
    graph: CausalGraph | None = None,
    cohort: Cohort | None = None,
    workspace: Workspace | None = None,
    session_options: Mapping[str, Any] | None = None,
    cohort_options: Mapping[str, Any] | None = None,
    title: str = "kg-editor",
    security: SecurityPolicy | None = None,
) -> dash.Dash:
    """Build the editor app.

    Parameters
    ----------
    source : str
        EHR source (``"demo"`` or a path), read once.
    target : str, optional
        Target diagnosis (code or label); the demo's default is gastrointestinal
        haemorrhage.
    store_url : str, optional
        SQLAlchemy URL of the version/session store (default: the user's SQLite file).
    graph : CausalGraph, optional
        Start from this graph instead of distilling one.
    cohort : Cohort, optional
        Use this cohort instead of building it from ``source``.
    workspace : Workspace, optional
        Serve this workspace (the CLI, tests, benchmarks); built from the arguments
        above otherwise.
    security : SecurityPolicy, optional
        Settings of the hardening layer (:mod:`kg_editor.ui.security`: allowed hosts,
        size limits, sign-in); always installed, with its defaults when not given.

    Returns
    -------
    dash.Dash
        ``app.server`` is the Flask app; ``app.workspace`` the workspace;
        ``app.render_page(pathname, search)`` the page a URL shows.
    """
    if workspace is None:
        if cohort is not None and target is None:
            target = cohort.target
        ws = Workspace.open(
            source,
            target,
            store=store_url,
            session_options=session_options,
            **dict(cohort_options or {}),
        )
        if cohort is not None or graph is not None:
            ws = Workspace(
                ws.spec,
                store=store_url,
                cohort=cohort,
                graph=graph,
                constraints=recorded_constraints(graph) if graph is not None else None,
                session_options=session_options,
            )
    else:
        ws = workspace
    os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")
    cyto.load_extra_layouts()
    app = dash.Dash(
        __name__,
        title=title,
        assets_folder=str(assets_folder()),
        serve_locally=True,
        suppress_callback_exceptions=True,
        update_title=None,  # type: ignore[arg-type]  # None turns the "Updating..." title off
    )
    app.workspace = ws  # type: ignore[attr-defined]
    app.render_page = lambda pathname="/", search="", account=None: render_page(  # type: ignore[attr-defined]
        ws, pathname, search, account
    )
    app.layout = html.Div([dcc.Location(id=ids.PAGE_URL, refresh=False), html.Div(id=ids.PAGE)])

    @app.callback(
        Output(ids.PAGE, "children"),
        Input(ids.PAGE_URL, "pathname"),
        State(ids.PAGE_URL, "search"),
    )
    def route(pathname: str | None, search: str | None) -> Any:
        acc = current_account()
        return render_page(ws, pathname, search, acc.username if acc is not None else None)

    register_callbacks(app, ws)
    register_versions_callbacks(app, ws)
    app.teaching_cache = register_teaching_callbacks(app, ws)  # type: ignore[attr-defined]
    register_search_callbacks(app, ws)
    register_sessions_callbacks(app, ws)
    # exposed for tests: node details of the current session
    app.node_details = node_details  # type: ignore[attr-defined]
    # serving a team: the reviewers' consensus page, then (last, so the CSP covers every
    # inline script the callbacks added) the hardening layer
    register_consensus_page(app, ws)
    install_security(app, ws, security)
    return app
