"""Turn a live :class:`~kg_editor.model.session.EditSession` into what the page shows.

Everything sent to the browser is built here: graph elements, report tables and charts,
the suggestions queue and the history. Only aggregates leave the server (metrics, CPDs,
suppressed counts); never a patient row or a patient id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dash import html

from kg_editor.data.privacy import DEFAULT_MIN_CELL, protect_target
from kg_editor.model.report import ReportDelta
from kg_editor.ui import ids
from kg_editor.ui.editor.elements import graph_elements, neighbourhood
from kg_editor.ui.editor.report_view import (
    calibration_figure,
    format_value,
    history_figure,
    metrics_table,
    roc_figure,
    subgroup_table,
)

__all__ = [
    "RenderedView",
    "ReviewView",
    "contradicting_edges",
    "current_delta",
    "elements_for",
    "history_list",
    "render_report",
    "render_view",
    "review_view",
    "suggestion_list",
    "visible_nodes",
]

STEP_KINDS = ("start", "edit", "undo", "redo", "accept", "merge", "split")


@dataclass
class RenderedView:
    """The components of one render of the editor."""

    elements: list[dict[str, Any]]
    domains: set[str]
    metrics: Any
    status: str
    roc: Any
    calibration: Any
    history_chart: Any
    subgroups: Any
    history_list: Any
    suggestions: Any
    details: Any
    can_undo: bool
    can_redo: bool
    extra: dict[str, Any] = field(default_factory=dict)


def contradicting_edges(session: Any) -> set[tuple[str, str]]:
    """Edges of the current graph that contradict temporal precedence."""
    edges = (session.report.interpretability or {}).get("contradicting_edges") or []
    return {(str(e[0]), str(e[1])) for e in edges}


def current_target(session: Any, target: str | None = None) -> str | None:
    if target and target in session.targets:
        return target
    return session.targets[0] if session.targets else None


def current_delta(session: Any) -> tuple[ReportDelta, bool]:
    """The delta to show: that of the last step if it still describes the current report,
    else the report against itself. The flag says whether an edit is shown."""
    for h in reversed(session.history):
        if h.kind == "reject":
            continue
        if h.delta is not None and h.report is session.report:
            return h.delta, True
        break
    return ReportDelta(session.report, session.report), False


def visible_nodes(session: Any, focus: bool, centre: str | None, hops: int) -> set[str] | None:
    """Nodes of the neighbourhood view, or ``None`` for the whole graph."""
    if not focus:
        return None
    c = centre if centre in session.graph else current_target(session)
    if c is None:
        return None
    return neighbourhood(session.graph, c, hops)


def elements_for(
    session: Any,
    *,
    nodes: Collection[str] | None = None,
    cycle: Sequence[str] = (),
    selected_edge: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    return graph_elements(
        session.graph,
        target=current_target(session),
        contradicting=contradicting_edges(session),
        cycle=cycle,
        nodes=nodes,
        selected_edge=selected_edge,
        min_cell=int(session.cohort.settings.get("min_cell", DEFAULT_MIN_CELL)),
    )


def _steps(session: Any) -> list[dict[str, Any]]:
    return [
        {"accuracy": h.report.accuracy, "targets": h.report.targets}
        for h in session.history
        if h.kind in STEP_KINDS
    ]


def render_report(session: Any, target: str | None = None) -> dict[str, Any]:
    """Metrics table, status line, ROC, calibration, history chart and subgroup table."""
    t = current_target(session, target)
    delta, has_edit = current_delta(session)
    d = delta.to_dict()
    # counts shown in the subgroup table and the calibration bins pass the one
    # suppression mechanism (complementary cells included) at the cohort's threshold
    k = int(session.cohort.settings.get("min_cell", DEFAULT_MIN_CELL))
    b_raw = delta.before.targets.get(t or "") if has_edit else None
    a_raw = session.report.targets.get(t or "")
    before = protect_target(b_raw, k) if b_raw is not None else None
    after = protect_target(a_raw, k) if a_raw is not None else None
    if has_edit and delta.edit and delta.edit.get("op") in ("merge", "split"):
        status = _concept_text(session.graph, delta.edit)
    elif has_edit and delta.edit:
        e = delta.edit
        verb = {
            "add": "Added",
            "remove": "Removed",
            "reverse": "Reversed",
            "resolve": "Resolved",
            "endorse": "Endorsed",
            "add_latent": "Unmeasured common cause added:",
            "remove_latent": "Unmeasured common cause removed:",
        }.get(str(e.get("kind")), "Edited")
        last = session.history[-1].kind
        prefix = {"undo": "Undone: ", "redo": "Redone: ", "accept": "Accepted: "}.get(last, "")
        arrow = "↔" if str(e.get("kind")).endswith("_latent") else "→"
        status = f"{prefix}{verb} {session.graph.label(e['source'])} {arrow} {session.graph.label(e['target'])}"
    else:
        status = "Starting graph (no edit yet)"
    return {
        "metrics": metrics_table(d, t, has_edit=has_edit),
        "status": status,
        "roc": roc_figure(before, after),
        "calibration": calibration_figure(before, after),
        "history_chart": history_figure(_steps(session), t),
        "subgroups": subgroup_table(after),
    }


def suggestion_list(session: Any, k: int = 8) -> Any:
    """The ranked suggestions, each with accept/reject buttons and hover-preview data."""
    try:
        sugg = session.suggestions(k=k)
    except Exception:  # suggestions are advisory: never break the page for them
        import logging

        logging.getLogger(__name__).exception("suggestions failed")
        return html.Div("Suggestions are unavailable for this graph.", className="muted")
    if not sugg:
        return html.Div("No edit improves the score further.", className="muted")
    g = session.graph
    rows = []
    for rank, s in enumerate(sugg, start=1):
        e = s.edit
        kind = getattr(e, "kind", "edit")
        verb = {"add": "Add", "remove": "Remove", "reverse": "Reverse"}.get(kind, kind)
        rows.append(
            html.Li(
                [
                    html.Span(str(rank), className="rank"),
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Span(verb, className=f"verb {kind}"),
                                    " ",
                                    html.Span(g.label(e.source)),
                                    html.Span(" → ", className="arrow"),
                                    html.Span(g.label(e.target)),
                                ],
                                className="sugg-edge",
                            ),
                            html.Div(
                                f"score {format_value(s.score_gain, '+.2f')} · held-out log-lik "
                                f"{format_value(getattr(s, 'loglik_gain', None), '+.4f')}",
                                className="muted small",
                            ),
                        ],
                        className="sugg-body",
                    ),
                    html.Button(
                        "Accept",
                        id={"type": ids.SUGGEST_ACCEPT, "index": s.id},
                        className="btn primary small",
                        n_clicks=0,
                    ),
                    html.Button(
                        "Reject",
                        id={"type": ids.SUGGEST_REJECT, "index": s.id},
                        className="btn small",
                        n_clicks=0,
                    ),
                ],
                className="suggestion",
                **dict[str, Any](
                    {
                        "data-source": str(e.source),
                        "data-target": str(e.target),
                        "data-kind": kind,
                        "data-id": str(s.id),
                    }
                ),
            )
        )
    return html.Ol(rows, className="suggestions")


def _concept_text(g: Any, entry: Mapping[str, Any]) -> str:
    """``Merged A, B into “C”`` / ``Split “C” into A, B`` for a concept step."""
    members = ", ".join(g.label(m) if m in g else str(m) for m in entry.get("nodes") or [])
    if entry.get("op") == "merge":
        return f"Merged {members} into “{entry.get('name')}”"
    node = str(entry.get("node"))
    return f"Split “{g.label(node) if node in g else node}” into {members}"


@dataclass
class ReviewView:
    """The review card's content: the edge under review (or ``None``), what to show."""

    edge: dict[str, str] | None
    text: Any
    progress: str


def review_view(session: Any, skipped: Collection[str] = ()) -> ReviewView:
    """The first edge of the session's review queue not reviewed nor skipped (``skipped``
    holds ``"source->target"`` keys, as the page's Skip button writes them), why it needs
    a look, and the progress ("3 of 138 reviewed")."""
    queue = session.review_queue()
    done = sum(1 for r in queue if r["reviewed"])
    progress = f"{done} of {len(queue)} reviewed"
    for r in queue:
        if r["reviewed"] or f"{r['source']}->{r['target']}" in skipped:
            continue
        stab = r.get("stability")
        facts = [r["reason"]]
        if isinstance(stab, int | float) and r["reason"] != f"found in {stab:.0%} of resamples":
            facts.append(f"found in {stab:.0%} of resamples")
        text = [
            html.Div(
                [
                    html.Span(r["labels"][0], className="review-node"),
                    html.Span(" → ", className="arrow"),
                    html.Span(r["labels"][1], className="review-node"),
                ],
                className="review-edge",
            ),
            html.Div("Needs a look: " + "; ".join(facts), className="muted review-why"),
        ]
        return ReviewView({"source": r["source"], "target": r["target"]}, text, progress)
    left = len(queue) - done
    msg = (
        "Every edge is reviewed."
        if not left
        else f"{left} edge(s) skipped in this page; reload to review them again."
    )
    return ReviewView(None, html.Div(msg, className="muted"), progress)


def history_list(session: Any, limit: int = 30) -> Any:
    """The session's steps, newest first: who, when, what, why."""
    items = []
    g = session.graph
    for h in reversed(session.history[-limit:]):
        when = h.created.strftime("%H:%M:%S")
        concept = getattr(h, "concept", None)
        if concept:
            text = _concept_text(g, concept)
            if concept.get("rationale"):
                text += f" — “{concept['rationale']}”"
        elif h.edit is None:
            text = "Session opened on the distilled graph"
        else:
            e = h.edit
            arrow = "↔" if e.kind.endswith("_latent") else "→"
            text = f"{h.kind}: {e.kind.replace('_', ' ')} {g.label(e.source)} {arrow} {g.label(e.target)}"
            if e.rationale:
                text += f" — “{e.rationale}”"
            if e.override and h.kind in ("edit", "accept"):
                text += " (constraint overridden)"
        items.append(
            html.Li(
                [
                    html.Span(when, className="when"),
                    html.Span(h.author, className="who"),
                    html.Span(text, className="what"),
                ]
            )
        )
    return html.Ul(items, className="history")


def render_view(
    session: Any,
    *,
    target: str | None = None,
    nodes: Collection[str] | None = None,
    cycle: Sequence[str] = (),
    details: Any = None,
    with_suggestions: bool = True,
) -> RenderedView:
    """Everything the page shows for ``session``."""
    rep = render_report(session, target)
    domains = {str(session.graph.nx.nodes[n].get("domain") or "other") for n in session.graph.nodes}
    return RenderedView(
        elements=elements_for(session, nodes=nodes, cycle=cycle),
        domains=domains,
        metrics=rep["metrics"],
        status=rep["status"],
        roc=rep["roc"],
        calibration=rep["calibration"],
        history_chart=rep["history_chart"],
        subgroups=rep["subgroups"],
        history_list=history_list(session),
        suggestions=suggestion_list(session)
        if with_suggestions
        else html.Div("Loading…", className="muted"),
        details=details
        if details is not None
        else html.Div(
            "Click a node for its details, or an edge for its evidence.", className="muted empty"
        ),
        can_undo=bool(session.can_undo),
        can_redo=bool(session.can_redo),
    )
