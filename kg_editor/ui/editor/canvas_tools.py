"""Client-side canvas tools of the research side: grouping the hierarchical
layout by domain. Pinning, tooltips and keeping positions need no server round trip and
live in ``assets/05_kg_research.js``; this module only wires the page's controls to it.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output

from kg_editor.ui import ids

__all__ = ["register_canvas_tools"]

#: "Group by domain" ticked or not: re-lay the graph out (pinned nodes stay).
GROUP_JS = """function(value) {
    if (window.kgResearch) { window.kgResearch.setGrouped((value || []).indexOf("on") >= 0); }
    return window.dash_clientside.no_update;
}"""


def register_canvas_tools(app: Any) -> None:
    """Attach the client-side callbacks of the canvas tools to ``app``."""
    app.clientside_callback(
        GROUP_JS,
        Output(ids.DUMMY, "data", allow_duplicate=True),
        Input(ids.GROUP_DOMAIN, "value"),
        prevent_initial_call=True,
    )
