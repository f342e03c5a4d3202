"""The versions page: history of saved versions, branch graph, compare view, export.

Pure rendering functions (data in, Dash components or plain-dict figures out); the
callbacks live in :mod:`kg_editor.ui.versions.callbacks`. The page is served at
``/versions?session=<id>``; the editor's top bar holds :func:`versions_toolbar` (save a
version, open the versions page, PNG/SVG of the canvas).

Examples
--------
>>> from kg_editor.model.graph import CausalGraph
>>> from kg_editor.versions.diff import diff_graphs
>>> a = CausalGraph.from_edges([("x", "y"), ("y", "z")])
>>> b = CausalGraph.from_edges([("y", "x"), ("x", "z")])
>>> els = diff_elements(a, b, diff_graphs(a, b))
>>> sorted((e["data"]["source"], e["data"]["target"], e["classes"]) for e in els
...        if "source" in e["data"])
[('x', 'z', 'diff-added'), ('y', 'x', 'diff-reversed'), ('y', 'z', 'diff-removed')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dash_cytoscape as cyto
from dash import dcc, html

from kg_editor.model.report import METRICS, format_value
from kg_editor.ui import ids
from kg_editor.ui.editor.elements import graph_elements, layout_options, stylesheet

__all__ = [
    "DIFF_STYLES",
    "EXPORT_FORMATS",
    "KEY_METRICS",
    "METRIC_TITLES",
    "benefit",
    "branch_figure",
    "comparison_chart",
    "comparison_table",
    "diff_elements",
    "diff_legend",
    "diff_stylesheet",
    "diff_summary",
    "edge_change_card",
    "key_values",
    "metric_history_figure",
    "metric_title",
    "version_label",
    "versions_layout",
    "versions_table",
    "versions_toolbar",
]

#: Edge style of each diff status: (colour, line style, legend text).
DIFF_STYLES: dict[str, tuple[str, str, str]] = {
    "added": ("#1a9850", "solid", "added in B"),
    "removed": ("#d73027", "dashed", "removed in B (drawn as in A)"),
    "reversed": ("#e08214", "dotted", "reversed in B (drawn as in B)"),
    "changed": ("#6a51a3", "solid", "same direction, evidence or endorsement changed"),
    "unchanged": ("#b8c2cc", "solid", "unchanged"),
}

#: Formats offered as download buttons (name, button text); BIF and XMLBIF carry CPDs.
EXPORT_FORMATS: tuple[tuple[str, str], ...] = (
    ("json", "JSON"),
    ("bif", "BIF"),
    ("xmlbif", "XMLBIF"),
    ("dagitty", "DAGitty"),
    ("graphml", "GraphML"),
    ("gml", "GML"),
    ("dot", "DOT"),
    ("csv", "CSV"),
)

#: Key metrics shown per version: (column title, report section, metric, format).
#: ``section == "targets"`` reads the metric of the target.
KEY_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("Edges", "interpretability", "edges", ".0f"),
    ("Log-lik / patient", "accuracy", "loglik_per_patient", ".4f"),
    ("BIC", "accuracy", "bic", ".1f"),
    ("AUROC", "targets", "auroc", ".3f"),
    ("Brier", "targets", "brier", ".4f"),
    ("Parameters", "interpretability", "parameters", ".0f"),
)


#: What a clinician reads for a metric's code name (others: the code, spaced and capitalised).
METRIC_TITLES: dict[str, str] = {
    "loglik_per_patient": "Log-likelihood per patient (held out)",
    "loglik_train": "Log-likelihood (training)",
    "bic": "BIC score (training; higher fits better)",
    "bdeu": "BDeu score (training)",
    "auroc": "AUROC",
    "brier": "Brier score",
    "accuracy": "Accuracy",
    "ece": "Calibration error (ECE)",
    "prevalence": "Prevalence",
    "edges": "Edges",
    "nodes": "Variables",
    "parameters": "Free parameters",
    "mean_in_degree": "Mean number of parents",
    "max_in_degree": "Largest number of parents",
    "markov_blanket_size": "Markov blanket size",
    "longest_path": "Longest causal chain (edges)",
    "endorsed_share": "Clinician-endorsed edges (share)",
    "supported_share": "Edges supported by the data (share)",
    "edges_with_evidence": "Edges with evidence",
    "reference_precision": "Reference precision",
    "reference_recall": "Reference recall",
    "precedence_contradictions": "Edges against the time order",
    # trust figures (names as in the editor's report panel)
    "unresolved_edges": "Unresolved directions",
    "edges_against_temporal_order": "Edges against most co-patients' order",
    "asserted_edges_against_temporal_order": "Resolved edges against most co-patients' order",
    "families_over_bound": "Families over the bound",
    "implied_independencies": "Implied independencies",
    "implied_independence_failures": "Implied independencies failing",
    "implied_independence_sparse": "Implied independencies with sparse data",
    "implied_independence_skipped": "Implied independencies skipped",
    "n_train": "Training patients",
    "n_test": "Held-out patients",
    "n": "Held-out patients",
    "largest_gap.gap": "Largest subgroup gap",
    "largest_gap.flagged": "Subgroup gap flagged (1 = yes)",
    "largest_gap.auroc_gap.gap": "Largest subgroup AUROC gap",
    "largest_gap.brier_gap.gap": "Largest subgroup Brier gap",
}
#: Directions of figures the report nests (not in the METRICS registry): smaller gaps
#: between patient subgroups are better.
_NESTED_HIGHER_IS_BETTER: dict[str, bool | None] = {
    "largest_gap.gap": False,
    "largest_gap.flagged": False,
    "largest_gap.auroc_gap.gap": False,
    "largest_gap.brier_gap.gap": False,
    "n": None,
}
_SECTION_TITLES = {"accuracy": "Accuracy", "targets": "Target", "interpretability": "Structure"}
#: Report sections that record settings, not results: shown only where the versions differ.
_SETTINGS_SECTIONS = ("provenance", "privacy")


def metric_title(name: str, label: Callable[[str], str] | None = None) -> str:
    """The readable name of a metric code; a per-variable figure (``metric.<id>``) is
    named with the variable's ``label``.

    Examples
    --------
    >>> metric_title("loglik_per_patient"), metric_title("some_new_score")
    ('Log-likelihood per patient (held out)', 'Some new score')
    >>> metric_title("markov_blanket_size.192671", {"192671": "GI bleed"}.get)
    'Markov blanket size of GI bleed'
    """
    if name in METRIC_TITLES:
        return METRIC_TITLES[name]
    base, _, rest = name.partition(".")
    if rest and base in METRIC_TITLES:
        who = (label(rest) if label is not None else None) or rest
        return f"{METRIC_TITLES[base]} of {who}"
    return name.replace("_", " ").replace(".", " ").strip().capitalize()


def benefit(name: str, delta: float | None) -> str:
    """Whether a change of ``delta`` in metric ``name`` is ``"better"``, ``"worse"``,
    ``"same"`` (no change) or ``"neutral"`` (no better direction, e.g. the edge count),
    from the metric's direction in :data:`kg_editor.model.report.METRICS`.

    Examples
    --------
    >>> benefit("auroc", -0.02), benefit("brier", -0.01), benefit("bic", 12.0)
    ('worse', 'better', 'better')
    >>> benefit("edges", 3), benefit("auroc", 0.0)
    ('neutral', 'same')
    """
    if delta is None or delta == 0:
        return "same"
    if name in _NESTED_HIGHER_IS_BETTER:
        up = _NESTED_HIGHER_IS_BETTER[name]
    else:
        spec = METRICS.get(name) or METRICS.get(name.partition(".")[0])
        up = spec.higher_is_better if spec is not None else None
    if up is None:
        return "neutral"
    return "better" if (delta > 0) == up else "worse"


def _num(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def key_values(report: Mapping[str, Any] | None, target: str | None) -> dict[str, float | None]:
    """The :data:`KEY_METRICS` of a report dict (``None`` where missing).

    Examples
    --------
    >>> rep = {"accuracy": {"loglik_per_patient": -3.2}, "targets": {"t": {"auroc": 0.8}},
    ...        "interpretability": {"edges": 5}}
    >>> v = key_values(rep, "t")
    >>> v["Edges"], v["AUROC"], v["BIC"]
    (5.0, 0.8, None)
    """
    rep = report or {}
    out: dict[str, float | None] = {}
    for title, sec, metric, _fmt in KEY_METRICS:
        body = rep.get(sec) or {}
        if sec == "targets":
            tb = body.get(target) if target is not None else None
            if tb is None and body:
                tb = next(iter(body.values()))
            body = tb or {}
        out[title] = _num(body.get(metric)) if isinstance(body, Mapping) else None
    return out


def version_label(v: Any) -> str:
    """``"#3 main · 1a2b3c4d5e6f · message"`` for dropdowns."""
    msg = (v.message or "").strip()
    if len(msg) > 40:
        msg = msg[:38] + "…"
    return f"#{v.seq} {v.branch} · {v.id}" + (f" · {msg}" if msg else "")


def _fmt(x: float | None, fmt: str) -> str:
    return format_value(x, fmt, missing="–")


def _button(label: str, id_: Any, title: str, cls: str = "btn small") -> html.Button:
    return html.Button(label, id=id_, title=title, className=cls, n_clicks=0)


def versions_table(versions: Sequence[Any], target: str | None) -> html.Div:
    """The history: one row per version, newest first, with its key metrics and the
    actions open / restore / branch."""
    if not versions:
        return html.Div(
            "No version saved yet for this project. Save one from the editor or below.",
            className="muted empty",
            id=ids.V_EMPTY,
        )
    heads = {}
    for v in versions:
        heads[v.branch] = v.id
    head = html.Thead(
        html.Tr(
            [
                html.Th("#"),
                html.Th("Version"),
                html.Th("Branch"),
                html.Th("Parent"),
                html.Th("Author"),
                html.Th("Message"),
                html.Th("Saved (UTC)"),
                *[html.Th(t, className="num") for t, *_ in KEY_METRICS],
                html.Th("Actions"),
            ]
        )
    )
    rows = []
    for v in sorted(versions, key=lambda v: -v.seq):
        vals = key_values(v.report, target)
        parent = v.parent_id or ""
        if v.merge_parent_id:
            parent += f" + {v.merge_parent_id}"
        rows.append(
            html.Tr(
                [
                    html.Td(str(v.seq)),
                    html.Td(html.Code(v.id)),
                    html.Td(
                        [
                            html.Span(v.branch, className="branch-tag"),
                            html.Span(" head", className="muted")
                            if heads.get(v.branch) == v.id
                            else None,
                        ]
                    ),
                    html.Td(html.Code(parent) if parent else "–"),
                    html.Td(v.author),
                    html.Td(v.message or "", className="msg"),
                    html.Td(v.created.strftime("%Y-%m-%d %H:%M:%S")),
                    *[
                        html.Td(
                            _fmt(vals[t], fmt),
                            className="num",
                            **dict[str, Any](
                                {"data-value": "" if vals[t] is None else repr(vals[t])}
                            ),
                        )
                        for t, _s, _m, fmt in KEY_METRICS
                    ],
                    html.Td(
                        [
                            _button(
                                "Open",
                                {"type": ids.V_OPEN, "index": v.id},
                                "Open a new editing session on this version's graph",
                            ),
                            _button(
                                "Restore",
                                {"type": ids.V_RESTORE, "index": v.id},
                                "Make this version the head of its branch again and edit it",
                            ),
                            _button(
                                "Branch",
                                {"type": ids.V_BRANCH, "index": v.id},
                                "Start the branch named above at this version",
                            ),
                        ],
                        className="actions",
                    ),
                ],
                id=f"kg-v-row-{v.id}",
                className="version-row",
                **dict[str, Any](
                    {"data-branch": v.branch, "data-seq": str(v.seq), "data-edges": str(v.n_edges)}
                ),
            )
        )
    return html.Div(html.Table([head, html.Tbody(rows)], className="versions"))


_PALETTE = ["#0072B2", "#009E73", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F"]


def _base_layout(title: str, height: int = 230) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 13}, "x": 0.02},
        "margin": {"l": 60, "r": 10, "t": 34, "b": 36},
        "height": height,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "Inter, Segoe UI, Roboto, Helvetica, Arial, sans-serif", "size": 11},
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.25, "font": {"size": 10.5}},
    }


def branch_figure(versions: Sequence[Any]) -> dict[str, Any]:
    """Versions as dots on one lane per branch, a line from each to its parent (and to
    its merge parent): the branch graph."""
    branches: list[str] = []
    for v in sorted(versions, key=lambda v: v.seq):
        if v.branch not in branches:
            branches.append(v.branch)
    lane = {b: i for i, b in enumerate(branches)}
    pos = {v.id: (v.seq, lane[v.branch]) for v in versions}
    lx: list[float | None] = []
    ly: list[float | None] = []
    for v in versions:
        for p in (v.parent_id, v.merge_parent_id):
            if p in pos:
                lx += [pos[p][0], v.seq, None]
                ly += [pos[p][1], lane[v.branch], None]
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": lx,
            "y": ly,
            "line": {"color": "#b8c2cc", "width": 2},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    ]
    for b in branches:
        vs = [v for v in versions if v.branch == b]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "name": b,
                "x": [v.seq for v in vs],
                "y": [lane[b]] * len(vs),
                "text": [f"#{v.seq}" for v in vs],
                "textposition": "top center",
                "hovertext": [f"{v.id} · {v.author} · {v.message}" for v in vs],
                "hoverinfo": "text",
                "marker": {"size": 12, "color": _PALETTE[lane[b] % len(_PALETTE)]},
            }
        )
    lay = _base_layout("Branches (lines join a version to its parent)", 90 + 45 * len(branches))
    lay["showlegend"] = False
    lay["xaxis"] = {"title": {"text": "version #"}, "dtick": 1, "gridcolor": "#eef1f4"}
    lay["yaxis"] = {
        "tickvals": list(range(len(branches))),
        "ticktext": branches,
        "range": [-0.6, len(branches) - 0.4],
        "gridcolor": "#eef1f4",
    }
    return {"data": traces, "layout": lay}


def metric_history_figure(versions: Sequence[Any], target: str | None) -> dict[str, Any]:
    """Log-likelihood per patient and AUROC of each version (two y axes)."""
    vs = sorted(versions, key=lambda v: v.seq)
    vals = [key_values(v.report, target) for v in vs]
    x = [v.seq for v in vs]
    text = [f"{v.id} ({v.branch})" for v in vs]
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "log-lik / patient",
            "x": x,
            "y": [d["Log-lik / patient"] for d in vals],
            "text": text,
            "line": {"color": "#0072B2"},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "AUROC",
            "x": x,
            "y": [d["AUROC"] for d in vals],
            "text": text,
            "yaxis": "y2",
            "line": {"color": "#D55E00"},
        },
    ]
    lay = _base_layout("Key metrics by version")
    lay["xaxis"] = {"title": {"text": "version #"}, "dtick": 1, "gridcolor": "#eef1f4"}
    lay["yaxis"] = {"title": {"text": "log-lik / patient"}, "gridcolor": "#eef1f4"}
    lay["yaxis2"] = {"title": {"text": "AUROC"}, "overlaying": "y", "side": "right"}
    lay["margin"]["r"] = 50
    return {"data": traces, "layout": lay}


def diff_elements(a: Any, b: Any, diff: Any, target: str | None = None) -> list[dict[str, Any]]:
    """Cytoscape elements drawing the diff from graph ``a`` to graph ``b``: every node of
    either graph; each edge with a ``diff-<status>`` class (removed edges keep ``a``'s
    direction, the others ``b``'s)."""
    nodes_b = [e for e in graph_elements(b, target=target) if "source" not in e["data"]]
    seen = {e["data"]["id"] for e in nodes_b}
    extra = [
        e
        for e in graph_elements(a, target=target)
        if "source" not in e["data"] and e["data"]["id"] not in seen
    ]
    for e in extra:
        e["classes"] += " diff-gone"
    from kg_editor.ui.editor.elements import edge_id

    out = nodes_b + extra
    for (u, v), status in sorted(diff.edge_status().items()):
        out.append(
            {
                "data": {
                    "id": f"d-{status}-{edge_id(u, v)}",
                    "source": str(u),
                    "target": str(v),
                    "status": status,
                    "width": 4 if status != "unchanged" else 2,
                },
                "classes": f"diff-{status}",
            }
        )
    return out


def diff_stylesheet() -> list[dict[str, Any]]:
    """The editor's stylesheet plus one rule per diff status."""
    css = stylesheet()
    for status, (col, style, _text) in DIFF_STYLES.items():
        rule: dict[str, Any] = {
            "line-color": col,
            "target-arrow-color": col,
            "line-style": style,
        }
        if status == "unchanged":
            rule["opacity"] = 0.55
        css.append({"selector": f"edge.diff-{status}", "style": rule})
    css.append({"selector": "node.diff-gone", "style": {"opacity": 0.45, "border-style": "dashed"}})
    return css


def diff_legend() -> html.Div:
    """Legend of the compare canvas."""
    return html.Div(
        html.Div(
            [
                html.B("Edges "),
                *[
                    html.Span(
                        [html.I(className=f"sw line {style}", style={"borderTopColor": col}), text],
                        className="lg",
                    )
                    for _s, (col, style, text) in DIFF_STYLES.items()
                ],
            ],
            className="lg-row",
        ),
        className="legend",
        id=ids.V_LEGEND,
    )


def diff_summary(diff: Any, label: Any = str) -> html.Div:
    """Counts of added/removed/reversed/changed edges (also as data attributes) and the
    list of structural changes with their labels."""
    counts = {
        "added": len(diff.added),
        "removed": len(diff.removed),
        "reversed": len(diff.reversed),
        "changed": len(diff.changed),
    }
    items = []
    for status in ("added", "removed", "reversed"):
        for c in getattr(diff, status):
            col = DIFF_STYLES[status][0]
            items.append(
                html.Li(
                    [
                        html.Span(status, className="diff-tag", style={"background": col}),
                        f" {label(c.source)} → {label(c.target)}",
                    ],
                    **dict[str, Any](
                        {"data-status": status, "data-source": c.source, "data-target": c.target}
                    ),
                )
            )
    return html.Div(
        [
            html.Div(
                diff.summary(),
                id=ids.V_DIFF_SUMMARY,
                className="diff-summary",
                **dict[str, Any]({f"data-{k}": str(v) for k, v in counts.items()}),
            ),
            html.Ul(items, className="diff-edges", id=ids.V_DIFF_EDGES)
            if items
            else html.Div("No structural change between these versions.", className="muted"),
        ]
    )


def _flat_numbers(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out += _flat_numbers(v, key + ".")
        elif isinstance(v, bool | str) or _num(v) is not None:
            out.append((key, v))
    return out


def edge_change_card(
    source: str, target: str, status: str, change: Any, label: Any = str
) -> html.Div:
    """What a tapped edge of the compare canvas is: its status, provenance in A and B,
    and its evidence (``change`` is the :class:`kg_editor.versions.diff.EdgeChange`, ``None``
    for an unchanged edge)."""
    col = DIFF_STYLES.get(status, DIFF_STYLES["unchanged"])[0]
    rows = []
    if change is not None:
        for side, attrs in (("A", change.before), ("B", change.after)):
            prov = (attrs or {}).get("provenance") if attrs else "absent"
            end = " · endorsed" if attrs and attrs.get("endorsed") else ""
            rows.append(html.Tr([html.Td(f"In {side}"), html.Td(f"{prov}{end}")]))
        for key, value in _flat_numbers(change.evidence)[:16]:
            num = _num(value)
            shown = f"{num:.4g}" if num is not None and not isinstance(value, bool) else str(value)
            rows.append(html.Tr([html.Td(key), html.Td(shown, className="num")]))
        if not change.evidence:
            rows.append(html.Tr([html.Td("Evidence"), html.Td("none recorded for this edge")]))
    return html.Div(
        [
            html.Span(status, className="diff-tag", style={"background": col}),
            html.B(f" {label(source)} → {label(target)}"),
            html.Table(html.Tbody(rows), className="edge-evidence") if rows else None,
        ],
        className="v-edge-card",
        **dict[str, Any]({"data-status": status}),
    )


def _rows_of(table: Any, labels: Sequence[str]) -> list[tuple[str, str, Any, Any, Any]]:
    out = []
    la, lb = labels
    for rec in table.to_dict(orient="records"):
        va, vb, d = _num(rec.get(la)), _num(rec.get(lb)), _num(rec.get("delta"))
        if va is None and vb is None:
            continue
        out.append((str(rec["section"]), str(rec["metric"]), va, vb, d))
    return out


def comparison_table(
    table: Any,
    labels: Sequence[str],
    target: str | None = None,
    label: Callable[[str], str] | None = None,
) -> html.Table:
    """The metric table of two versions (A, B, delta = B - A); ``table`` is
    :func:`kg_editor.versions.diff.metric_table`'s DataFrame. Target metrics other than the
    target's are left out (they belong to earlier target choices). Metrics show their
    readable names (:func:`metric_title`, variables by ``label``; the code in the tooltip) and each change is
    coloured by its benefit (:func:`benefit`: an AUROC loss is worse, a Brier drop
    better), with the word too, never by its sign. Settings (provenance, privacy) are
    listed only where the two versions differ."""
    rows = []
    for sec, metric, va, vb, d in _rows_of(table, labels):
        if sec == "targets" and target is not None and not metric.startswith(f"{target}."):
            continue
        if sec in _SETTINGS_SECTIONS and not d:
            continue  # settings both versions share say nothing about the change
        name = metric.split(".", 1)[1] if sec == "targets" and "." in metric else metric
        verdict = benefit(name, d)
        rows.append(
            html.Tr(
                [
                    html.Td(_SECTION_TITLES.get(sec, sec.capitalize())),
                    html.Td(metric_title(name, label), title=name),
                    html.Td(_short(va), className="num"),
                    html.Td(_short(vb), className="num"),
                    html.Td(_short(d, signed=True), className=f"num delta {verdict}"),
                ],
                id=f"kg-v-metric-{sec}-{name}".replace(".", "-"),
                **dict[str, Any](
                    {
                        "data-a": "" if va is None else repr(va),
                        "data-b": "" if vb is None else repr(vb),
                        "data-delta": "" if d is None else repr(d),
                        "data-metric": name,
                        "data-benefit": verdict,
                    }
                ),
            )
        )
    return html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Section"),
                        html.Th("Metric"),
                        html.Th(f"A ({labels[0]})", className="num"),
                        html.Th(f"B ({labels[1]})", className="num"),
                        html.Th("Δ (B − A)", className="num"),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="metrics compare",
        id=ids.V_METRIC_TABLE,
    )


def _short(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        s = f"{x:+.3e}" if signed else f"{x:.3e}"
    elif float(x).is_integer():
        s = f"{x:+.0f}" if signed else f"{x:.0f}"
    else:
        s = f"{x:+.4f}" if signed else f"{x:.4f}"
    return s


def comparison_chart(
    report_a: Mapping[str, Any] | None,
    report_b: Mapping[str, Any] | None,
    target: str | None,
    labels: Sequence[str] = ("A", "B"),
) -> dict[str, Any]:
    """Relative change (%) of each key metric from A to B, one bar each (green where
    the change is an improvement)."""
    va, vb = key_values(report_a, target), key_values(report_b, target)
    names, values, colours, hover = [], [], [], []
    for title, _sec, key, _fmt in KEY_METRICS:
        a, b = va[title], vb[title]
        if a is None or b is None:
            continue
        pct = 0.0 if a == b else (b - a) / abs(a) * 100 if a != 0 else float("nan")
        if not math.isfinite(pct):
            continue
        names.append(title)
        values.append(pct)
        verdict = benefit(key, b - a)
        colours.append(
            "#1a9850" if verdict == "better" else "#d73027" if verdict == "worse" else "#8a9bb0"
        )
        hover.append(f"{title}: {a:.4g} → {b:.4g}")
    lay = _base_layout(f"Change from {labels[0]} to {labels[1]} (%)", 260)
    lay["showlegend"] = False
    lay["margin"]["l"] = 120
    lay["xaxis"] = {"title": {"text": "% change"}, "zerolinecolor": "#8a9bb0"}
    lay["yaxis"] = {"autorange": "reversed"}
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": values,
                "y": names,
                "marker": {"color": colours},
                "hovertext": hover,
                "hoverinfo": "text",
            }
        ],
        "layout": lay,
    }


def versions_toolbar() -> html.Div:
    """The editor's top-bar block: version message, Save version, link to the versions
    page, PNG/SVG of the canvas."""
    return html.Div(
        [
            dcc.Location(id=ids.E_URL, refresh=False),
            dcc.Input(
                id=ids.E_SAVE_MESSAGE,
                type="text",
                value="",
                placeholder="version message",
                className="input",
            ),
            html.Button(
                "Save version",
                id=ids.E_SAVE,
                className="btn",
                n_clicks=0,
                title="Save the current graph, its report and the edits since the last save",
            ),
            html.A("Versions", id=ids.E_VERSIONS_LINK, href=ids.VERSIONS_PATH, className="btn"),
            html.A(
                "My sessions",
                id=ids.E_SESSIONS_LINK,
                href=ids.SESSIONS_PATH,
                className="btn",
                title="Your editing sessions: resume one",
            ),
            html.Button(
                "PNG",
                id={"type": ids.E_IMAGE, "index": "png"},
                className="btn",
                n_clicks=0,
                title="Download the canvas as PNG",
            ),
            html.Button(
                "SVG",
                id={"type": ids.E_IMAGE, "index": "svg"},
                className="btn",
                n_clicks=0,
                title="Download the canvas as SVG",
            ),
            html.Span("", id=ids.E_SAVE_STATUS, className="save-status"),
        ],
        className="btn-group versions-toolbar",
    )


def versions_layout(
    *,
    session_id: str,
    title: str,
    versions: Sequence[Any],
    target: str | None,
    author: str = "",
    branch: str = "main",
    compare: tuple[str, str] | None = None,
    compare_body: Mapping[str, Any] | None = None,
    merge: Any = None,
) -> html.Div:
    """The versions page of one editing session's project (``merge``: the merge card,
    :func:`kg_editor.ui.versions.merge.merge_card`, placed after the compare view)."""
    options = [
        {"label": version_label(v), "value": v.id} for v in sorted(versions, key=lambda v: -v.seq)
    ]
    a_id, b_id = compare or (None, None)
    body = dict(compare_body or {})
    header = html.Header(
        [
            html.Div(
                [html.Span("kg", className="logo"), html.Span("editor", className="logo2")],
                className="brand",
            ),
            html.Div(f"Versions · {title}", className="project", title=title),
            html.A(
                "← Back to the editor",
                href=f"/?session={session_id}",
                id=ids.V_BACK,
                className="btn",
            ),
            html.A(
                "My sessions",
                href=f"{ids.SESSIONS_PATH}?session={session_id}",
                id=ids.V_SESSIONS_LINK,
                className="btn",
            ),
        ],
        className="topbar",
    )
    alert = html.Div(
        [html.Span("", id=ids.V_ALERT_TEXT, className="alert-text")],
        id=ids.V_ALERT,
        className="alert",
        hidden=True,
        role="alert",
    )
    save_card = html.Section(
        [
            html.H3("Save the current graph as a version"),
            html.Div(
                [
                    html.Label(
                        "Your name",
                        htmlFor=ids.V_SAVE_AUTHOR,
                        title="The author of the versions, branches and merges you save",
                    ),
                    dcc.Input(
                        id=ids.V_SAVE_AUTHOR,
                        value=author,
                        placeholder="your name",
                        className="input",
                    ),
                    dcc.Input(
                        id=ids.V_SAVE_BRANCH,
                        value=branch,
                        placeholder="branch",
                        className="input",
                    ),
                    dcc.Input(
                        id=ids.V_SAVE_MESSAGE,
                        value="",
                        placeholder="what changed and why",
                        className="input wide",
                    ),
                    html.Button("Save version", id=ids.V_SAVE, className="btn primary", n_clicks=0),
                    html.Span("", id=ids.V_SAVE_STATUS, className="save-status"),
                ],
                className="form-row",
            ),
            html.Div(
                [
                    html.Label("New branch name (for the Branch buttons): "),
                    dcc.Input(
                        id=ids.V_BRANCH_NAME,
                        value="",
                        placeholder="e.g. dr_okafor",
                        className="input",
                    ),
                ],
                className="form-row",
            ),
        ],
        className="card",
    )
    history_card = html.Section(
        [
            html.H3("History"),
            html.Div(versions_table(versions, target), id=ids.V_HISTORY),
            html.Div(
                [
                    html.Div(
                        dcc.Graph(
                            id=ids.V_BRANCH_GRAPH,
                            figure=branch_figure(versions),
                            config={"displayModeBar": False},
                        ),
                        className="chart",
                    ),
                    html.Div(
                        dcc.Graph(
                            id=ids.V_METRIC_HISTORY,
                            figure=metric_history_figure(versions, target),
                            config={"displayModeBar": False},
                        ),
                        className="chart",
                    ),
                ],
                className="charts2",
            ),
        ],
        className="card",
    )
    canvas = cyto.Cytoscape(
        id=ids.V_CANVAS,
        elements=body.get("elements", []),
        stylesheet=diff_stylesheet(),
        layout=layout_options("dagre"),
        minZoom=0.15,
        maxZoom=3.0,
        wheelSensitivity=0.3,
        boxSelectionEnabled=False,
        responsive=True,
        style={"width": "100%", "height": "520px"},
    )
    compare_card = html.Section(
        [
            html.H3("Compare two versions"),
            html.Div(
                [
                    html.Label("A"),
                    dcc.Dropdown(
                        id=ids.V_COMPARE_A,
                        options=options,
                        value=a_id,
                        clearable=False,
                        className="form-dd",
                    ),
                    html.Label("B"),
                    dcc.Dropdown(
                        id=ids.V_COMPARE_B,
                        options=options,
                        value=b_id,
                        clearable=False,
                        className="form-dd",
                    ),
                ],
                className="form-row",
            ),
            html.Div(body.get("summary"), id=ids.V_DIFF),
            html.Div(
                "Click an edge of the canvas to see its evidence in A and B.",
                id=ids.V_EDGE,
                className="muted",
            ),
            html.Div(canvas, className="canvas-wrap v-canvas"),
            diff_legend(),
            html.Div(
                [
                    html.Div(body.get("table"), id=ids.V_METRICS, className="v-metrics"),
                    html.Div(
                        dcc.Graph(
                            id=ids.V_CHART,
                            figure=body.get("chart") or {"data": [], "layout": _base_layout("")},
                            config={"displayModeBar": False},
                        ),
                        className="chart",
                    ),
                ],
                className="charts2",
            ),
        ],
        className="card",
    )
    export_card = html.Section(
        [
            html.H3("Export"),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.V_EXPORT_WHAT,
                        options=[
                            {
                                "label": "The current editing session (fitted CPDs)",
                                "value": "session",
                            },
                            {"label": "Version A", "value": "a"},
                            {"label": "Version B", "value": "b"},
                        ],
                        value="session",
                        clearable=False,
                        className="form-dd wide",
                    ),
                    *[
                        html.Button(
                            text,
                            id={"type": ids.V_EXPORT, "index": name},
                            className="btn",
                            n_clicks=0,
                            title=f"Download as {text}",
                        )
                        for name, text in EXPORT_FORMATS
                    ],
                    html.Span("Canvas:", className="muted"),
                    *[
                        html.Button(
                            k.upper(),
                            id={"type": ids.V_IMAGE, "index": k},
                            className="btn",
                            n_clicks=0,
                            title=f"Download the compare canvas as {k.upper()}",
                        )
                        for k in ("png", "svg")
                    ],
                    dcc.Download(id=ids.V_DOWNLOAD),
                ],
                className="form-row wrap",
            ),
        ],
        className="card",
    )
    return html.Div(
        [
            dcc.Store(id=ids.V_SESSION, data={"session_id": session_id}),
            dcc.Store(id=ids.V_REVISION, data=0),
            dcc.Location(id=ids.V_LOCATION, refresh=True),
            header,
            alert,
            html.Main(
                [save_card, history_card, compare_card, merge, export_card],
                className="versions-page",
            ),
        ],
        className="kg-app",
    )
