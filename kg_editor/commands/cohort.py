"""``kg-editor cohort SOURCE``: describe the cohort a source gives."""

from __future__ import annotations

import argparse

from kg_editor.commands._common import add_cohort_arguments, cohort_from_args, print_json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cohort",
        help="describe the cohort: patients, variables, subgroups, split",
        description="Load SOURCE, build the patient x variable cohort and print patients, variables "
        "with prevalence, subgroup counts and split sizes.",
    )
    add_cohort_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cohort = cohort_from_args(args)
    summary = cohort.summary()
    if args.json:
        print_json(summary)
        return 0
    print(f"Source:    {summary['source']}")
    print(f"Patients:  {summary['patients']:,}")
    print(f"Split:     {summary['split']['train']:,} train / {summary['split']['test']:,} test")
    if summary["target"]:
        print(f"Target:    {summary['target_label']} ({summary['target']})")
    for key, counts in summary["subgroups"].items():
        print(f"{key + ':':<10} " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"\n{len(summary['variables'])} variables (code, domain, patients, prevalence, label):")
    for v in summary["variables"]:
        print(
            f"  {v['code']:<14} {v['domain']:<12} {v['patients']:>8,} {v['prevalence']:>7.1%}  {v['label']}"
        )
    return 0
