"""``kg-editor serve [SOURCE]``: open the web editor in the browser."""

from __future__ import annotations

import argparse
import os
import sys

from kg_editor.commands._common import add_cohort_options, cohort_from_args, progress

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="start the web editor (default: the bundled demo)",
        description="Start the web editor on SOURCE (default: the Eunomia demo, target "
        "'Gastrointestinal hemorrhage'). It binds to 127.0.0.1 unless --host says otherwise and "
        "makes no request to any outside host.",
    )
    p.add_argument("source", nargs="?", default="demo", help="'demo' (default) or a source path")
    p.add_argument("--target", "-t", help="target diagnosis (code or label)")
    add_cohort_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--store", help="store URL (default: the SQLite file in your data directory)")
    p.add_argument("--graph", help="start from this graph JSON instead of distilling one")
    p.add_argument("--debug", action="store_true", help="Dash debug mode (developers)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ["DASH_DISABLE_VERSION_CHECK"] = "true"
    from kg_editor.ui.app import create_app

    target = args.target
    if target is None and args.source.strip().lower() == "demo":
        from kg_editor.data.sources.demo import DEMO_TARGET

        target = DEMO_TARGET
    graph = None
    if args.graph:
        from kg_editor.model.graph import CausalGraph

        graph = CausalGraph.from_json(args.graph)
    args.target = target
    cohort = cohort_from_args(args)
    app = create_app(args.source, target, store_url=args.store, graph=graph, cohort=cohort)
    app.registry.warm(progress)  # type: ignore[attr-defined]
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
