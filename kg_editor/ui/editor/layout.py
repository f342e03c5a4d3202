"""Page layout of the editor: header, alert, canvas with its tools and legend, the report
panel, the selection card, the add-edge form and the suggestions queue.

The layout is built per page load from the live session (so the first paint already holds
the graph and its report); afterwards callbacks update it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_cytoscape as cyto
from dash import dcc, html

from kg_editor.ui import ids
from kg_editor.ui.editor.edge_table import edge_table_card
from kg_editor.ui.editor.elements import (
    DOMAIN_COLOURS,
    PROVENANCE_STYLES,
    layout_options,
    stylesheet,
)
from kg_editor.ui.editor.render import RenderedView, ReviewView
from kg_editor.ui.teaching.view import (
    teaching_panel,
    teaching_stores,
    teaching_stylesheet,
    teaching_toggle,
)
from kg_editor.ui.versions.view import versions_toolbar

__all__ = ["FOCUS_THRESHOLD", "context_menu", "editor_layout", "legend"]

#: Graphs with more nodes than this open in the neighbourhood view.
FOCUS_THRESHOLD = 150


def context_menu() -> list[dict[str, Any]]:
    """Right-click menu of the canvas (items report through ``contextMenuData``)."""
    return [
        {
            "id": ids.MENU_REVERSE,
            "label": "Reverse edge (R)",
            "availableOn": ["edge"],
            "tooltipText": "Point this edge the other way",
        },
        {
            "id": ids.MENU_REMOVE,
            "label": "Remove edge (Del)",
            "availableOn": ["edge"],
            "tooltipText": "Remove this edge from the graph",
        },
        {
            "id": ids.MENU_DETAILS,
            "label": "Show details",
            "availableOn": ["node"],
            "tooltipText": "Prevalence, CPD and evidence",
        },
    ]


def legend(domains: set[str]) -> html.Div:
    """Legend of node colours and sizes, edge widths and styles, and marks."""
    dom_items = [
        html.Span(
            [html.I(className="sw node", style={"background": DOMAIN_COLOURS[d]}), d],
            className="lg",
        )
        for d in DOMAIN_COLOURS
        if d in domains
    ]
    edge_items = [
        html.Span(
            [html.I(className=f"sw line {style}", style={"borderTopColor": col}), text],
            className="lg",
        )
        for prov, (col, style, text) in PROVENANCE_STYLES.items()
        if prov in ("distilled", "clinician", "suggested")
    ]
    marks = [
        html.Span([html.I(className="sw diamond"), "against temporal order"], className="lg"),
        html.Span([html.I(className="sw node target-ring"), "target"], className="lg"),
        html.Span([html.I(className="sw line solid cycle"), "refused cycle"], className="lg"),
        html.Span(
            [html.I(className="sw line dotted"), "direction unresolved (no arrowhead)"],
            className="lg",
        ),
        html.Span(
            [html.I(className="sw line dashed faint"), "unstable (< half of resamples)"],
            className="lg",
        ),
        html.Span(
            [html.I(className="sw line dashed latent"), "↔ unmeasured common cause"],
            className="lg",
        ),
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.B("Nodes "),
                    *dom_items,
                    html.Span("size = prevalence", className="lg muted"),
                ],
                className="lg-row",
            ),
            html.Div(
                [
                    html.B("Edges "),
                    *edge_items,
                    *marks,
                    html.Span("width = |log odds ratio|", className="lg muted"),
                ],
                className="lg-row",
            ),
        ],
        id=ids.LEGEND,
        className="legend",
    )


def _button(
    label: str, id_: str, title: str, cls: str = "btn", disabled: bool = False
) -> html.Button:
    return html.Button(label, id=id_, title=title, className=cls, disabled=disabled, n_clicks=0)


def _review_button(label: str, action: str, title: str, cls: str) -> html.Button:
    """A review action; ``kg-review-action`` puts it under the one-edit-in-flight rule."""
    return html.Button(
        label,
        id={"type": ids.REVIEW_ACTION, "index": action},
        title=title,
        className=f"{cls} kg-review-action",
        n_clicks=0,
        disabled=False,
        **dict[str, Any]({"aria-label": title}),
    )


def editor_layout(
    view: RenderedView,
    *,
    session_id: str,
    title: str,
    options: list[dict[str, str]],
    target_options: list[dict[str, str]],
    target: str | None,
    review: ReviewView | None = None,
    concept_options: Sequence[Mapping[str, str]] = (),
    merged_options: Sequence[Mapping[str, str]] = (),
    focus_on: bool,
    n_nodes: int,
    author: str = "",
    server_revision: int = 0,
    revision: int | None = None,
    edge_rows: Sequence[dict[str, Any]] = (),
    saved_layout: Mapping[str, Any] | None = None,
) -> html.Div:
    """The editor page for one session, pre-filled with its first render (``revision``:
    the store revision of the session it shows, sent back with every edit;
    ``server_revision``: the session's history length the page was drawn from;
    ``edge_rows``: the edge table's rows; ``saved_layout``: positions and pinned nodes
    saved with the version, drawn as they were, see :mod:`kg_editor.model.positions`)."""
    if review is None:
        review = ReviewView(None, "", "")
    header = html.Header(
        [
            html.Div(
                [html.Span("kg", className="logo"), html.Span("editor", className="logo2")],
                className="brand",
            ),
            html.Div(title, className="project", title=title),
            html.Div(
                [
                    html.Label("Target", htmlFor=ids.TARGET),
                    dcc.Dropdown(
                        id=ids.TARGET,
                        options=target_options,
                        value=target,
                        clearable=False,
                        className="target-select",
                    ),
                ],
                className="field",
            ),
            html.Div(
                [
                    html.Label("Your name", htmlFor=ids.AUTHOR),
                    dcc.Input(
                        id=ids.AUTHOR,
                        type="text",
                        value=author,
                        placeholder="e.g. Dr Okafor",
                        debounce=True,
                        className="input",
                    ),
                ],
                className="field",
            ),
            html.Div(
                [
                    html.Label("Rationale for the next edit (optional)", htmlFor=ids.RATIONALE),
                    dcc.Input(
                        id=ids.RATIONALE,
                        type="text",
                        value="",
                        placeholder="why you change this edge",
                        className="input wide",
                    ),
                ],
                className="field grow",
            ),
            html.Div(
                dcc.Checklist(
                    id=ids.OVERRIDE,
                    options=[{"label": " Override constraints", "value": "on"}],
                    value=[],
                    inline=True,
                ),
                className="override-toggle",
                title="Let the next edits go against the expert constraints (domain tiers, "
                "forbidden edges); each override is recorded with your name and rationale",
            ),
            html.Div(
                [
                    _button(
                        "↶ Undo",
                        ids.UNDO,
                        "Undo the last edit (Ctrl+Z)",
                        disabled=not view.can_undo,
                    ),
                    _button("↷ Redo", ids.REDO, "Redo (Ctrl+Shift+Z)", disabled=not view.can_redo),
                ],
                className="btn-group",
            ),
            versions_toolbar(),
        ],
        className="topbar",
    )
    alert = html.Div(
        [
            html.Span("", id=ids.ALERT_TEXT, className="alert-text"),
            html.Button(
                "×", id=ids.ALERT_CLOSE, className="alert-close", title="Dismiss", n_clicks=0
            ),
        ],
        id=ids.ALERT,
        className="alert",
        hidden=True,
        role="alert",
    )
    toolbar = html.Div(
        [
            html.Button(
                "+ Connect",
                id=ids.CONNECT_MODE,
                className="btn toggle",
                title="Connect mode: click a cause then its effect, or drag from one to the other (Esc leaves)",
            ),
            _button(
                "⟲ Re-layout",
                ids.RELAYOUT,
                "Lay the graph out again (hierarchical); pinned nodes keep their place",
            ),
            dcc.Checklist(
                id=ids.GROUP_DOMAIN,
                options=[{"label": " Group by domain", "value": "on"}],
                value=[],
                className="focus-toggle group-toggle",
                inline=True,
                inputClassName="group-domain-input",
            ),
            dcc.Dropdown(
                id=ids.SEARCH,
                options=options,
                placeholder="Find a concept…",
                className="search",
                clearable=True,
                search_order="original",  # ranked by the server (ui/editor/search.py)
            ),
            dcc.Checklist(
                id=ids.FOCUS_MODE,
                options=[{"label": " Neighbourhood only", "value": "on"}],
                value=["on"] if focus_on else [],
                className="focus-toggle",
                inline=True,
            ),
            dcc.Dropdown(
                id=ids.FOCUS_HOPS,
                options=[
                    {"label": f"{k} hop{'s' if k > 1 else ''}", "value": k} for k in (1, 2, 3, 4)
                ],
                value=2,
                clearable=False,
                className="hops",
            ),
            teaching_toggle(),
            html.Span(f"{n_nodes} variables", className="muted count", id=ids.STATUS),
        ],
        className="toolbar",
    )
    canvas = cyto.Cytoscape(
        id=ids.CANVAS,
        elements=view.elements,
        stylesheet=stylesheet() + teaching_stylesheet(),
        # a version saved with its layout opens as it was left (preset), fitted to view
        layout={**layout_options("preset"), "fit": True, "padding": 24}
        if saved_layout
        else layout_options("dagre"),
        autoRefreshLayout=False,
        contextMenu=context_menu(),
        minZoom=0.15,
        maxZoom=3.0,
        wheelSensitivity=0.3,
        boxSelectionEnabled=False,
        responsive=True,
        style={"width": "100%", "height": "100%"},
    )
    canvas_card = html.Section(
        [
            toolbar,
            html.Div(canvas, className="canvas-wrap"),
            html.Div(
                id=ids.HINT,
                className="hint",
                children="Click a node or edge to inspect it · "
                "Connect mode: click the cause then the effect, or drag from cause to effect · "
                "Del removes, R reverses the selected edge · P pins the selected node · "
                "Ctrl+Z / Ctrl+Shift+Z",
            ),
            legend(view.domains),
        ],
        className="card canvas-card",
    )
    report_card = html.Section(
        [
            html.Div(
                [
                    html.H3("Report"),
                    html.Span(view.status, id=ids.REPORT_STATUS, className="status"),
                ],
                className="card-head",
            ),
            html.Div(view.metrics, id=ids.METRICS_TABLE),
        ],
        className="card report-card",
    )
    selection_card = html.Section(
        [
            html.Div(
                [
                    html.H3("Selection"),
                    html.Div(
                        [
                            _button(
                                "⇄ Reverse",
                                ids.EDGE_REVERSE,
                                "Reverse the selected edge (R)",
                                disabled=True,
                            ),
                            _button(
                                "✕ Remove",
                                ids.EDGE_REMOVE,
                                "Remove the selected edge (Delete)",
                                cls="btn danger",
                                disabled=True,
                            ),
                        ],
                        className="btn-group",
                    ),
                ],
                className="card-head",
            ),
            html.Div(view.details, id=ids.DETAILS, className="details"),
        ],
        className="card selection-card",
        id=ids.EDGE_CARD,
    )
    form_card = html.Section(
        [
            html.H3("Add an edge"),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.FORM_SOURCE,
                        options=options,
                        placeholder="Cause…",
                        className="form-dd",
                    ),
                    html.Span("→", className="arrow"),
                    dcc.Dropdown(
                        id=ids.FORM_TARGET,
                        options=options,
                        placeholder="Effect…",
                        className="form-dd",
                    ),
                    _button("Add", ids.FORM_ADD, "Add this edge", cls="btn primary"),
                ],
                className="form-row",
            ),
            html.Div(
                [
                    html.Span("or say the two share a cause nobody recorded:", className="muted"),
                    _button(
                        "↔ Unmeasured common cause",
                        ids.FORM_LATENT,
                        "Say these two share a cause nobody recorded (A <-> B): it changes "
                        "implied independencies, trails and adjustment sets, not the fitted model",
                    ),
                ],
                className="form-row latent-row",
            ),
        ],
        className="card form-card",
    )
    review_card = html.Section(
        [
            html.Div(
                [
                    html.H3("Review, edge by edge"),
                    html.Span(review.progress, id=ids.REVIEW_PROGRESS, className="status"),
                    dcc.Checklist(
                        id=ids.REVIEW_MODE,
                        options=[{"label": " Review mode", "value": "on"}],
                        value=[],
                        className="review-mode",
                        inputClassName="review-mode-input",
                    ),
                ],
                className="card-head",
            ),
            html.Div(
                review.text,
                id=ids.REVIEW_TEXT,
                className="review-text",
                **dict[str, Any]({"aria-live": "polite"}),
            ),
            html.Div(
                [
                    _review_button(
                        "✓ Endorse", "endorse", "Endorse this edge as drawn (E)", "btn primary"
                    ),
                    _review_button("⇄ Reverse", "reverse", "Reverse this edge (R)", "btn"),
                    _review_button("✕ Remove", "remove", "Remove this edge (Delete)", "btn danger"),
                    _button("Skip ›", ids.REVIEW_SKIP, "Skip to the next edge in the queue"),
                ],
                className="btn-group review-actions",
            ),
            dcc.Store(id=ids.REVIEW_EDGE, data=review.edge),
            dcc.Store(id=ids.REVIEW_SKIPPED, data=[]),
        ],
        className="card review-card",
        id=ids.REVIEW_CARD,
    )
    concept_card = html.Section(
        [
            html.H3("Merge codes into a concept"),
            html.Div(
                "Variables that carry one disease process can be merged into one concept "
                "(present when any member is, dated by the earliest); the model is refitted "
                "and the step recorded. Split a merged concept to undo it.",
                className="muted",
            ),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.CONCEPT_MEMBERS,
                        options=list(concept_options),
                        multi=True,
                        placeholder="Variables to merge…",
                        className="form-dd concept-dd",
                    ),
                    html.Label(
                        "Concept name", htmlFor=ids.CONCEPT_NAME, className="visually-hidden"
                    ),
                    dcc.Input(
                        id=ids.CONCEPT_NAME,
                        type="text",
                        placeholder="Concept name…",
                        className="concept-name",
                    ),
                    _button(
                        "Merge",
                        ids.CONCEPT_MERGE,
                        "Merge the chosen variables into one concept and refit",
                        cls="btn primary",
                    ),
                ],
                className="form-row",
            ),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.CONCEPT_SPLIT_NODE,
                        options=list(merged_options),
                        placeholder="Merged concept…",
                        className="form-dd",
                    ),
                    _button(
                        "Split",
                        ids.CONCEPT_SPLIT,
                        "Split the chosen concept back into its member variables and refit",
                    ),
                ],
                className="form-row",
            ),
        ],
        className="card concept-card",
    )
    suggestions_card = html.Section(
        [
            html.Div(
                [
                    html.H3("Suggestions"),
                    html.Span("ranked by exact score gain; hover to preview", className="muted"),
                ],
                className="card-head",
            ),
            html.Div(view.suggestions, id=ids.SUGGESTIONS),
        ],
        className="card suggestions-card",
    )
    charts = html.Section(
        [
            html.Div(
                dcc.Graph(id=ids.ROC, figure=view.roc, config={"displayModeBar": False}),
                className="chart",
            ),
            html.Div(
                dcc.Graph(
                    id=ids.CALIBRATION, figure=view.calibration, config={"displayModeBar": False}
                ),
                className="chart",
            ),
            html.Div(
                dcc.Graph(
                    id=ids.HISTORY_CHART,
                    figure=view.history_chart,
                    config={"displayModeBar": False},
                ),
                className="chart",
            ),
            html.Div(
                [html.H4("Subgroups"), html.Div(view.subgroups, id=ids.SUBGROUPS)],
                className="chart sub",
            ),
        ],
        className="card charts",
    )
    history = html.Section(
        [html.H3("Edit history"), html.Div(view.history_list, id=ids.HISTORY_LIST)],
        className="card history-card",
    )
    return html.Div(
        [
            dcc.Store(id=ids.SESSION, data={"session_id": session_id, "revision": revision}),
            dcc.Store(
                id=ids.VIEW,
                # server_revision: the session state the page was drawn from (build 0)
                data={
                    "revision": 0,
                    "focus": None,
                    "server_revision": server_revision,
                    "drawn": True,
                },
            ),
            dcc.Store(id=ids.SELECTED_EDGE, data=None),
            dcc.Store(id=ids.CLIENT_ACTION, data=None),
            dcc.Store(id=ids.DUMMY, data=None),
            # the canvas layout as the page has it (written by assets/05_kg_research.js)
            dcc.Store(id=ids.LAYOUT_STATE, data=dict(saved_layout or {})),
            *teaching_stores(),
            header,
            alert,
            html.Main(
                [
                    html.Div(
                        [canvas_card, edge_table_card(edge_rows), charts, history],
                        className="col-main",
                    ),
                    html.Div(
                        [
                            teaching_panel(options),
                            report_card,
                            review_card,
                            selection_card,
                            form_card,
                            suggestions_card,
                            concept_card,
                        ],
                        className="col-side",
                    ),
                ],
                className="workspace",
            ),
        ],
        className="kg-app",
    )
