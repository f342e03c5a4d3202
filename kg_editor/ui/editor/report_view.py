"""The report panel: every metric before -> after with its coloured change and CI, the
subgroup table, and the ROC, calibration and history charts.

Functions here turn plain report dictionaries (``Report.to_dict()``,
``ReportDelta.to_dict()``) into Dash components and plotly figures; they hold no state.
Patient counts arrive protected (:func:`kg_editor.data.privacy.protect_target`); the
tables pass them through :func:`kg_editor.data.privacy.suppress` once more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from kg_editor.data.privacy import suppress
from kg_editor.model.report import METRICS
from kg_editor.model.report import format_value as report_format

__all__ = [
    "METRIC_ROWS",
    "calibration_figure",
    "format_value",
    "history_figure",
    "metric_rows",
    "metrics_table",
    "roc_figure",
    "subgroup_table",
]

#: (section, key, label, format) of the rows shown, in order. ``section`` is
#: ``accuracy``, ``target`` (the selected target) or ``interpretability``.
METRIC_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("target", "auroc", "AUROC", ".3f"),
    ("target", "brier", "Brier score", ".4f"),
    ("target", "accuracy", "Accuracy", ".3f"),
    ("target", "ece", "Calibration error (ECE)", ".4f"),
    ("accuracy", "loglik_per_patient", "Held-out log-likelihood / patient", ".4f"),
    ("accuracy", "bic", "Training BIC", ",.1f"),
    ("interpretability", "edges", "Edges", "d"),
    ("interpretability", "parameters", "Free parameters", ",d"),
    ("interpretability", "markov_blanket_size", "Target's Markov blanket", "d"),
    ("interpretability", "mean_in_degree", "Mean in-degree", ".2f"),
    ("interpretability", "max_in_degree", "Max in-degree", "d"),
    ("interpretability", "longest_path", "Longest causal chain", "d"),
    ("interpretability", "endorsed_share", "Clinician-endorsed edges", "%"),
    ("interpretability", "supported_share", "Edges with data support", "%"),
    ("interpretability", "precedence_contradictions", "Against temporal order", "d"),
    # trust figures
    ("interpretability", "edges_against_temporal_order", "Against most co-patients' order", "d"),
    ("interpretability", "unresolved_edges", "Unresolved directions", "d"),
    ("interpretability", "implied_independence_failures", "Implied independencies failing", "d"),
    ("interpretability", "families_over_bound", "Families over the bound", "d"),
    ("interpretability", "latent_causes", "Unmeasured common causes (↔)", "d"),
    ("interpretability", "reference_precision", "Agreement with reference (precision)", "%"),
    ("interpretability", "reference_recall", "Agreement with reference (recall)", "%"),
)

BLUE, GREY, GREEN, RED = "#1b5e8c", "#9aa5b1", "#1a7f37", "#b42318"


def format_value(x: Any, fmt: str) -> str:
    """Format a metric for a clinician (:func:`kg_editor.model.report.format_value`, the
    one formatter); ``None``/NaN become an en dash.

    Examples
    --------
    >>> format_value(0.81234, ".3f"), format_value(None, ".3f"), format_value(0.5, "%")
    ('0.812', '–', '50.0%')
    """
    return report_format(x, fmt, missing="–")


def _format_delta(x: Any, fmt: str) -> str:
    return report_format(x, fmt, missing="–", signed=True)


def _pick(section: Mapping[str, Any], key: str, target: str | None) -> Mapping[str, Any] | None:
    row = section.get(key)
    if isinstance(row, Mapping) and "before" not in row and target is not None:
        row = row.get(target)  # per-target interpretability (Markov blanket size)
    return row if isinstance(row, Mapping) else None


def metric_rows(delta: Mapping[str, Any], target: str | None) -> list[dict[str, Any]]:
    """Rows ``{key, label, before, after, delta, ci, significant, direction}`` for the
    metrics present in ``delta`` (a ``ReportDelta.to_dict()``).

    ``direction`` is ``"better"``, ``"worse"`` or ``"neutral"`` from the metric registry.
    """
    out = []
    for section, key, label, fmt in METRIC_ROWS:
        if section == "target":
            src = (delta.get("targets") or {}).get(target or "", {})
            row = src.get(key) if isinstance(src.get(key), Mapping) else None
        else:
            row = _pick(delta.get(section) or {}, key, target)
        if row is None or (row.get("before") is None and row.get("after") is None):
            continue
        d = row.get("delta")
        spec = METRICS.get(key)
        hib = spec.higher_is_better if spec is not None else None
        direction = "neutral"
        if d is not None and hib is not None and abs(float(d)) > 1e-12:
            direction = "better" if (float(d) > 0) == bool(hib) else "worse"
        out.append(
            {
                "key": key,
                "label": label,
                "fmt": fmt,
                "before": row.get("before"),
                "after": row.get("after"),
                "delta": d,
                "ci": row.get("ci"),
                "significant": row.get("significant"),
                "direction": direction,
            }
        )
    return out


def metrics_table(delta: Mapping[str, Any], target: str | None, *, has_edit: bool) -> html.Table:
    """The before -> after table of every metric, deltas coloured, CIs where known."""
    head = html.Thead(
        html.Tr(
            [
                html.Th("Measure"),
                html.Th("Before", className="num"),
                html.Th(""),
                html.Th("After", className="num"),
                html.Th("Change", className="num"),
                html.Th("95% CI of change", className="num"),
            ]
        )
    )
    body = []
    for r in metric_rows(delta, target):
        ci = r["ci"]
        if ci:
            ci_text = f"[{_format_delta(ci[0], r['fmt'])}, {_format_delta(ci[1], r['fmt'])}]"
            ci_cell = html.Td(
                [
                    ci_text,
                    html.Span(
                        " real change" if r["significant"] else " within noise",
                        className="sig" if r["significant"] else "nosig",
                    ),
                ],
                className="num ci",
            )
        else:
            ci_cell = html.Td("", className="num ci")
        body.append(
            html.Tr(
                [
                    html.Td(
                        r["label"],
                        title=METRICS[r["key"]].description if r["key"] in METRICS else "",
                    ),
                    html.Td(format_value(r["before"], r["fmt"]), className="num before"),
                    html.Td("→", className="arrow"),
                    html.Td(format_value(r["after"], r["fmt"]), className="num after"),
                    html.Td(
                        _format_delta(r["delta"], r["fmt"]) if has_edit else "",
                        className=f"num delta {r['direction']}",
                    ),
                    ci_cell,
                ],
                id=f"metric-{r['key']}",
                **dict[str, Any]({"data-after": "" if r["after"] is None else repr(r["after"])}),
            )
        )
    return html.Table([head, html.Tbody(body)], className="metrics")


def subgroup_table(target_block: Mapping[str, Any] | None) -> html.Div:
    """AUROC and Brier per sex and age band, with the largest gap flagged."""
    if not target_block or not target_block.get("subgroups"):
        return html.Div("No subgroup figures for this target.", className="muted")
    rows = []
    for r in target_block["subgroups"]:
        rows.append(
            html.Tr(
                [
                    html.Td(str(r.get("attribute", "")).replace("_", " ")),
                    html.Td(str(r.get("group", ""))),
                    html.Td(str(suppress(r.get("n"))), className="num"),
                    html.Td(str(suppress(r.get("positives"))), className="num"),
                    html.Td(format_value(r.get("auroc"), ".3f"), className="num"),
                    html.Td(format_value(r.get("brier"), ".4f"), className="num"),
                ]
            )
        )
    gap = target_block.get("largest_gap") or {}
    note: Any = ""
    if gap.get("attribute"):
        text = (
            f"Largest AUROC gap: {format_value(gap.get('gap'), '.3f')} across "
            f"{str(gap['attribute']).replace('_', ' ')}"
        )
        note = html.Div(
            ("⚑ " + text + " (flagged)") if gap.get("flagged") else text,
            className="gap flagged" if gap.get("flagged") else "gap",
        )
    table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Subgroup"),
                        html.Th(""),
                        html.Th("Patients", className="num"),
                        html.Th("Cases", className="num"),
                        html.Th("AUROC", className="num"),
                        html.Th("Brier", className="num"),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="subgroups",
    )
    return html.Div([table, note])


_FONT = {
    "family": "Inter, Segoe UI, Roboto, Helvetica, Arial, sans-serif",
    "size": 11,
    "color": "#1f2933",
}
_AXIS = {
    "gridcolor": "#eef1f4",
    "zerolinecolor": "#d0d5dd",
    "linecolor": "#d0d5dd",
    "title": {"font": {"size": 11}},
}
_DIAG = {
    "x": [0, 1],
    "y": [0, 1],
    "mode": "lines",
    "line": {"color": "#d0d5dd", "dash": "dot"},
    "hoverinfo": "skip",
    "showlegend": False,
    "type": "scatter",
}

# Figures are plain dicts (plotly.js reads them as is): building plotly graph objects
# costs about 0.4 s per render here, which an interactive edit cannot afford.


def _figure(traces: list[dict[str, Any]], title: str, xt: str, yt: str) -> dict[str, Any]:
    return {
        "data": traces,
        "layout": {
            "title": {"text": title, "font": {"size": 13}, "x": 0.02},
            "margin": {"l": 44, "r": 10, "t": 34, "b": 36},
            "height": 250,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "legend": {
                "x": 0.98,
                "xanchor": "right",
                "y": 0.03,
                "yanchor": "bottom",
                "font": {"size": 10.5},
                "bgcolor": "rgba(255,255,255,0.85)",
            },
            "font": _FONT,
            "xaxis": {**_AXIS, "title": {"text": xt, "font": {"size": 11}}, "range": [0, 1]},
            "yaxis": {**_AXIS, "title": {"text": yt, "font": {"size": 11}}, "range": [0, 1.02]},
        },
    }


def roc_figure(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """ROC curves of the selected target, before and after the last edit, overlaid."""
    traces: list[dict[str, Any]] = [dict(_DIAG)]
    for block, name, colour, dash in (
        (before, "before", GREY, "dash"),
        (after, "after", BLUE, "solid"),
    ):
        roc = (block or {}).get("roc") or {}
        if roc.get("fpr"):
            au = (block or {}).get("auroc")
            traces.append(
                {
                    "type": "scatter",
                    "x": list(roc["fpr"]),
                    "y": list(roc["tpr"]),
                    "mode": "lines",
                    "name": f"{name} (AUROC {format_value(au, '.3f')})",
                    "line": {"color": colour, "dash": dash, "width": 2, "shape": "hv"},
                }
            )
    return _figure(traces, "ROC curve", "False-positive rate", "True-positive rate")


def calibration_figure(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Reliability diagram (observed rate against mean predicted risk per bin)."""
    traces: list[dict[str, Any]] = [dict(_DIAG)]
    for block, name, colour, dash in (
        (before, "before", GREY, "dash"),
        (after, "after", BLUE, "solid"),
    ):
        bins = [b for b in (block or {}).get("reliability") or [] if b.get("count")]
        if bins:
            traces.append(
                {
                    "type": "scatter",
                    "x": [b["mean_predicted"] for b in bins],
                    "y": [b["observed_rate"] for b in bins],
                    "mode": "lines+markers",
                    "name": f"{name} (ECE {format_value((block or {}).get('ece'), '.3f')})",
                    "line": {"color": colour, "dash": dash, "width": 2},
                    "marker": {"size": 6},
                }
            )
    return _figure(traces, "Calibration", "Predicted risk", "Observed rate")


def history_figure(steps: Sequence[Mapping[str, Any]], target: str | None) -> dict[str, Any]:
    """AUROC and held-out log-likelihood over the edit sequence (step 0 = start)."""
    xs = list(range(len(steps)))
    au = [((s.get("targets") or {}).get(target or "", {}) or {}).get("auroc") for s in steps]
    ll = [(s.get("accuracy") or {}).get("loglik_per_patient") for s in steps]
    return {
        "data": [
            {
                "type": "scatter",
                "x": xs,
                "y": au,
                "name": "AUROC",
                "mode": "lines+markers",
                "line": {"color": BLUE, "width": 2},
            },
            {
                "type": "scatter",
                "x": xs,
                "y": ll,
                "name": "Log-lik / patient",
                "mode": "lines+markers",
                "yaxis": "y2",
                "line": {"color": "#c2410c", "width": 2, "dash": "dot"},
            },
        ],
        "layout": {
            "title": {"text": "Over the edit sequence", "font": {"size": 13}, "x": 0.02},
            "margin": {"l": 48, "r": 52, "t": 34, "b": 36},
            "height": 260,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "legend": {"orientation": "h", "y": -0.32, "font": {"size": 10.5}},
            "font": _FONT,
            "xaxis": {
                **_AXIS,
                "title": {"text": "Step", "font": {"size": 11}},
                **({"dtick": 1} if len(xs) <= 12 else {"nticks": 8}),
            },
            "yaxis": {
                **_AXIS,
                "title": {"text": "AUROC", "font": {"size": 11}},
                "tickformat": ".3f",
            },
            "yaxis2": {
                **_AXIS,
                "title": {"text": "Log-lik", "font": {"size": 11}},
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
                "tickformat": ".3f",
            },
        },
    }
