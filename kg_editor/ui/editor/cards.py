"""The node details panel and the edge evidence card.

Counts of patients pass through :mod:`kg_editor.data.privacy` (below 11 they read ``"<11"``);
labels are plain text (Dash escapes them).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from dash import html

from kg_editor.data.privacy import DEFAULT_MIN_CELL, protect_node, suppress_counts
from kg_editor.ui import ids
from kg_editor.ui.editor.report_view import format_value

__all__ = [
    "cpd_component",
    "edge_card",
    "empty_card",
    "latent_card",
    "node_details",
    "orientation_text",
]

logger = logging.getLogger(__name__)

CPD_MAX_ROWS = 16


def empty_card(text: str) -> html.Div:
    return html.Div(text, className="muted empty")


def _fmt_p(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    x = float(x)
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def orientation_text(value: Any) -> str:
    """Why an edge points the way it does, as one sentence.

    Examples
    --------
    >>> orientation_text({"method": "precedence", "reason": "A is recorded first in 80%"})
    'A is recorded first in 80%'
    >>> orientation_text(None)
    'not recorded'
    """
    if not value:
        return "not recorded"
    if isinstance(value, Mapping):
        for key in ("reason", "why", "text", "description"):
            if value.get(key):
                return str(value[key])
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _kv(label: str, value: Any, cls: str = "") -> html.Tr:
    return html.Tr([html.Th(label), html.Td(value, className=cls)])


def cpd_component(frame: Any) -> html.Div:
    """A CPD (rows = parent configurations, columns = the node's states) as a table."""
    n = len(frame)
    shown = frame.iloc[:CPD_MAX_ROWS]
    names = [str(x) for x in (frame.index.names or [])]
    multi = hasattr(frame.index, "levels")
    head_cells = [html.Th(nm or "") for nm in names] if multi else [html.Th("")]
    head_cells += [html.Th(str(c), className="num") for c in frame.columns]
    rows = []
    for idx, vals in zip(shown.index, shown.to_numpy(), strict=False):
        keys = list(idx) if isinstance(idx, tuple) else [idx]
        rows.append(
            html.Tr(
                [html.Td(str(k)) for k in keys]
                + [html.Td(f"{float(v):.3f}", className="num") for v in vals]
            )
        )
    parts: list[Any] = [
        html.Table([html.Thead(html.Tr(head_cells)), html.Tbody(rows)], className="cpd")
    ]
    if n > CPD_MAX_ROWS:
        parts.append(
            html.Div(f"… {n - CPD_MAX_ROWS} more parent configurations", className="muted")
        )
    return html.Div(parts, className="cpd-wrap")


def node_details(session: Any, node: str) -> html.Div:
    """Prevalence, patients, parents and children with edge strength, and the CPD."""
    g = session.graph
    attrs = g.node_attrs(node)
    var = session.cohort.variables.get(node)
    # patients and prevalence shown together: one gives the other back, so both pass
    # protect_node at the cohort's threshold
    shown = protect_node(
        getattr(var, "n_patients", attrs.get("patients")),
        session.cohort.n_patients,
        attrs.get("prevalence", getattr(var, "prevalence", None)),
        k=int(session.cohort.settings.get("min_cell", DEFAULT_MIN_CELL)),
    )
    prevalence, patients = shown["prevalence"], shown["patients"]
    info = html.Table(
        [
            _kv("Code", str(node)),
            _kv("Domain", str(attrs.get("domain") or getattr(var, "domain", "") or "–")),
            _kv("Tier", "–" if attrs.get("tier") is None else str(attrs.get("tier"))),
            _kv("Prevalence", format_value(prevalence, "%")),
            _kv("Patients", str(patients) if patients is not None else "–"),
            _kv(
                "States",
                ", ".join(map(str, getattr(var, "states", ()) or attrs.get("states") or ())),
            ),
        ],
        className="kv",
    )

    def rel(nodes: Any, outgoing: bool) -> Any:
        if not nodes:
            return html.Div("none", className="muted")
        items = []
        for m in nodes:
            u, v = (node, m) if outgoing else (m, node)
            ev = g.edge_attrs(u, v).get("evidence") or {}
            orr = ((ev.get("measures") or {}).get("odds_ratio") or {}).get("estimate")
            q = (ev.get("test") or {}).get("q")
            items.append(
                html.Li(
                    [
                        html.Span(g.label(m), className="rel-label"),
                        html.Span(
                            f"OR {format_value(orr, '.2f')} · q {_fmt_p(q)}"
                            if ev
                            else "no evidence",
                            className="rel-ev",
                        ),
                    ]
                )
            )
        return html.Ul(items, className="rel")

    try:
        cpd = cpd_component(session.cpd_table(node))
    except Exception:  # a node outside the fitted model has no CPD
        cpd = empty_card("No CPD for this variable.")
    return html.Div(
        [
            html.Div(
                [
                    html.H4(g.label(node), className="card-title"),
                    # pinning is view state, toggled in the page (assets/05_kg_research.js)
                    html.Button(
                        "Pin in place (P)",
                        id=ids.NODE_PIN,
                        className="btn small pin",
                        title="Keep this node where it is across edits and re-layouts",
                        n_clicks=0,
                        **dict[str, Any]({"data-node": str(node), "aria-pressed": "false"}),
                    ),
                ],
                className="card-head",
            ),
            info,
            html.H5("Caused by (parents)"),
            rel(g.parents(node), outgoing=False),
            html.H5("Causes (children)"),
            rel(g.children(node), outgoing=True),
            html.H5(f"P({g.label(node)} | parents)"),
            cpd,
        ],
        className="node-details",
    )


def _history_items(history: list[Mapping[str, Any]]) -> Any:
    if not history:
        return html.Div("No edits to this edge yet.", className="muted")
    items = []
    for h in history:
        when = str(h.get("created", ""))[:16].replace("T", " ")
        verb = {"add": "added", "remove": "removed", "reverse": "reversed"}.get(
            str(h.get("kind")), str(h.get("kind", "edited"))
        )
        why = h.get("rationale") or "no rationale given"
        extra = (
            f" (overrode {h['overridden_constraint']})" if h.get("overridden_constraint") else ""
        )
        items.append(
            html.Li(
                [
                    html.Span(f"{verb} by {h.get('author', 'anonymous')}", className="who"),
                    html.Span(f" · {when} UTC", className="when"),
                    html.Div(f"“{why}”{extra}", className="why"),
                ]
            )
        )
    return html.Ul(items, className="edge-history")


def latent_card(session: Any, a: str, b: str) -> html.Div:
    """What an unmeasured common cause ``a <-> b`` means, and who said so."""
    g = session.graph
    who = [
        h
        for h in session.history
        if h.edit is not None
        and h.edit.kind == "add_latent"
        and sorted((h.edit.source, h.edit.target)) == sorted((a, b))
    ]
    said = (
        f"Added by {who[-1].author}"
        + (f": “{who[-1].edit.rationale}”" if who[-1].edit.rationale else "")
        if who
        else "Recorded with the graph"
    )
    return html.Div(
        [
            html.H4(f"{g.label(a)} ↔ {g.label(b)}", className="card-title"),
            html.Span("unmeasured common cause", className="badge prov-latent"),
            html.P(
                f"{g.label(a)} and {g.label(b)} share a cause nobody recorded. The graph's "
                "implied independencies, active trails and adjustment sets treat it as an "
                "unobserved parent of both; the fitted model, and so the accuracy figures, "
                "has the measured variables only.",
                className="muted",
            ),
            html.P(said, className="small"),
            html.P("Remove (or Delete) withdraws it.", className="muted small"),
        ],
        className="edge-card latent-card",
    )


def edge_card(
    session: Any,
    source: str,
    target: str,
    contradicting: set[tuple[str, str]],
    fallback_evidence: Any = None,
) -> html.Div:
    """Evidence for ``source -> target``: counts (suppressed), OR with CI, q, precedence,
    why it is oriented so, and its history (who, when, why).

    ``fallback_evidence(source, target)`` supplies the data's evidence for an edge that
    carries none (one a clinician added)."""
    g = session.graph
    a = g.edge_attrs(source, target)
    raw = a.get("evidence") or {}
    computed = False
    if not raw.get("counts") and fallback_evidence is not None:
        try:
            raw, computed = fallback_evidence(source, target), True
        except Exception:  # evidence is informative only
            logger.exception("no evidence for %s -> %s", source, target)
            raw = {}
    ev = suppress_counts(raw)
    counts = ev.get("counts") or {}
    meas = ev.get("measures") or {}
    test = ev.get("test") or {}
    prec = ev.get("precedence") or {}
    s_lab, t_lab = g.label(source), g.label(target)
    prov = str(a.get("provenance") or "distilled")
    badges = [html.Span(prov, className=f"badge prov-{prov}")]
    if a.get("endorsed"):
        badges.append(html.Span("endorsed", className="badge endorsed"))
    if (source, target) in contradicting:
        badges.append(
            html.Span(
                "against temporal order",
                className="badge contradicts",
                title=f"{t_lab} is usually recorded before {s_lab}",
            )
        )
    parts: list[Any] = [
        html.H4(
            [html.Span(s_lab), html.Span(" → ", className="arrow"), html.Span(t_lab)],
            className="card-title",
        ),
        html.Div(badges, className="badges"),
    ]
    if counts:
        grid = html.Table(
            [
                html.Thead(html.Tr([html.Th(""), html.Th(f"{t_lab}: yes"), html.Th("no")])),
                html.Tbody(
                    [
                        html.Tr(
                            [
                                html.Th(f"{s_lab}: yes"),
                                html.Td(str(counts.get("n11", "–")), className="num"),
                                html.Td(str(counts.get("n10", "–")), className="num"),
                            ]
                        ),
                        html.Tr(
                            [
                                html.Th("no"),
                                html.Td(str(counts.get("n01", "–")), className="num"),
                                html.Td(str(counts.get("n00", "–")), className="num"),
                            ]
                        ),
                    ]
                ),
            ],
            className="counts",
        )
        parts += [html.H5("Patients (training split)"), grid]
    rows = []
    orr = meas.get("odds_ratio") or {}
    if orr:
        rows.append(
            _kv(
                "Odds ratio",
                f"{format_value(orr.get('estimate'), '.2f')} "
                f"(95% CI {format_value(orr.get('ci_low'), '.2f')}–{format_value(orr.get('ci_high'), '.2f')})",
                "num",
            )
        )
    rr = meas.get("relative_risk") or {}
    if rr.get("estimate") is not None:
        rows.append(_kv("Relative risk", format_value(rr.get("estimate"), ".2f"), "num"))
    if test:
        rows.append(_kv("Test", f"{test.get('name', '')}, p {_fmt_p(test.get('p'))}"))
        rows.append(_kv("q-value (BH)", _fmt_p(test.get("q")), "num"))
    if prec:
        share = prec.get("share_source_first")
        rows.append(
            _kv(
                "Recorded first",
                f"{s_lab} first in {format_value(share, '%')} of "
                f"{prec.get('n_both_dated', '–')} patients with both (p {_fmt_p(prec.get('p'))})",
            )
        )
    rows.append(_kv("Oriented because", orientation_text(a.get("orientation"))))
    # unresolved direction and edge stability
    if a.get("unresolved"):
        rows.append(_kv("Direction", "unresolved: the data cannot tell; resolve it (one action)"))
    stab = ev.get("stability") if isinstance(ev, dict) else None
    if stab:
        rows.append(
            _kv(
                "Stability",
                f"in {format_value(stab.get('frequency'), '%')} of {stab.get('resamples')} resamples "
                f"(this way {format_value(stab.get('this_direction'), '%')}, reversed "
                f"{format_value(stab.get('reverse_direction'), '%')})",
            )
        )
    parts.append(html.Table(rows, className="kv"))
    if computed:
        parts.append(
            html.Div(
                "Evidence computed for this pair: the edge was not proposed by the distiller.",
                className="muted small",
            )
        )
    if computed and ev:
        parts.append(
            html.Div(
                "Evidence computed for this pair: the edge was not proposed by the distiller.",
                className="muted small",
            )
        )
    if not ev:
        parts.append(html.Div("No data evidence is attached to this edge.", className="muted"))
    parts += [html.H5("History"), _history_items(list(a.get("history") or []))]
    return html.Div(parts, className="edge-card-body")
