"""Arguments and helpers shared by several sub-commands.

Every command builds its objects through :mod:`kg_editor.workspace`. Cohort options
default to ``None`` here ("not given"), so a command that opens a graph file takes the
options the graph recorded and refuses only options given that differ from them; with
no graph, :data:`kg_editor.workspace.COHORT_DEFAULTS` apply.

This module imports nothing heavy: ``kg-editor --help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kg_editor.data.cohort import Cohort
    from kg_editor.model.graph import CausalGraph
    from kg_editor.workspace import ProjectSpec, Versions, Workspace

__all__ = [
    "COHORT_OPTIONS",
    "DefaultSource",
    "add_cohort_arguments",
    "add_cohort_options",
    "add_sign_in_argument",
    "cohort_from_args",
    "cohort_options_from_args",
    "print_json",
    "progress",
    "signed_in_author",
    "spec_from_args",
    "workspace_for_graph",
    "workspace_from_args",
]

#: ``args`` attribute -> keyword of :func:`kg_editor.data.cohort.build_cohort`.
COHORT_OPTIONS = {
    "min_patients": "min_patients",
    "max_variables": "max_variables",
    "test_size": "test_size",
    "seed": "seed",
    "age_at": "age_at",
    "concepts": "concepts",
    "index": "index",
    "lookback_days": "lookback_days",
    "outcome_days": "outcome_days",
    "unmatched_persons": "unmatched_persons",
    "min_cell": "min_cell",
}


class DefaultSource(str):
    """The SOURCE a command uses when none is typed (``"demo"``): equal to the string,
    but a command can tell it was not given (``isinstance(args.source, DefaultSource)``)."""

    __slots__ = ()


def add_cohort_arguments(
    p: argparse.ArgumentParser, *, target_required: bool = False, source_optional: bool = False
) -> None:
    """SOURCE plus the cohort options every data command takes (``source_optional``: for
    commands on a graph file, whose recorded source is the default)."""
    text = (
        "'demo', an events CSV/Parquet, a wide file (with --wide), an OMOP CDM DuckDB file/folder, "
        "or a database URL (duckdb:///file.duckdb, postgresql://user@host/db, spark://local[2]) "
        "whose --events-table is counted where it lives"
    )
    if source_optional:
        p.add_argument(
            "source", nargs="?", help=text + " (default: the source the graph file records)"
        )
    else:
        p.add_argument("source", help=text)
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
    p.add_argument("--min-patients", type=int, help="minimum patients per code (default 20)")
    p.add_argument("--max-variables", type=int, help="cap on variables, by prevalence (default 60)")
    p.add_argument("--test-size", type=float, help="held-out share (default 0.2)")
    p.add_argument("--seed", type=int, help="seed of the train/test split (default 0)")
    p.add_argument(
        "--age-at",
        choices=("first_event", "last_event", "index"),
        default=None,
        help="age band at the index date (default with --index), the first (default "
        "otherwise) or the last recorded event",
    )
    p.add_argument(
        "--date-format", help="strftime format of every date, e.g. %%d/%%m/%%Y (default: detected)"
    )
    # sources in a database or warehouse, opened by URL
    p.add_argument(
        "--events-table",
        help="for a SOURCE URL (duckdb://, postgresql://, spark://): the events table "
        "(patient_id, code[, date, value, description, domain]; default events)",
    )
    p.add_argument("--persons-table", help="for a SOURCE URL: the persons table")
    p.add_argument(
        "--date-unit",
        choices=("days", "s", "ms", "us", "ns", "yyyymmdd"),
        help="unit of integer dates (epoch counts from 1970-01-01, or yyyymmdd numbers)",
    )
    p.add_argument(
        "--unmatched-persons",
        choices=("warn", "error"),
        help="persons rows without events, or events without a persons row: warn (default) or error",
    )
    p.add_argument(
        "--unmapped",
        choices=("drop", "source"),
        help="OMOP rows with concept id 0: drop and count (default) or keep as labelled source-value variables",
    )
    p.add_argument("--concepts", help="concept-set file (YAML/JSON): name -> codes, prefixes, ids")
    p.add_argument(
        "--index",
        help="index date: first_event, persons (its index_date column), or a code/label/concept set",
    )
    p.add_argument(
        "--lookback-days", type=int, help="features only from this many days before the index"
    )
    p.add_argument(
        "--outcome-days", type=int, help="target only up to this many days after the index"
    )
    p.add_argument(
        "--min-cell",
        type=int,
        help="patient counts below this are hidden in every output (default 11)",
    )


def cohort_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The cohort options typed on the command line (those not typed are left out)."""
    out = {}
    for attr, key in COHORT_OPTIONS.items():
        value = getattr(args, attr, None)
        if value is not None:
            out[key] = value
    return out


def _reader(args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    kind = "wide" if getattr(args, "wide", False) else None
    opts: dict[str, Any] = {}
    for key in ("persons", "date_format", "date_unit", "unmapped", "events_table", "persons_table"):
        if getattr(args, key, None):
            opts[key] = getattr(args, key)
    return kind, opts


def spec_from_args(args: argparse.Namespace, source: str | None = None) -> ProjectSpec:
    """The :class:`~kg_editor.workspace.ProjectSpec` named by ``args``."""
    from kg_editor.workspace import ProjectSpec

    kind, opts = _reader(args)
    target = getattr(args, "target", None)
    src = str(source if source is not None else args.source)
    if target is None and src.strip().lower() == "demo":
        from kg_editor.data.sources.demo import DEMO_TARGET

        target = DEMO_TARGET
    return ProjectSpec(src, target, kind, opts, cohort_options_from_args(args))


def workspace_from_args(args: argparse.Namespace, **options: Any) -> Workspace:
    """A workspace on the source and cohort options of ``args``."""
    from kg_editor.workspace import Workspace

    return Workspace(spec_from_args(args), store=getattr(args, "store", None), **options)


def workspace_for_graph(
    args: argparse.Namespace,
    graph: CausalGraph,
    *,
    source: str | None = None,
    what: str | None = None,
    **options: Any,
) -> Workspace:
    """A workspace on the data ``graph`` was made from; the options typed in ``args``
    must agree with the recorded ones (one message names every difference)."""
    from kg_editor.workspace import Workspace

    kind, opts = _reader(args)
    ws = Workspace.for_graph(
        graph,
        source=source,
        target=getattr(args, "target", None),
        kind=kind,
        source_options=opts,
        cohort_options=cohort_options_from_args(args),
        store=getattr(args, "store", None),
        what=what,
        **options,
    )
    ws.cohort(progress)
    return ws


def cohort_from_args(args: argparse.Namespace) -> Cohort:
    """Load the source and build the cohort named by ``args``, with progress on stderr."""
    return spec_from_args(args).build_cohort(progress)


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


def add_sign_in_argument(p: argparse.ArgumentParser) -> None:
    """``--as USERNAME`` for commands that write to a store with accounts."""
    p.add_argument(
        "--as",
        dest="as_user",
        metavar="USERNAME",
        default=os.environ.get("KG_EDITOR_USER"),
        help="your account when the store has accounts (default $KG_EDITOR_USER); the "
        "password is asked for, or read from $KG_EDITOR_PASSWORD",
    )


def signed_in_author(
    versions: Versions, args: argparse.Namespace, required: str, doing: str
) -> str | None:
    """The account that writes (checked against ``required``), or ``None`` for a store
    without accounts. The password comes from $KG_EDITOR_PASSWORD or the terminal."""
    if not versions.accounts.any():
        return None
    user = getattr(args, "as_user", None)
    password = os.environ.get("KG_EDITOR_PASSWORD")
    if user and password is None:
        import getpass

        password = getpass.getpass(f"Password for {user}: ")
    return versions.sign_in(user, password, required, doing)


def print_json(obj: Any) -> None:
    """Strict JSON on stdout (through the one sanitizer)."""
    from kg_editor.jsonsafe import json_safe

    json.dump(json_safe(obj), sys.stdout, indent=2, allow_nan=False, default=str)
    sys.stdout.write("\n")
