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
    print(f"Patients:  {_n(summary['patients'])}")
    print(f"Split:     {_n(summary['split']['train'])} train / {_n(summary['split']['test'])} test")
    if summary["target"]:
        print(f"Target:    {summary['target_label']} ({summary['target']})")
    for key, counts in summary["subgroups"].items():
        print(f"{key + ':':<10} " + ", ".join(f"{k} {_n(v)}" for k, v in counts.items()))
    build = summary.get("build", {})
    if "codes_seen" in build:
        print(
            f"Codes:     {build['codes_kept']:,} of {build['codes_seen']:,} kept "
            f"({build['codes_below_min_patients']:,} below --min-patients, "
            f"{build['codes_over_max_variables']:,} over --max-variables)"
        )
    notes = {k: v for k, v in build.items() if not k.startswith("codes_") and k != "concept_sets"}
    if notes:
        print("Build:     " + ", ".join(f"{k.replace('_', ' ')} {_n(v)}" for k, v in notes.items()))
    print(
        f"Privacy:   counts below {summary['privacy']['min_cell']} hidden (complementary cells too)"
    )
    print(f"\n{len(summary['variables'])} variables (code, domain, patients, prevalence, label):")
    for v in summary["variables"]:
        prev = "-" if v["prevalence"] is None else f"{v['prevalence']:.1%}"
        print(f"  {v['code']:<14} {v['domain']:<12} {_n(v['patients']):>8} {prev:>7}  {v['label']}")
    return 0


def _n(value: object) -> str:
    """A count for the text output: thousands separators, or the suppressed marker as is."""
    return f"{value:,}" if isinstance(value, int) else str(value)
