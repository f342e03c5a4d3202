"""``kg-editor export`` and ``kg-editor import``: convert graphs between formats, and
bring a graph file in (checked against a cohort, optionally saved in the store)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, cast

from kg_editor.commands._common import (
    add_cohort_arguments,
    add_sign_in_argument,
    print_json,
    progress,
    signed_in_author,
    workspace_from_args,
)

__all__ = ["register"]


def _format_names() -> str:
    from kg_editor.formats import list_formats

    return ", ".join(f.name for f in list_formats())


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="convert a graph file to another format (BIF, XMLBIF, DAGitty, GraphML, GML, DOT, CSV, JSON)",
        description="Read a graph file (format from its suffix or --from) and write it in --format. "
        "Formats: every one registered in kg_editor.formats (json, bif, xmlbif, dagitty, "
        "graphml, gml, dot, csv and any added).",
    )
    p.add_argument("graph", help="input graph file")
    p.add_argument("--format", "-f", help="output format (default: from --out's suffix)")
    p.add_argument("--from", dest="in_format", help="input format (default: from the suffix)")
    p.add_argument("--out", "-o", help="output file (default: stdout)")
    p.add_argument(
        "--cpds",
        help="for BIF/XMLBIF: a BIF/XMLBIF file whose probability tables to use, or 'uniform' "
        "(default: the input's own tables when it has them)",
    )
    p.set_defaults(func=run_export)

    q = sub.add_parser(
        "import",
        help="read a graph file, check its variables against a cohort, write kg-editor JSON",
        description="Read a graph file in any supported format, match its variables to the cohort "
        "(by code or label; every unknown one is listed), and write our JSON graph or save it in "
        "the version store.",
    )
    q.add_argument("graph", help="graph file to import")
    q.add_argument("--from", dest="in_format", help="input format (default: from the suffix)")
    q.add_argument("--out", "-o", help="write the imported graph as kg-editor JSON here")
    q.add_argument("--cohort", dest="source", help="cohort SOURCE to check the variables against")
    add_cohort_arguments(cast(argparse.ArgumentParser, _OptionalSource(q)))
    q.add_argument("--store", help="also save it as a version in this store")
    q.add_argument(
        "--project",
        help="project name in the store (default: the cohort's project, as the web editor names it)",
    )
    q.add_argument("--author", default="anonymous")
    add_sign_in_argument(q)
    q.add_argument("--message", "-m", default="imported")
    q.set_defaults(func=run_import)


class _OptionalSource:
    """Adds the shared cohort options except the positional SOURCE (given by --cohort)."""

    def __init__(self, parser: argparse.ArgumentParser):
        self.parser = parser

    def add_argument(self, *names: str, **kw: object) -> None:
        if names == ("source",):
            return
        self.parser.add_argument(*names, **kw)  # type: ignore[arg-type]


def run_export(args: argparse.Namespace) -> int:
    from kg_editor.errors import FormatError
    from kg_editor.formats import (
        format_for_path,
        get_format,
        read_graph_with_model,
        write_graph,
    )

    graph, model = read_graph_with_model(args.graph, args.in_format)
    if args.format:
        fmt = get_format(args.format)
    elif args.out:
        fmt = format_for_path(args.out)
    else:
        raise FormatError(f"Say which format to write with --format ({_format_names()}).")
    cpds = model
    if args.cpds:
        cpds = "uniform" if args.cpds == "uniform" else read_graph_with_model(args.cpds)[1]
    text = write_graph(graph, fmt.name, args.out, cpds=cpds)
    if args.out:
        print(
            f"Wrote {len(graph)} variables and {len(graph.edges)} edges as {fmt.name} to {args.out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from kg_editor.formats import read_graph

    ws = workspace_from_args(args) if args.source else None
    cohort = ws.cohort(progress) if ws is not None else None
    graph = read_graph(args.graph, args.in_format, cohort=cohort)
    if ws is not None:
        ws.stamp(graph)  # the imported graph now records the cohort it was checked against
    if args.out:
        graph.to_json(args.out)
    result: dict[str, Any] = {
        "variables": len(graph),
        "edges": len(graph.edges),
        "checked_against_cohort": cohort is not None,
    }
    if args.store:
        from kg_editor.workspace import Versions

        with Versions(args.store) as versions:
            author = signed_in_author(versions, args, "editor", "saving a version") or args.author
            if args.project:
                versions.store.ensure_project(args.project)
            v = versions.save_graph(
                graph, project=args.project, author=author, message=args.message
            )
            result["version"] = v.id
            result["project"] = versions.store.get_project(v.project_id).name
    if not args.out and not args.store:
        sys.stdout.write(graph.to_json() + "\n")
    else:
        print_json(result)
    return 0
