"""Component ids of the web editor, in one place.

Callbacks, the client-side glue script (``assets/03_kg_editor.js``) and the browser tests
refer to components only through these names. Pattern-matching ids (dicts) serve lists of
similar components such as the suggestion rows.
"""

from __future__ import annotations

__all__ = [
    "ALERT",
    "ALERT_CLOSE",
    "ALERT_TEXT",
    "AUTHOR",
    "CALIBRATION",
    "CANVAS",
    "CLIENT_ACTION",
    "CONNECT_MODE",
    "DETAILS",
    "EDGE_CARD",
    "EDGE_REMOVE",
    "EDGE_REVERSE",
    "FOCUS_HOPS",
    "FOCUS_MODE",
    "FORM_ADD",
    "FORM_SOURCE",
    "FORM_TARGET",
    "HISTORY_CHART",
    "HISTORY_LIST",
    "LEGEND",
    "METRICS_TABLE",
    "RATIONALE",
    "REDO",
    "RELAYOUT",
    "REPORT_STATUS",
    "ROC",
    "SEARCH",
    "SELECTED_EDGE",
    "SESSION",
    "STATUS",
    "SUBGROUPS",
    "SUGGESTIONS",
    "SUGGEST_ACCEPT",
    "SUGGEST_REJECT",
    "TARGET",
    "UNDO",
    "VIEW",
]

# -- page-level state (ids and view state only; never patient rows) --------------------
SESSION = "kg-session"  # dcc.Store: {"session_id": str}
VIEW = "kg-view"  # dcc.Store: {"revision": int, "focus": code or None}
SELECTED_EDGE = "kg-selected-edge"  # dcc.Store: {"source", "target"} or None
CLIENT_ACTION = "kg-client-action"  # dcc.Store written by the glue script (set_props)

# -- header ----------------------------------------------------------------------------
AUTHOR = "kg-author"
RATIONALE = "kg-rationale"
TARGET = "kg-target"
UNDO = "kg-undo"
REDO = "kg-redo"
STATUS = "kg-status"

# -- alert -----------------------------------------------------------------------------
ALERT = "kg-alert"
ALERT_TEXT = "kg-alert-text"
ALERT_CLOSE = "kg-alert-close"

# -- canvas and its tools ------------------------------------------------------------------
CANVAS = "kg-canvas"
LEGEND = "kg-legend"
RELAYOUT = "kg-relayout"
CONNECT_MODE = "kg-connect-mode"
SEARCH = "kg-search"
FOCUS_MODE = "kg-focus-mode"
FOCUS_HOPS = "kg-focus-hops"

# -- add-edge form ---------------------------------------------------------------------
FORM_SOURCE = "kg-form-source"
FORM_TARGET = "kg-form-target"
FORM_ADD = "kg-form-add"

# -- details, edge card ----------------------------------------------------------------
DETAILS = "kg-details"
EDGE_CARD = "kg-edge-card"
EDGE_REMOVE = "kg-edge-remove"
EDGE_REVERSE = "kg-edge-reverse"

# -- report panel ----------------------------------------------------------------------
REPORT_STATUS = "kg-report-status"
METRICS_TABLE = "kg-metrics"
SUBGROUPS = "kg-subgroups"
ROC = "kg-roc"
CALIBRATION = "kg-calibration"
HISTORY_CHART = "kg-history-chart"
HISTORY_LIST = "kg-history"

# -- suggestions -----------------------------------------------------------------------
SUGGESTIONS = "kg-suggestions"
SUGGEST_ACCEPT = "kg-suggest-accept"  # pattern: {"type": SUGGEST_ACCEPT, "index": id}
SUGGEST_REJECT = "kg-suggest-reject"  # pattern: {"type": SUGGEST_REJECT, "index": id}

# Context-menu item ids (dash-cytoscape contextMenu -> contextMenuData.menuItemId).
MENU_REVERSE = "kg-menu-reverse"
MENU_REMOVE = "kg-menu-remove"
MENU_DETAILS = "kg-menu-details"
MENU_CONNECT_FROM = "kg-menu-connect-from"
