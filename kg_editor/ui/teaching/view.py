"""Teaching mode of the canvas: the panel, its tables, the canvas decorations, the model cache.

Pure functions that turn the results of :mod:`kg_editor.teaching` into Dash components
and into a small JSON payload the glue script (``assets/04_kg_teaching.js``) paints on
the Cytoscape canvas: every node's posterior as a pie slice and a percentage, the shift
from the prior as the outline colour, observed nodes, active trails and open back-door
paths. The callbacks live in :mod:`kg_editor.ui.teaching.callbacks`.

Examples
--------
>>> cycle_state(("absent", "present"), None), cycle_state(("absent", "present"), "present")
('present', 'absent')
>>> cycle_state(("absent", "present"), "absent") is None
True
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from kg_editor.ui import ids

__all__ = [
    "BACKDOOR_COLOUR",
    "TRAIL_COLOUR",
    "canvas_payload",
    "cycle_state",
    "findings_list",
    "focus_state",
    "paths_view",
    "posterior_table",
    "scenario_list",
    "seeing_doing_view",
    "teaching_legend",
    "teaching_panel",
    "teaching_stores",
    "teaching_stylesheet",
    "teaching_toggle",
]

logger = logging.getLogger(__name__)

TRAIL_COLOUR = "#7b2cbf"
BACKDOOR_COLOUR = "#e85d04"
UP_COLOUR = "#b42318"
DOWN_COLOUR = "#1a7f37"
OBSERVED_COLOUR = "#111827"
PIE_COLOUR = "#1b5e8c"
#: Shifts smaller than this (in probability) are drawn as "unchanged".
SHIFT_VISIBLE = 0.005

_POSITIVE = ("present", "yes", "true", "1", "positive", "abnormal", "high")


def focus_state(states: Sequence[str]) -> str:
    """The state whose probability the canvas shows for a node: a "present"-like state
    when there is one, else the last state.

    Examples
    --------
    >>> focus_state(("absent", "present")), focus_state(("yes", "no")), focus_state(("F", "M"))
    ('present', 'yes', 'M')
    """
    for s in states:
        if str(s).strip().lower() in _POSITIVE:
            return str(s)
    return str(states[-1])


def cycle_state(states: Sequence[str], current: str | None) -> str | None:
    """The next finding when a node is clicked: unobserved -> focus state -> the other
    states in order -> unobserved."""
    order = [focus_state(states)] + [str(s) for s in states if str(s) != focus_state(states)]
    if current is None or str(current) not in order:
        return order[0]
    i = order.index(str(current))
    return order[i + 1] if i + 1 < len(order) else None


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _pp(d: float) -> str:
    return f"{100 * d:+.1f}"


def canvas_payload(
    update: Mapping[str, Any] | None,
    *,
    on: bool = True,
    sd: Mapping[str, Any] | None = None,
    paths: Mapping[str, Any] | None = None,
    edge_ids: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """What the glue script paints on the canvas (plain JSON).

    Parameters
    ----------
    update : dict
        :func:`kg_editor.teaching.belief_update`.
    sd : dict, optional
        :func:`kg_editor.teaching.seeing_vs_doing` (its open back-door paths are drawn).
    paths : dict, optional
        :func:`kg_editor.teaching.path_report` (its active trails are drawn).

    Returns
    -------
    dict
        ``on``, ``nodes`` (id -> ``{"p", "state", "label", "shift", "observed",
        "posterior"}``), ``trail_edges``, ``trail_nodes``, ``backdoor_edges``,
        ``backdoor_nodes`` (element ids) and ``ends`` (the two chosen nodes).

    Examples
    --------
    >>> upd = {"nodes": [{"id": "a", "label": "A", "observed": None, "prior": {"0": .5, "1": .5},
    ...         "posterior": {"0": .2, "1": .8}, "shift": {"0": -.3, "1": .3}}]}
    >>> canvas_payload(upd)["nodes"]["a"]["label"]
    'A\\n80.0% (+30.0)'
    """
    from kg_editor.ui.editor.elements import edge_id

    def eid(u: str, v: str) -> str:
        if edge_ids is not None and (u, v) in edge_ids:
            return edge_ids[(u, v)]
        return edge_id(u, v)

    out: dict[str, Any] = {
        "on": bool(on),
        "nodes": {},
        "trail_edges": [],
        "trail_nodes": [],
        "backdoor_edges": [],
        "backdoor_nodes": [],
        "ends": [],
    }
    if not on or update is None:
        return out
    for r in update["nodes"]:
        states = list(r["posterior"])
        fs = focus_state(states)
        p = float(r["posterior"][fs])
        shift = float(r["shift"][fs])
        label = str(r["label"])
        if len(label) > 28:
            label = label[:26] + "…"
        if r["observed"] is not None:
            text = f"{label}\n= {r['observed']}"
        elif abs(shift) >= SHIFT_VISIBLE:
            text = f"{label}\n{_pct(p)} ({_pp(shift)})"
        else:
            text = f"{label}\n{_pct(p)}"
        out["nodes"][str(r["id"])] = {
            "p": p,
            "pct": round(100 * p, 3),
            "state": fs,
            "label": text,
            "shift": shift,
            "observed": r["observed"],
            "posterior": dict(r["posterior"]),
        }
    if paths is not None:
        out["trail_edges"] = sorted({eid(str(u), str(v)) for u, v in paths.get("edges", [])})
        out["trail_nodes"] = sorted(str(n) for n in paths.get("nodes", []))
        out["ends"] = [str(paths["a"]), str(paths["b"])]
    if sd is not None:
        bd_edges = {eid(str(u), str(v)) for t in sd["open_backdoor_paths"] for u, v in t["edges"]}
        bd_nodes = {str(n) for t in sd["open_backdoor_paths"] for n in t["nodes"]}
        out["backdoor_edges"] = sorted(bd_edges)
        out["backdoor_nodes"] = sorted(bd_nodes)
        if not out["ends"]:
            out["ends"] = [str(sd["cause"]), str(sd["outcome"])]
    return out


# ---------------------------------------------------------------------------------
# Tables and lists
# ---------------------------------------------------------------------------------
def _shift_cell(d: float) -> html.Td:
    cls = "delta neutral"
    if d >= SHIFT_VISIBLE:
        cls = "delta up"
    elif d <= -SHIFT_VISIBLE:
        cls = "delta down"
    width = min(abs(d), 1.0) * 100
    return html.Td(
        [
            html.Span(
                className="shift-bar " + ("up" if d > 0 else "down"),
                style={"width": f"{width:.1f}%"},
            ),
            html.Span(_pp(d), className=cls),
        ],
        className="num shift",
    )


def posterior_table(update: Mapping[str, Any]) -> html.Div:
    """Every node's prior, posterior and shift (percentage points) for its shown state;
    observed nodes first, then the largest shifts. Each row carries the exact posterior
    as JSON in ``data-posterior`` (and the prior in ``data-prior``)."""
    rows = list(update["nodes"])
    order = {n: i for i, n in enumerate(update.get("most_changed", []))}
    rows.sort(key=lambda r: (r["observed"] is None, order.get(r["id"], -1)))
    body = []
    for r in rows:
        fs = focus_state(list(r["posterior"]))
        obs = r["observed"]
        body.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Span(r["label"], className="var"),
                            html.Span(f" = {obs}", className="obs") if obs is not None else None,
                        ]
                    ),
                    html.Td(fs, className="muted small"),
                    html.Td(_pct(r["prior"][fs]), className="num"),
                    html.Td(html.B(_pct(r["posterior"][fs])), className="num"),
                    _shift_cell(float(r["shift"][fs])),
                ],
                className="observed" if obs is not None else "",
                **dict[str, Any](
                    {
                        "data-node": str(r["id"]),
                        "data-state": fs,
                        "data-posterior": json.dumps(r["posterior"]),
                        "data-prior": json.dumps(r["prior"]),
                    }
                ),
            )
        )
    p = update.get("p_findings")
    head = html.Div(
        (
            f"{len(update.get('findings') or {})} finding(s); P(findings) = {p:.3g}"
            if update.get("findings")
            else "No findings yet: these are the priors. Click a node to set its state."
        ),
        className="muted small teach-note",
        id=ids.TEACH_P_FINDINGS,
        **dict[str, Any]({"data-p": repr(float(p))} if p is not None else {}),
    )
    return html.Div(
        [
            head,
            html.Div(
                html.Table(
                    [
                        html.Thead(
                            html.Tr(
                                [
                                    html.Th("Variable"),
                                    html.Th("State"),
                                    html.Th("Prior", className="num"),
                                    html.Th("Now", className="num"),
                                    html.Th("Shift (pp)", className="num"),
                                ]
                            )
                        ),
                        html.Tbody(body),
                    ],
                    className="posteriors",
                ),
                className="posterior-wrap",
            ),
        ]
    )


def findings_list(findings: Mapping[str, str], labels: Mapping[str, str]) -> Any:
    """The current findings as removable chips."""
    if not findings:
        return html.Span("none", className="muted small")
    return [
        html.Span(
            [
                f"{labels.get(n, n)} = {s}",
                html.Button(
                    "×",
                    id={"type": ids.TEACH_FINDING_REMOVE, "index": n},
                    className="chip-x",
                    title="Remove this finding",
                    n_clicks=0,
                ),
            ],
            className="chip",
            **dict[str, Any]({"data-node": n, "data-state": s}),
        )
        for n, s in findings.items()
    ]


def _dist_rows(sd: Mapping[str, Any]) -> list[html.Tr]:
    rows = []
    for s in sd["seeing"]:
        see, do, diff = sd["seeing"][s], sd["doing"][s], sd["difference"][s]
        rows.append(
            html.Tr(
                [
                    html.Td(s),
                    html.Td(
                        _pct(see),
                        className="num see",
                        **dict[str, Any]({"data-value": repr(float(see))}),
                    ),
                    html.Td(
                        _pct(do),
                        className="num do",
                        **dict[str, Any]({"data-value": repr(float(do))}),
                    ),
                    html.Td(
                        _pp(diff),
                        className="num diff",
                        **dict[str, Any]({"data-value": repr(float(diff))}),
                    ),
                ],
                **dict[str, Any]({"data-state": str(s)}),
            )
        )
    return rows


def _trail_items(trails: Sequence[Mapping[str, Any]], cls: str) -> html.Ol:
    return html.Ol(
        [
            html.Li(
                [html.Span(t["kind"], className=f"kind {t['kind']}"), " ", " ".join(_arrows(t))],
                className=cls,
                **dict[str, Any]({"data-edges": json.dumps(t["edges"])}),
            )
            for t in trails
        ],
        className="trails",
    )


def _arrows(t: Mapping[str, Any]) -> list[str]:
    labels = list(t["labels"])
    edges = {tuple(e) for e in t["edges"]}
    nodes = list(t["nodes"])
    parts = [labels[0]]
    for i in range(1, len(nodes)):
        parts.append("→" if (nodes[i - 1], nodes[i]) in edges else "←")
        parts.append(labels[i])
    return parts


def seeing_doing_view(sd: Mapping[str, Any]) -> html.Div:
    """``P(outcome | X = x)`` beside ``P(outcome | do(X = x))``, their difference, and the
    open back-door paths that explain it."""
    x, y = sd["cause_label"], sd["outcome_label"]
    xs = sd["cause_state"]
    table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(y),
                        html.Th(f"seeing P(· | {x} = {xs})", className="num"),
                        html.Th(f"doing P(· | do({x} = {xs}))", className="num"),
                        html.Th("difference (pp)", className="num"),
                    ]
                )
            ),
            html.Tbody(_dist_rows(sd)),
        ],
        className="sd-table",
        id=ids.TEACH_SD_TABLE,
    )
    bd = sd["open_backdoor_paths"]
    parts: list[Any] = [table, html.P(sd["explanation"], className="explain")]
    if bd:
        parts += [
            html.H5(f"Open back-door paths ({len(bd)}{'+' if sd.get('truncated') else ''})"),
            _trail_items(bd, "backdoor"),
        ]
    sets = sd.get("adjustment_set_labels") or sd.get("adjustment_sets")
    if sets:
        parts.append(
            html.P(
                "Adjusting for any of: "
                + "; ".join("{" + ", ".join(s) + "}" if s else "{} (nothing)" for s in sets[:5]),
                className="muted small",
            )
        )
    return html.Div(
        parts, **dict[str, Any]({"data-confounded": str(bool(sd["confounded"])).lower()})
    )


def paths_view(rep: Mapping[str, Any], adj: Mapping[str, Any] | None) -> html.Div:
    """Active trails between two nodes given the findings, and the back-door sets."""
    parts: list[Any] = [
        html.P(
            rep["explanation"],
            className="explain",
            id=ids.TEACH_DSEP,
            **dict[str, Any]({"data-dseparated": str(bool(rep["d_separated"])).lower()}),
        )
    ]
    if rep["trails"]:
        parts += [
            html.H5(f"Active trails ({len(rep['trails'])}{'+' if rep.get('truncated') else ''})"),
            _trail_items(rep["trails"], "trail"),
        ]
    if adj is not None:
        sets = adj["sets"]
        parts.append(html.H5("Back-door adjustment sets"))
        parts.append(html.P(adj["explanation"], className="muted small"))
        if sets:
            parts.append(
                html.Ul(
                    [
                        html.Li(
                            ("{" + ", ".join(s["labels"]) + "}")
                            if s["labels"]
                            else "{} (no adjustment needed)",
                            className="adjset" + (" minimal" if s["minimal"] else ""),
                            **dict[str, Any]({"data-nodes": json.dumps(s["nodes"])}),
                        )
                        for s in sets
                    ],
                    className="adjsets",
                    id=ids.TEACH_ADJ_SETS,
                )
            )
    return html.Div(parts)


def scenario_list(
    rows: Sequence[Mapping[str, Any]],
    current_key: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Saved scenarios of the project, each with Replay and Export buttons; cause and
    outcome are shown by their ``labels`` (id -> label) when known."""
    name = (labels or {}).get
    if not rows:
        return html.Div("No saved scenarios yet.", className="muted small")
    items = []
    for r in rows:
        sc = r["scenario"]
        n = len(sc.get("findings") or {})
        same = current_key is not None and r.get("graph_key") == current_key
        items.append(
            html.Li(
                [
                    html.Div(
                        [
                            html.B(sc.get("name", "")),
                            html.Span(
                                f" · {n} finding(s)"
                                + (
                                    f" · {name(sc['cause'], sc['cause'])} → "
                                    f"{name(sc['outcome'], sc['outcome'])}"
                                    if sc.get("cause") and sc.get("outcome")
                                    else ""
                                )
                                + ("" if same else " · written for another graph"),
                                className="muted small",
                            ),
                            html.Div(sc.get("question") or "", className="question small"),
                        ],
                        className="scn-body",
                    ),
                    html.Button(
                        "▶ Replay",
                        id={"type": ids.TEACH_SCN_REPLAY, "index": r["id"]},
                        className="btn small",
                        n_clicks=0,
                        title="Apply these findings and questions to the current graph",
                    ),
                    html.Button(
                        "⤓ JSON",
                        id={"type": ids.TEACH_SCN_EXPORT, "index": r["id"]},
                        className="btn small",
                        n_clicks=0,
                        title="Download this scenario as JSON",
                    ),
                ],
                className="scenario",
                **dict[str, Any]({"data-id": r["id"]}),
            )
        )
    return html.Ul(items, className="scenarios")


# ---------------------------------------------------------------------------------
# Layout pieces (hooked into the editor layout)
# ---------------------------------------------------------------------------------
def teaching_toggle() -> html.Button:
    """The toolbar button that switches the canvas into teaching mode and back."""
    return html.Button(
        "Teaching mode",
        id=ids.TEACH_MODE,
        className="btn toggle",
        n_clicks=0,
        title="Teaching mode: click a node to set a finding and watch every belief move",
    )


def teaching_stores() -> list[Any]:
    """Page state of teaching mode: on/off, the findings (node -> state) and the canvas
    payload. Ids and selections only."""
    return [
        dcc.Store(id=ids.TEACH_ON, data={"on": False}),
        dcc.Store(id=ids.TEACH_EVIDENCE, data={}),
        dcc.Store(id=ids.TEACH_CANVAS, data=None),
        dcc.Download(id=ids.TEACH_DOWNLOAD),
    ]


def teaching_legend() -> html.Div:
    """Legend of the teaching decorations on the canvas."""

    def sw(cls: str, style: dict[str, str] | None = None) -> html.I:
        return html.I(className=f"sw {cls}", style=style or {})

    return html.Div(
        [
            html.Span([sw("node pie"), "pie = P(shown state)"], className="lg"),
            html.Span(
                [sw("node", {"border": f"3px solid {UP_COLOUR}"}), "more likely than before"],
                className="lg",
            ),
            html.Span(
                [sw("node", {"border": f"3px solid {DOWN_COLOUR}"}), "less likely"], className="lg"
            ),
            html.Span(
                [sw("node", {"border": f"4px double {OBSERVED_COLOUR}"}), "observed (finding)"],
                className="lg",
            ),
            html.Span(
                [
                    sw("line", {"borderTopColor": TRAIL_COLOUR, "borderTopWidth": "4px"}),
                    "active trail",
                ],
                className="lg",
            ),
            html.Span(
                [
                    sw("line dashed", {"borderTopColor": BACKDOOR_COLOUR, "borderTopWidth": "4px"}),
                    "open back-door path",
                ],
                className="lg",
            ),
        ],
        className="lg-row teach-legend",
        id=ids.TEACH_LEGEND,
    )


def _dd(id_: str, options: list[dict[str, str]], placeholder: str, cls: str = "form-dd") -> Any:
    return dcc.Dropdown(
        id=id_,
        options=options,
        placeholder=placeholder,
        className=cls,
        search_order="original",  # ranked by the server (ui/editor/search.py)
    )


def teaching_panel(options: list[dict[str, str]]) -> html.Section:
    """The teaching card (hidden until teaching mode is switched on)."""
    findings = html.Div(
        [
            html.Div(
                [
                    html.H3("Findings"),
                    html.Button(
                        "Clear findings",
                        id=ids.TEACH_CLEAR,
                        className="btn small",
                        n_clicks=0,
                        title="Remove every finding",
                    ),
                ],
                className="card-head",
            ),
            html.Div(id=ids.TEACH_FINDINGS, className="chips"),
            html.Div(
                [
                    _dd(ids.TEACH_SET_NODE, options, "Variable…"),
                    dcc.Dropdown(
                        id=ids.TEACH_SET_STATE,
                        options=[],
                        placeholder="State…",
                        className="state-dd",
                    ),
                    html.Button("Set", id=ids.TEACH_SET, className="btn small primary", n_clicks=0),
                ],
                className="form-row",
            ),
            html.Div(
                "Click a node on the canvas to cycle its state (present → absent → unknown).",
                className="muted small",
            ),
            html.Div(id=ids.TEACH_MESSAGE, className="teach-msg", role="alert", hidden=True),
            teaching_legend(),
        ],
        className="teach-block",
    )
    beliefs = html.Div(
        [html.H4("Beliefs"), html.Div(id=ids.TEACH_TABLE)],
        className="teach-block",
    )
    sd = html.Div(
        [
            html.H4("Seeing versus doing"),
            html.Div(
                [
                    _dd(ids.TEACH_CAUSE, options, "Cause…"),
                    dcc.Dropdown(
                        id=ids.TEACH_CAUSE_STATE,
                        options=[],
                        placeholder="state",
                        className="state-dd",
                    ),
                    html.Span("→", className="arrow"),
                    _dd(ids.TEACH_OUTCOME, options, "Outcome…"),
                ],
                className="form-row",
            ),
            html.Div(id=ids.TEACH_SD, className="teach-result"),
        ],
        className="teach-block",
    )
    paths = html.Div(
        [
            html.H4("Paths and adjustment sets"),
            html.Div(
                [
                    _dd(ids.TEACH_PATH_A, options, "From…"),
                    html.Span("—", className="arrow"),
                    _dd(ids.TEACH_PATH_B, options, "To…"),
                ],
                className="form-row",
            ),
            html.Div(id=ids.TEACH_PATHS, className="teach-result"),
        ],
        className="teach-block",
    )
    scenarios = html.Div(
        [
            html.H4("Scenarios"),
            html.Div(
                [
                    dcc.Input(
                        id=ids.TEACH_SCN_NAME,
                        type="text",
                        placeholder="Scenario name",
                        className="input",
                    ),
                    dcc.Input(
                        id=ids.TEACH_SCN_QUESTION,
                        type="text",
                        placeholder="Question for the students",
                        className="input wide",
                    ),
                ],
                className="form-row",
            ),
            html.Div(
                [
                    html.Button(
                        "Save scenario",
                        id=ids.TEACH_SCN_SAVE,
                        className="btn small primary",
                        n_clicks=0,
                    ),
                    html.Button(
                        "⤓ Export all (JSON)",
                        id=ids.TEACH_SCN_EXPORT_ALL,
                        className="btn small",
                        n_clicks=0,
                    ),
                ],
                className="btn-group",
            ),
            html.Div(id=ids.TEACH_SCN_LIST),
        ],
        className="teach-block",
    )
    return html.Section(
        [findings, beliefs, sd, paths, scenarios],
        id=ids.TEACH_PANEL,
        className="card teach-card",
        hidden=True,
    )


def teaching_stylesheet() -> list[dict[str, Any]]:
    """Cytoscape rules for the teaching classes (inert until the glue script sets them)."""
    return [
        {
            "selector": "node.teach",
            "style": {
                "label": "data(teach_label)",
                "background-color": "#dfe7ef",
                "pie-size": "100%",
                "pie-1-background-color": PIE_COLOUR,
                "pie-1-background-size": "data(teach_pct)",
                "pie-1-background-opacity": 0.9,
                "border-width": 2,
                "border-color": "#9aa8b6",
                "text-max-width": 140,
            },
        },
        {"selector": "node.teach-up", "style": {"border-color": UP_COLOUR, "border-width": 4}},
        {"selector": "node.teach-down", "style": {"border-color": DOWN_COLOUR, "border-width": 4}},
        {
            "selector": "node.teach-obs",
            "style": {
                "border-color": OBSERVED_COLOUR,
                "border-width": 6,
                "border-style": "double",
                "font-weight": "bold",
            },
        },
        {
            "selector": "node.teach-end",
            "style": {"overlay-color": TRAIL_COLOUR, "overlay-opacity": 0.18, "overlay-padding": 6},
        },
        {
            "selector": "edge.teach-trail",
            "style": {
                "line-color": TRAIL_COLOUR,
                "target-arrow-color": TRAIL_COLOUR,
                "line-style": "solid",
                "width": 6,
                "opacity": 1,
                "z-index": 80,
            },
        },
        {
            "selector": "edge.teach-backdoor",
            "style": {
                "line-color": BACKDOOR_COLOUR,
                "target-arrow-color": BACKDOOR_COLOUR,
                "line-style": "dashed",
                "width": 6,
                "opacity": 1,
                "z-index": 85,
            },
        },
        {"selector": "edge.teach-dim", "style": {"opacity": 0.35}},
    ]
