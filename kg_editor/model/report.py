"""The report shown after every edit, its delta to the previous one, and the metric registry.

A :class:`Report` is plain data (JSON-serialisable through :meth:`Report.to_dict`): the
accuracy block (held-out log-likelihood per patient, training BIC and BDeu), one block per
target (AUROC, Brier, accuracy, calibration, ROC points, subgroups) and the
interpretability block. :class:`ReportDelta` pairs two reports and adds paired-bootstrap
confidence intervals for the change in AUROC and held-out log-likelihood.

Every numeric measure is registered in :data:`METRICS` with its formula; the tests check
that every figure a report carries is registered and documented in ``docs/metrics.md``.

Examples
--------
>>> r1 = Report(accuracy={"loglik_per_patient": -3.0, "bic": -900.0}, targets={},
...             interpretability={"edges": 4})
>>> r2 = Report(accuracy={"loglik_per_patient": -2.5, "bic": -880.0}, targets={},
...             interpretability={"edges": 5})
>>> d = ReportDelta(r1, r2)
>>> d.to_dict()["accuracy"]["loglik_per_patient"]["delta"]
0.5
>>> Report.from_dict(r2.to_dict()) == r2
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from kg_editor.jsonsafe import json_safe

__all__ = [
    "METRICS",
    "AccuracyBlock",
    "GapBlock",
    "GroupGap",
    "InterpretabilityBlock",
    "MetricSpec",
    "Report",
    "ReportDelta",
    "SubgroupRow",
    "TargetBlock",
    "format_value",
    "register_metric",
]


# ---------------------------------------------------------------------------------
# The report's blocks, typed (a typo in a key is a type error, not a silent None)
# ---------------------------------------------------------------------------------
class AccuracyBlock(TypedDict, total=False):
    """Fit of the whole network: held-out and training likelihood, scores, sizes."""

    loglik_per_patient: float | None
    bic: float
    bdeu: float
    loglik_train: float
    n_train: int
    n_test: int


class SubgroupRow(TypedDict, total=False):
    """A target's figures in one subgroup (e.g. ``sex=F``)."""

    attribute: str
    group: str
    n: int
    positives: int
    auroc: float | None
    brier: float | None


class GroupGap(TypedDict):
    """The gap of one metric between the best and the worst group of an attribute."""

    attribute: str
    gap: float
    best: str
    worst: str


class GapBlock(TypedDict, total=False):
    """The largest between-group difference within one attribute (AUROC; Brier too)."""

    metric: str | None
    attribute: str | None
    gap: float
    flagged: bool
    auroc_gap: GroupGap
    brier_gap: GroupGap


class TargetBlock(TypedDict, total=False):
    """Prediction of one target from its Markov blanket on the held-out patients."""

    label: str
    reference_state: str
    n: int
    prevalence: float
    auroc: float | None
    brier: float | None
    accuracy: float | None
    ece: float | None
    reliability: list[dict[str, Any]]
    roc: dict[str, list[float]]
    subgroups: list[SubgroupRow]
    largest_gap: GapBlock


class InterpretabilityBlock(TypedDict, total=False):
    """How readable the graph is (see :func:`kg_editor.model.metrics.interpretability`)."""

    nodes: int
    edges: int
    parameters: int
    mean_in_degree: float
    max_in_degree: int
    markov_blanket_size: dict[str, int]
    longest_path: int
    endorsed_share: float | None
    supported_share: float | None
    edges_with_evidence: int
    reference_precision: float | None
    reference_recall: float | None
    precedence_contradictions: int
    contradicting_edges: list[list[str]]


def format_value(x: Any, fmt: str = ".4g", *, missing: str = "n/a", signed: bool = False) -> str:
    """The one number formatter of reports, for the CLI and the web page alike.

    Parameters
    ----------
    x : number, None or str
        ``None``, NaN and infinities print as ``missing``; text prints as it is.
    fmt : str
        A format spec (``".3f"``, ``".4g"``, ``"d"``), or ``"%"`` for a share shown as a
        percentage (``"pts"`` of change when ``signed``).
    signed : bool
        Show the sign (a change).

    Examples
    --------
    >>> format_value(0.123456), format_value(None), format_value(float("nan"), missing="-")
    ('0.1235', 'n/a', '-')
    >>> format_value(7), format_value(0.5, "%"), format_value(-0.012, "%", signed=True)
    ('7', '50.0%', '-1.2 pts')
    >>> format_value(3.0, "d", signed=True), format_value(0.81234, ".3f")
    ('+3', '0.812')
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return missing
    if isinstance(x, str | bool) or (
        not isinstance(x, int | float) and not hasattr(x, "__float__")
    ):
        return str(x)
    sign = "+" if signed else ""
    if fmt == "%":
        return f"{100 * float(x):{sign}.1f}" + (" pts" if signed else "%")
    if fmt.endswith("d"):
        return format(round(float(x)), sign + fmt)
    if isinstance(x, int) and fmt == ".4g":
        return f"{x:{sign}d}"
    return format(float(x), sign + fmt)


@dataclass(frozen=True)
class MetricSpec:
    """A registered measure: where it lives in the report, its formula, its direction."""

    name: str
    section: str  # "accuracy", "target" or "interpretability"
    formula: str
    description: str
    higher_is_better: bool | None = True


#: Every numeric figure a report carries, by name.
METRICS: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add a measure to :data:`METRICS` (extensions use the same hook as the built-ins)."""
    METRICS[spec.name] = spec
    return spec


for _spec in (
    MetricSpec(
        "loglik_per_patient",
        "accuracy",
        "(1/n_test) sum_i sum_v log P(x_iv | x_i,Pa(v))",
        "Held-out log-likelihood per patient under the fitted CPDs.",
    ),
    MetricSpec(
        "bic",
        "accuracy",
        "sum_v [ sum_jk N_vjk log(N_vjk / N_vj) - log(N)/2 q_v (r_v - 1) ]",
        "Training BIC (pgmpy structure_score.BIC).",
    ),
    MetricSpec(
        "bdeu",
        "accuracy",
        "sum_v sum_j [lgamma(a) - lgamma(a + N_vj) + sum_k (lgamma(b + N_vjk) - lgamma(b))], a = ess/q_v, b = ess/(r_v q_v)",
        "Training BDeu log marginal likelihood (pgmpy structure_score.BDeu).",
    ),
    MetricSpec(
        "loglik_train",
        "accuracy",
        "sum_v sum_jk N_vjk log(N_vjk / N_vj)",
        "Training log-likelihood at the maximum-likelihood CPDs.",
    ),
    MetricSpec(
        "auroc",
        "target",
        "(sum of ranks of positives - n1(n1+1)/2) / (n1 n0), ties at mean rank",
        "Area under the ROC curve of P(target != reference state | rest) on held-out patients.",
    ),
    MetricSpec(
        "brier",
        "target",
        "(1/n) sum_i (p_i - y_i)^2",
        "Brier score of P(target != reference state).",
        higher_is_better=False,
    ),
    MetricSpec(
        "accuracy",
        "target",
        "(1/n) sum_i [argmax_t P(T = t | rest_i) = t_i]",
        "Share of held-out patients whose most probable target state is right.",
    ),
    MetricSpec(
        "ece",
        "target",
        "sum_b (n_b/n) |mean_b(y) - mean_b(p)| over 10 equal-width bins",
        "Expected calibration error.",
        higher_is_better=False,
    ),
    MetricSpec(
        "prevalence",
        "target",
        "(1/n) sum_i y_i",
        "Held-out share not in the reference state.",
        None,
    ),
    MetricSpec("edges", "interpretability", "|E|", "Number of edges.", None),
    MetricSpec("nodes", "interpretability", "|V|", "Number of variables.", None),
    MetricSpec(
        "parameters",
        "interpretability",
        "sum_v q_v (r_v - 1)",
        "Free parameters of the CPDs.",
        higher_is_better=False,
    ),
    MetricSpec("mean_in_degree", "interpretability", "|E| / |V|", "Mean number of parents.", False),
    MetricSpec(
        "max_in_degree", "interpretability", "max_v |Pa(v)|", "Largest number of parents.", False
    ),
    MetricSpec(
        "markov_blanket_size",
        "interpretability",
        "|Pa(T) u Ch(T) u Pa(Ch(T)) \\ {T}|",
        "Size of each target's Markov blanket.",
        False,
    ),
    MetricSpec(
        "longest_path",
        "interpretability",
        "edges on the longest directed path",
        "Length of the longest causal chain.",
        None,
    ),
    MetricSpec(
        "endorsed_share",
        "interpretability",
        "|{e : provenance(e) = clinician or endorsed(e)}| / |E|",
        "Share of edges added or endorsed by a clinician.",
    ),
    MetricSpec(
        "supported_share",
        "interpretability",
        "|{e : q(e) < alpha}| / |E|",
        "Share of edges with significant data support (edges without a q-value count as unsupported).",
    ),
    MetricSpec(
        "edges_with_evidence",
        "interpretability",
        "|{e : q(e) present}|",
        "Edges carrying a q-value in their evidence.",
        None,
    ),
    MetricSpec(
        "reference_precision",
        "interpretability",
        "|E n R| / |E|",
        "Share of edges also in the reference graph R.",
    ),
    MetricSpec(
        "reference_recall", "interpretability", "|E n R| / |R|", "Share of reference edges present."
    ),
    MetricSpec(
        "unresolved_edges",
        "interpretability",
        "|{e : direction unresolved}|",
        "Edges whose direction the data cannot tell; the stored direction is only the one used for fitting.",
        False,
    ),
    MetricSpec(
        "edges_against_temporal_order",
        "interpretability",
        "|{u -> v : among co-patients with both dated, v recorded first in more than half}|",
        "Edges pointing against the recorded order of most co-patients (unresolved edges included).",
        False,
    ),
    MetricSpec(
        "asserted_edges_against_temporal_order",
        "interpretability",
        "|{u -> v resolved : v recorded first in more than half of co-patients}|",
        "Resolved edges pointing against the recorded order of most co-patients.",
        False,
    ),
    MetricSpec(
        "families_over_bound",
        "interpretability",
        "|{v : |Pa(v)| > 6 or (r_v - 1) prod r_Pa(v) > n_train / 10}|",
        "Families with too many parents or too many free parameters per training patient.",
        False,
    ),
    MetricSpec(
        "latent_causes",
        "interpretability",
        "|{A <-> B}|",
        "Pairs said to share an unmeasured common cause; they shape the implied independencies "
        "and adjustment sets, not the fitted model.",
        None,
    ),
    MetricSpec(
        "implied_independencies",
        "interpretability",
        "|{(x, y) unlinked : a minimal separating set exists}|",
        "Independencies the graph implies (one minimal separating set per unlinked pair).",
        None,
    ),
    MetricSpec(
        "implied_independence_failures",
        "interpretability",
        "|{x _||_ y | S implied : BH q < alpha, >= 5 patients per cell}|",
        "Implied independencies the training data contradict (chi-square, Benjamini-Hochberg).",
        False,
    ),
    MetricSpec(
        "implied_independence_sparse",
        "interpretability",
        "|{x _||_ y | S implied : < 5 patients per cell}|",
        "Implied independencies whose tables are too sparse to test reliably (not counted as failures).",
        None,
    ),
    MetricSpec(
        "implied_independence_skipped",
        "interpretability",
        "|{x _||_ y | S implied : |S| > 12}|",
        "Implied independencies with a separating set too large to test.",
        None,
    ),
    MetricSpec(
        "precedence_contradictions",
        "interpretability",
        "|{u -> v : P(v recorded before u) > 1/2, binomial p < alpha}|",
        "Edges whose target is recorded significantly earlier than their source.",
        False,
    ),
):
    register_metric(_spec)


@dataclass
class Report:
    """Accuracy and interpretability of one graph version (plain, JSON-ready data).

    Attributes
    ----------
    accuracy : dict
        ``loglik_per_patient``, ``bic``, ``bdeu``, ``loglik_train``, ``n_train``, ``n_test``.
    targets : dict
        Target code -> ``auroc``, ``brier``, ``accuracy``, ``ece``, ``reliability``,
        ``roc``, ``subgroups``, ``largest_gap``, ``label``, ``n``, ``prevalence``.
    interpretability : dict
        See :func:`kg_editor.model.metrics.interpretability`.
    settings : dict
        Estimator, equivalent sample size, alpha.
    """

    accuracy: AccuracyBlock
    targets: dict[str, TargetBlock]
    interpretability: InterpretabilityBlock
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        accuracy: Mapping[str, Any],
        targets: Mapping[str, Mapping[str, Any]],
        interpretability: Mapping[str, Any],
        settings: Mapping[str, Any] | None = None,
    ) -> Report:
        """A report from the plain mappings the metrics compute (the blocks' keys)."""
        return cls(
            accuracy=cast(AccuracyBlock, dict(accuracy)),
            targets={k: cast(TargetBlock, dict(v)) for k, v in targets.items()},
            interpretability=cast(InterpretabilityBlock, dict(interpretability)),
            settings=dict(settings or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (NaN and infinities become ``null``)."""
        return json_safe(
            {
                "accuracy": self.accuracy,
                "targets": self.targets,
                "interpretability": self.interpretability,
                "settings": self.settings,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls.build(
            data.get("accuracy", {}),
            data.get("targets", {}),
            data.get("interpretability", {}),
            data.get("settings", {}),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Report):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def summary(self) -> dict[str, Any]:
        """The headline numbers only (no curves, bins or subgroups)."""
        tg = {
            t: {k: v for k, v in r.items() if k in ("label", "auroc", "brier", "accuracy", "ece")}
            for t, r in self.targets.items()
        }
        return json_safe(
            {"accuracy": self.accuracy, "targets": tg, "interpretability": self.interpretability}
        )


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _pair(before: Any, after: Any) -> dict[str, Any]:
    b, a = json_safe(before), json_safe(after)
    delta = a - b if _num(a) and _num(b) else None
    return {"before": b, "after": a, "delta": delta}


class ReportDelta:
    """The change from one report to the next, with paired-bootstrap CIs.

    Parameters
    ----------
    before, after : Report
    ci : dict or callable, optional
        ``{"loglik_per_patient": (lo, hi), "targets": {code: {"auroc": (lo, hi)}}}``, or a
        function returning it (computed on first use, so an edit answers at once).
    edit : dict, optional
        The edit that led from ``before`` to ``after``.
    level : float
        Confidence level of the intervals.
    """

    def __init__(
        self,
        before: Report,
        after: Report,
        ci: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        edit: Mapping[str, Any] | None = None,
        level: float = 0.95,
    ):
        self.before = before
        self.after = after
        self.edit = dict(edit) if edit else None
        self.level = level
        self._ci_source = ci
        self._ci: dict[str, Any] | None = None if callable(ci) else dict(ci or {})

    @property
    def ci(self) -> dict[str, Any]:
        """Confidence intervals of the deltas (computed on first use)."""
        if self._ci is None:
            src = self._ci_source
            self._ci = dict(src()) if callable(src) else {}
        return self._ci

    def _target_ci(self, code: str, metric: str) -> tuple[float, float] | None:
        v = self.ci.get("targets", {}).get(code, {}).get(metric)
        return (float(v[0]), float(v[1])) if v is not None else None

    @property
    def loglik_delta(self) -> float | None:
        return _pair(
            self.before.accuracy.get("loglik_per_patient"),
            self.after.accuracy.get("loglik_per_patient"),
        )["delta"]

    def auroc_delta(self, target: str) -> float | None:
        b = self.before.targets.get(target, {}).get("auroc")
        a = self.after.targets.get(target, {}).get("auroc")
        return _pair(b, a)["delta"]

    def to_dict(self) -> dict[str, Any]:
        """For every numeric metric ``before``, ``after``, ``delta``; CIs and a
        ``significant`` flag (the CI excludes 0) where a CI exists."""
        acc = {}
        for k in sorted(set(self.before.accuracy) | set(self.after.accuracy)):
            b, a = self.before.accuracy.get(k), self.after.accuracy.get(k)
            if _num(b) or _num(a):
                acc[k] = _pair(b, a)
        ll_ci = self.ci.get("loglik_per_patient")
        if ll_ci is not None and "loglik_per_patient" in acc:
            acc["loglik_per_patient"].update(_ci_fields(ll_ci))
        tg: dict[str, Any] = {}
        for code in sorted(set(self.before.targets) | set(self.after.targets)):
            b_t, a_t = self.before.targets.get(code, {}), self.after.targets.get(code, {})
            row: dict[str, Any] = {"label": a_t.get("label", b_t.get("label", code))}
            for k in ("auroc", "brier", "accuracy", "ece", "prevalence"):
                if k in b_t or k in a_t:
                    row[k] = _pair(b_t.get(k), a_t.get(k))
                    c = self._target_ci(code, k)
                    if c is not None:
                        row[k].update(_ci_fields(c))
            tg[code] = row
        it: dict[str, Any] = {}
        ib: Mapping[str, Any] = self.before.interpretability
        ia: Mapping[str, Any] = self.after.interpretability
        for k in sorted(set(ib) | set(ia)):
            b, a = ib.get(k), ia.get(k)
            if isinstance(b, Mapping) or isinstance(a, Mapping):
                b, a = b or {}, a or {}
                it[k] = {t: _pair(b.get(t), a.get(t)) for t in sorted(set(b) | set(a))}
            elif _num(b) or _num(a):
                it[k] = _pair(b, a)
        significant = {
            "loglik_per_patient": acc.get("loglik_per_patient", {}).get("significant"),
            "targets": {c: r.get("auroc", {}).get("significant") for c, r in tg.items()},
        }
        return json_safe(
            {
                "edit": self.edit,
                "level": self.level,
                "accuracy": acc,
                "targets": tg,
                "interpretability": it,
                "significant": significant,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], before: Report, after: Report) -> ReportDelta:
        """Rebuild from :meth:`to_dict` output and the two reports."""
        ci: dict[str, Any] = {"targets": {}}
        ll = data.get("accuracy", {}).get("loglik_per_patient", {})
        if ll.get("ci") is not None:
            ci["loglik_per_patient"] = tuple(ll["ci"])
        for code, row in data.get("targets", {}).items():
            for k, v in row.items():
                if isinstance(v, Mapping) and v.get("ci") is not None:
                    ci["targets"].setdefault(code, {})[k] = tuple(v["ci"])
        return cls(
            before, after, ci=ci, edit=data.get("edit"), level=float(data.get("level", 0.95))
        )

    def summary(self) -> str:
        """One line per headline figure, for a terminal."""
        d = self.to_dict()
        lines = []
        ll = d["accuracy"].get("loglik_per_patient")
        if ll:
            lines.append(_line("Held-out log-likelihood per patient", ll))
        bic = d["accuracy"].get("bic")
        if bic:
            lines.append(_line("Training BIC", bic))
        for _code, row in d["targets"].items():
            for k in ("auroc", "brier"):
                if k in row:
                    lines.append(_line(f"{row['label']}: {k.upper()}", row[k]))
        for k in ("edges", "parameters"):
            if k in d["interpretability"]:
                lines.append(_line(k.capitalize(), d["interpretability"][k]))
        return "\n".join(lines)


def _ci_fields(ci: Any) -> dict[str, Any]:
    lo, hi = float(ci[0]), float(ci[1])
    sig = bool(lo > 0 or hi < 0) if math.isfinite(lo) and math.isfinite(hi) else None
    return {"ci": [lo, hi], "significant": sig}


def _line(name: str, row: Mapping[str, Any]) -> str:
    s = f"{name}: {format_value(row.get('before'))} -> {format_value(row.get('after'))} (change {format_value(row.get('delta'))}"
    if row.get("ci"):
        lo, hi = row["ci"]
        s += f", 95% CI {format_value(lo)} to {format_value(hi)}"
        s += ", significant" if row.get("significant") else ", within noise"
    return s + ")"
