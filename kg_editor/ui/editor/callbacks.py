"""Callbacks: parse what the physician did, call the session, send back the new view.

One dispatch callback handles every action that changes or inspects the graph (edits from
the canvas, the context menu, the keyboard, the form, the edge card, undo/redo, accepted
or rejected suggestions, the target and the focus), through the :data:`ACTIONS` registry.
Domain errors become a visible alert (a refused cycle is also drawn on the canvas); any
other error becomes a generic alert and its traceback goes to the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dash import ALL, Input, Output, State, ctx, no_update, set_props
from dash.exceptions import PreventUpdate
from plotly.utils import PlotlyJSONEncoder

from kg_editor.errors import ConstraintError, CycleError, KGEditorError
from kg_editor.ui import ids
from kg_editor.ui.editor.cards import edge_card, latent_card, node_details
from kg_editor.ui.editor.elements import edge_id, layout_options
from kg_editor.ui.editor.layout import FOCUS_THRESHOLD, editor_layout
from kg_editor.ui.editor.render import (
    contradicting_edges,
    elements_for,
    history_list,
    render_report,
    render_view,
    review_view,
    suggestion_list,
    visible_nodes,
)
from kg_editor.ui.state import session_id
from kg_editor.workspace import Workspace

if TYPE_CHECKING:
    from kg_editor.model.session import EditSession

__all__ = [
    "ACTIONS",
    "MAX_HINT_EDGES",
    "STEADY_OUTPUTS",
    "Action",
    "concept_options",
    "edit_hints",
    "editor_page",
    "parse_trigger",
    "register_callbacks",
    "skip_unchanged",
]

logger = logging.getLogger(__name__)

CHANGED_ELSEWHERE = (
    "This session was changed in another tab or by another person; the canvas, report and "
    "history now show the latest graph. Check it before your next edit."
)

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
        if isinstance(value, dict) and value.get("kind") == "merge":
            nodes = [str(n) for n in value.get("nodes") or []]
            return Action(
                "merge",
                extra={
                    "nodes": nodes,
                    "name": value.get("name") or "",
                    "nonce": value.get("nonce"),
                },
            )
        if isinstance(value, dict) and value.get("kind") == "split":
            return Action("split", value.get("node"), extra={"nonce": value.get("nonce")})
        if not isinstance(value, dict) or value.get("kind") not in (
            "add",
            "remove",
            "reverse",
            "undo",
            "redo",
            "refresh",
            "endorse",
            "add_latent",
        ):
            return None
        return Action(
            str(value["kind"]),
            value.get("source"),
            value.get("target"),
            {"via": value.get("via", "canvas"), "nonce": value.get("nonce")},
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
            kind = "select_latent" if value.get("latent") else "select_edge"
            return Action(kind, value.get("source"), value.get("target"))
        return None
    if trigger == ids.FORM_ADD:
        return Action("add", state.get("form_source"), state.get("form_target"), {"via": "form"})
    if trigger in (ids.EDGE_REMOVE, ids.EDGE_REVERSE):
        sel = state.get("selected_edge") or {}
        if not sel:
            return None
        if sel.get("latent"):
            if trigger != ids.EDGE_REMOVE:
                return None
            return Action("remove_latent", sel.get("source"), sel.get("target"), {"via": "card"})
        return Action(
            "remove" if trigger == ids.EDGE_REMOVE else "reverse",
            sel.get("source"),
            sel.get("target"),
            {"via": "card"},
        )
    if isinstance(trigger, dict) and trigger.get("type") == ids.REVIEW_ACTION:
        edge = state.get("review_edge") or {}
        if not value or not edge or trigger.get("index") not in ("endorse", "reverse", "remove"):
            return None
        return Action(
            str(trigger["index"]), edge.get("source"), edge.get("target"), {"via": "review"}
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
        pair = tuple(sorted((str(a.source), str(a.target))))
        if (
            kind == "remove"
            and not session.graph.has_edge(a.source, a.target)
            and pair in session.graph.latent_pairs
        ):  # Delete on a selected A <-> B
            return session.remove_latent(
                a.source, a.target, author=st["author"], rationale=st["rationale"]
            )
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


def _chosen(node: str | None) -> str:
    if not node:
        raise KGEditorError(
            "Choose both variables in the add-edge form before saying they share a cause."
        )
    return str(node)


def _merge(session: EditSession, a: Action, st: dict[str, Any]) -> Any:
    name = str(a.extra.get("name") or "").strip()
    if len(a.extra.get("nodes") or []) < 2:
        raise KGEditorError("Choose two or more variables to merge into one concept.")
    if not name:
        raise KGEditorError("Name the concept before merging (e.g. “GI mucosal disease”).")
    return session.merge(a.extra["nodes"], name, author=st["author"], rationale=st["rationale"])


def _split(session: EditSession, a: Action, st: dict[str, Any]) -> Any:
    if not a.source:
        raise KGEditorError("Choose a merged concept to split.")
    return session.split(str(a.source), author=st["author"], rationale=st["rationale"])


def concept_options(session: EditSession) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Options of the concept card: binary variables that may be merged, and the merged
    concepts that may be split."""
    merged = [
        {"label": session.graph.label(c), "value": str(c)}
        for c in session.cohort.set_aside
        if c in session.graph
    ]
    return _binary_options(session), sorted(merged, key=lambda o: o["label"].lower())


#: Action kind -> function(session, action, state) that changes the session.
ACTIONS: dict[str, Callable[[EditSession, Action, dict[str, Any]], Any]] = {
    "add": _edit("add"),
    "remove": _edit("remove"),
    "reverse": _edit("reverse"),
    "undo": lambda s, a, st: s.undo(author=st["author"]),
    "redo": lambda s, a, st: s.redo(author=st["author"]),
    "accept": lambda s, a, st: s.accept(a.extra["id"], author=st["author"]),
    "reject": lambda s, a, st: s.reject(a.extra["id"], author=st["author"]),
    "add_latent": lambda s, a, st: s.add_latent(
        _chosen(a.source), _chosen(a.target), author=st["author"], rationale=st["rationale"]
    ),
    "remove_latent": lambda s, a, st: s.remove_latent(
        str(a.source), str(a.target), author=st["author"], rationale=st["rationale"]
    ),
    "endorse": lambda s, a, st: s.endorse(
        str(a.source), str(a.target), author=st["author"], rationale=st["rationale"]
    ),
    "merge": _merge,
    "split": _split,
    "target": lambda s, a, st: (
        s.set_targets([a.extra["target"]]) if a.extra.get("target") else None
    ),
}

#: Actions that change the graph (and so are logged, and clear the rationale).
GRAPH_EDITS = (
    "add",
    "remove",
    "reverse",
    "undo",
    "redo",
    "accept",
    "merge",
    "split",
    "endorse",
    "add_latent",
    "remove_latent",
)

#: Actions after which the whole view (canvas, report, history, suggestions) is redrawn
#: from the session: the edits, a new target, and "refresh" (sent by the page when a
#: response arrived out of order, so that the screen shows the server's latest state).
REDRAW = (*GRAPH_EDITS, "target", "refresh")


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
        "review": Input({"type": ids.REVIEW_ACTION, "index": ALL}, "n_clicks"),
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
        "review_edge": State(ids.REVIEW_EDGE, "data"),
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
        mergeable, merged = concept_options(session)
        return editor_layout(
            view,
            review=review_view(session),
            concept_options=mergeable,
            merged_options=merged,
            session_id=sid,
            title=title_text,
            options=options,
            target_options=_binary_options(session),
            target=tgt,
            focus_on=big,
            n_nodes=len(session.graph),
            author=workspace.session_owner(sid)
            or (session.author if session.author != "anonymous" else ""),
            server_revision=len(session.history),
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
        review: Any,
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
        review_edge: Any,
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
            "review_edge": review_edge,
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
                    out["view"] = _answer_view(view, action, len(session.history), drawn=False)
                out.update(selected_edge=None, edge_remove=True, edge_reverse=True)
                return out
            if action.kind == "select_latent":
                with workspace.reading(sid) as session:
                    out["details"] = latent_card(session, str(action.source), str(action.target))
                    out["view"] = _answer_view(view, action, len(session.history), drawn=False)
                out.update(
                    selected_edge={
                        "source": action.source,
                        "target": action.target,
                        "latent": True,
                    },
                    edge_remove=False,
                    edge_reverse=True,
                )
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
                    out["view"] = _answer_view(view, action, len(session.history), drawn=False)
                out.update(
                    selected_edge={"source": action.source, "target": action.target},
                    edge_remove=False,
                    edge_reverse=False,
                )
                return out
            hold = (
                workspace.reading(sid)
                if action.kind == "refresh"
                else workspace.editing(sid, expected_revision=tab_revision)
            )
            with hold as session:
                result = None
                if action.kind in ACTIONS:
                    result = ACTIONS[action.kind](session, action, state)
                nodes = visible_nodes(session, focus_on, centre, hops)
                keep = _kept_selection(session, action, result, state["selected_edge"])
                out["elements"] = elements_for(session, nodes=nodes, selected_edge=keep)
                if action.kind == "focus":
                    view["focus_key"] = [focus_on, centre, hops]
                    out["layout"] = layout_options("dagre", nonce=int(view.get("revision", 0)) + 1)
                if action.kind in REDRAW:
                    view["hints"] = edit_hints(session)
                    out.update(render_report(session, None))
                    out["history"] = history_list(session)
                    out["undo"] = not session.can_undo
                    out["redo"] = not session.can_redo
                    view["sent"] = skip_unchanged(out, view.get("sent"), action.kind == "refresh")
                if action.kind in GRAPH_EDITS:
                    out["rationale"] = ""
                    last = session.history[-1]
                    if last.edit is not None:
                        workspace.log_edit(
                            str(sid),
                            last.edit,
                            last.delta,
                            action=last.kind if last.kind in ("undo", "redo") else "edit",
                        )
                    # the selected edge may be gone or reversed (a reversed or added
                    # edge becomes the selection, so a second R flips it back)
                    sel: dict[str, Any] = (
                        {"source": keep[0], "target": keep[1]}
                        if keep
                        else (state["selected_edge"] or {})
                    )
                    if keep:
                        out.update(selected_edge=sel, edge_remove=False, edge_reverse=False)
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
                view = _answer_view(view, action, len(session.history), drawn=True)
            # the tab now shows this store revision; a stale tab's next edit is refused
            stored = workspace.revision(sid)
            set_props(ids.SESSION, {"data": {"session_id": sid, "revision": stored}})
            if action.kind == "refresh" and tab_revision is not None and tab_revision != stored:
                # redrawn because someone else changed the session: say so
                _alert(out, CHANGED_ELSEWHERE, "alert info changed")
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
            return _alert(_stamp(out, view, workspace, sid, action), str(exc), "alert error cycle")
        except ConstraintError as exc:
            return _alert(
                _stamp(out, view, workspace, sid, action),
                f"{exc} To do so, tick “Override constraints” in the top bar, give your name "
                "and a rationale, and repeat the edit.",
                "alert error constraint",
            )
        except KGEditorError as exc:
            return _alert(_stamp(out, view, workspace, sid, action), str(exc), "alert error")
        except Exception:
            logger.exception("unexpected error while handling %s", action)
            return _alert(
                _stamp(out, view, workspace, sid, action), GENERIC_ERROR, "alert error generic"
            )

    @app.callback(
        Output(ids.SUGGESTIONS, "children"),
        Input(ids.VIEW, "data"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def refresh_suggestions(view: Any, session_data: Any) -> Any:
        if not view or view.get("last") not in (*GRAPH_EDITS, "reject", "refresh"):
            raise PreventUpdate
        try:
            with workspace.reading(session_id(session_data)) as session:
                return suggestion_list(session)
        except Exception:
            logger.exception("could not refresh the suggestions")
            raise PreventUpdate from None

    @app.callback(
        output={
            "members": Output(ids.CONCEPT_MEMBERS, "options"),
            "members_value": Output(ids.CONCEPT_MEMBERS, "value"),
            "merged": Output(ids.CONCEPT_SPLIT_NODE, "options"),
            "split_value": Output(ids.CONCEPT_SPLIT_NODE, "value"),
            "name": Output(ids.CONCEPT_NAME, "value"),
            "form_source": Output(ids.FORM_SOURCE, "options"),
            "form_target": Output(ids.FORM_TARGET, "options"),
        },
        inputs={"view": Input(ids.VIEW, "data"), "session_data": State(ids.SESSION, "data")},
        prevent_initial_call=True,
    )
    def refresh_concepts(view: Any, session_data: Any) -> dict[str, Any]:
        """After a merge or split the variables changed: refresh every list of them."""
        if not view or view.get("last") not in ("merge", "split"):
            raise PreventUpdate
        with workspace.reading(session_id(session_data)) as session:
            mergeable, merged = concept_options(session)
            every = sorted(
                ({"label": session.graph.label(n), "value": str(n)} for n in session.graph.nodes),
                key=lambda o: o["label"].lower(),
            )
        return {
            "members": mergeable,
            "members_value": [],
            "merged": merged,
            "split_value": None,
            "name": "",
            "form_source": every,
            "form_target": every,
        }

    @app.callback(
        output={
            "text": Output(ids.REVIEW_TEXT, "children"),
            "progress": Output(ids.REVIEW_PROGRESS, "children"),
            "edge": Output(ids.REVIEW_EDGE, "data"),
        },
        inputs={
            "view": Input(ids.VIEW, "data"),
            "skipped": Input(ids.REVIEW_SKIPPED, "data"),
            "session_data": State(ids.SESSION, "data"),
        },
        prevent_initial_call=True,
    )
    def refresh_review(view: Any, skipped: Any, session_data: Any) -> dict[str, Any]:
        """The next edge of the review queue after an edit or a skip."""
        if ctx.triggered_id == ids.VIEW and (not view or view.get("last") not in GRAPH_EDITS):
            raise PreventUpdate
        with workspace.reading(session_id(session_data)) as session:
            rv = review_view(session, set(skipped or []))
        return {"text": rv.text, "progress": rv.progress, "edge": rv.edge}

    app.clientside_callback(
        """function(n, edge, skipped){
            if (!n || !edge) { return window.dash_clientside.no_update; }
            return (skipped || []).concat([edge.source + "->" + edge.target]);
        }""",
        Output(ids.REVIEW_SKIPPED, "data"),
        Input(ids.REVIEW_SKIP, "n_clicks"),
        State(ids.REVIEW_EDGE, "data"),
        State(ids.REVIEW_SKIPPED, "data"),
        prevent_initial_call=True,
    )
    # in review mode the edge under review is selected on the canvas after every step
    # (its evidence card opens; E, R and Delete act on it)
    app.clientside_callback(
        """function(edge, mode){
            var el = document.getElementById("kg-canvas");
            if (!edge || !el || !el._cyreg || (mode || []).indexOf("on") < 0) {
                return window.dash_clientside.no_update;
            }
            var cy = el._cyreg.cy;
            var e = cy.edges().filter(function (x) {
                return x.data("source") === edge.source && x.data("target") === edge.target;
            });
            if (e.length) { cy.elements(":selected").unselect(); e.select(); e.emit("tap"); }
            return window.dash_clientside.no_update;
        }""",
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.REVIEW_EDGE, "data"),
        Input(ids.REVIEW_MODE, "value"),
        prevent_initial_call=True,
    )

    # buttons whose edit the page sends through the one client-action store (one edit in
    # flight at a time): the unmeasured-cause button and the concept card's
    for button, params, payload, states in (
        (
            ids.FORM_LATENT,
            "a, b",
            '{kind: "add_latent", source: a || null, target: b || null, via: "form"}',
            (State(ids.FORM_SOURCE, "value"), State(ids.FORM_TARGET, "value")),
        ),
        (
            ids.CONCEPT_MERGE,
            "nodes, name",
            '{kind: "merge", nodes: nodes || [], name: name || "", via: "concept"}',
            (State(ids.CONCEPT_MEMBERS, "value"), State(ids.CONCEPT_NAME, "value")),
        ),
        (
            ids.CONCEPT_SPLIT,
            "node",
            '{kind: "split", node: node || null, via: "concept"}',
            (State(ids.CONCEPT_SPLIT_NODE, "value"),),
        ),
    ):
        app.clientside_callback(
            _client_send(params, payload),
            Output(ids.CLIENT_ACTION, "data", allow_duplicate=True),
            Input(button, "n_clicks"),
            *states,
            prevent_initial_call=True,
        )
    app.clientside_callback(
        # every answer of the dispatch frees the edit controls and sends the next queued
        # edit (or a redraw when the answer was stale): see assets/03_kg_editor.js
        "function(v){ if (window.kgEditor && window.kgEditor.settled) { window.kgEditor.settled(v); } return window.dash_clientside.no_update; }",
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.VIEW, "data"),
        prevent_initial_call="initial_duplicate",
    )
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


def _client_send(params: str, payload: str) -> str:
    """A clientside callback (a button's ``n_clicks``, then ``params``) that sends
    ``payload`` (a JS object literal) through the page's edit queue, or writes it to the
    client-action store when the glue script is absent."""
    return f"""function(n, {params}){{
        if (!n) {{ return window.dash_clientside.no_update; }}
        var p = {payload};
        if (window.kgEditor && window.kgEditor.send) {{
            window.kgEditor.send(p); return window.dash_clientside.no_update;
        }}
        p.nonce = String(Date.now()); return p;
    }}"""


#: Report outputs written only by the redraw of an edit: the page keeps the one it has
#: when the new one is the same (an edit away from the target leaves the ROC, the
#: calibration and the subgroup table as they were), so the browser redraws less.
STEADY_OUTPUTS = ("roc", "calibration", "subgroups", "history_chart", "metrics", "status")


def skip_unchanged(
    out: dict[str, Any], sent: Mapping[str, str] | None, resend: bool = False
) -> dict[str, str]:
    """Replace the outputs of :data:`STEADY_OUTPUTS` equal to what the page already
    shows by ``no_update``; return the digests of what the page will show (kept in the
    view store: they travel with the outputs, so a dropped answer drops both).
    ``resend``: send everything (a redraw asked for by the page).

    Examples
    --------
    >>> out = {"roc": {"data": [1]}, "status": "Reversed a -> b"}
    >>> sent = skip_unchanged(out, None)
    >>> again = {"roc": {"data": [1]}, "status": "Undone"}
    >>> _ = skip_unchanged(again, sent)
    >>> again["roc"] is no_update, again["status"]
    (True, 'Undone')
    """
    digests = dict(sent or {})
    for key in STEADY_OUTPUTS:
        value = out.get(key, no_update)
        if value is no_update:
            continue
        text = json.dumps(value, cls=PlotlyJSONEncoder, sort_keys=True)
        digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
        if not resend and digests.get(key) == digest:
            out[key] = no_update
        digests[key] = digest
    return digests


#: Most edges an undo or redo hint lists (larger steps are drawn when the answer comes).
MAX_HINT_EDGES = 12


def edit_hints(session: EditSession) -> dict[str, Any]:
    """What Undo and Redo would change on the canvas (edges to add and to remove), for
    the page to draw at once while the server works (assets/03_kg_editor.js); ``None``
    for a step that changes the variables or more than :data:`MAX_HINT_EDGES` edges.

    Examples
    --------
    >>> from kg_editor.model.graph import CausalGraph
    >>> class Step:  # a session whose last edit reversed a -> b
    ...     graph = CausalGraph.from_edges([("b", "a")])
    ...     undo_graph = CausalGraph.from_edges([("a", "b")])
    ...     redo_graph = None
    >>> edit_hints(Step())
    {'undo': {'add': [['a', 'b']], 'remove': [['b', 'a']]}, 'redo': None}
    """
    now = session.graph
    out: dict[str, Any] = {}
    for kind, other in (("undo", session.undo_graph), ("redo", session.redo_graph)):
        if other is None or set(other.nodes) != set(now.nodes):
            out[kind] = None
            continue
        before, after = set(now.edges), set(other.edges)
        add, remove = sorted(after - before), sorted(before - after)
        fits = len(add) + len(remove) <= MAX_HINT_EDGES
        out[kind] = (
            {"add": [list(e) for e in add], "remove": [list(e) for e in remove]} if fits else None
        )
    return out


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


def _kept_selection(
    session: EditSession, action: Action, result: Any, selected: Any
) -> tuple[str, str] | None:
    """The edge to keep selected on the redrawn canvas: the one an add or a reversal
    made, else the selected edge when it is still in the graph."""
    if result is not None and action.kind in ("add", "reverse") and action.source:
        u, v = session.graph.resolve(str(action.source)), session.graph.resolve(str(action.target))
        pair = (u, v) if action.kind == "add" else (v, u)
        if session.graph.has_edge(*pair):
            return pair
    sel = selected or {}
    if sel and session.graph.has_edge(str(sel.get("source")), str(sel.get("target"))):
        return str(sel["source"]), str(sel["target"])
    return None


def _answer_view(
    view: dict[str, Any], action: Action, revision: int, *, drawn: bool
) -> dict[str, Any]:
    """The view store of an answer: the session revision it was rendered from, whether
    it redrew the canvas and the report (``drawn``), and the nonce of the page's edit it
    answers. The page compares these with what it has (assets/03_kg_editor.js) and asks
    for a redraw when an answer is stale or another answer replaced it."""
    out = dict(view)
    out.update(
        server_revision=revision,
        drawn=drawn,
        nonce=action.extra.get("nonce"),
        answered=action.kind,
    )
    return out


def _stamp(
    out: dict[str, Any], view: dict[str, Any], workspace: Workspace, sid: Any, action: Action
) -> Any:
    """Put the session's revision on a refused action's answer, so the page knows it is
    settled. A refused edit leaves the session as it was, so the canvas is not redrawn
    (``drawn`` is false: the page redraws when its canvas is older than the session)."""
    try:
        revision = workspace.history_revision(sid)
    except KGEditorError:
        revision = int(view.get("server_revision", 0))
    stamped = _answer_view(view, action, revision, drawn=False)
    stamped["last"] = "refused"
    out["view"] = stamped
    return out


def _gone() -> Any:
    from dash import html

    return html.Div("The selected edge is no longer in the graph.", className="muted empty")


def _alert(out: dict[str, Any], text: str, cls: str) -> dict[str, Any]:
    out["alert_text"] = text
    out["alert_hidden"] = False
    out["alert_class"] = cls
    return out
