"""``kg-editor counts export|validate|pool``: count tables instead of patient rows.

* ``export SOURCE --graph G --target T --out DIR`` writes a site's suppressed count
  tables for the graph's variables (threshold and remainder stated in
  ``DIR/manifest.json``);
* ``validate SOURCE --graph G --target T --site DIR ...`` fits the graph on SOURCE and
  prints its internal (held-out) accuracy beside its accuracy at each site, computed
  from that site's tables;
* ``pool --site DIR ... --out model.json`` fits the CPDs from the summed family tables
  of several sites (equal to fitting their pooled rows).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from kg_editor.commands._common import (
    add_cohort_arguments,
    cohort_from_args,
    print_json,
    progress,
    workspace_for_graph,
)

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "counts",
        help="export a site's suppressed count tables; validate or pool models from them",
        description="Move counts, not patients: export a site's count tables for a graph, "
        "validate a model on other sites from their tables, or fit from several sites' tables.",
    )
    act = p.add_subparsers(dest="counts_command", metavar="ACTION")

    e = act.add_parser(
        "export",
        help="write this site's count tables for a graph's variables",
        description="Count SOURCE's patients for every family of GRAPH and the Markov blanket "
        "of each target (with sex and age band), leave out rows with fewer than --min-cell "
        "patients, and write the tables and a manifest (threshold, remainders) into --out.",
    )
    add_cohort_arguments(e, target_required=True)
    e.add_argument("--graph", "-g", required=True, help="graph JSON file")
    e.add_argument("--out", "-o", required=True, help="folder to write (manifest.json, tables/)")
    # --min-cell (suppress rows with fewer patients; default 11, the usual release rule)
    # is the cohort option every data command takes
    e.add_argument("--site", default=None, help="site name written in the manifest")
    e.add_argument(
        "--split",
        choices=("all", "train", "test"),
        default="all",
        help="which patients to count (default all: the site is external)",
    )
    e.set_defaults(func=run_export)

    v = act.add_parser(
        "validate",
        help="internal vs external accuracy of a graph, from other sites' count tables",
    )
    add_cohort_arguments(v, target_required=True)
    v.add_argument("--graph", "-g", required=True, help="graph JSON file")
    v.add_argument(
        "--site", action="append", required=True, help="a folder from `counts export` (repeat)"
    )
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=run_validate)

    q = act.add_parser("pool", help="fit CPDs from the summed family tables of several sites")
    q.add_argument(
        "--site", action="append", required=True, help="a folder from `counts export` (repeat)"
    )
    q.add_argument("--estimator", choices=["bdeu", "mle"], default="bdeu")
    q.add_argument("--ess", type=float, default=10.0, help="BDeu equivalent sample size")
    q.add_argument("--out", "-o", help="write the pooled model (JSON) here; default stdout")
    q.set_defaults(func=run_pool)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def run_export(args: argparse.Namespace) -> int:
    from kg_editor.data.privacy import DEFAULT_MIN_CELL
    from kg_editor.model.external import SiteCounts
    from kg_editor.model.graph import CausalGraph

    graph = CausalGraph.from_json(args.graph)
    k = DEFAULT_MIN_CELL if args.min_cell is None else int(args.min_cell)
    if "://" in str(args.source) and args.split == "all":
        # a database or warehouse: the tables are counted and suppressed inside it, so
        # nothing but the kept rows of the tables leaves it
        from kg_editor.engines import EngineSource

        src = EngineSource.open(
            args.source, args.events_table or "events", args.persons_table
        ).prepared(  # concept sets and an index date, applied inside the engine too
            args.target,
            concepts=args.concepts,
            index=args.index,
            lookback_days=args.lookback_days,
            outcome_days=args.outcome_days,
            age_at=args.age_at,
        )
        with progress("Counting in the engine"):
            site = SiteCounts.from_engine(
                src, graph, [args.target] if args.target else [], min_cell=k, site=args.site
            )
    else:
        cohort = cohort_from_args(args)
        with progress("Counting"):
            site = SiteCounts.from_cohort(
                cohort,
                graph,
                [cohort.target] if cohort.target else [],
                min_cell=k,
                site=args.site or str(args.source),
                split=args.split,
            )
    out = site.write(args.out)
    supp = sum(t.remainder[1] for t in site.tables.values())
    print(
        f"Wrote {len(site.tables)} count tables for {site.patients:,} patients to {out} "
        f"(rows with fewer than {k} patients suppressed: {supp:,} patient-rows in all; "
        "per-table remainders in manifest.json)."
    )
    return 0


def _fmt(x: Any) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def run_validate(args: argparse.Namespace) -> int:
    from kg_editor.commands.evaluate import session_from_args
    from kg_editor.model.external import SiteCounts, side_by_side
    from kg_editor.model.graph import CausalGraph

    graph = CausalGraph.from_json(args.graph)
    ns = argparse.Namespace(
        **vars(args), estimator="bdeu", ess=10.0, constraints=None, reference=None, bootstrap=0
    )
    ws = workspace_for_graph(ns, graph, source=args.source, what=f"The graph {args.graph}")
    session = session_from_args(ns, graph, ws)
    results: list[dict[str, Any]] = []
    for folder in args.site:
        site = SiteCounts.read(folder)
        ext = session.external(site)
        results.append(
            {"site": site.site, "external": ext, "rows": side_by_side(session.report, ext)}
        )
    if args.json:
        print_json({"internal": session.report.to_dict(), "sites": results})
        return 0
    header = f"{'metric':<34} {'internal':>10}" + "".join(f" {r['site'][:14]:>14}" for r in results)
    print(header)
    for i, row in enumerate(results[0]["rows"]):
        name = row["metric"] if row["target"] is None else f"{row['target']}: {row['metric']}"
        cells = "".join(f" {_fmt(r['rows'][i]['external']):>14}" for r in results)
        print(f"{name:<34} {_fmt(row['internal']):>10}{cells}")
    for r in results:
        print(f"\n{r['site']}: {r['external']['patients']:,} patients; {r['external']['note']}.")
    return 0


def run_pool(args: argparse.Namespace) -> int:
    from kg_editor.model.external import SiteCounts, pooled_families

    sites = [SiteCounts.read(f) for f in args.site]
    states = sites[0].states
    fams = pooled_families(sites, states, estimator=args.estimator, equivalent_sample_size=args.ess)
    out = {
        "format": "kg-editor-pooled-model",
        "sites": [s.site for s in sites],
        "patients": sum(s.patients for s in sites),
        "estimator": args.estimator,
        "families": {
            n: {
                "parents": list(f.parents),
                "states": list(states[n]),
                "counts": f.counts.tolist(),
                "cpd": f.cpd.tolist(),
            }
            for n, f in fams.items()
        },
    }
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
        print(f"Pooled {len(fams)} families from {len(sites)} sites into {args.out}.")
    else:
        print_json(out)
    return 0
