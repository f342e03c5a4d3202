"""The human-in-the-loop experiment: do clinician edits make the model better?

On data with a known truth (patients sampled from a medical network bundled with pgmpy,
turned into dated EHR-like events, or with ``form="wide"`` the same patients as an
undated wide table, where no recorded order helps the directions), distil a graph, then simulate a clinician who over
``rounds`` rounds reviews the session's top suggestions:

``oracle``
    accepts the first suggestion consistent with the true network, rejects the ones it
    read before it;
``proactive``
    does the same and also fixes one edge unprompted per round (a reversal to the true
    direction, else the removal of an edge absent from the truth);
``noisy``
    like ``oracle``, but in a share ``noise`` of the rounds makes a clinical misjudgement
    instead (removes a true edge, reverses a correctly oriented one, or adds a spurious
    link, at random), to see whether the report's deltas turn against such harmful edits.

After every accepted edit the full report is recorded. Reference lines: the distilled
graph (step 0) and the true graph fitted on the same cohort.

Examples
--------
>>> res = run_experiment(HITLConfig(network="asia", n_patients=2000, rounds=2, seeds=(0,),
...                                 arms=("oracle",)))
>>> sorted(res.records["arm"].unique().tolist())
['oracle']
>>> bool((res.records["step"] >= 0).all())
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kg_editor.data.cohort import Cohort, build_cohort
from kg_editor.errors import KGEditorError
from kg_editor.model.graph import AddEdge, CausalGraph, Edit, RemoveEdge, ReverseEdge

__all__ = [
    "ARMS",
    "DEFAULT_TARGETS",
    "HITLConfig",
    "HITLResult",
    "edit_is_consistent",
    "plot_experiment",
    "run_experiment",
    "summary_table",
]

logger = logging.getLogger(__name__)

#: The simulated clinicians.
ARMS = ("oracle", "proactive", "noisy")

#: A diagnosis node used as the target of each network.
DEFAULT_TARGETS = {"alarm": "HYPOVOLEMIA", "child": "Disease", "asia": "lung", "cancer": "Cancer"}

#: Metrics recorded after every accepted edit: (column, how to read it from a report dict).
METRIC_COLUMNS: dict[str, Callable[[dict[str, Any], str], Any]] = {
    "loglik_per_patient": lambda r, t: r["accuracy"]["loglik_per_patient"],
    "bic": lambda r, t: r["accuracy"]["bic"],
    "auroc": lambda r, t: r["targets"][t]["auroc"],
    "brier": lambda r, t: r["targets"][t]["brier"],
    "edges": lambda r, t: r["interpretability"]["edges"],
    "parameters": lambda r, t: r["interpretability"]["parameters"],
    "mean_in_degree": lambda r, t: r["interpretability"]["mean_in_degree"],
    "markov_blanket_size": lambda r, t: r["interpretability"]["markov_blanket_size"][t],
    "endorsed_share": lambda r, t: r["interpretability"]["endorsed_share"],
    "reference_precision": lambda r, t: r["interpretability"]["reference_precision"],
    "reference_recall": lambda r, t: r["interpretability"]["reference_recall"],
}


def edit_is_consistent(edit: Edit, true_edges: set[tuple[str, str]]) -> bool:
    """Whether a clinician who knows the true network would accept ``edit``.

    Examples
    --------
    >>> truth = {("a", "b")}
    >>> edit_is_consistent(AddEdge("a", "b"), truth), edit_is_consistent(ReverseEdge("b", "a"), truth)
    (True, True)
    >>> edit_is_consistent(RemoveEdge("a", "b"), truth), edit_is_consistent(RemoveEdge("a", "c"), truth)
    (False, True)
    """
    u, v = edit.source, edit.target
    if isinstance(edit, AddEdge):
        return (u, v) in true_edges
    if isinstance(edit, RemoveEdge):
        return (u, v) not in true_edges and (v, u) not in true_edges
    if isinstance(edit, ReverseEdge):
        return (v, u) in true_edges
    return False


def shd(graph: CausalGraph, true_edges: set[tuple[str, str]]) -> int:
    """Structural Hamming distance: missing + extra + reversed edges.

    Examples
    --------
    >>> shd(CausalGraph.from_edges([("b", "a"), ("a", "c")]), {("a", "b")})
    2
    """
    est = set(graph.edges)
    skel_true = {frozenset(e) for e in true_edges}
    skel_est = {frozenset(e) for e in est}
    reversed_ = sum(1 for u, v in est if (v, u) in true_edges)
    return len(skel_true - skel_est) + len(skel_est - skel_true) + reversed_


@dataclass
class HITLConfig:
    """Settings of one experiment (small by default; ``full()`` gives the full size).

    ``form`` is ``"events"`` (dated events) or ``"wide"`` (an undated wide table of the
    same patients)."""

    network: str = "alarm"
    target: str | None = None
    n_patients: int = 4000
    rounds: int = 8
    suggestions_per_round: int = 10
    seeds: Sequence[int] = (0, 1, 2)
    arms: Sequence[str] = ARMS
    noise: float = 0.3
    distiller: dict[str, Any] = field(default_factory=dict)
    bootstrap: int = 0
    form: str = "events"

    @classmethod
    def full(cls, network: str = "alarm") -> HITLConfig:
        """The full-size experiment: 20,000 patients, 25 rounds, 5 seeds."""
        return cls(network=network, n_patients=20_000, rounds=25, seeds=(0, 1, 2, 3, 4))


@dataclass
class HITLResult:
    """Per-step records of every arm and seed, and the reference lines."""

    config: HITLConfig
    records: pd.DataFrame
    references: pd.DataFrame
    accepted: pd.DataFrame


def _cohort_for(config: HITLConfig, seed: int) -> tuple[Cohort, set[tuple[str, str]], str]:
    from kg_editor.data.sources.synthetic import network_events

    syn = network_events(config.network, config.n_patients, seed=seed)
    target = config.target or DEFAULT_TARGETS.get(config.network.lower())
    cohort = build_cohort(
        syn.source if config.form == "events" else syn.wide_source(),
        target=target,
        min_patients=1,
        max_variables=10_000,
        include_demographics=False,
        seed=seed,
    )
    codes = set(cohort.codes)
    truth = {(u, v) for u, v in syn.true_edges if u in codes and v in codes}
    assert cohort.target is not None
    return cohort, truth, cohort.target


def _row(report: dict[str, Any], target: str) -> dict[str, Any]:
    out = {}
    for name, get in METRIC_COLUMNS.items():
        try:
            out[name] = get(report, target)
        except (KeyError, TypeError):
            out[name] = math.nan
    return out


def _unprompted_fix(session: Any, truth: set[tuple[str, str]], author: str) -> Any:
    """Reverse one wrongly oriented edge, else remove one edge absent from the truth."""
    edges = sorted(session.graph.edges)
    for u, v in edges:
        if (v, u) in truth:
            try:
                return session.reverse(u, v, author=author, rationale="unprompted: true direction")
            except KGEditorError:
                continue
    for u, v in edges:
        if (u, v) not in truth and (v, u) not in truth:
            try:
                return session.remove(
                    u, v, author=author, rationale="unprompted: not a causal link"
                )
            except KGEditorError:
                continue
    return None


def _wrong_edit(
    session: Any, truth: set[tuple[str, str]], rng: np.random.Generator, author: str
) -> Any:
    """A clinical misjudgement: remove a true edge, reverse a correctly oriented one, or
    add an edge absent from the truth, drawn at random among those the graph allows."""
    g = session.graph
    nodes = sorted(g.nodes)
    options: list[Edit] = []
    for u, v in sorted(g.edges):
        if (u, v) in truth:
            options.append(RemoveEdge(u, v, author=author, rationale="noisy: wrong removal"))
            options.append(ReverseEdge(u, v, author=author, rationale="noisy: wrong reversal"))
    for _ in range(50):
        u, v = rng.choice(nodes, 2, replace=False)
        if (
            (u, v) not in truth
            and (v, u) not in truth
            and not g.has_edge(u, v)
            and not g.has_edge(v, u)
        ):
            options.append(AddEdge(str(u), str(v), author=author, rationale="noisy: spurious link"))
            break
    for i in rng.permutation(len(options)):
        try:
            return session.apply(options[int(i)])
        except KGEditorError:
            continue
    return None


def _run_arm(
    arm: str,
    cohort: Cohort,
    graph: CausalGraph,
    truth: set[tuple[str, str]],
    target: str,
    config: HITLConfig,
    seed: int,
    reference: CausalGraph,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from kg_editor.model.session import EditSession

    rng = np.random.default_rng(seed * 1009 + len(arm))
    author = f"simulated-{arm}"
    session = EditSession(
        cohort,
        graph,
        targets=[target],
        reference=reference,
        author=author,
        bootstrap=config.bootstrap,
        seed=seed,
    )
    rows = [
        {
            "arm": arm,
            "seed": seed,
            "step": 0,
            "shd": shd(session.graph, truth),
            **_row(session.report.to_dict(), target),
        }
    ]
    accepted: list[dict[str, Any]] = []
    step = 0
    for rnd in range(config.rounds):
        deltas: list[tuple[Any, bool, Any, str]] = []
        if arm == "noisy" and rng.random() < config.noise:
            d = _wrong_edit(session, truth, rng, author)
            if d is not None:
                deltas.append((session.history[-1].edit, False, d, "wrong"))
        else:
            suggestions = session.suggestions(k=config.suggestions_per_round)
            for s in suggestions:
                if edit_is_consistent(s.edit, truth):
                    for other in suggestions:
                        if other is s:
                            break
                        session.reject(other)
                    deltas.append((s.edit, True, session.accept(s), "suggested"))
                    break
        if arm == "proactive":
            d = _unprompted_fix(session, truth, author)
            if d is not None:
                deltas.append((session.history[-1].edit, True, d, "unprompted"))
        for edit_, ok, delta, how in deltas:
            edit: Edit = edit_
            step += 1
            rep = session.report.to_dict()
            rows.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "step": step,
                    "round": rnd + 1,
                    "shd": shd(session.graph, truth),
                    **_row(rep, target),
                }
            )
            dd = delta.to_dict()
            accepted.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "step": step,
                    "how": how,
                    "edit": f"{edit.kind} {edit.source} -> {edit.target}",
                    "consistent_with_truth": ok,
                    "delta_loglik": delta.loglik_delta,
                    "delta_auroc": delta.auroc_delta(target),
                    "delta_bic": _metric_delta(dd, "bic"),
                }
            )
        if not deltas:
            logger.info("arm %s seed %d round %d: nothing to accept", arm, seed, rnd + 1)
    return rows, accepted


def _metric_delta(delta: dict[str, Any], name: str) -> float:
    acc = delta.get("accuracy", {})
    item = acc.get(name) if isinstance(acc, dict) else None
    if isinstance(item, dict) and item.get("delta") is not None:
        return float(item["delta"])
    return math.nan


def run_experiment(
    config: HITLConfig | None = None, progress: Callable[[str], None] | None = None
) -> HITLResult:
    """Run every arm for every seed; return per-step records and reference lines."""
    from kg_editor.discovery.distill import Distiller
    from kg_editor.model.session import EditSession

    config = config or HITLConfig()
    if config.form not in ("events", "wide"):
        raise KGEditorError(f"Unknown form {config.form!r}; choose 'events' or 'wide'.")
    rows: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    acc: list[dict[str, Any]] = []
    for seed in config.seeds:
        cohort, truth, target = _cohort_for(config, seed)
        true_graph = CausalGraph.from_edges(sorted(truth), nodes=cohort.codes, labels=cohort.labels)
        distilled = Distiller(**config.distiller).fit(cohort).graph_
        for name, g in (("distilled", distilled), ("true graph", true_graph)):
            s = EditSession(cohort, g, targets=[target], reference=true_graph, bootstrap=0)
            refs.append(
                {
                    "reference": name,
                    "seed": seed,
                    "shd": shd(g, truth),
                    **_row(s.report.to_dict(), target),
                }
            )
        for arm in config.arms:
            if progress:
                progress(f"{config.network}: seed {seed}, arm {arm}")
            r, a = _run_arm(arm, cohort, distilled, truth, target, config, seed, true_graph)
            rows.extend(r)
            acc.extend(a)
    return HITLResult(
        config=config,
        records=pd.DataFrame(rows),
        references=pd.DataFrame(refs),
        accepted=pd.DataFrame(acc),
    )


def _mean_ci(values: Iterable[float]) -> tuple[float, float, float]:
    """Mean and a 95% t-interval over seeds."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if len(x) < 2:
        return m, math.nan, math.nan
    from scipy import stats

    h = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return m, m - h, m + h


def summary_table(
    result: HITLResult,
    metrics: Sequence[str] = (
        "loglik_per_patient",
        "auroc",
        "brier",
        "shd",
        "edges",
        "parameters",
        "reference_precision",
        "reference_recall",
    ),
) -> pd.DataFrame:
    """Start vs end of each arm, mean with a 95% CI over seeds, and the true graph."""
    rec = result.records
    out = []
    for arm, grp in rec.groupby("arm", sort=False):
        start = grp[grp["step"] == 0].set_index("seed")
        end = grp.sort_values("step").groupby("seed").tail(1).set_index("seed")
        for m in metrics:
            s, e = start[m], end[m]
            d = (e - s.reindex(e.index)).to_numpy()
            sm, _, _ = _mean_ci(s)
            em, _, _ = _mean_ci(e)
            dm, dlo, dhi = _mean_ci(d)
            out.append(
                {
                    "arm": arm,
                    "metric": m,
                    "start": sm,
                    "end": em,
                    "change": dm,
                    "change_ci_low": dlo,
                    "change_ci_high": dhi,
                }
            )
    table = pd.DataFrame(out)
    truth = result.references[result.references["reference"] == "true graph"]
    table["true_graph"] = table["metric"].map(
        {m: _mean_ci(truth[m])[0] for m in metrics if m in truth}
    )
    return table


def plot_experiment(
    result: HITLResult,
    metrics: Sequence[str] = (
        "loglik_per_patient",
        "auroc",
        "brier",
        "shd",
        "parameters",
        "reference_precision",
    ),
) -> Any:
    """Metrics against the number of accepted edits, mean over seeds, per arm; the
    distilled and true graphs as reference lines. Returns a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(metrics)
    cols = 3
    fig, axes = plt.subplots(
        math.ceil(n / cols), cols, figsize=(4.2 * cols, 3.2 * math.ceil(n / cols)), squeeze=False
    )
    rec = result.records
    refs = result.references
    for ax, m in zip(axes.flat, metrics, strict=False):
        for arm, grp in rec.groupby("arm", sort=False):
            # a seed that ran out of edits keeps its last value, so the mean does not
            # jump when fewer seeds remain
            wide = grp.pivot_table(index="step", columns="seed", values=m, aggfunc="last")
            mean = wide.ffill().mean(axis=1)
            ax.plot(mean.index, mean.to_numpy(), marker="o", ms=3, label=arm)
        for ref, style in (("distilled", ":"), ("true graph", "--")):
            vals = refs.loc[refs["reference"] == ref, m]
            if len(vals):
                ax.axhline(float(vals.mean()), ls=style, color="grey", label=ref)
        ax.set_title(m.replace("_", " "))
        ax.set_xlabel("accepted edits")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(
        f"Simulated clinician edits on {result.config.network.upper()} ({result.config.form}, {result.config.n_patients:,} patients, {len(result.config.seeds)} seeds)"
    )
    fig.tight_layout()
    return fig
