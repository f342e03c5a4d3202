"""Whose sessions: the "My sessions" page (``/sessions``) and the page an unknown or
expired ``?session=`` shows.

A session belongs to the signed-in account or, on a computer without accounts, to the
name typed in the editor ("Your name"). The page lists that person's sessions of this
project (graph, edits, last step, last use) with a link to resume each; its name field
is replaced by the account name on a server with accounts, so a person sees their own
sessions only. Layout and callbacks of the page live here; the data come from
:meth:`kg_editor.workspace.Workspace.sessions_of`.

Examples
--------
>>> resume_href("3f2a9c0d1e2b4a5f")
'/?session=3f2a9c0d1e2b4a5f'
>>> sessions_href("3f2a9c0d1e2b4a5f", "Dr A")
'/sessions?session=3f2a9c0d1e2b4a5f&name=Dr+A'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from dash import Input, Output, dcc, html

from kg_editor.errors import KGEditorError
from kg_editor.ui import ids

if TYPE_CHECKING:
    from kg_editor.versions.sessions import SessionSummary
    from kg_editor.versions.store import Version
    from kg_editor.workspace import Workspace

__all__ = [
    "missing_session_page",
    "register_sessions_callbacks",
    "resume_href",
    "sessions_href",
    "sessions_page",
    "sessions_table",
]

logger = logging.getLogger(__name__)


def resume_href(sid: str) -> str:
    """The editor's address of session ``sid``."""
    return f"/?{urlencode({'session': sid})}"


def sessions_href(sid: str | None = None, name: str | None = None) -> str:
    """The address of the sessions page (back to session ``sid``; ``name``'s sessions)."""
    query = {k: v for k, v in (("session", sid), ("name", name)) if v}
    return ids.SESSIONS_PATH + (f"?{urlencode(query)}" if query else "")


def _brand() -> html.Div:
    return html.Div(
        [html.Span("kg", className="logo"), html.Span("editor", className="logo2")],
        className="brand",
    )


def _graph_text(s: SessionSummary, starts: Mapping[str, Version]) -> str:
    """Where the session's graph started: a saved version with the same edges (its
    latest such), or the distilled graph."""
    v = starts.get(s.start_key)
    return f"version #{v.seq} on {v.branch}" if v is not None else "the distilled graph"


def _starts(versions: Mapping[str, Version]) -> dict[str, Version]:
    from kg_editor.versions.sessions import edges_key

    return {
        edges_key(v.graph_data.get("edges") or []): v
        for v in sorted(versions.values(), key=lambda v: v.seq)
    }


def sessions_table(
    sessions: Sequence[SessionSummary],
    versions: Mapping[str, Version],
    label: Callable[[str], str] = str,
    *,
    current: str | None = None,
) -> html.Div:
    """One row per session, most recently used first, each with a link to resume it
    (``current``: the session the person came from, marked)."""
    if not sessions:
        return html.Div(
            "No editing session under this name yet. Type your name in the editor "
            "(“Your name”) and your sessions are kept here.",
            className="muted empty",
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th("Session"),
                html.Th("Started from"),
                html.Th("Target"),
                html.Th("Variables", className="num"),
                html.Th("Edges", className="num"),
                html.Th("Edits", className="num"),
                html.Th("Last step"),
                html.Th("Last used (UTC)"),
                html.Th(""),
            ]
        )
    )
    rows = []
    starts = _starts(versions)
    for s in sessions:
        last = s.last_edit + (f" · {s.last_author}" if s.last_author else "")
        rows.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Code(s.id[:8]),
                            html.Span(" (this one)", className="muted") if s.id == current else "",
                        ]
                    ),
                    html.Td(_graph_text(s, starts)),
                    html.Td(label(s.target) if s.target else "–"),
                    html.Td(str(s.n_variables), className="num"),
                    html.Td(str(s.n_edges), className="num"),
                    html.Td(str(s.n_edits), className="num"),
                    html.Td(last, className="msg"),
                    html.Td(s.updated.strftime("%Y-%m-%d %H:%M")),
                    html.Td(
                        html.A(
                            "Resume",
                            href=resume_href(s.id),
                            id={"type": ids.S_RESUME, "index": s.id},
                            className="btn small",
                            title=f"Open session {s.id} in the editor",
                        )
                    ),
                ],
                className="session-row",
                **dict[str, Any]({"data-session": s.id, "data-edits": str(s.n_edits)}),
            )
        )
    return html.Div(html.Table([head, html.Tbody(rows)], className="versions sessions"))


def _table_for(workspace: Workspace, name: str | None, current: str | None) -> html.Div:
    who = (name or "").strip()
    if not who:
        return html.Div(
            "Type your name (as in the editor's “Your name”) to list your sessions.",
            className="muted empty",
        )
    sessions = workspace.sessions_of(who)
    versions = {v.id: v for v in workspace.list_versions()}
    return sessions_table(sessions, versions, workspace.base_graph().label, current=current)


def sessions_page(
    workspace: Workspace,
    *,
    name: str | None = None,
    current: str | None = None,
    signed_in: str | None = None,
) -> html.Div:
    """The "My sessions" page: ``signed_in`` (an account name) fixes whose sessions;
    else ``name`` (typed, or the owner of the session ``current`` the person came from)."""
    who = signed_in or name or (workspace.session_owner(current) if current else None) or ""
    name_field = (
        html.Div([html.Span("Signed in as "), html.B(signed_in)], className="field")
        if signed_in
        else html.Div(
            [
                html.Label("Your name", htmlFor=ids.S_NAME),
                dcc.Input(
                    id=ids.S_NAME,
                    type="text",
                    value=who,
                    placeholder="e.g. Dr Okafor",
                    debounce=True,
                    className="input",
                ),
            ],
            className="field",
        )
    )
    links = [
        html.A("Start a new session", href="/", id=ids.S_NEW, className="btn primary"),
    ]
    if current:
        links.append(html.A("← Back to the editor", href=resume_href(current), className="btn"))
    header = html.Header(
        [_brand(), html.Div(f"My sessions · {workspace.title}", className="project"), *links],
        className="topbar",
    )
    body = html.Section(
        [
            html.H3("Your editing sessions"),
            html.P(
                "Every change is saved as you make it; resume a session where you left it. "
                "Sessions nobody named or edited are deleted after two days.",
                className="muted",
            ),
            name_field,
            html.Div(_table_for(workspace, who, current), id=ids.S_LIST),
            dcc.Store(id=ids.S_CURRENT, data=current),
        ],
        className="card",
    )
    return html.Div(
        [header, html.Main([body], className="versions-page")],
        className="kg-app",
    )


def missing_session_page(session: str, name: str | None = None) -> html.Div:
    """What an address naming no stored session shows: why, and the ways on."""
    shown = session if len(session) <= 64 else session[:64] + "…"
    return html.Div(
        [
            html.H2("This editing session is not here"),
            html.P(
                [
                    "No session ",
                    html.Code(shown),
                    " is kept on this server. Sessions nobody named or edited are deleted "
                    "after two days; the address may also be cut short or mistyped. Nothing "
                    "was opened in its place.",
                ]
            ),
            html.Div(
                [
                    html.A(
                        "Resume one of your sessions",
                        href=sessions_href(name=name),
                        className="btn primary",
                        id=ids.MISSING_RESUME,
                    ),
                    html.A("Start a new session", href="/", className="btn", id=ids.S_NEW),
                ],
                className="form-row",
            ),
        ],
        className="fatal",
        id=ids.MISSING_SESSION,
        role="alert",
    )


def register_sessions_callbacks(app: Any, workspace: Workspace) -> None:
    """The sessions page's one callback: the name typed -> that person's sessions."""

    @app.callback(
        Output(ids.S_LIST, "children"),
        Input(ids.S_NAME, "value"),
        Input(ids.S_CURRENT, "data"),
        prevent_initial_call=True,
    )
    def list_sessions(name: Any, current: Any) -> Any:
        try:
            return _table_for(workspace, str(name or ""), current)
        except KGEditorError as exc:
            return html.Div(str(exc), className="error")
