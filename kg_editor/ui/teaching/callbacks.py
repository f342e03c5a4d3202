"""Callbacks of teaching mode: findings, beliefs, seeing versus doing, paths, scenarios.

Each callback parses what the educator did, calls :mod:`kg_editor.teaching` on the
session's cached :class:`~kg_editor.teaching.beliefs.TeachingModel` and serialises the answer.
The browser holds only the session id and the findings (node -> state); the model, the
cohort and the scenarios stay on the server (the scenarios in the store).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from dash import ALL, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from kg_editor.errors import KGEditorError
from kg_editor.ui import ids
from kg_editor.ui.state import session_id
from kg_editor.ui.teaching.view import (
    canvas_payload,
    cycle_state,
    findings_list,
    focus_state,
    paths_view,
    posterior_table,
    scenario_list,
    seeing_doing_view,
)
from kg_editor.workspace import TeachingCache, Workspace

__all__ = ["compute_teaching", "register_teaching_callbacks", "scenario_from_inputs"]

logger = logging.getLogger(__name__)

GENERIC = "Something went wrong on the server; the error was logged. Your findings are unchanged."


def _clean_evidence(evidence: Any) -> dict[str, str]:
    if not isinstance(evidence, Mapping):
        return {}
    return {str(k): str(v) for k, v in evidence.items() if v is not None}


def _error(text: str) -> html.Div:
    return html.Div(text, className="teach-error", role="alert")


def scenario_from_inputs(
    name: Any,
    question: Any,
    findings: Mapping[str, str],
    cause: Any,
    cause_state: Any,
    outcome: Any,
    *,
    author: str,
    version_id: str | None,
) -> Any:
    """A :class:`~kg_editor.teaching.Scenario` from the panel's inputs (raises
    :class:`~kg_editor.errors.SchemaError` without a name)."""
    from kg_editor.teaching import Scenario

    both = bool(cause) and bool(outcome)
    return Scenario(
        name=str(name or "").strip(),
        findings=dict(findings),
        question=str(question or "").strip(),
        cause=str(cause) if both else None,
        cause_state=str(cause_state) if both and cause_state else None,
        outcome=str(outcome) if both else None,
        version_id=version_id,
        author=author,
    )


def compute_teaching(
    tm: Any,
    update: Mapping[str, Any],
    evidence: Mapping[str, str],
    cause: str | None,
    cause_state: str | None,
    outcome: str | None,
    a: str | None,
    b: str | None,
) -> dict[str, Any]:
    """Everything the panel and the canvas show for these findings and choices.

    Returns ``{"sd", "paths", "adjustment", "sd_error", "paths_error"}``; the seeing/doing
    contrast sets findings on the cause or the outcome aside (as
    :func:`kg_editor.teaching.replay` does).
    """
    from kg_editor.teaching import adjustment_report, path_report, seeing_vs_doing

    out: dict[str, Any] = {
        "sd": None,
        "paths": None,
        "adjustment": None,
        "sd_error": None,
        "paths_error": None,
    }
    if cause and outcome and cause_state:
        try:
            if cause_state in tm.states(cause):
                rest = {k: v for k, v in evidence.items() if k not in (cause, outcome)}
                out["sd"] = seeing_vs_doing(tm, cause, cause_state, outcome, rest)
        except KGEditorError as exc:
            out["sd_error"] = str(exc)
    if a and b:
        try:
            out["paths"] = path_report(tm, a, b, evidence, max_trails=50)
            out["adjustment"] = adjustment_report(tm, a, b)
        except KGEditorError as exc:
            out["paths_error"] = str(exc)
    return out


def _state_options(tm: Any, node: str) -> list[dict[str, str]]:
    return [{"label": s, "value": s} for s in tm.states(node)]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "scenario"


def register_teaching_callbacks(app: Any, workspace: Workspace) -> TeachingCache:
    """Attach teaching mode's callbacks to ``app``; returns the workspace's model cache."""

    def model(sid: str | None) -> tuple[Any, str, Any]:
        return workspace.teaching_model(str(sid))

    # -- on/off (client side: no round trip) ----------------------------------------
    app.clientside_callback(
        """function(n, cur){
            var on = !(cur && cur.on);
            document.body.classList.toggle('kg-teaching', on);
            return [{on: on}, !on, on ? 'btn toggle active' : 'btn toggle'];
        }""",
        Output(ids.TEACH_ON, "data"),
        Output(ids.TEACH_PANEL, "hidden"),
        Output(ids.TEACH_MODE, "className"),
        Input(ids.TEACH_MODE, "n_clicks"),
        State(ids.TEACH_ON, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(d){ if (window.kgTeach) { window.kgTeach.apply(d); } return window.dash_clientside.no_update; }",
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.TEACH_CANVAS, "data"),
        prevent_initial_call=True,
    )

    # -- findings: canvas clicks, the menu, chips, clear, scenario replay -------------
    @app.callback(
        Output(ids.TEACH_EVIDENCE, "data"),
        Output(ids.TEACH_MESSAGE, "children"),
        Output(ids.TEACH_MESSAGE, "hidden"),
        Output(ids.TEACH_CAUSE, "value"),
        Output(ids.TEACH_CAUSE_STATE, "value", allow_duplicate=True),
        Output(ids.TEACH_OUTCOME, "value"),
        Output(ids.TEACH_PATH_A, "value"),
        Output(ids.TEACH_PATH_B, "value"),
        Input(ids.CANVAS, "tapNode"),
        Input(ids.TEACH_CLEAR, "n_clicks"),
        Input(ids.TEACH_SET, "n_clicks"),
        Input({"type": ids.TEACH_FINDING_REMOVE, "index": ALL}, "n_clicks"),
        Input({"type": ids.TEACH_SCN_REPLAY, "index": ALL}, "n_clicks"),
        State(ids.TEACH_ON, "data"),
        State(ids.TEACH_EVIDENCE, "data"),
        State(ids.TEACH_SET_NODE, "value"),
        State(ids.TEACH_SET_STATE, "value"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def set_findings(
        tap: Any,
        _clear: Any,
        _set: Any,
        _remove: Any,
        _replay: Any,
        on: Any,
        evidence: Any,
        set_node: Any,
        set_state: Any,
        session_data: Any,
    ) -> tuple[Any, ...]:
        trig = ctx.triggered_id
        value = ctx.triggered[0].get("value") if ctx.triggered else None
        if trig is None or not (on or {}).get("on"):
            raise PreventUpdate
        ev = _clean_evidence(evidence)
        sel: list[Any] = [no_update] * 5
        sid = session_id(session_data)
        try:
            tm, _key, _session = model(sid)
            if trig == ids.CANVAS:
                node = str(((tap or {}).get("data") or {}).get("id") or "")
                if not node or node not in tm.nodes:
                    raise PreventUpdate
                nxt = cycle_state(tm.states(node), ev.get(node))
                if nxt is None:
                    ev.pop(node, None)
                else:
                    ev[node] = nxt
            elif trig == ids.TEACH_CLEAR:
                ev = {}
            elif trig == ids.TEACH_SET:
                if not set_node or not set_state:
                    raise KGEditorError("Choose a variable and its state before setting a finding.")
                ev[tm.resolve(str(set_node))] = str(set_state)
            elif isinstance(trig, Mapping) and trig.get("type") == ids.TEACH_FINDING_REMOVE:
                if not value:
                    raise PreventUpdate
                ev.pop(str(trig.get("index")), None)
            elif isinstance(trig, Mapping) and trig.get("type") == ids.TEACH_SCN_REPLAY:
                if not value:
                    raise PreventUpdate
                ev, sel = replay_scenario(tm, str(trig.get("index")))
            else:
                raise PreventUpdate
            ev = tm.resolve_findings(ev)
            tm.probability_of_findings(ev)  # refuses findings that cannot occur together
            return (ev, "", True, *sel)
        except PreventUpdate:
            raise
        except KGEditorError as exc:
            return (no_update, str(exc), False, *[no_update] * 5)
        except Exception:
            logger.exception("teaching mode: could not change the findings")
            return (no_update, GENERIC, False, *[no_update] * 5)

    def replay_scenario(tm: Any, scenario_id: str) -> tuple[dict[str, str], list[Any]]:
        from kg_editor.teaching import Scenario

        row = workspace.get_scenario(scenario_id)
        if row is None:
            raise KGEditorError("This scenario is not in the store any more.")
        sc = Scenario.from_dict(row["scenario"])
        ev = tm.resolve_findings(sc.findings)
        if sc.cause is not None and sc.outcome is not None:
            x, y = tm.resolve(sc.cause), tm.resolve(sc.outcome)
            xs = sc.cause_state or focus_state(tm.states(x))
            return ev, [x, xs, y, x, y]
        return ev, [None, None, None, None, None]

    # -- state menus --------------------------------------------------------------------
    @app.callback(
        Output(ids.TEACH_CAUSE_STATE, "options"),
        Output(ids.TEACH_CAUSE_STATE, "value", allow_duplicate=True),
        Input(ids.TEACH_CAUSE, "value"),
        State(ids.TEACH_CAUSE_STATE, "value"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def cause_states(cause: Any, current: Any, session_data: Any) -> tuple[Any, Any]:
        if not cause:
            return [], None
        try:
            tm, _, _ = model(session_id(session_data))
            states = tm.states(str(cause))
        except KGEditorError:
            return [], None
        keep = current if current in states else focus_state(states)
        return [{"label": s, "value": s} for s in states], keep

    @app.callback(
        Output(ids.TEACH_SET_STATE, "options"),
        Output(ids.TEACH_SET_STATE, "value"),
        Input(ids.TEACH_SET_NODE, "value"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def finding_states(node: Any, session_data: Any) -> tuple[Any, Any]:
        if not node:
            return [], None
        try:
            tm, _, _ = model(session_id(session_data))
            states = tm.states(str(node))
        except KGEditorError:
            return [], None
        return _state_options(tm, str(node)), focus_state(states)

    # -- beliefs, seeing vs doing, paths --------------------------------------------------
    @app.callback(
        Output(ids.TEACH_TABLE, "children"),
        Output(ids.TEACH_FINDINGS, "children"),
        Output(ids.TEACH_SD, "children"),
        Output(ids.TEACH_PATHS, "children"),
        Output(ids.TEACH_CANVAS, "data"),
        Input(ids.TEACH_ON, "data"),
        Input(ids.TEACH_EVIDENCE, "data"),
        Input(ids.VIEW, "data"),
        Input(ids.TEACH_CAUSE, "value"),
        Input(ids.TEACH_CAUSE_STATE, "value"),
        Input(ids.TEACH_OUTCOME, "value"),
        Input(ids.TEACH_PATH_A, "value"),
        Input(ids.TEACH_PATH_B, "value"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def show(
        on: Any,
        evidence: Any,
        _view: Any,
        cause: Any,
        cause_state: Any,
        outcome: Any,
        a: Any,
        b: Any,
        session_data: Any,
    ) -> tuple[Any, ...]:
        if not (on or {}).get("on"):
            if ctx.triggered_id != ids.TEACH_ON:
                raise PreventUpdate  # editing: nothing to paint
            return (no_update, no_update, no_update, no_update, canvas_payload(None, on=False))
        sid = session_id(session_data)
        ev = _clean_evidence(evidence)
        try:
            tm, key, _ = model(sid)
            upd = workspace.beliefs(str(sid), key, tm, tm.resolve_findings(ev))
            res = compute_teaching(tm, upd, upd["findings"], cause, cause_state, outcome, a, b)
        except KGEditorError as exc:
            err = _error(str(exc))
            return (err, no_update, no_update, no_update, canvas_payload(None, on=False))
        except Exception:
            logger.exception("teaching mode: could not compute the beliefs")
            return (_error(GENERIC), no_update, no_update, no_update, no_update)
        labels = {n: tm.label(n) for n in upd["findings"]}
        if res["sd"] is not None:
            sd_view: Any = seeing_doing_view(res["sd"])
        elif res["sd_error"]:
            sd_view = _error(res["sd_error"])
        else:
            sd_view = html.Div("Choose a cause, its state and an outcome.", className="muted small")
        if res["paths"] is not None:
            p_view: Any = paths_view(res["paths"], res["adjustment"])
        elif res["paths_error"]:
            p_view = _error(res["paths_error"])
        else:
            p_view = html.Div("Choose two variables.", className="muted small")
        payload = canvas_payload(upd, sd=res["sd"], paths=res["paths"])
        return (
            posterior_table(upd),
            findings_list(upd["findings"], labels),
            sd_view,
            p_view,
            payload,
        )

    # -- scenarios ----------------------------------------------------------------------
    @app.callback(
        Output(ids.TEACH_SCN_LIST, "children"),
        Output(ids.TEACH_SCN_NAME, "value"),
        Output(ids.TEACH_SCN_QUESTION, "value"),
        Input(ids.TEACH_SCN_SAVE, "n_clicks"),
        Input(ids.TEACH_ON, "data"),
        State(ids.TEACH_SCN_NAME, "value"),
        State(ids.TEACH_SCN_QUESTION, "value"),
        State(ids.TEACH_EVIDENCE, "data"),
        State(ids.TEACH_CAUSE, "value"),
        State(ids.TEACH_CAUSE_STATE, "value"),
        State(ids.TEACH_OUTCOME, "value"),
        State(ids.AUTHOR, "value"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def scenarios(
        n: Any,
        on: Any,
        name: Any,
        question: Any,
        evidence: Any,
        cause: Any,
        cause_state: Any,
        outcome: Any,
        author: Any,
        session_data: Any,
    ) -> tuple[Any, ...]:
        sid = session_id(session_data)
        note: Any = None
        clear: tuple[Any, Any] = (no_update, no_update)
        try:
            tm, key, _ = model(sid)
            if ctx.triggered_id == ids.TEACH_SCN_SAVE:
                if not n:
                    raise PreventUpdate
                head = workspace.head_version()
                sc = scenario_from_inputs(
                    name,
                    question,
                    tm.resolve_findings(_clean_evidence(evidence)),
                    cause,
                    cause_state,
                    outcome,
                    author=(author or "").strip() or "anonymous",
                    version_id=head.id if head is not None else None,
                )
                workspace.save_scenario(sid, sc, key)
                note = html.Div(f"Saved “{sc.name}”.", className="teach-ok small")
                clear = ("", "")
            elif not (on or {}).get("on"):
                raise PreventUpdate
            rows = workspace.list_scenarios()
            labels = {n: tm.label(n) for n in tm.nodes}
            return ([note, scenario_list(rows, key, labels)], *clear)
        except PreventUpdate:
            raise
        except KGEditorError as exc:
            rows = workspace.list_scenarios()
            return ([_error(str(exc)), scenario_list(rows)], no_update, no_update)
        except Exception:
            logger.exception("teaching mode: could not save or list scenarios")
            return (_error(GENERIC), no_update, no_update)

    @app.callback(
        Output(ids.TEACH_DOWNLOAD, "data"),
        Input({"type": ids.TEACH_SCN_EXPORT, "index": ALL}, "n_clicks"),
        Input(ids.TEACH_SCN_EXPORT_ALL, "n_clicks"),
        prevent_initial_call=True,
    )
    def export(_one: Any, _all: Any) -> Any:
        from kg_editor.teaching import Scenario, dump_scenarios

        trig = ctx.triggered_id
        value = ctx.triggered[0].get("value") if ctx.triggered else None
        if not value:
            raise PreventUpdate
        if trig == ids.TEACH_SCN_EXPORT_ALL:
            rows = workspace.list_scenarios()
            text = dump_scenarios(Scenario.from_dict(r["scenario"]) for r in rows)
            return {"content": text, "filename": "scenarios.json", "type": "application/json"}
        if isinstance(trig, Mapping) and trig.get("type") == ids.TEACH_SCN_EXPORT:
            row = workspace.get_scenario(str(trig.get("index")))
            if row is None:
                raise PreventUpdate
            sc = Scenario.from_dict(row["scenario"])
            return {
                "content": sc.to_json(),
                "filename": f"scenario-{_safe_name(sc.name)}.json",
                "type": "application/json",
            }
        raise PreventUpdate

    return workspace.teaching
