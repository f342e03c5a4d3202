"""``kg-editor hitl``: the simulated human-in-the-loop experiment on a known network."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg_editor.commands._common import print_json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hitl",
        help="simulate clinicians correcting a distilled graph of a known network",
        description="Sample EHR-like patients from a network bundled with pgmpy, distil a graph, "
        "simulate clinicians who accept suggestions consistent with the truth (oracle), also fix "
        "edges unprompted (proactive), or sometimes accept wrong ones (noisy), and report the "
        "metrics after every accepted edit.",
    )
    p.add_argument("--network", default="alarm", help="alarm, child, asia, ... (default alarm)")
    p.add_argument("--target", help="target node (default: a diagnosis of the network)")
    p.add_argument(
        "--full", action="store_true", help="full size: 20,000 patients, 25 rounds, 5 seeds"
    )
    p.add_argument(
        "--form",
        choices=("events", "wide"),
        default="events",
        help="dated events (default) or the same patients as an undated wide table",
    )
    p.add_argument("--patients", type=int, help="patients to sample")
    p.add_argument("--rounds", type=int, help="review rounds")
    p.add_argument("--seeds", type=int, help="number of seeds")
    p.add_argument(
        "--noise", type=float, default=0.3, help="noisy clinician's share of wrong accepts"
    )
    p.add_argument("--out", help="folder for records.csv, summary.csv and plot.png")
    p.add_argument("--json", action="store_true", help="print the summary table as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kg_editor.experiments.hitl import (
        HITLConfig,
        plot_experiment,
        run_experiment,
        summary_table,
    )

    cfg = HITLConfig.full(args.network) if args.full else HITLConfig(network=args.network)
    cfg.target = args.target
    cfg.noise = args.noise
    cfg.form = args.form
    if args.patients:
        cfg.n_patients = args.patients
    if args.rounds:
        cfg.rounds = args.rounds
    if args.seeds:
        cfg.seeds = tuple(range(args.seeds))
    res = run_experiment(cfg, progress=lambda m: print(m, file=sys.stderr))
    table = summary_table(res)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        res.records.to_csv(out / "records.csv", index=False)
        res.accepted.to_csv(out / "accepted.csv", index=False)
        res.references.to_csv(out / "references.csv", index=False)
        table.to_csv(out / "summary.csv", index=False)
        plot_experiment(res).savefig(out / "plot.png", dpi=110)
        print(
            f"wrote {out}/records.csv, accepted.csv, references.csv, summary.csv, plot.png",
            file=sys.stderr,
        )
    if args.json:
        print_json(table.to_dict(orient="records"))
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0
