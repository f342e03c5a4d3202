"""``kg-editor versions list|show|diff|export|save|branch|restore|merge|log``: the
version store from the command line (``--store`` URL or file; default: the data
directory's SQLite file)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from kg_editor.commands._common import add_sign_in_argument, print_json, signed_in_author

if TYPE_CHECKING:
    from kg_editor.workspace import Versions

__all__ = ["register"]


def _store(args: argparse.Namespace) -> Versions:
    from kg_editor.workspace import Versions

    return Versions(args.store)


def _project_id(store: Versions, args: argparse.Namespace) -> str:
    return store.project_id(args.project)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "versions",
        help="list, show, compare, branch, restore and merge saved graph versions",
        description="Work with the version store: saved graphs with their reports, on branches.",
    )
    vs = p.add_subparsers(dest="versions_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, project: bool = True) -> None:
        q.add_argument(
            "--store", help="store URL or SQLite file (default: $KG_EDITOR_HOME/store.sqlite)"
        )
        if project:
            q.add_argument(
                "--project", "-p", help="project name or id (needed when the store has several)"
            )
        q.add_argument("--json", action="store_true", help="print JSON")

    q = vs.add_parser("projects", help="list projects")
    common(q, project=False)
    q.set_defaults(func=run_projects)

    q = vs.add_parser("list", help="versions with their key metrics")
    common(q)
    q.add_argument("--branch", "-b", help="only this branch")
    q.set_defaults(func=run_list)

    q = vs.add_parser("show", help="one version: provenance, edits, report")
    common(q, project=False)
    q.add_argument("version")
    q.add_argument("--graph", action="store_true", help="include the graph JSON")
    q.set_defaults(func=run_show)

    q = vs.add_parser("diff", help="compare two versions: edges and metrics side by side")
    common(q, project=False)
    q.add_argument("a")
    q.add_argument("b")
    q.set_defaults(func=run_diff)

    q = vs.add_parser("export", help="write a version's graph in any format")
    common(q, project=False)
    q.add_argument("version")
    q.add_argument("--format", "-f", help="output format (default: from --out's suffix, else json)")
    q.add_argument("--out", "-o", help="output file (default: stdout)")
    q.set_defaults(func=run_export)

    q = vs.add_parser("save", help="save a graph file as a new version")
    common(q)
    q.add_argument("graph", help="graph file (any readable format)")
    q.add_argument("--from", dest="in_format", help="input format (default: from the suffix)")
    q.add_argument("--branch", "-b", default="main")
    q.add_argument("--author", "-a", default="anonymous")
    add_sign_in_argument(q)
    q.add_argument("--message", "-m", default="")
    q.add_argument("--report", help="a report JSON file to store with it")
    q.add_argument("--parent", help="parent version (default: the branch head)")
    q.set_defaults(func=run_save)

    q = vs.add_parser("branch", help="start a new branch at a version")
    common(q, project=False)
    q.add_argument("version")
    q.add_argument("name")
    q.add_argument("--author", "-a", default="anonymous")
    add_sign_in_argument(q)
    q.set_defaults(func=run_branch)

    q = vs.add_parser("restore", help="make an old version the head of its branch again")
    common(q, project=False)
    q.add_argument("version")
    q.add_argument("--author", "-a", default="anonymous")
    add_sign_in_argument(q)
    q.set_defaults(func=run_restore)

    q = vs.add_parser("merge", help="merge version B into version A (three-way)")
    common(q, project=False)
    q.add_argument("a")
    q.add_argument("b")
    q.add_argument(
        "--resolve",
        "-r",
        action="append",
        default=[],
        metavar="KEY=CHOICE",
        help="resolve a conflict: ours, theirs, base, none, unresolved (keep the edge, direction open) or 'A -> B', e.g. 'lung -- smoke=theirs' (repeatable)",
    )
    q.add_argument("--author", "-a", default="anonymous")
    add_sign_in_argument(q)
    q.add_argument("--message", "-m", default="")
    q.set_defaults(func=run_merge)

    q = vs.add_parser("protect", help="let a branch change only through approved proposals")
    common(q)
    q.add_argument("branch", nargs="?", default="main")
    add_sign_in_argument(q)
    q.set_defaults(func=run_protect)

    q = vs.add_parser("propose", help="ask a reviewer to merge a version into a branch")
    common(q)
    q.add_argument("version", help="a version saved on your own branch")
    q.add_argument("--to", dest="branch", default="main", help="the branch (default main)")
    q.add_argument("--author", "-a", default="anonymous")
    q.add_argument("--message", "-m", default="", help="what the proposal changes and why")
    add_sign_in_argument(q)
    q.set_defaults(func=run_propose)

    q = vs.add_parser("proposals", help="the proposals and what became of them")
    common(q)
    q.add_argument("--status", choices=["pending", "approved", "rejected"])
    q.set_defaults(func=run_proposals)

    q = vs.add_parser("approve", help="merge a proposal into its branch (a second reviewer)")
    common(q)
    q.add_argument("proposal")
    q.add_argument("--author", "-a", default="anonymous")
    q.add_argument("--message", "-m", default="")
    add_sign_in_argument(q)
    q.set_defaults(func=run_approve)

    q = vs.add_parser("log", help="the audit log: who changed what, when and why")
    common(q)
    q.add_argument("--session")
    q.add_argument("--limit", type=int)
    q.set_defaults(func=run_log)


def _fmt(x: Any) -> str:
    from kg_editor.model.report import format_value

    return format_value(x, missing="-")


def run_projects(args: argparse.Namespace) -> int:
    with _store(args) as store:
        projects = [p.to_dict() for p in store.list_projects()]
    if args.json:
        print_json(projects)
    else:
        for p in projects:
            print(
                f"{p['id']}  {p['name']:<30} data {p['fingerprint'] or '-'}  target {p['target'] or '-'}"
            )
    return 0


_KEY_METRICS = ("accuracy.loglik_per_patient", "accuracy.bic", "accuracy.bdeu")


def run_list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        pid = _project_id(store, args)
        versions = store.list_versions(pid, args.branch)
    if args.json:
        print_json([{**v.to_dict(), "metrics": v.key_metrics()} for v in versions])
        return 0
    if not versions:
        print("No versions yet.")
        return 0
    for v in versions:
        m = v.key_metrics()
        keys = [k for k in _KEY_METRICS if k in m] + [k for k in m if k.endswith(".auroc")][:2]
        metrics = "  ".join(f"{k.split('.', 1)[1]}={_fmt(m[k])}" for k in keys)
        print(
            f"{v.id}  {v.branch:<12} {v.created:%Y-%m-%d %H:%M}  {v.author:<12} {v.n_edges:>3} edges  "
            f"{metrics}  {v.message}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        v = store.get(args.version)
    d = v.to_dict(include_graph=args.graph)
    if args.json:
        print_json(d)
        return 0
    print(f"Version  {v.id} (#{v.seq}) on {v.branch}")
    print(
        f"Parent   {v.parent_id or '-'}"
        + (f"  merged from {v.merge_parent_id}" if v.merge_parent_id else "")
    )
    print(f"Author   {v.author}, {v.created:%Y-%m-%d %H:%M:%S %Z}")
    print(f"Message  {v.message}")
    print(f"Graph    {d['n_nodes']} variables, {d['n_edges']} edges")
    for e in v.edits:
        print(f"  {e.describe()}  ({e.author}: {e.rationale})")
    for k, x in v.key_metrics().items():
        print(f"  {k:<45} {_fmt(x)}")
    if args.graph:
        print(json.dumps(d["graph"], indent=2))
    return 0


def run_diff(args: argparse.Namespace) -> int:
    with _store(args) as store:
        cmp = store.compare(args.a, args.b)
    if args.json:
        print_json(cmp.to_dict())
        return 0
    d = cmp.diff
    print(f"{cmp.a.id} ({cmp.a.branch}) -> {cmp.b.id} ({cmp.b.branch}): {d.summary()}")
    for c in (*d.added, *d.removed, *d.reversed, *d.changed):
        sign = {"added": "+", "removed": "-", "reversed": "~", "changed": "*"}[c.status]
        ev = ", ".join(
            f"{k}={_fmt(x)}" for k, x in c.evidence.items() if not isinstance(x, dict | list)
        )
        print(f"  {sign} {c.source} -> {c.target}  [{c.status}]" + (f"  {ev}" if ev else ""))
    for n in d.nodes:
        print(f"  variable {n.node}: {n.status}")
    if len(cmp.metrics):
        print()
        print(cmp.metrics.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from kg_editor.formats import format_for_path, write_graph

    with _store(args) as store:
        v = store.get(args.version)
    fmt = args.format or (format_for_path(args.out).name if args.out else "json")
    text = write_graph(v.graph, fmt, args.out)
    if not args.out:
        sys.stdout.write(text)
    else:
        print(f"Wrote version {v.id} as {fmt} to {args.out}", file=sys.stderr)
    return 0


def run_save(args: argparse.Namespace) -> int:
    from kg_editor.formats import read_graph

    graph = read_graph(args.graph, args.in_format)
    report = None
    if args.report:
        with open(args.report, encoding="utf-8") as fh:
            report = json.load(fh)
    with _store(args) as store:
        user = signed_in_author(store, args, "editor", "saving a version")
        author = user or args.author
        v = store.save_graph(
            graph,
            project=args.project,
            parent=args.parent,
            branch=args.branch,
            author=author,
            message=args.message,
            report=report,
            account=store.accounts.get(user) if user else None,
        )
    print_json(v.to_dict()) if args.json else print(v.id)
    return 0


def run_branch(args: argparse.Namespace) -> int:
    with _store(args) as store:
        author = signed_in_author(store, args, "editor", "branching") or args.author
        v = store.branch(args.version, args.name, author=author)
    print_json(v.to_dict()) if args.json else print(
        f"{v.id}  new branch {v.branch} from {v.parent_id}"
    )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    with _store(args) as store:
        author = signed_in_author(store, args, "editor", "restoring a version") or args.author
        v = store.restore(args.version, author=author)
    print_json(v.to_dict()) if args.json else print(
        f"{v.id}  restored {args.version} as the head of {v.branch}"
    )
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from kg_editor.errors import StoreError
    from kg_editor.versions.diff import MergeConflictError

    resolutions: dict[str, str] = {}
    for item in args.resolve:
        key, sep, choice = item.partition("=")
        if not sep:
            raise StoreError(f"--resolve takes KEY=CHOICE, got {item!r}.")
        resolutions[key.strip()] = choice.strip()
    with _store(args) as store:
        author = signed_in_author(store, args, "reviewer", "merging versions") or args.author
        try:
            v = store.merge(args.a, args.b, resolutions, author=author, message=args.message)
        except MergeConflictError as exc:
            if args.json:
                print_json({"conflicts": [c.to_dict() for c in exc.conflicts]})
                return 3
            raise
    print_json(v.to_dict()) if args.json else print(
        f"{v.id}  merged {args.b} into {args.a} on {v.branch}"
    )
    return 0


def _account_or_name(store: Versions, args: argparse.Namespace, required: str, doing: str) -> Any:
    """The signed-in account (roles checked again by the consensus layer), or the name
    given with ``--author`` on a store without accounts."""
    user = signed_in_author(store, args, required, doing)
    return store.accounts.get(user) if user else getattr(args, "author", None)


def run_protect(args: argparse.Namespace) -> int:
    with _store(args) as store:
        user = signed_in_author(store, args, "admin", "protecting a branch")
        store.consensus(args.project).protect(
            args.branch, admin=store.accounts.get(user) if user else None
        )
    print(f"{args.branch} now changes only through proposals a reviewer approves.")
    return 0


def run_propose(args: argparse.Namespace) -> int:
    with _store(args) as store:
        who = _account_or_name(store, args, "editor", "proposing a version")
        p = store.consensus(args.project).propose(who, args.version, args.branch, args.message)
    print_json(p.to_dict()) if args.json else print(p.id)
    return 0


def run_proposals(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rows = store.consensus(args.project).proposals(args.status)
    if args.json:
        print_json([p.to_dict() for p in rows])
        return 0
    for p in rows:
        print(f"{p.id}  {p.status:<9} {p.version_id} -> {p.branch:<10} {p.author}  {p.comment}")
    return 0


def run_approve(args: argparse.Namespace) -> int:
    with _store(args) as store:
        who = _account_or_name(store, args, "reviewer", "approving a proposal")
        v = store.consensus(args.project).approve(who, args.proposal, args.message)
    print_json(v.to_dict()) if args.json else print(f"{v.id}  merged into {v.branch}")
    return 0


def run_log(args: argparse.Namespace) -> int:
    with _store(args) as store:
        pid = _project_id(store, args)
        entries = store.audit(pid, session_id=args.session, limit=args.limit)
    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    for e in entries:
        what = ""
        if e.edit:
            what = f"{e.edit.get('kind')} {e.edit.get('source')} -> {e.edit.get('target')}"
        elif e.version_id:
            what = f"version {e.version_id}"
        print(
            f"{e.created:%Y-%m-%d %H:%M:%S}  {e.author:<12} {e.action:<8} {what:<40} {e.rationale}"
        )
    return 0
