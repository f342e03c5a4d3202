"""``kg-editor evaluate [SOURCE] --graph graph.json``: the report of a graph.

The graph file records the source, cohort options and constraints it was made with;
``evaluate`` rebuilds that cohort, so no option has to be typed again (an option typed
that differs from the recorded one is refused with a message naming it).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kg_editor.commands._common import (
    add_cohort_arguments,
    print_json,
    progress,
    workspace_for_graph,
)

if TYPE_CHECKING:
    from kg_editor.model.graph import CausalGraph
    from kg_editor.model.report import Report
    from kg_editor.model.session import EditSession
    from kg_editor.workspace import Workspace

__all__ = ["add_model_arguments", "print_report", "register", "session_from_args"]


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the fitted model shared by ``evaluate`` and ``edit``."""
    p.add_argument(
        "--estimator", choices=["bdeu", "mle"], default="bdeu", help="CPD estimator (default bdeu)"
    )
    p.add_argument(
        "--ess", type=float, default=10.0, help="BDeu equivalent sample size (default 10)"
    )
    p.add_argument(
        "--constraints",
        help="constraints file (YAML/JSON: required, forbidden, tiers); default: the ones the "
        "graph file records",
    )
    p.add_argument("--reference", help="a reference graph (JSON) to measure agreement with")
    p.add_argument(
        "--bootstrap", type=int, default=200, help="bootstrap resamples for CIs (default 200)"
    )


def session_from_args(
    args: argparse.Namespace, graph: CausalGraph, workspace: Workspace
) -> EditSession:
    """An editing session on ``graph`` with the model options of ``args`` (constraints:
    the file given, else the graph's recorded ones)."""
    from kg_editor.model.graph import CausalGraph, Constraints

    cohort = workspace.cohort()
    cons = (
        Constraints.from_file(args.constraints, domains=cohort.domains)
        if args.constraints
        else workspace.constraints()
    )
    ref = CausalGraph.from_json(args.reference) if args.reference else None
    with progress("Fitting the model"):
        return workspace.new_session(
            graph,
            constraints=cons,
            estimator=args.estimator,
            equivalent_sample_size=args.ess,
            reference=ref,
            bootstrap=args.bootstrap,
        )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="fit a graph on a cohort and print its accuracy + interpretability report",
        description="Fit GRAPH's CPDs on the training patients of SOURCE and print the report: "
        "held-out log-likelihood, BIC, the target's AUROC, Brier, calibration and subgroups, "
        "and the interpretability measures (see docs/metrics.md). SOURCE, --target and the "
        "cohort options default to the ones the graph file records.",
    )
    add_cohort_arguments(p, source_optional=True)
    p.add_argument(
        "--graph", "-g", required=True, help="graph JSON file (from `kg-editor distill`)"
    )
    add_model_arguments(p)
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kg_editor.data.privacy import protect_report
    from kg_editor.model.graph import CausalGraph

    graph = CausalGraph.from_json(args.graph)
    ws = workspace_for_graph(args, graph, source=args.source, what=f"The graph {args.graph}")
    session = session_from_args(args, graph, ws)
    report = session.report
    k = int(session.cohort.settings.get("min_cell", 11))
    if args.json:
        print_json({**protect_report(report.to_dict(), k), "provenance": ws.provenance()})
        return 0
    print_report(report, k)
    return 0


def _f(x: Any) -> str:
    from kg_editor.model.report import format_value

    return format_value(x)


def print_report(report: Report, k: int = 11) -> None:
    """The report as text; every count passes :func:`kg_editor.data.privacy.protect_report`."""
    from kg_editor.data.privacy import protect_report  # numpy/pandas: not at start-up

    shown = protect_report(report.to_dict(), k)
    acc = report.accuracy
    print(
        f"Held-out log-likelihood per patient: {_f(acc['loglik_per_patient'])}  ({acc['n_test']:,} patients)"
    )
    print(
        f"Training BIC: {_f(acc['bic'])}   BDeu: {_f(acc['bdeu'])}   ({acc['n_train']:,} patients)"
    )
    for _code, t in shown["targets"].items():
        print(
            f"\nTarget {t['label']}: AUROC {_f(t['auroc'])}, Brier {_f(t['brier'])}, accuracy {_f(t['accuracy'])}, ECE {_f(t['ece'])}"
        )
        for row in t["subgroups"]:
            print(
                f"  {row['attribute']}={row['group']:<10} n={row['n']:<6} AUROC {_f(row['auroc'])}  Brier {_f(row['brier'])}"
            )
        gap = t["largest_gap"]
        if gap.get("metric"):
            flag = "  <- flagged" if gap["flagged"] else ""
            print(f"  largest AUROC gap: {_f(gap['gap'])} across {gap['attribute']}{flag}")
    it = report.interpretability
    print(
        f"\nEdges {it['edges']}, parameters {it['parameters']}, in-degree mean {_f(it['mean_in_degree'])} / max "
        f"{it['max_in_degree']}, longest path {it['longest_path']}"
    )
    print(f"Markov blanket sizes: {it['markov_blanket_size']}")
    print(
        f"Endorsed by a clinician: {_f(it['endorsed_share'])}; significant data support: {_f(it['supported_share'])}; "
        f"precedence contradictions: {it['precedence_contradictions']}"
    )
    if it.get("reference_precision") is not None:
        print(
            f"Agreement with the reference: precision {_f(it['reference_precision'])}, recall {_f(it['reference_recall'])}"
        )
