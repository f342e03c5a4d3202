"""``kg-editor serve [SOURCE] [--graph graph.json]``: open the web editor in the browser.

With ``--graph`` the editor opens on the data the graph file records (SOURCE and the
cohort options default to the recorded ones; a differing one is refused before the
server starts).
"""

from __future__ import annotations

import argparse
import os
import sys

from kg_editor.commands._common import (
    DefaultSource,
    add_cohort_options,
    progress,
    workspace_for_graph,
    workspace_from_args,
)

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="start the web editor (default: the bundled demo)",
        description="Start the web editor on SOURCE (default: the Eunomia demo, target "
        "'Gastrointestinal hemorrhage'; with --graph, the data the graph records). It binds to "
        "127.0.0.1 unless --host says otherwise and makes no request to any outside host.",
    )
    p.add_argument(
        "source",
        nargs="?",
        default=DefaultSource("demo"),
        help="'demo' (default) or a source path",
    )
    p.add_argument("--target", "-t", help="target diagnosis (code or label)")
    add_cohort_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--store", help="store URL (default: the SQLite file in your data directory)")
    p.add_argument("--graph", help="start from this graph JSON instead of distilling one")
    p.add_argument("--debug", action="store_true", help="Dash debug mode (developers)")
    # -- serving a team (kg_editor.commands._serving) --
    from kg_editor.commands._serving import add_serving_options

    add_serving_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ["DASH_DISABLE_VERSION_CHECK"] = "true"
    from kg_editor.commands._serving import check_bind, policy_from_args, serve_production
    from kg_editor.ui.app import create_app

    check_bind(args)  # refuses a non-loopback address without accounts, before any work

    if args.graph:
        from kg_editor.model.graph import CausalGraph

        graph = CausalGraph.from_json(args.graph)
        from kg_editor.workspace import ProjectSpec

        given = None if isinstance(args.source, DefaultSource) else str(args.source)
        if given is None and ProjectSpec.from_metadata(graph.metadata) is None:
            given = str(args.source)  # a graph that records no source: the default's
        ws = workspace_for_graph(args, graph, source=given, what=f"The graph {args.graph}")
    else:
        ws = workspace_from_args(args)
    app = create_app(workspace=ws, security=policy_from_args(args))
    ws.warm(progress)
    if not args.debug and not args.dev_server:
        return serve_production(app, args)
    url = f"http://{args.host}:{args.port}/"
    print(
        f"kg-editor is ready: open {url} in your browser (Ctrl+C to stop).",
        file=sys.stderr,
        flush=True,
    )
    app.run(
        host=args.host,
        port=args.port,
        debug=args.debug,
        dev_tools_hot_reload=False,
        dev_tools_disable_version_check=True,
    )
    return 0
