"""``kg-editor distill SOURCE --target T --out graph.json``: distil a causal graph."""

from __future__ import annotations

import argparse

from kg_editor.commands._common import (
    add_cohort_arguments,
    print_json,
    progress,
    workspace_from_args,
)

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "distill",
        help="distil a causal graph with evidence on every edge",
        description="Build the cohort from SOURCE, compute pairwise co-occurrence statistics on the "
        "training patients, prune indirect associations, orient the edges (constraints, temporal "
        "precedence, colliders, score) and write the graph as kg-editor JSON.",
    )
    add_cohort_arguments(p)
    p.add_argument(
        "--out", "-o", default="graph.json", help="output graph file (default graph.json)"
    )
    p.add_argument(
        "--alpha", type=float, default=0.01, help="significance level of the tests (default 0.01)"
    )
    p.add_argument(
        "--min-count", type=int, default=11, help="patients needed with both variables (default 11)"
    )
    p.add_argument(
        "--min-effect", type=float, default=0.03, help="smallest Cramér's V / |phi| (default 0.03)"
    )
    p.add_argument(
        "--max-cond",
        type=int,
        default=3,
        help="largest conditioning set for pruning (default 3; edges of the target use at most 1)",
    )
    p.add_argument("--constraints", help="YAML/JSON constraints file (see docs/constraints.md)")
    p.add_argument(
        "--method",
        default="pc",
        help="structure method: pc (default), hc, assoc or any registered in "
        "kg_editor.discovery.distill.METHODS",
    )
    # domain tiers are an opt-in preset, not a default
    p.add_argument(
        "--domain-tiers",
        action="store_true",
        help="opt in to the domain-order preset (demographic -> drug -> condition -> findings); "
        "it forces drug -> condition, wrong for indications (see docs/constraints.md)",
    )
    p.add_argument(
        "--no-domain-tiers",
        action="store_true",
        help="kept for old scripts: domain tiers are off by default now",
    )
    p.add_argument(
        "--stability",
        type=int,
        default=30,
        help="resamples of the training patients for edge stability (default 30; 0 turns it off)",
    )
    p.add_argument(
        "--max-parents", type=int, default=6, help="largest in-degree of a family (default 6)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kg_editor.discovery.distill import DOMAIN_TIERS, METHODS
    from kg_editor.errors import KGEditorError

    if args.method not in METHODS:
        raise KGEditorError(
            f"Unknown structure method {args.method!r}; choose one of {', '.join(sorted(METHODS))}."
        )
    ws = workspace_from_args(args)
    cohort = ws.cohort(progress)
    d = ws.distill(
        progress,
        alpha=args.alpha,
        min_count=args.min_count,
        min_effect=args.min_effect,
        method=args.method,
        constraints=args.constraints,
        max_cond=args.max_cond,
        domain_tiers=DOMAIN_TIERS if args.domain_tiers and not args.no_domain_tiers else None,
        stability=args.stability,
        max_parents=args.max_parents,
    )
    g = d.graph_
    g.to_json(args.out)
    summary = d.summary()
    summary["out"] = str(args.out)
    if args.json:
        print_json(summary)
        return 0
    print(f"Source:     {cohort.source_name}")
    print(f"Patients:   {summary['patients_train']:,} training, {summary['variables']} variables")
    print(
        f"Pairs:      {summary['pairs_tested']:,} tested, {summary['candidates']} candidate associations"
    )
    print(f"Pruned:     {summary['pruned']} indirect associations ({summary['method']})")
    print(f"Edges:      {summary['edges']}")
    rules = ", ".join(f"{k} {v}" for k, v in summary["orientation_rules"].items())
    print(f"Oriented:   {rules or 'none'}")
    print(f"Cycles:     {len(summary['cycle_breaks'])} broken")
    unresolved = summary["orientation_rules"].get("unresolved", 0)
    print(f"Unresolved: {unresolved} directions the data cannot tell (resolve them in the editor)")
    if "stability" in summary:
        st = summary["stability"]
        print(
            f"Stability:  {st['unstable_edges']} edges in fewer than half of {st['resamples']} resamples"
        )
    for b in summary["cycle_breaks"]:
        print(
            f"            {' -> '.join(b['cycle_labels'])}: {b['action']} {b['edge'][0]} -> {b['edge'][1]}"
        )
    if cohort.target:
        t = cohort.target
        print(f"\nTarget {g.label(t)}: parents, children (odds ratio [95% CI], q, orientation)")
        for u, v in sorted(g.edges):
            if t not in (u, v):
                continue
            ev = g.edge_attrs(u, v)["evidence"]
            o = ev["measures"]["odds_ratio"]
            arrow = f"{g.label(u)} -> {g.label(v)}"
            print(
                f"  {arrow:<60} OR {_num(o.get('estimate'), '.2f')} [{_num(o.get('ci_low'), '.2f')}, "
                f"{_num(o.get('ci_high'), '.2f')}]  q{'<=' if ev['test'].get('bounded') else '='}"
                f"{_num(ev['test'].get('q'), '.1e')}  {ev['orientation']['rule']}"
            )
        print(f"Markov blanket: {len(g.markov_blanket(t))} variables")
    print(f"\nWrote {args.out} ({summary['timings']['total_s']:.2f} s)")
    return 0


def _num(x: float | None, fmt: str) -> str:
    """A figure for the text output; ``-`` when hidden (small-cell suppression) or unbounded."""
    return "-" if x is None else format(x, fmt)
