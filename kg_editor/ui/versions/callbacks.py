"""Callbacks and server-side helpers of the versions page and the editor's save toolbar.

The browser holds ids only (session id, version ids); graphs, reports and edits stay in
the store. Saving a version stores the session's graph, its current report and the
edits made since the last save on that branch; restoring (or opening) a version opens a
new editing session on its graph and sends the browser to the editor with that session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from dash import ALL, Input, Output, State, ctx, html, no_update, set_props
from dash.exceptions import PreventUpdate

from kg_editor.errors import KGEditorError
from kg_editor.ui import ids
from kg_editor.ui.editor.elements import layout_options
from kg_editor.ui.sessions import sessions_href
from kg_editor.ui.state import branch_of, session_id
from kg_editor.ui.versions.merge import merge_card, merge_options, register_merge_callbacks
from kg_editor.ui.versions.view import (
    branch_figure,
    comparison_chart,
    comparison_table,
    diff_elements,
    diff_summary,
    edge_change_card,
    metric_history_figure,
    version_label,
    versions_layout,
    versions_table,
)
from kg_editor.workspace import Workspace

__all__ = [
    "VERSION_ACTIONS",
    "compare_body",
    "register_versions_callbacks",
    "versions_page",
]

logger = logging.getLogger(__name__)

GENERIC_ERROR = (
    "Something went wrong on the server and your last action was not applied. "
    "The error was logged for the maintainers."
)


def _target(workspace: Workspace, sid: str | None) -> str | None:
    try:
        with workspace.reading(str(sid)) as session:
            return session.targets[0] if session.targets else None
    except KGEditorError:
        return None


def compare_body(
    workspace: Workspace, a_id: str | None, b_id: str | None, target: str | None
) -> dict[str, Any]:
    """Elements, summary, metric table and chart of the comparison of two versions."""
    if not a_id or not b_id:
        return {
            "elements": [],
            "summary": html.Div("Save two versions to compare them.", className="muted"),
            "table": None,
            "chart": None,
        }
    cmp = workspace.compare(a_id, b_id)
    ga, gb = cmp.a.graph, cmp.b.graph

    def label(code: str) -> str:
        return gb.label(code) if code in gb.nx else ga.label(code)

    la, lb = (cmp.a.id, cmp.b.id) if cmp.a.id != cmp.b.id else (f"{a_id} (a)", f"{b_id} (b)")
    return {
        "elements": diff_elements(ga, gb, cmp.diff, target=target),
        "summary": diff_summary(cmp.diff, label),
        "table": comparison_table(cmp.metrics, (la, lb), target, label),
        "chart": comparison_chart(
            cmp.a.report, cmp.b.report, target, (f"#{cmp.a.seq}", f"#{cmp.b.seq}")
        ),
    }


def _default_pair(versions: list[Any]) -> tuple[str, str] | None:
    if not versions:
        return None
    newest = max(versions, key=lambda v: v.seq)
    by_id = {v.id: v for v in versions}
    parent = by_id.get(newest.parent_id or "") or min(versions, key=lambda v: v.seq)
    return parent.id, newest.id


def versions_page(
    workspace: Workspace, sid: str, branch: str = "main", account: str | None = None
) -> Any:
    """The whole versions page for session ``sid`` (built per page load); ``branch`` (from
    ``?branch=`` of the page) is the one to save on. The author field holds the
    signed-in ``account``, else the name typed in the editor (the session's owner)."""
    versions = workspace.list_versions()
    target = _target(workspace, sid)
    pair = _default_pair(versions)
    a_id, b_id = pair if pair is not None else (None, None)
    body = compare_body(workspace, a_id, b_id, target)
    owner = workspace.session_owner(sid)
    with workspace.reading(sid) as session:
        named = session.author if session.author != "anonymous" else ""
        author = account or owner or named
        cohort = session.cohort
        title = (
            f"{workspace.title} · {cohort.n_patients:,} patients · {len(versions)} versions saved"
        )
    return versions_layout(
        session_id=sid,
        title=title,
        versions=versions,
        target=target,
        author=author,
        branch=branch,
        compare=pair,
        compare_body=body,
        merge=merge_card(versions),
    )


# -- actions of the versions page ----------------------------------------------------------
def _save(reg: Workspace, sid: str, st: Mapping[str, Any], _vid: str | None) -> dict[str, Any]:
    reg.claim_session(sid, st["author"])  # the name given is whose session it is
    v = reg.save_version(sid, author=st["author"], message=st["message"], branch=st["branch"])
    return {"status": f"Saved version #{v.seq} ({v.id}) on {v.branch}.", "revision": True}


def _branch(reg: Workspace, sid: str, st: Mapping[str, Any], vid: str | None) -> dict[str, Any]:
    name = (st.get("branch_name") or "").strip()
    v = reg.branch_version(str(vid), name, author=st["author"])
    return {"status": f"Branch {name} starts at {vid} (version #{v.seq}).", "revision": True}


def _open(reg: Workspace, sid: str, st: Mapping[str, Any], vid: str | None) -> dict[str, Any]:
    v, new = reg.open_version(str(vid), author=st["author"])
    return {"href": f"/?session={new}&branch={v.branch}"}


def _restore(reg: Workspace, sid: str, st: Mapping[str, Any], vid: str | None) -> dict[str, Any]:
    v, new = reg.restore_version(str(vid), author=st["author"])
    return {"href": f"/?session={new}&branch={v.branch}"}


#: Trigger id -> function(workspace, session id, state, version id) -> result dict with
#: optional ``status``, ``revision`` (refresh the lists) and ``href`` (navigate).
VERSION_ACTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    ids.V_SAVE: _save,
    ids.V_BRANCH: _branch,
    ids.V_OPEN: _open,
    ids.V_RESTORE: _restore,
}


def register_versions_callbacks(app: Any, workspace: Workspace) -> None:
    """Attach the callbacks of the versions page and the editor's save toolbar."""
    register_merge_callbacks(app, workspace)

    # -- editor: save a version, link to the versions page, canvas images -------------------
    @app.callback(
        Output(ids.E_SAVE_STATUS, "children"),
        Output(ids.E_SAVE_MESSAGE, "value"),
        Input(ids.E_SAVE, "n_clicks"),
        State(ids.SESSION, "data"),
        State(ids.AUTHOR, "value"),
        State(ids.E_SAVE_MESSAGE, "value"),
        State(ids.E_URL, "search"),
        prevent_initial_call=True,
    )
    def editor_save(n: Any, session: Any, author: Any, message: Any, search: Any) -> Any:
        if not n:
            raise PreventUpdate
        sid = str(session_id(session))
        try:
            v = workspace.save_version(
                sid,
                author=(author or "").strip() or "anonymous",
                message=(message or "").strip(),
                branch=branch_of(search),
            )
        except KGEditorError as exc:
            return html.Span(str(exc), className="error"), no_update
        except Exception:
            logger.exception("could not save a version")
            return html.Span(GENERIC_ERROR, className="error"), no_update
        # saving moved the session on (its base version): the tab keeps the new revision
        set_props(ids.SESSION, {"data": {"session_id": sid, "revision": workspace.revision(sid)}})
        return f"Saved #{v.seq} ({v.id}) on {v.branch}", ""

    @app.callback(
        Output(ids.E_VERSIONS_LINK, "href"),
        Output(ids.E_SESSIONS_LINK, "href"),
        Input(ids.SESSION, "data"),
        Input(ids.E_URL, "search"),
    )
    def versions_link(session: Any, search: Any) -> tuple[str, str]:
        sid = session_id(session) or ""
        return (
            f"{ids.VERSIONS_PATH}?session={sid}&branch={branch_of(search)}",
            sessions_href(sid or None),
        )

    @app.callback(
        Output(ids.E_SAVE_STATUS, "children", allow_duplicate=True),
        Input(ids.AUTHOR, "value"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def claim(author: Any, session: Any) -> Any:
        """The name typed in the editor becomes whose session this is (listed under
        "My sessions", the author on the versions page)."""
        name = (author or "").strip()
        sid = session_id(session)
        if not name or sid is None:
            raise PreventUpdate
        try:
            done = workspace.claim_session(sid, name)
        except KGEditorError as exc:
            return html.Span(str(exc), className="error")
        return f"Session kept under {name}" if done else no_update

    app.clientside_callback(
        """function(n) {
            var t = window.dash_clientside.callback_context.triggered_id;
            if (!t || !n || !n.some(function(x){ return x; })) { return window.dash_clientside.no_update; }
            return {type: t.index, action: 'download', filename: 'kg-editor-graph'};
        }""",
        Output(ids.CANVAS, "generateImage"),
        Input({"type": ids.E_IMAGE, "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        """function(n) {
            var t = window.dash_clientside.callback_context.triggered_id;
            if (!t || !n || !n.some(function(x){ return x; })) { return window.dash_clientside.no_update; }
            return {type: t.index, action: 'download', filename: 'kg-editor-compare'};
        }""",
        Output(ids.V_CANVAS, "generateImage"),
        Input({"type": ids.V_IMAGE, "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )

    # -- versions page: save / branch / open / restore ----------------------------------------
    @app.callback(
        Output(ids.V_SAVE_STATUS, "children"),
        Output(ids.V_REVISION, "data"),
        Output(ids.V_LOCATION, "href"),
        Output(ids.V_ALERT, "hidden"),
        Output(ids.V_ALERT_TEXT, "children"),
        Input(ids.V_SAVE, "n_clicks"),
        Input({"type": ids.V_BRANCH, "index": ALL}, "n_clicks"),
        Input({"type": ids.V_OPEN, "index": ALL}, "n_clicks"),
        Input({"type": ids.V_RESTORE, "index": ALL}, "n_clicks"),
        State(ids.V_SESSION, "data"),
        State(ids.V_SAVE_AUTHOR, "value"),
        State(ids.V_SAVE_MESSAGE, "value"),
        State(ids.V_SAVE_BRANCH, "value"),
        State(ids.V_BRANCH_NAME, "value"),
        State(ids.V_REVISION, "data"),
        prevent_initial_call=True,
    )
    def version_action(
        _save: Any,
        _branch: Any,
        _open: Any,
        _restore: Any,
        session: Any,
        author: Any,
        message: Any,
        branch: Any,
        branch_name: Any,
        revision: Any,
    ) -> Any:
        trig = ctx.triggered_id
        value = ctx.triggered[0].get("value") if ctx.triggered else None
        if trig is None or not value:  # new rows' buttons appearing, not a click
            raise PreventUpdate
        key = trig if isinstance(trig, str) else trig.get("type")
        vid = None if isinstance(trig, str) else str(trig.get("index"))
        st = {
            "author": (author or "").strip() or "anonymous",
            "message": (message or "").strip(),
            "branch": (branch or "").strip() or "main",
            "branch_name": branch_name,
        }
        sid = str(session_id(session))
        try:
            res = VERSION_ACTIONS[key](workspace, sid, st, vid)
        except KGEditorError as exc:
            return no_update, no_update, no_update, False, str(exc)
        except Exception:
            logger.exception("versions page: %s on %s failed", key, vid)
            return no_update, no_update, no_update, False, GENERIC_ERROR
        return (
            res.get("status", no_update),
            int(revision or 0) + 1 if res.get("revision") else no_update,
            res.get("href", no_update),
            True,
            "",
        )

    @app.callback(
        Output(ids.V_HISTORY, "children"),
        Output(ids.V_BRANCH_GRAPH, "figure"),
        Output(ids.V_METRIC_HISTORY, "figure"),
        Output(ids.V_COMPARE_A, "options"),
        Output(ids.V_COMPARE_B, "options"),
        Output(ids.V_COMPARE_A, "value"),
        Output(ids.V_COMPARE_B, "value"),
        Output(ids.V_MERGE_A, "options"),
        Output(ids.V_MERGE_B, "options"),
        Input(ids.V_REVISION, "data"),
        State(ids.V_SESSION, "data"),
        prevent_initial_call=True,
    )
    def refresh(revision: Any, session: Any) -> Any:
        if not revision:
            raise PreventUpdate
        versions = workspace.list_versions()
        target = _target(workspace, session_id(session))
        options = [
            {"label": version_label(v), "value": v.id}
            for v in sorted(versions, key=lambda v: -v.seq)
        ]
        pair = _default_pair(versions) or (None, None)
        return (
            versions_table(versions, target),
            branch_figure(versions),
            metric_history_figure(versions, target),
            options,
            options,
            pair[0],
            pair[1],
            merge_options(versions),
            merge_options(versions),
        )

    @app.callback(
        Output(ids.V_CANVAS, "elements"),
        Output(ids.V_CANVAS, "layout"),
        Output(ids.V_DIFF, "children"),
        Output(ids.V_METRICS, "children"),
        Output(ids.V_CHART, "figure"),
        Input(ids.V_COMPARE_A, "value"),
        Input(ids.V_COMPARE_B, "value"),
        State(ids.V_SESSION, "data"),
        State(ids.V_REVISION, "data"),
        prevent_initial_call=True,
    )
    def compare(a_id: Any, b_id: Any, session: Any, revision: Any) -> Any:
        try:
            body = compare_body(workspace, a_id, b_id, _target(workspace, session_id(session)))
        except KGEditorError as exc:
            return no_update, no_update, html.Div(str(exc), className="error"), None, no_update
        nonce = abs(hash((a_id, b_id, revision))) % 10_000_000
        return (
            body["elements"],
            layout_options("dagre", nonce=nonce),
            body["summary"],
            body["table"],
            body["chart"] or no_update,
        )

    @app.callback(
        Output(ids.V_EDGE, "children"),
        Input(ids.V_CANVAS, "tapEdgeData"),
        State(ids.V_COMPARE_A, "value"),
        State(ids.V_COMPARE_B, "value"),
        prevent_initial_call=True,
    )
    def edge_evidence(data: Any, a_id: Any, b_id: Any) -> Any:
        if not data or not a_id or not b_id:
            raise PreventUpdate
        try:
            cmp = workspace.compare(a_id, b_id)
        except KGEditorError as exc:
            return html.Div(str(exc), className="error")
        u, v, status = str(data.get("source")), str(data.get("target")), str(data.get("status"))
        diff = cmp.diff
        change = next(
            (
                c
                for c in (*diff.added, *diff.removed, *diff.reversed, *diff.changed)
                if (c.source, c.target) == (u, v)
            ),
            None,
        )
        if change is None and cmp.b.graph.has_edge(u, v):
            from kg_editor.versions.diff import EdgeChange

            attrs = dict(cmp.b.graph.nx.edges[u, v])
            change = EdgeChange(u, v, "unchanged", attrs, attrs)
        gb = cmp.b.graph
        ga = cmp.a.graph

        def label(code: str) -> str:
            return gb.label(code) if code in gb.nx else ga.label(code)

        return edge_change_card(u, v, status, change, label)

    @app.callback(
        Output(ids.V_DOWNLOAD, "data"),
        Output(ids.V_ALERT, "hidden", allow_duplicate=True),
        Output(ids.V_ALERT_TEXT, "children", allow_duplicate=True),
        Input({"type": ids.V_EXPORT, "index": ALL}, "n_clicks"),
        State(ids.V_EXPORT_WHAT, "value"),
        State(ids.V_COMPARE_A, "value"),
        State(ids.V_COMPARE_B, "value"),
        State(ids.V_SESSION, "data"),
        prevent_initial_call=True,
    )
    def export(n: Any, what: Any, a_id: Any, b_id: Any, session: Any) -> Any:
        trig = ctx.triggered_id
        value = ctx.triggered[0].get("value") if ctx.triggered else None
        if not isinstance(trig, Mapping) or not value:
            raise PreventUpdate
        vid = {"a": a_id, "b": b_id}.get(what or "session")
        if what in ("a", "b") and not vid:
            return no_update, False, "Choose the version to export in the compare view first."
        try:
            fmt = str(trig["index"])
            if vid is None:
                name, text = workspace.export_session(str(session_id(session)), fmt)
            else:
                name, text = workspace.export_version(str(vid), fmt)
        except KGEditorError as exc:
            return no_update, False, str(exc)
        except Exception:
            logger.exception("export failed")
            return no_update, False, GENERIC_ERROR
        return {"content": text, "filename": name}, True, ""
