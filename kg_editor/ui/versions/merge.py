"""The versions page's merge card: pick two versions or branches, preview the merge,
answer each conflict (ours / theirs / leave the direction unresolved / keep or remove a
variable), and save the merge with who and why.

Rendering functions take a :class:`~kg_editor.versions.merge.MergePreview` (from
:meth:`kg_editor.workspace.Workspace.preview_merge`); the callbacks call the workspace
only, which makes the same merge as ``kg-editor versions merge A B --resolve KEY=CHOICE``.

Examples
--------
>>> merge_options([])
[]
>>> choice_map([{"index": "a -- b"}], ["theirs"])
{'a -- b': 'theirs'}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from kg_editor.errors import KGEditorError
from kg_editor.ui import ids

if TYPE_CHECKING:
    from kg_editor.versions.merge import ConflictSide, ConflictView, MergePreview
    from kg_editor.versions.store import Version
    from kg_editor.workspace import Workspace

__all__ = [
    "choice_map",
    "conflict_card",
    "evidence_text",
    "merge_card",
    "merge_conflicts",
    "merge_options",
    "merge_result",
    "register_merge_callbacks",
]

logger = logging.getLogger(__name__)

_KIND_TITLES = {"edge": "Edge", "node": "Variable", "cycle": "Cycle"}
#: Where a merged pair's state came from, in words.
_FROM = {
    "ours": "from ours",
    "theirs": "from theirs",
    "both": "the same on both sides",
    "resolution": "by your choice",
}


def merge_options(versions: Sequence[Version]) -> list[dict[str, str]]:
    """Dropdown options: each branch's head (``branch:NAME``), then every version."""
    heads: dict[str, Version] = {}
    for v in sorted(versions, key=lambda v: v.seq):
        heads[v.branch] = v
    out = [
        {"label": f"branch {b} (head #{v.seq})", "value": f"branch:{b}"}
        for b, v in sorted(heads.items())
    ]
    out += [
        {"label": f"version #{v.seq} on {v.branch} · {v.id}", "value": v.id}
        for v in sorted(versions, key=lambda v: -v.seq)
    ]
    return out


def _default_pair(versions: Sequence[Version]) -> tuple[str | None, str | None]:
    branches = {v.branch: v for v in sorted(versions, key=lambda v: v.seq)}
    if "main" in branches and len(branches) > 1:
        other = max((v for b, v in branches.items() if b != "main"), key=lambda v: v.seq)
        return "branch:main", f"branch:{other.branch}"
    return ("branch:main" if "main" in branches else None), None


def choice_map(id_list: Sequence[Any], values: Sequence[Any]) -> dict[str, Any]:
    """Conflict key -> choice, from the pattern ids and values of the choice radios."""
    return {str(i["index"]): v for i, v in zip(id_list or [], values or [], strict=False)}


def evidence_text(ev: Mapping[str, Any], label: Callable[[str], str] = str) -> str:
    """The evidence of an edge in one line: odds ratio with its interval, the test's
    q-value and the time order (no patient counts; variables named by ``label``).

    Examples
    --------
    >>> evidence_text({"measures": {"odds_ratio": {"estimate": 2.5, "ci_low": 1.5,
    ...     "ci_high": 4.0}}, "test": {"q": 0.001}})
    'OR 2.50 (1.50–4.00) · q 0.001'
    >>> evidence_text({})
    'no evidence recorded'
    """
    parts = []
    orr = ((ev.get("measures") or {}).get("odds_ratio") or {}) if ev else {}
    est = orr.get("estimate")
    if isinstance(est, int | float) and math.isfinite(est):
        ci = ""
        lo, hi = orr.get("ci_low"), orr.get("ci_high")
        if isinstance(lo, int | float) and isinstance(hi, int | float):
            ci = f" ({lo:.2f}–{hi:.2f})"
        parts.append(f"OR {est:.2f}{ci}")
    q = (ev.get("test") or {}).get("q") if ev else None
    if isinstance(q, int | float) and math.isfinite(q):
        parts.append(f"q {q:.2g}" if q >= 0.001 else "q < 0.001" if q > 0 else "q 0")
    share = (ev.get("precedence") or {}).get("share_source_first") if ev else None
    if isinstance(share, int | float) and math.isfinite(share):
        src = label(str(ev["source"])) if ev.get("source") else "the cause"
        parts.append(f"{src} first in {share:.0%} of dated pairs")
    return " · ".join(parts) if parts else "no evidence recorded"


def _side_cells(side: ConflictSide, label: Callable[[str], str]) -> list[Any]:
    when = side.when.strftime("%Y-%m-%d %H:%M") if side.when else "–"
    ev = evidence_text(side.evidence, label)
    if side.state == "no edge" and side.evidence:
        ev = "before the removal: " + ev
    return [
        html.Div(html.B(side.state or "–"), className="m-state"),
        html.Div(ev, className="m-evidence"),
        html.Div(f"{side.author or 'unknown'} · {when}", className="m-who"),
        html.Div(side.rationale or "(no reason given)", className="m-why"),
    ]


def conflict_card(view: ConflictView, label: Callable[[str], str] = str) -> html.Div:
    """One conflict: what the two sides did, their evidence, who and why, and the
    choice (a radio group whose id carries the conflict key)."""
    c = view.conflict
    title = _KIND_TITLES.get(c.kind, c.kind)
    return html.Div(
        [
            html.Div(
                [html.Span(title, className="diff-tag merge-kind"), html.Span(" " + c.message)],
                className="m-head",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(
                                f"Ours · {view.ours.branch} ({view.ours.version})",
                                className="m-side-title",
                            ),
                            *_side_cells(view.ours, label),
                        ],
                        className="m-side ours",
                    ),
                    html.Div(
                        [
                            html.Div(
                                f"Theirs · {view.theirs.branch} ({view.theirs.version})",
                                className="m-side-title",
                            ),
                            *_side_cells(view.theirs, label),
                        ],
                        className="m-side theirs",
                    ),
                ],
                className="m-sides",
            ),
            dcc.RadioItems(
                id={"type": ids.V_MERGE_CHOICE, "index": c.key},
                options=[{"label": " " + text, "value": value} for value, text in view.choices],
                value=None,
                className="m-choice",
                inputClassName="m-radio",
            ),
        ],
        className="merge-conflict",
        **dict[str, Any]({"data-key": c.key, "data-kind": c.kind}),
    )


def merge_conflicts(preview: MergePreview, label: Callable[[str], str] = str) -> html.Div:
    """The preview's header (what merges into what, from which ancestor) and one card
    per conflict to answer."""
    o, t = preview.ours, preview.theirs
    head = html.P(
        [
            f"Merging {t.branch} #{t.seq} ({t.id}) into {o.branch} #{o.seq} ({o.id})",
            f", common ancestor {preview.base}." if preview.base else ", with no common ancestor.",
            f" {len(preview.conflicts)} conflict(s) to answer."
            if preview.conflicts
            else " No conflict: every change comes from one side.",
        ],
        className="m-intro",
    )
    return html.Div(
        [head, *[conflict_card(v, label) for v in preview.conflicts]],
        **dict[str, Any]({"data-conflicts": str(len(preview.conflicts))}),
    )


def merge_result(preview: MergePreview) -> html.Div:
    """What the choices give: the merged graph's size and where its changes came from,
    or the conflicts still open (a cycle named by its variables)."""
    if preview.ready and preview.graph is not None:
        g = preview.graph
        sources: dict[str, int] = {}
        for d in preview.result.decisions.values():
            word = _FROM.get(d.split(" ")[0], d)
            sources[word] = sources.get(word, 0) + 1
        where = ", ".join(f"{n} {k}" for k, n in sorted(sources.items()))
        open_dir = len(g.unresolved_edges)
        return html.Div(
            [
                html.B("Ready to save: "),
                f"{len(g.nodes)} variables, {len(g.edges)} edges"
                + (f" ({open_dir} with the direction unresolved)" if open_dir else "")
                + (f"; pairs changed since the common ancestor: {where}." if where else "."),
            ],
            className="m-ready",
            **dict[str, Any]({"data-ready": "1", "data-edges": str(len(g.edges))}),
        )
    items = [
        html.Li(
            c.message if c.kind != "cycle" else f"Refused: {c.message}",
            **dict[str, Any]({"data-kind": c.kind}),
        )
        for c in preview.problems
    ]
    return html.Div(
        [html.B("Not ready: "), html.Ul(items)],
        className="m-open error" if any(c.kind == "cycle" for c in preview.problems) else "m-open",
        **dict[str, Any]({"data-ready": "0"}),
    )


def merge_card(versions: Sequence[Version]) -> html.Section:
    """The merge card of the versions page (empty until "Preview merge")."""
    options = merge_options(versions)
    ours, theirs = _default_pair(versions)
    return html.Section(
        [
            html.H3("Merge two versions or branches"),
            html.Div(
                [
                    html.Label("Merge", htmlFor=ids.V_MERGE_B),
                    dcc.Dropdown(
                        id=ids.V_MERGE_B,
                        options=options,
                        value=theirs,
                        clearable=False,
                        placeholder="theirs: the version or branch to bring in",
                        className="form-dd wide",
                    ),
                    html.Label("into", htmlFor=ids.V_MERGE_A),
                    dcc.Dropdown(
                        id=ids.V_MERGE_A,
                        options=options,
                        value=ours,
                        clearable=False,
                        placeholder="ours: the branch that receives the merge",
                        className="form-dd wide",
                    ),
                    html.Button(
                        "Preview merge", id=ids.V_MERGE_PREVIEW, className="btn", n_clicks=0
                    ),
                ],
                className="form-row wrap",
            ),
            dcc.Store(id=ids.V_MERGE_PAIR, data=None),
            html.Div(id=ids.V_MERGE_CONFLICTS),
            html.Div(id=ids.V_MERGE_RESULT, **dict[str, Any]({"aria-live": "polite"})),
            html.Div(
                [
                    dcc.Input(
                        id=ids.V_MERGE_MESSAGE,
                        value="",
                        placeholder="why you merge (saved with the version)",
                        className="input wide",
                    ),
                    html.Button(
                        "Save merge",
                        id=ids.V_MERGE_SAVE,
                        className="btn primary",
                        n_clicks=0,
                        disabled=True,
                        title="Save the merged graph as the new head of the branch merged into",
                    ),
                    html.Span("", id=ids.V_MERGE_STATUS, className="save-status"),
                ],
                className="form-row",
            ),
        ],
        className="card",
        id=ids.V_MERGE,
    )


def register_merge_callbacks(app: Any, workspace: Workspace) -> None:
    """Preview, answer and save a merge on the versions page."""

    def label(code: str) -> str:
        return workspace.base_graph().label(code)

    @app.callback(
        Output(ids.V_MERGE_CONFLICTS, "children"),
        Output(ids.V_MERGE_RESULT, "children"),
        Output(ids.V_MERGE_SAVE, "disabled"),
        Output(ids.V_MERGE_PAIR, "data"),
        Input(ids.V_MERGE_PREVIEW, "n_clicks"),
        State(ids.V_MERGE_A, "value"),
        State(ids.V_MERGE_B, "value"),
        prevent_initial_call=True,
    )
    def preview(n: Any, ours: Any, theirs: Any) -> Any:
        if not n:
            raise PreventUpdate
        try:
            p = workspace.preview_merge(str(ours or ""), str(theirs or ""))
        except KGEditorError as exc:
            return html.Div(str(exc), className="error"), None, True, None
        pair = {"ours": p.ours.id, "theirs": p.theirs.id}
        return merge_conflicts(p, label), merge_result(p), not p.ready, pair

    @app.callback(
        Output(ids.V_MERGE_RESULT, "children", allow_duplicate=True),
        Output(ids.V_MERGE_SAVE, "disabled", allow_duplicate=True),
        Input({"type": ids.V_MERGE_CHOICE, "index": ALL}, "value"),
        State({"type": ids.V_MERGE_CHOICE, "index": ALL}, "id"),
        State(ids.V_MERGE_PAIR, "data"),
        prevent_initial_call=True,
    )
    def choose(values: Any, id_list: Any, pair: Any) -> Any:
        if not pair or not id_list:
            raise PreventUpdate
        try:
            p = workspace.preview_merge(pair["ours"], pair["theirs"], choice_map(id_list, values))
        except KGEditorError as exc:
            return html.Div(str(exc), className="m-open error"), True
        return merge_result(p), not p.ready

    @app.callback(
        Output(ids.V_MERGE_STATUS, "children"),
        Output(ids.V_REVISION, "data", allow_duplicate=True),
        Output(ids.V_MERGE_SAVE, "disabled", allow_duplicate=True),
        Input(ids.V_MERGE_SAVE, "n_clicks"),
        State({"type": ids.V_MERGE_CHOICE, "index": ALL}, "value"),
        State({"type": ids.V_MERGE_CHOICE, "index": ALL}, "id"),
        State(ids.V_MERGE_PAIR, "data"),
        State(ids.V_MERGE_MESSAGE, "value"),
        State(ids.V_SAVE_AUTHOR, "value"),
        State(ids.V_REVISION, "data"),
        prevent_initial_call=True,
    )
    def save(
        n: Any,
        values: Any,
        id_list: Any,
        pair: Any,
        message: Any,
        author: Any,
        revision: Any,
    ) -> Any:
        if not n or not pair or not ctx.triggered:
            raise PreventUpdate
        try:
            v = workspace.merge_versions(
                pair["ours"],
                pair["theirs"],
                choice_map(id_list, values),
                author=(author or "").strip() or "anonymous",
                message=(message or "").strip(),
            )
        except KGEditorError as exc:
            return html.Span(str(exc), className="error"), no_update, no_update
        except Exception:
            logger.exception("merge of %s into %s failed", pair.get("theirs"), pair.get("ours"))
            return (
                html.Span(
                    "The merge failed on the server; the error was logged.", className="error"
                ),
                no_update,
                no_update,
            )
        status = html.Span(
            f"Saved the merge as version #{v.seq} ({v.id}) on {v.branch} by {v.author}.",
            className="m-saved",
            **dict[str, Any]({"data-version": v.id}),
        )
        return status, int(revision or 0) + 1, True
