"""Command-line entry point: ``kg-editor COMMAND ...``.

Sub-commands are a registry: every module in :mod:`kg_editor.commands` defines
``register(subparsers)`` that adds its parser and sets ``func``. Command modules import
only the standard library at the top (the heavy libraries load inside ``run``), so
``kg-editor --help`` and ``--version`` answer at once. Domain errors are printed as one
clear line (exit code 2); warnings as one ``kg-editor: warning: ...`` line each;
unexpected errors keep their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from kg_editor import __version__
from kg_editor.errors import KGEditorError

__all__ = ["build_parser", "main", "show_warning"]


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line in the CLI's style (no file path, no source line)."""
    text = " ".join(str(message).split())
    print(f"kg-editor: warning: {text}", file=file or sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kg-editor",
        description="Distil, edit and evaluate causal knowledge graphs learned from EHR data.",
    )
    parser.add_argument("--version", action="version", version=f"kg-editor {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output on stderr"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from kg_editor import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous: Any = warnings.showwarning
    warnings.showwarning = show_warning
    try:
        return _run(parser, args)
    finally:
        warnings.showwarning = previous


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO, stream=sys.stderr
        )
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except KGEditorError as exc:
        print(f"kg-editor: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
