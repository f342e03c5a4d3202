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
from typing import Any

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from kg_editor.errors import ConstraintError, CycleError, KGEditorError
from kg_editor.ui import ids
from kg_editor.ui.editor.cards import edge_card, node_details
from kg_editor.ui.editor.elements import edge_id, layout_options
from kg_editor.ui.editor.render import (
    contradicting_edges,
    elements_for,
    history_list,
    render_report,
    suggestion_list,
    visible_nodes,
)
from kg_editor.ui.state import SessionRegistry

__all__ = ["ACTIONS", "Action", "parse_trigger", "register_callbacks"]

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


def _edit(kind: str) -> Callable[[Any, Action, dict[str, Any]], Any]:
    def run(session: Any, a: Action, st: dict[str, Any]) -> Any:
        if not a.source or not a.target:
            raise KGEditorError("Choose both a cause and an effect before adding an edge.")
        method = getattr(session, kind)
        override = bool(st.get("override"))
        if override and st["author"] == "anonymous":
            raise KGEditorError(
                "Enter your name before overriding a constraint: every override is recorded "
                "with who made it and why."
            )
        return method(
            a.source, a.target, author=st["author"], rationale=st["rationale"], override=override
        )

    return run


#: Action kind -> function(session, action, state) that changes the session.
ACTIONS: dict[str, Callable[[Any, Action, dict[str, Any]], Any]] = {
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


def register_callbacks(app: Any, registry: SessionRegistry) -> None:
    """Attach every callback of the editor to ``app``."""

    @app.callback(output=_outputs(), inputs=_inputs(), prevent_initial_call=True)
    def dispatch(**kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = {k: no_update for k in _outputs()}
        if not ctx.triggered:
            raise PreventUpdate
        state = {
            "author": (kw.get("author") or "").strip() or "anonymous",
            "rationale": (kw.get("rationale") or "").strip(),
            "form_source": kw.get("form_source"),
            "form_target": kw.get("form_target"),
            "selected_edge": kw.get("selected_edge"),
            "override": "on" in (kw.get("override") or []),
        }
        action = _first_action(state)
        if action is None:
            raise PreventUpdate
        sid = (kw.get("session") or {}).get("session_id")
        view = dict(kw.get("view") or {"revision": 0})
        focus_on = "on" in (kw.get("focus_mode") or [])
        centre = kw.get("search")
        hops = int(kw.get("focus_hops") or 2)
        if action.kind == "select_node" and (kw.get("teaching") or {}).get("on"):
            raise PreventUpdate  # in teaching mode a click on a node sets a finding instead
        try:
            if action.kind == "select_node":
                with registry.reading(sid) as session:
                    out["details"] = node_details(
                        session, session.graph.resolve(str(action.source))
                    )
                out.update(selected_edge=None, edge_remove=True, edge_reverse=True)
                return out
            if action.kind == "select_edge":
                with registry.reading(sid) as session:
                    out["details"] = edge_card(
                        session,
                        str(action.source),
                        str(action.target),
                        contradicting_edges(session),
                        registry.pair_evidence,
                    )
                out.update(
                    selected_edge={"source": action.source, "target": action.target},
                    edge_remove=False,
                    edge_reverse=False,
                )
                return out
            with registry.editing(sid) as session:
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
                        registry.log_edit(
                            sid,
                            last.edit,
                            last.delta.to_dict() if last.delta is not None else None,
                            action=last.kind if last.kind in ("undo", "redo") else "edit",
                        )
                    # the selected edge may be gone or reversed
                    sel = state["selected_edge"] or {}
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
                            registry.pair_evidence,
                        )
                if action.kind == "reject":
                    out["history"] = history_list(session)
                out["alert_hidden"] = True
            view["revision"] = int(view.get("revision", 0)) + 1
            view["last"] = action.kind
            if result is not None and action.kind in ("add", "reverse"):
                view["edge"] = edge_id(
                    *(
                        (action.source, action.target)
                        if action.kind == "add"
                        else (action.target, action.source)
                    )
                )
            out["view"] = view
            return out
        except CycleError as exc:
            with registry.reading(sid) as session:
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
            with registry.reading((session_data or {}).get("session_id")) as session:
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
        Output("kg-dummy", "data", allow_duplicate=True),
        Input(ids.RELAYOUT, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(v){ if (v && window.kgEditor) { window.kgEditor.focusNode(v); } return window.dash_clientside.no_update; }",
        Output("kg-dummy", "data", allow_duplicate=True),
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
        Output("kg-dummy", "data", allow_duplicate=True),
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
