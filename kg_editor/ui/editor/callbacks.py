"""Callbacks: parse what the physician did, call the session, send back the new view.

One dispatch callback handles every action that changes or inspects the graph (edits from
the canvas, the context menu, the keyboard, the form, the edge card, undo/redo, accepted
or rejected suggestions, the target and the focus), through the :data:`ACTIONS` registry.
Domain errors become a visible alert (a refused cycle is also drawn on the canvas); any
other error becomes a generic alert and its traceback goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dash import ALL, Input, Output, State, ctx, no_update, set_props
from dash.exceptions import PreventUpdate

from kg_editor.errors import ConstraintError, CycleError, KGEditorError
from kg_editor.ui import ids
from kg_editor.ui.editor.cards import edge_card, node_details
from kg_editor.ui.editor.elements import edge_id, layout_options
from kg_editor.ui.editor.layout import FOCUS_THRESHOLD, editor_layout
from kg_editor.ui.editor.render import (
    contradicting_edges,
    elements_for,
    history_list,
    render_report,
    render_view,
    suggestion_list,
    visible_nodes,
)
from kg_editor.ui.state import session_id
from kg_editor.workspace import Workspace

if TYPE_CHECKING:
    from kg_editor.model.session import EditSession

__all__ = ["ACTIONS", "Action", "editor_page", "parse_trigger", "register_callbacks"]

logger = logging.getLogger(__name__)

GENERIC_ERROR = (
    "Something went wrong on the server and your last action was not applied. "
    "The error was logged for the maintainers; your graph is unchanged."
)


@dataclass
class Action:
    """What the physician asked for: ``kind`` plus its arguments."""

    kind: str
    source: str | None = None
    target: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_trigger(trigger: Any, prop: str, value: Any, state: dict[str, Any]) -> Action | None:
    """Map the component (and property) that fired, and its value, to an :class:`Action`."""
    if trigger == ids.CLIENT_ACTION:
        if not isinstance(value, dict) or value.get("kind") not in (
            "add",
            "remove",
            "reverse",
            "undo",
            "redo",
        ):
            return None
        return Action(
            str(value["kind"]),
            value.get("source"),
            value.get("target"),
            {"via": value.get("via", "canvas")},
        )
    if trigger == ids.CANVAS:
        if prop == "contextMenuData":
            item = (value or {}).get("menuItemId")
            if item in (ids.MENU_REMOVE, ids.MENU_REVERSE) and value.get("edgeSource"):
                kind = "remove" if item == ids.MENU_REMOVE else "reverse"
                return Action(kind, value["edgeSource"], value["edgeTarget"], {"via": "menu"})
            if item == ids.MENU_DETAILS and value.get("elementId"):
                return Action("select_node", value["elementId"])
            return None
        if prop == "tapNodeData" and value:
            return Action("select_node", value.get("id"))
        if prop == "tapEdgeData" and value:
            return Action("select_edge", value.get("source"), value.get("target"))
        return None
    if trigger == ids.FORM_ADD:
        return Action("add", state.get("form_source"), state.get("form_target"), {"via": "form"})
    if trigger in (ids.EDGE_REMOVE, ids.EDGE_REVERSE):
        sel = state.get("selected_edge") or {}
        if not sel:
            return None
        return Action(
            "remove" if trigger == ids.EDGE_REMOVE else "reverse",
            sel.get("source"),
            sel.get("target"),
            {"via": "card"},
        )
    if trigger == ids.UNDO:
        return Action("undo")
    if trigger == ids.REDO:
        return Action("redo")
    if isinstance(trigger, dict) and trigger.get("type") in (
        ids.SUGGEST_ACCEPT,
        ids.SUGGEST_REJECT,
    ):
        if not value:
            return None
        kind = "accept" if trigger["type"] == ids.SUGGEST_ACCEPT else "reject"
        return Action(kind, extra={"id": trigger.get("index")})
    if trigger == ids.TARGET:
        return Action("target", extra={"target": value})
    if trigger in (ids.FOCUS_MODE, ids.FOCUS_HOPS, ids.SEARCH):
        return Action("focus")
    return None


def _edit(kind: str) -> Callable[[EditSession, Action, dict[str, Any]], Any]:
    def run(session: EditSession, a: Action, st: dict[str, Any]) -> Any:
        if not a.source or not a.target:
            raise KGEditorError("Choose both a cause and an effect before adding an edge.")
        method = _EDIT_METHODS[kind]
        override = bool(st.get("override"))
        if override and st["author"] == "anonymous":
            raise KGEditorError(
                "Enter your name before overriding a constraint: every override is recorded "
                "with who made it and why."
            )
        return method(
            session,
            a.source,
            a.target,
            author=st["author"],
            rationale=st["rationale"],
            override=override,
        )

    return run


def _edit_methods() -> dict[str, Callable[..., Any]]:
    from kg_editor.model.session import EditSession

    return {"add": EditSession.add, "remove": EditSession.remove, "reverse": EditSession.reverse}


#: Edit kind -> the session's method (called by name, never looked up with getattr).
_EDIT_METHODS: dict[str, Callable[..., Any]] = _edit_methods()


#: Action kind -> function(session, action, state) that changes the session.
ACTIONS: dict[str, Callable[[EditSession, Action, dict[str, Any]], Any]] = {
    "add": _edit("add"),
    "remove": _edit("remove"),
    "reverse": _edit("reverse"),
    "undo": lambda s, a, st: s.undo(author=st["author"]),
    "redo": lambda s, a, st: s.redo(author=st["author"]),
    "accept": lambda s, a, st: s.accept(a.extra["id"], author=st["author"]),
    "reject": lambda s, a, st: s.reject(a.extra["id"], author=st["author"]),
    "target": lambda s, a, st: (
        s.set_targets([a.extra["target"]]) if a.extra.get("target") else None
    ),
}

#: Actions that change the graph (and so are logged, and clear the rationale).
GRAPH_EDITS = ("add", "remove", "reverse", "undo", "redo", "accept")


def _outputs() -> dict[str, Output]:
    return {
        "elements": Output(ids.CANVAS, "elements"),
        "layout": Output(ids.CANVAS, "layout"),
        "metrics": Output(ids.METRICS_TABLE, "children"),
        "status": Output(ids.REPORT_STATUS, "children"),
        "roc": Output(ids.ROC, "figure"),
        "calibration": Output(ids.CALIBRATION, "figure"),
        "history_chart": Output(ids.HISTORY_CHART, "figure"),
        "subgroups": Output(ids.SUBGROUPS, "children"),
        "history": Output(ids.HISTORY_LIST, "children"),
        "details": Output(ids.DETAILS, "children"),
        "selected_edge": Output(ids.SELECTED_EDGE, "data"),
        "edge_remove": Output(ids.EDGE_REMOVE, "disabled"),
        "edge_reverse": Output(ids.EDGE_REVERSE, "disabled"),
        "undo": Output(ids.UNDO, "disabled"),
        "redo": Output(ids.REDO, "disabled"),
        "alert_text": Output(ids.ALERT_TEXT, "children"),
        "alert_hidden": Output(ids.ALERT, "hidden", allow_duplicate=True),
        "alert_class": Output(ids.ALERT, "className"),
        "view": Output(ids.VIEW, "data"),
        "rationale": Output(ids.RATIONALE, "value"),
    }


def _inputs() -> dict[str, Any]:
    return {
        "client": Input(ids.CLIENT_ACTION, "data"),
        "menu": Input(ids.CANVAS, "contextMenuData"),
        "tap_node": Input(ids.CANVAS, "tapNodeData"),
        "tap_edge": Input(ids.CANVAS, "tapEdgeData"),
        "form_add": Input(ids.FORM_ADD, "n_clicks"),
        "edge_remove": Input(ids.EDGE_REMOVE, "n_clicks"),
        "edge_reverse": Input(ids.EDGE_REVERSE, "n_clicks"),
        "undo": Input(ids.UNDO, "n_clicks"),
        "redo": Input(ids.REDO, "n_clicks"),
        "accept": Input({"type": ids.SUGGEST_ACCEPT, "index": ALL}, "n_clicks"),
        "reject": Input({"type": ids.SUGGEST_REJECT, "index": ALL}, "n_clicks"),
        "target": Input(ids.TARGET, "value"),
        "focus_mode": Input(ids.FOCUS_MODE, "value"),
        "focus_hops": Input(ids.FOCUS_HOPS, "value"),
        "search": Input(ids.SEARCH, "value"),
        "session": State(ids.SESSION, "data"),
        "author": State(ids.AUTHOR, "value"),
        "rationale": State(ids.RATIONALE, "value"),
        "form_source": State(ids.FORM_SOURCE, "value"),
        "form_target": State(ids.FORM_TARGET, "value"),
        "selected_edge": State(ids.SELECTED_EDGE, "data"),
        "view": State(ids.VIEW, "data"),
        "override": State(ids.OVERRIDE, "value"),
        "teaching": State(ids.TEACH_ON, "data"),
    }


def _binary_options(session: EditSession) -> list[dict[str, str]]:
    out = []
    for code in session.graph.nodes:
        var = session.cohort.variables.get(code)
        if var is not None and len(var.states) == 2:
            out.append({"label": session.graph.label(code), "value": str(code)})
    return sorted(out, key=lambda o: o["label"].lower())


def editor_page(workspace: Workspace, sid: str) -> Any:
    """The whole editor page for session ``sid`` (built per page load)."""
    with workspace.reading(sid) as session:
        big = len(session.graph) > FOCUS_THRESHOLD
        nodes = visible_nodes(session, big, None, 2)
        view = render_view(session, nodes=nodes)
        options = sorted(
            ({"label": session.graph.label(n), "value": str(n)} for n in session.graph.nodes),
            key=lambda o: o["label"].lower(),
        )
        cohort = session.cohort
        tgt = session.targets[0] if session.targets else None
        title_text = (
            f"{workspace.title} · {cohort.n_patients:,} patients · {len(session.graph)} variables · "
            f"{len(session.graph.edges)} edges"
        )
        return editor_layout(
            view,
            session_id=sid,
            title=title_text,
            options=options,
            target_options=_binary_options(session),
            target=tgt,
            focus_on=big,
            n_nodes=len(session.graph),
            author=session.author if session.author != "anonymous" else "",
            revision=workspace.revision(sid),
        )


def register_callbacks(app: Any, workspace: Workspace) -> None:
    """Attach every callback of the editor to ``app``.

    Every callback of the web editor takes one named parameter per input and state (in
    the order declared) and calls the workspace; none takes ``*args`` or ``**kwargs``.
    """

    @app.callback(output=_outputs(), inputs=_inputs(), prevent_initial_call=True)
    def dispatch(
        client: Any,
        menu: Any,
        tap_node: Any,
        tap_edge: Any,
        form_add: Any,
        edge_remove: Any,
        edge_reverse: Any,
        undo: Any,
        redo: Any,
        accept: Any,
        reject: Any,
        target: Any,
        focus_mode: Any,
        focus_hops: Any,
        search: Any,
        session: Any,
        author: Any,
        rationale: Any,
        form_source: Any,
        form_target: Any,
        selected_edge: Any,
        view: Any,
        override: Any,
        teaching: Any,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {k: no_update for k in _outputs()}
        if not ctx.triggered:
            raise PreventUpdate
        state: dict[str, Any] = {
            "author": (author or "").strip() or "anonymous",
            "rationale": (rationale or "").strip(),
            "form_source": form_source,
            "form_target": form_target,
            "selected_edge": selected_edge,
            "override": "on" in (override or []),
        }
        action = _first_action(state)
        if action is None:
            raise PreventUpdate
        sid = session_id(session)
        # the store revision this tab shows: an edit from a stale tab is refused
        tab_revision = session.get("revision") if isinstance(session, dict) else None
        view = dict(view or {"revision": 0})
        focus_on = "on" in (focus_mode or [])
        centre = search
        hops = int(focus_hops or 2)
        if action.kind == "select_node" and (teaching or {}).get("on"):
            raise PreventUpdate  # in teaching mode a click on a node sets a finding instead
        try:
            if action.kind == "select_node":
                with workspace.reading(sid) as session:
                    out["details"] = node_details(
                        session, session.graph.resolve(str(action.source))
                    )
                out.update(selected_edge=None, edge_remove=True, edge_reverse=True)
                return out
            if action.kind == "select_edge":
                with workspace.reading(sid) as session:
                    out["details"] = edge_card(
                        session,
                        str(action.source),
                        str(action.target),
                        contradicting_edges(session),
                        workspace.pair_evidence,
                    )
                out.update(
                    selected_edge={"source": action.source, "target": action.target},
                    edge_remove=False,
                    edge_reverse=False,
                )
                return out
            with workspace.editing(sid, expected_revision=tab_revision) as session:
                result = None
                if action.kind in ACTIONS:
                    result = ACTIONS[action.kind](session, action, state)
                nodes = visible_nodes(session, focus_on, centre, hops)
                out["elements"] = elements_for(session, nodes=nodes)
                if action.kind == "focus":
                    view["focus_key"] = [focus_on, centre, hops]
                    out["layout"] = layout_options("dagre", nonce=int(view.get("revision", 0)) + 1)
                if action.kind in GRAPH_EDITS or action.kind == "target":
                    out.update(render_report(session, None))
                    out["history"] = history_list(session)
                    out["undo"] = not session.can_undo
                    out["redo"] = not session.can_redo
                if action.kind in GRAPH_EDITS:
                    out["rationale"] = ""
                    last = session.history[-1]
                    if last.edit is not None:
                        workspace.log_edit(
                            str(sid),
                            last.edit,
                            last.delta.to_dict() if last.delta is not None else None,
                            action=last.kind if last.kind in ("undo", "redo") else "edit",
                        )
                    # the selected edge may be gone or reversed
                    sel: dict[str, Any] = state["selected_edge"] or {}
                    if sel and not session.graph.has_edge(sel.get("source"), sel.get("target")):
                        out.update(
                            details=_gone(), selected_edge=None, edge_remove=True, edge_reverse=True
                        )
                    elif sel:
                        out["details"] = edge_card(
                            session,
                            sel["source"],
                            sel["target"],
                            contradicting_edges(session),
                            workspace.pair_evidence,
                        )
                if action.kind == "reject":
                    out["history"] = history_list(session)
                out["alert_hidden"] = True
            # the tab now shows this store revision; a stale tab's next edit is refused
            set_props(
                ids.SESSION, {"data": {"session_id": sid, "revision": workspace.revision(sid)}}
            )
            view["revision"] = int(view.get("revision", 0)) + 1
            view["last"] = action.kind
            if result is not None and action.kind in ("add", "reverse"):
                u, v = str(action.source), str(action.target)
                view["edge"] = edge_id(u, v) if action.kind == "add" else edge_id(v, u)
            out["view"] = view
            return out
        except CycleError as exc:
            with workspace.reading(sid) as session:
                nodes = visible_nodes(session, focus_on, centre, hops)
                if nodes is not None:
                    nodes = set(nodes) | set(exc.cycle)
                out["elements"] = elements_for(session, nodes=nodes, cycle=exc.cycle)
            return _alert(out, str(exc), "alert error cycle")
        except ConstraintError as exc:
            return _alert(
                out,
                f"{exc} To do so, tick “Override constraints” in the top bar, give your name "
                "and a rationale, and repeat the edit.",
                "alert error constraint",
            )
        except KGEditorError as exc:
            return _alert(out, str(exc), "alert error")
        except Exception:
            logger.exception("unexpected error while handling %s", action)
            return _alert(out, GENERIC_ERROR, "alert error generic")

    @app.callback(
        Output(ids.SUGGESTIONS, "children"),
        Input(ids.VIEW, "data"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def refresh_suggestions(view: Any, session_data: Any) -> Any:
        if not view or view.get("last") not in (*GRAPH_EDITS, "reject"):
            raise PreventUpdate
        try:
            with workspace.reading(session_id(session_data)) as session:
                return suggestion_list(session)
        except Exception:
            logger.exception("could not refresh the suggestions")
            raise PreventUpdate from None

    app.clientside_callback(
        "function(n){ return true; }",
        Output(ids.ALERT, "hidden", allow_duplicate=True),
        Input(ids.ALERT_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(n){ if (window.kgEditor) { window.kgEditor.relayout(); } return window.dash_clientside.no_update; }",
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.RELAYOUT, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(v){ if (v && window.kgEditor) { window.kgEditor.focusNode(v); } return window.dash_clientside.no_update; }",
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.SEARCH, "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        """function(s){
            if (s && s.session_id) {
                var u = new URL(window.location.href);
                if (u.searchParams.get('session') !== s.session_id) {
                    u.searchParams.set('session', s.session_id);
                    window.history.replaceState(null, '', u.toString());
                }
            }
            return window.dash_clientside.no_update;
        }""",
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.SESSION, "data"),
        prevent_initial_call="initial_duplicate",
    )


def _priority(trigger: Any, prop: str) -> int:
    # An edit sent by the glue script arrives together with the tap that made it:
    # the edit wins over the selection.
    if trigger == ids.CLIENT_ACTION:
        return 0
    if prop in ("tapNodeData", "tapEdgeData"):
        return 2
    return 1


def _first_action(state: dict[str, Any]) -> Action | None:
    """The action of the highest-priority input among those that fired together."""
    values = {t["prop_id"]: t.get("value") for t in ctx.triggered}
    fired = []
    for prop_id, trigger in ctx.triggered_prop_ids.items():
        prop = prop_id.rsplit(".", 1)[1]
        fired.append((_priority(trigger, prop), trigger, prop, values.get(prop_id)))
    fired.sort(key=lambda f: f[0])
    for _, trigger, prop, value in fired:
        action = parse_trigger(trigger, prop, value, state)
        if action is not None:
            return action
    return None


def _gone() -> Any:
    from dash import html

    return html.Div("The selected edge is no longer in the graph.", className="muted empty")


def _alert(out: dict[str, Any], text: str, cls: str) -> dict[str, Any]:
    out["alert_text"] = text
    out["alert_hidden"] = False
    out["alert_class"] = cls
    return out
