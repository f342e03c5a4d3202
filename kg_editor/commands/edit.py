"""``kg-editor edit graph.json --add A B --remove C D --reverse E F --out new.json``.

Edits honour the constraints the graph file records (or ``--constraints``): an edit that
breaks one is refused unless ``--override`` is given (and recorded). With ``--data`` the
model is refitted on the cohort the graph records (or on the SOURCE given) and the report
delta of every edit is printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kg_editor.commands._common import add_cohort_options, print_json, workspace_for_graph
from kg_editor.commands.evaluate import add_model_arguments, session_from_args

__all__ = ["register"]


class _EditAction(argparse.Action):
    """Collect ``--add/--remove/--reverse A B`` in command-line order."""

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        edits = list(getattr(namespace, "edits", None) or [])
        edits.append((self.const, values[0], values[1]))
        namespace.edits = edits


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "edit",
        help="apply edits to a graph file and print what they do to the report",
        description="Apply --add / --remove / --reverse edits (in the order given; codes or labels) to "
        "GRAPH and write the result to --out. The constraints GRAPH records are honoured. With "
        "--data (the source GRAPH records, or the SOURCE given) the model is refitted after each "
        "edit and the report delta (with bootstrap CIs) is printed.",
    )
    p.add_argument("graph", help="graph JSON file")
    for kind in ("add", "remove", "reverse"):
        p.add_argument(
            f"--{kind}",
            nargs=2,
            metavar=("SOURCE", "TARGET"),
            action=_EditAction,
            const=kind,
            dest="edits",
            help=f"{kind} the edge SOURCE -> TARGET (repeatable)",
        )
    p.add_argument("--out", "-o", required=True, help="where to write the edited graph (JSON)")
    p.add_argument(
        "--author", default="anonymous", help="who makes the edits (recorded in the history)"
    )
    p.add_argument("--rationale", default="", help="why (recorded with every edit)")
    p.add_argument(
        "--override", action="store_true", help="allow edits against the constraints (recorded)"
    )
    p.add_argument(
        "--data",
        nargs="?",
        const="",
        metavar="SOURCE",
        help="refit and report on the data: the source GRAPH records, or SOURCE (same forms "
        "as `kg-editor cohort`)",
    )
    p.add_argument("--json", action="store_true", help="print the deltas as JSON")
    p.add_argument("--target", "-t", help="target diagnosis (default: the graph's)")
    add_cohort_options(p)
    add_model_arguments(p)
    p.set_defaults(func=run, edits=[])


def run(args: argparse.Namespace) -> int:
    from kg_editor.model.graph import (
        AddEdge,
        CausalGraph,
        Constraints,
        RemoveEdge,
        ReverseEdge,
        apply_edit,
    )
    from kg_editor.workspace import recorded_constraints

    kinds = {"add": AddEdge, "remove": RemoveEdge, "reverse": ReverseEdge}
    graph = CausalGraph.from_json(args.graph)
    if not args.edits:
        print("kg-editor edit: nothing to do; give --add, --remove or --reverse.", file=sys.stderr)
        return 1
    if args.data is not None:
        ws = workspace_for_graph(
            args, graph, source=args.data or None, what=f"The graph {args.graph}"
        )
        session = session_from_args(args, graph, ws)
        deltas = []
        for kind, a, b in args.edits:
            edit = kinds[kind](
                session.graph.resolve(a),
                session.graph.resolve(b),
                author=args.author,
                rationale=args.rationale,
                override=args.override,
            )
            d = session.apply(edit)
            deltas.append(d)
            if not args.json:
                print(f"== {edit.describe(session.graph)}")
                print(d.summary())
        if args.json:
            print_json([d.to_dict() for d in deltas])
        graph = ws.stamp(session.graph)
    else:
        cons = (
            Constraints.from_file(args.constraints)
            if args.constraints
            else recorded_constraints(graph)
        )
        for kind, a, b in args.edits:
            edit = kinds[kind](
                graph.resolve(a),
                graph.resolve(b),
                author=args.author,
                rationale=args.rationale,
                override=args.override,
            )
            graph = apply_edit(graph, edit, cons)
            if not args.json:
                print(f"{edit.describe(graph)}: done")
        if args.json:
            print_json({"edges": len(graph.edges), "edits": [list(e) for e in args.edits]})
    graph.to_json(args.out)
    print(
        f"Wrote {args.out} ({len(graph.nodes)} variables, {len(graph.edges)} edges).",
        file=sys.stderr,
    )
    return 0
