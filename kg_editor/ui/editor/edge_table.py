"""The edge table: one row per edge of the session's graph, beside the canvas.

Sorting and filtering are the DataTable's own (native, in the browser). The rows come
from the application layer (:meth:`kg_editor.model.session.EditSession.edge_table`, counts
already suppressed); a click on a row selects that edge on the canvas and opens its
evidence card; the table is rebuilt after every edit, undo and redraw.

Examples
--------
>>> [c["id"] for c in edge_table_columns()][:3]
['source_label', 'target_label', 'direction']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from dash import Input, Output, State, html
from dash.dash_table.DataTable import DataTable
from dash.exceptions import PreventUpdate

from kg_editor.ui import ids
from kg_editor.ui.state import session_id
from kg_editor.workspace import Workspace

__all__ = ["edge_table_card", "edge_table_columns", "register_edge_table_callbacks"]

logger = logging.getLogger(__name__)

#: (column id, header, type): the table's columns, in order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("source_label", "Cause", "text"),
    ("target_label", "Effect", "text"),
    ("direction", "Direction", "text"),
    ("odds_ratio", "OR", "numeric"),
    ("ci_low", "CI low", "numeric"),
    ("ci_high", "CI high", "numeric"),
    ("q", "q", "numeric"),
    ("co_patients", "Co-patients", "any"),
    ("stability", "Stability", "numeric"),
    ("conflicts", "Conflicts with the data", "text"),
    ("endorsed", "Endorsed", "text"),
    ("clinician_added", "Clinician-added", "text"),
)

#: What a header says when the pointer rests on it.
TOOLTIPS: dict[str, str] = {
    "direction": "How the direction was decided: by constraint (expert tiers, required "
    "edges), by time (recorded order), by data (colliders, Meek's rules, score), by a "
    "clinician, or unresolved",
    "odds_ratio": "Odds ratio of the effect given the cause (training split)",
    "q": "Benjamini-Hochberg q-value of the association test",
    "co_patients": "Patients with both (counts below the threshold read <11)",
    "stability": "Share of the stability resamples that found this edge",
    "conflicts": "Against time: the effect is usually recorded first; no data support: "
    "q at or above the significance level; inverse association: OR below 1",
}


def edge_table_columns() -> list[dict[str, Any]]:
    """The DataTable's column definitions (numbers formatted, ids are row keys)."""
    from dash.dash_table.Format import Format, Scheme

    out = []
    for cid, name, typ in COLUMNS:
        col: dict[str, Any] = {"id": cid, "name": name, "type": typ}
        if cid == "stability":
            col["format"] = Format(precision=0, scheme=Scheme.percentage)
        elif cid == "q":
            col["format"] = Format(precision=3, scheme=Scheme.fixed)
        elif typ == "numeric":
            col["format"] = Format(precision=2, scheme=Scheme.fixed)
        out.append(col)
    return out


def edge_table_card(rows: Sequence[dict[str, Any]]) -> html.Section:
    """The card holding the edge table, pre-filled with ``rows``."""
    props: dict[str, Any] = dict(
        id=ids.EDGE_TABLE,
        columns=edge_table_columns(),
        data=list(rows),
        sort_action="native",
        sort_mode="multi",
        filter_action="native",
        filter_options={"case": "insensitive", "placeholder_text": "filter…"},
        page_action="native",
        page_size=12,
        tooltip_header=dict(TOOLTIPS),
        tooltip_delay=300,
        tooltip_duration=None,
        cell_selectable=True,
        style_as_list_view=True,
        style_table={"overflowX": "auto"},
        style_header={"fontWeight": 600, "whiteSpace": "normal", "height": "auto"},
        style_cell={
            "fontFamily": "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
            "fontSize": "12px",
            "padding": "3px 6px",
            "textAlign": "left",
            "maxWidth": "190px",
            "overflow": "hidden",
            "textOverflow": "ellipsis",
            "cursor": "pointer",
        },
        style_cell_conditional=[
            {"if": {"column_type": "numeric"}, "textAlign": "right"},
            {"if": {"column_id": "co_patients"}, "textAlign": "right"},
        ],
        style_data_conditional=[
            {
                "if": {"filter_query": '{direction} = "unresolved"', "column_id": "direction"},
                "color": "#b54708",
                "fontWeight": 600,
            },
            {
                "if": {"filter_query": '{conflicts} != ""', "column_id": "conflicts"},
                "color": "#c2410c",
            },
            {
                "if": {"state": "active"},
                "backgroundColor": "#fff8eb",
                "border": "1px solid #f2a900",
            },
        ],
    )
    table = DataTable(**props)  # one dict of settings: the typed stubs are narrow
    return html.Section(
        [
            html.Div(
                [
                    html.H3("Edges"),
                    html.Span(
                        "sort by a header, filter under it (e.g. > 2 for OR, unresolved for "
                        "direction); click a row to show the edge",
                        className="muted small",
                    ),
                ],
                className="card-head",
            ),
            table,
        ],
        className="card edge-table-card",
        id=ids.EDGE_TABLE_CARD,
    )


#: Selects the clicked row's edge on the canvas and fires a tap on it (the editor then
#: opens its evidence card); an edge hidden by the neighbourhood view is opened directly.
SELECT_ROW_JS = """function(cell, data) {
    var nu = window.dash_clientside.no_update;
    if (!cell || cell.row_id === undefined || cell.row_id === null) { return nu; }
    var row = null;
    for (var i = 0; i < (data || []).length; i++) {
        if (data[i].id === cell.row_id) { row = data[i]; break; }
    }
    if (!row) { return nu; }
    var el = document.getElementById("kg-canvas");
    var cy = el && el._cyreg ? el._cyreg.cy : null;
    var e = cy ? cy.edges().filter(function (x) {
        return x.data("source") === row.source && x.data("target") === row.target &&
            !x.hasClass("ghost") && !x.hasClass("refused") && !x.hasClass("latent");
    }) : null;
    if (e && e.length) {
        cy.elements(":selected").unselect();
        e.select();
        e.emit("tap");
        cy.animate({ center: { eles: e } }, { duration: 200 });
    } else {
        window.dash_clientside.set_props("kg-canvas",
            { tapEdgeData: { source: row.source, target: row.target, id: row.id } });
    }
    return nu;
}"""


def register_edge_table_callbacks(
    app: Any, workspace: Workspace, refresh_on: Sequence[str]
) -> None:
    """Attach the table's callbacks: rebuild its rows when an answer of the editor
    redrew the graph (``view["last"]`` in ``refresh_on``), and select a clicked row."""

    @app.callback(
        Output(ids.EDGE_TABLE, "data"),
        Input(ids.VIEW, "data"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def refresh_edge_table(view: Any, session_data: Any) -> Any:
        if not view or view.get("last") not in refresh_on:
            raise PreventUpdate
        try:
            with workspace.reading(session_id(session_data)) as session:
                return session.edge_table(workspace.pair_evidence)
        except Exception:
            logger.exception("could not refresh the edge table")
            raise PreventUpdate from None

    app.clientside_callback(
        SELECT_ROW_JS,
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.EDGE_TABLE, "active_cell"),
        State(ids.EDGE_TABLE, "data"),
        prevent_initial_call=True,
    )
