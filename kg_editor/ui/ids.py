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
    "CONCEPT_MEMBERS",
    "CONCEPT_MERGE",
    "CONCEPT_NAME",
    "CONCEPT_SPLIT",
    "CONCEPT_SPLIT_NODE",
    "CONNECT_MODE",
    "DETAILS",
    "EDGE_CARD",
    "EDGE_REMOVE",
    "EDGE_REVERSE",
    "E_IMAGE",
    "E_SAVE",
    "E_SAVE_MESSAGE",
    "E_SAVE_STATUS",
    "E_URL",
    "FOCUS_HOPS",
    "FOCUS_MODE",
    "FORM_ADD",
    "FORM_LATENT",
    "FORM_SOURCE",
    "FORM_TARGET",
    "HISTORY_CHART",
    "HISTORY_LIST",
    "LEGEND",
    "METRICS_TABLE",
    "OVERRIDE",
    "RATIONALE",
    "REDO",
    "RELAYOUT",
    "REPORT_STATUS",
    "REVIEW_ACTION",
    "REVIEW_CARD",
    "REVIEW_EDGE",
    "REVIEW_MODE",
    "REVIEW_PROGRESS",
    "REVIEW_SKIP",
    "REVIEW_SKIPPED",
    "REVIEW_TEXT",
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
    "VERSIONS_PATH",
    "VIEW",
    "V_ALERT",
    "V_ALERT_TEXT",
    "V_BRANCH",
    "V_BRANCH_GRAPH",
    "V_BRANCH_NAME",
    "V_CANVAS",
    "V_CHART",
    "V_COMPARE_A",
    "V_COMPARE_B",
    "V_DIFF_EDGES",
    "V_DIFF_SUMMARY",
    "V_DOWNLOAD",
    "V_EXPORT",
    "V_EXPORT_WHAT",
    "V_HISTORY",
    "V_IMAGE",
    "V_LOCATION",
    "V_METRICS",
    "V_METRIC_HISTORY",
    "V_OPEN",
    "V_RESTORE",
    "V_REVISION",
    "V_SAVE",
    "V_SAVE_AUTHOR",
    "V_SAVE_BRANCH",
    "V_SAVE_MESSAGE",
    "V_SAVE_STATUS",
    "V_SESSION",
]

# -- the page router: the URL path picks the page (``/`` editor, ``/versions``) ------------
__all__ += [
    "DUMMY",
    "E_VERSIONS_LINK",
    "HINT",
    "PAGE",
    "PAGE_URL",
    "V_BACK",
    "V_DIFF",
    "V_EDGE",
    "V_EMPTY",
    "V_LEGEND",
    "V_METRIC_TABLE",
]
PAGE_URL = "kg-page-url"  # dcc.Location of the whole app: pathname + search pick the page
PAGE = "kg-page"  # the page's content, rendered by the router callback
DUMMY = "kg-dummy"  # dcc.Store: output of client-side callbacks that only have effects
HINT = "kg-hint"

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
OVERRIDE = "kg-override"  # checklist: ["on"] lets the next edits go against constraints

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
FORM_LATENT = "kg-form-latent"  # the pair shares an unmeasured common cause

# -- guided review: the review queue, one edge at a time --------------------------------
REVIEW_CARD = "kg-review"
REVIEW_TEXT = "kg-review-text"
REVIEW_PROGRESS = "kg-review-progress"
REVIEW_EDGE = "kg-review-edge"  # dcc.Store: the edge under review {source, target}
REVIEW_SKIPPED = "kg-review-skipped"  # dcc.Store: edge ids skipped in this page
REVIEW_SKIP = "kg-review-skip"
REVIEW_MODE = "kg-review-mode"  # checklist: select the edge under review after each step
REVIEW_ACTION = "kg-review-action"  # pattern id {type, index: endorse|reverse|remove}

# -- concepts: merge selected nodes into one concept, split it again -------------------
CONCEPT_MEMBERS = "kg-concept-members"
CONCEPT_NAME = "kg-concept-name"
CONCEPT_MERGE = "kg-concept-merge"
CONCEPT_SPLIT_NODE = "kg-concept-split-node"
CONCEPT_SPLIT = "kg-concept-split"

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

# -- versions page (``/versions``) and the editor's save/export toolbar ---------------------
VERSIONS_PATH = "/versions"
V_SESSION = "kg-v-session"  # dcc.Store: {"session_id": str}
V_REVISION = "kg-v-revision"  # dcc.Store: int, bumped after a save/branch (refreshes lists)
V_LOCATION = "kg-v-location"  # dcc.Location: navigation after restore/open
V_ALERT = "kg-v-alert"
V_ALERT_TEXT = "kg-v-alert-text"
V_HISTORY = "kg-v-history"  # the versions table
V_BRANCH_GRAPH = "kg-v-branch-graph"  # plotly figure of versions by branch
V_METRIC_HISTORY = "kg-v-metric-history"  # plotly figure of key metrics by version
V_SAVE_AUTHOR = "kg-v-save-author"
V_SAVE_MESSAGE = "kg-v-save-message"
V_SAVE_BRANCH = "kg-v-save-branch"
V_SAVE = "kg-v-save"
V_SAVE_STATUS = "kg-v-save-status"
V_BRANCH_NAME = "kg-v-branch-name"
V_OPEN = "kg-v-open"  # pattern: {"type": V_OPEN, "index": version id}
V_RESTORE = "kg-v-restore"  # pattern
V_BRANCH = "kg-v-branch"  # pattern
V_COMPARE_A = "kg-v-compare-a"
V_COMPARE_B = "kg-v-compare-b"
V_CANVAS = "kg-v-canvas"
V_DIFF_SUMMARY = "kg-v-diff-summary"
V_DIFF_EDGES = "kg-v-diff-edges"
V_METRICS = "kg-v-metrics"
V_CHART = "kg-v-chart"
V_EXPORT_WHAT = "kg-v-export-what"
V_EXPORT = "kg-v-export"  # pattern: {"type": V_EXPORT, "index": format name}
V_IMAGE = "kg-v-image"  # pattern: {"type": V_IMAGE, "index": "png" | "svg"}
V_DOWNLOAD = "kg-v-download"
V_BACK = "kg-v-back"
V_DIFF = "kg-v-diff"
V_EDGE = "kg-v-edge"
V_EMPTY = "kg-v-empty"
V_LEGEND = "kg-v-legend"
V_METRIC_TABLE = "kg-v-metric-table"
# in the editor's top bar
E_SAVE_MESSAGE = "kg-e-save-message"
E_SAVE = "kg-e-save"
E_SAVE_STATUS = "kg-e-save-status"
E_URL = "kg-e-url"  # dcc.Location (reads ?branch=)
E_VERSIONS_LINK = "kg-e-versions-link"
E_IMAGE = "kg-e-image"  # pattern: {"type": E_IMAGE, "index": "png" | "svg"}

# -- whose sessions: "My sessions" (``/sessions``), an unknown session's page ---------------
__all__ += [
    "E_SESSIONS_LINK",
    "MISSING_RESUME",
    "MISSING_SESSION",
    "SESSIONS_PATH",
    "S_CURRENT",
    "S_LIST",
    "S_NAME",
    "S_NEW",
    "S_RESUME",
    "V_SESSIONS_LINK",
]
SESSIONS_PATH = "/sessions"
S_NAME = "kg-s-name"  # whose sessions (replaced by the account name when signed in)
S_LIST = "kg-s-list"
S_RESUME = "kg-s-resume"  # pattern: {"type": S_RESUME, "index": session id} (links)
S_NEW = "kg-s-new"  # link: start a new session
S_CURRENT = "kg-s-current"  # dcc.Store: the session the person came from (or None)
MISSING_SESSION = "kg-missing-session"  # the page an unknown or expired ?session= shows
MISSING_RESUME = "kg-missing-resume"  # its link to the person's sessions
E_SESSIONS_LINK = "kg-e-sessions-link"
V_SESSIONS_LINK = "kg-v-sessions-link"

# -- merge two versions or branches on the versions page ---------------------------------
__all__ += [
    "V_MERGE",
    "V_MERGE_A",
    "V_MERGE_B",
    "V_MERGE_CHOICE",
    "V_MERGE_CONFLICTS",
    "V_MERGE_MESSAGE",
    "V_MERGE_PAIR",
    "V_MERGE_PREVIEW",
    "V_MERGE_RESULT",
    "V_MERGE_SAVE",
    "V_MERGE_STATUS",
]
V_MERGE = "kg-v-merge"  # the card
V_MERGE_A = "kg-v-merge-a"  # ours: the version or branch merged into
V_MERGE_B = "kg-v-merge-b"  # theirs: the one merged in
V_MERGE_PREVIEW = "kg-v-merge-preview"
V_MERGE_PAIR = "kg-v-merge-pair"  # dcc.Store: {"ours", "theirs"} of the previewed merge
V_MERGE_CONFLICTS = "kg-v-merge-conflicts"
V_MERGE_CHOICE = "kg-v-merge-choice"  # pattern: {"type": V_MERGE_CHOICE, "index": conflict key}
V_MERGE_RESULT = "kg-v-merge-result"
V_MERGE_MESSAGE = "kg-v-merge-message"
V_MERGE_SAVE = "kg-v-merge-save"
V_MERGE_STATUS = "kg-v-merge-status"

# -- teaching mode (kg_editor/ui/teaching_view.py, teaching_callbacks.py) ----------------
__all__ += [
    "TEACH_ADJ_SETS",
    "TEACH_CANVAS",
    "TEACH_CAUSE",
    "TEACH_CAUSE_STATE",
    "TEACH_CLEAR",
    "TEACH_DOWNLOAD",
    "TEACH_DSEP",
    "TEACH_EVIDENCE",
    "TEACH_FINDINGS",
    "TEACH_FINDING_REMOVE",
    "TEACH_LEGEND",
    "TEACH_MESSAGE",
    "TEACH_MODE",
    "TEACH_ON",
    "TEACH_OUTCOME",
    "TEACH_PANEL",
    "TEACH_PATHS",
    "TEACH_PATH_A",
    "TEACH_PATH_B",
    "TEACH_P_FINDINGS",
    "TEACH_SCN_EXPORT",
    "TEACH_SCN_EXPORT_ALL",
    "TEACH_SCN_LIST",
    "TEACH_SCN_NAME",
    "TEACH_SCN_QUESTION",
    "TEACH_SCN_REPLAY",
    "TEACH_SCN_SAVE",
    "TEACH_SD",
    "TEACH_SD_TABLE",
    "TEACH_SET",
    "TEACH_SET_NODE",
    "TEACH_SET_STATE",
    "TEACH_TABLE",
]
TEACH_MODE = "kg-teach-mode"  # toolbar toggle button
TEACH_ON = "kg-teach-on"  # dcc.Store: {"on": bool}
TEACH_EVIDENCE = "kg-teach-evidence"  # dcc.Store: {node: state} (the findings)
TEACH_CANVAS = "kg-teach-canvas"  # dcc.Store: decorations painted by 04_kg_teaching.js
TEACH_DOWNLOAD = "kg-teach-download"
TEACH_PANEL = "kg-teach-panel"
TEACH_MESSAGE = "kg-teach-message"
TEACH_LEGEND = "kg-teach-legend"
TEACH_FINDINGS = "kg-teach-findings"
TEACH_FINDING_REMOVE = "kg-teach-finding-remove"  # pattern: {"type", "index": node}
TEACH_CLEAR = "kg-teach-clear"
TEACH_SET_NODE = "kg-teach-set-node"
TEACH_SET_STATE = "kg-teach-set-state"
TEACH_SET = "kg-teach-set"
TEACH_TABLE = "kg-teach-table"
TEACH_P_FINDINGS = "kg-teach-p-findings"
TEACH_CAUSE = "kg-teach-cause"
TEACH_CAUSE_STATE = "kg-teach-cause-state"
TEACH_OUTCOME = "kg-teach-outcome"
TEACH_SD = "kg-teach-sd"
TEACH_SD_TABLE = "kg-teach-sd-table"
TEACH_PATH_A = "kg-teach-path-a"
TEACH_PATH_B = "kg-teach-path-b"
TEACH_PATHS = "kg-teach-paths"
TEACH_DSEP = "kg-teach-dsep"
TEACH_ADJ_SETS = "kg-teach-adj-sets"
TEACH_SCN_NAME = "kg-teach-scn-name"
TEACH_SCN_QUESTION = "kg-teach-scn-question"
TEACH_SCN_SAVE = "kg-teach-scn-save"
TEACH_SCN_EXPORT_ALL = "kg-teach-scn-export-all"
TEACH_SCN_LIST = "kg-teach-scn-list"
TEACH_SCN_REPLAY = "kg-teach-scn-replay"  # pattern: {"type", "index": scenario id}
TEACH_SCN_EXPORT = "kg-teach-scn-export"  # pattern: {"type", "index": scenario id}

# -- the research side: edge table, saved layout, pinning, grouping -----------
__all__ += [
    "EDGE_TABLE",
    "EDGE_TABLE_CARD",
    "GROUP_DOMAIN",
    "LAYOUT_STATE",
    "NODE_PIN",
    "TOOLTIP",
]
EDGE_TABLE = "kg-edge-table"  # dash DataTable: one row per edge (sort and filter natively)
EDGE_TABLE_CARD = "kg-edge-table-card"
LAYOUT_STATE = "kg-layout-state"  # dcc.Store: {"positions": {id: [x, y]}, "pinned": [id]}
NODE_PIN = "kg-node-pin"  # button in the node card: pin / unpin the node (key P)
GROUP_DOMAIN = "kg-group-domain"  # checklist: lay ranks out grouped by domain
TOOLTIP = "kg-tooltip"  # the hover tooltip div (built by assets/05_kg_research.js)
