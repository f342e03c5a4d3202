"""Arguments and helpers shared by several sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["add_cohort_arguments", "cohort_from_args", "print_json", "progress"]


def add_cohort_arguments(p: argparse.ArgumentParser, *, target_required: bool = False) -> None:
    """SOURCE plus the cohort options every data command takes."""
    p.add_argument(
        "source",
        help="'demo', an events CSV/Parquet, a wide file (with --wide), or an OMOP CDM DuckDB file/folder",
    )
    p.add_argument(
        "--target", "-t", required=target_required, help="target diagnosis (code or label)"
    )
    add_cohort_options(p)


def add_cohort_options(p: argparse.ArgumentParser) -> None:
    """The options of :func:`kg_editor.data.cohort.build_cohort` (all but SOURCE and --target)."""
    p.add_argument(
        "--wide", action="store_true", help="SOURCE is a wide table: one row per patient"
    )
    p.add_argument(
        "--persons", help="persons file for an events SOURCE (patient_id, sex, birth_year)"
    )
    p.add_argument(
        "--min-patients", type=int, default=20, help="minimum patients per code (default 20)"
    )
    p.add_argument(
        "--max-variables", type=int, default=60, help="cap on variables, by prevalence (default 60)"
    )
    p.add_argument("--test-size", type=float, default=0.2, help="held-out share (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split (default 0)")
    p.add_argument(
        "--age-at",
        choices=("first_event", "last_event"),
        default="first_event",
        help="age band at the first (default) or last recorded event",
    )


def cohort_from_args(args: argparse.Namespace) -> Any:
    """Load the source and build the cohort named by ``args``, with progress on stderr."""
    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources import load_source

    opts: dict[str, Any] = {}
    if getattr(args, "persons", None):
        opts["persons"] = args.persons
    with progress(f"Reading {args.source}"):
        src = load_source(
            args.source, kind="wide" if getattr(args, "wide", False) else None, **opts
        )
    with progress("Building the cohort"):
        return build_cohort(
            src,
            target=args.target,
            min_patients=args.min_patients,
            max_variables=args.max_variables,
            test_size=args.test_size,
            seed=args.seed,
            age_at=getattr(args, "age_at", "first_event"),
        )


@contextmanager
def progress(message: str) -> Iterator[None]:
    """Show a spinner-style progress line on stderr while a step runs (only on a TTY,
    else one line when the step ends)."""
    import time

    from tqdm import tqdm

    start = time.perf_counter()
    bar = tqdm(
        total=1,
        desc=message,
        file=sys.stderr,
        leave=False,
        disable=None,
        bar_format="{desc} {elapsed}",
    )
    try:
        yield
        bar.update(1)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    if elapsed > 1.0:
        print(f"{message}: done in {elapsed:.1f} s", file=sys.stderr)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, allow_nan=False, default=str)
    sys.stdout.write("\n")
