"""``kg-editor users add|list|set-role|disable|enable|password``: local accounts.

Accounts live in the store (``--store``, default: the SQLite file in your data
directory). Once one exists, the web editor asks everyone to sign in. Passwords are read
from the terminal (or from ``--password-stdin`` for scripts), never from the command line.

Examples
--------
    kg-editor users add dr_lee --role reviewer --store postgresql+psycopg://kg@db/kg
    kg-editor users list
    kg-editor users set-role dr_lee admin
    kg-editor users disable dr_lee
"""

from __future__ import annotations

import argparse
import getpass
import sys

from kg_editor.commands._common import add_sign_in_argument, signed_in_author
from kg_editor.errors import KGEditorError

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "users",
        help="manage the accounts that may sign in to the web editor",
        description="Manage local accounts (roles: viewer < editor < reviewer < admin). When "
        "at least one account exists, the web editor requires sign-in.",
    )
    p.add_argument("--store", help="store URL (default: the SQLite file in your data directory)")
    p.add_argument("--json", action="store_true", help="print JSON (list)")
    add_sign_in_argument(p)
    acts = p.add_subparsers(dest="users_action", metavar="ACTION")
    a = acts.add_parser("add", help="create an account")
    a.add_argument("username")
    a.add_argument(
        "--role",
        default="editor",
        choices=["viewer", "editor", "reviewer", "admin"],
        help="role (default editor)",
    )
    a.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    acts.add_parser("list", help="list the accounts")
    r = acts.add_parser("set-role", help="change an account's role")
    r.add_argument("username")
    r.add_argument("role", choices=["viewer", "editor", "reviewer", "admin"])
    d = acts.add_parser("disable", help="stop an account from signing in")
    d.add_argument("username")
    e = acts.add_parser("enable", help="let a disabled account sign in again")
    e.add_argument("username")
    pw = acts.add_parser("password", help="set a new password for an account")
    pw.add_argument("username")
    pw.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p.set_defaults(func=run)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("Again: ") != first:
        raise KGEditorError("The two passwords differ; nothing was changed. Try again.")
    return first


def run(args: argparse.Namespace) -> int:
    from kg_editor.workspace import Versions

    action = getattr(args, "users_action", None)
    if not action:
        raise KGEditorError(
            "Say what to do: kg-editor users add|list|set-role|disable|enable|password"
        )
    with Versions(args.store) as versions:
        accounts = versions.accounts
        # once an administrator exists, only an administrator manages accounts (until
        # then the store's owner sets them up, the first administrator included)
        if any(a.role == "admin" and a.active for a in accounts.list()):
            signed_in_author(versions, args, "admin", f"users {action}")
        if action == "add":
            acc = accounts.add(args.username, _password(args), role=args.role)
            print(f"Added {acc.username} ({acc.role}).", file=sys.stderr)
        elif action == "list":
            rows = accounts.list()
            if args.json:
                from kg_editor.commands._common import print_json

                print_json([r.to_dict() for r in rows])
            elif not rows:
                print("No accounts: the web editor runs single-user on this computer only.")
            else:
                for r in rows:
                    state = "" if r.active else "  (disabled)"
                    print(f"{r.username:<24} {r.role:<9}{state}")
        elif action == "set-role":
            acc = accounts.set_role(args.username, args.role)
            print(f"{acc.username} is now {acc.role}.", file=sys.stderr)
        elif action == "disable":
            accounts.disable(args.username)
            print(f"{args.username} can no longer sign in.", file=sys.stderr)
        elif action == "enable":
            accounts.enable(args.username)
            print(f"{args.username} can sign in again.", file=sys.stderr)
        elif action == "password":
            accounts.set_password(args.username, _password(args))
            print(f"New password set for {args.username}.", file=sys.stderr)
    return 0
