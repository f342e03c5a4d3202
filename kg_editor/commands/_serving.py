"""Production serving for ``kg-editor serve``: gunicorn with several worker processes,
the bind-address rules, and the hardening policy from the command line.

All state lives in the store, so any worker answers any request: the app (cohort,
distilled graph) is built once in the master and shared by the forked workers; each
worker opens its own database connections after the fork.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any

from kg_editor.errors import KGEditorError

__all__ = [
    "add_serving_options",
    "check_bind",
    "is_loopback",
    "policy_from_args",
    "serve_production",
]


def add_serving_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of the production server (default 1; use 2-4 per core)",
    )
    p.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the editor answers to besides localhost (repeatable), e.g. the "
        "server's name on the hospital network",
    )
    p.add_argument("--certfile", help="TLS certificate (PEM) to serve HTTPS directly")
    p.add_argument("--keyfile", help="TLS private key (PEM)")
    p.add_argument(
        "--behind-proxy",
        action="store_true",
        help="a TLS reverse proxy sits in front: trust its X-Forwarded-For/-Proto and mark "
        "cookies Secure",
    )
    p.add_argument(
        "--dev-server",
        action="store_true",
        help="use Flask's single-process development server instead (developers)",
    )


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _tls(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "certfile", None) or getattr(args, "behind_proxy", False))


def check_bind(args: argparse.Namespace) -> None:
    """Refuse a non-loopback address when the store has no accounts; warn when accounts
    exist but nothing provides TLS.

    Raises
    ------
    KGEditorError
        ``--host`` is reachable from other computers and nobody would have to sign in.
    """
    if is_loopback(args.host):
        return
    from kg_editor.workspace import Versions

    with Versions(args.store) as versions:
        has_accounts = versions.accounts.any()
    if not has_accounts:
        raise KGEditorError(
            f"Refusing to listen on {args.host}: other computers could reach the editor and "
            "nobody would have to sign in. Create accounts first (kg-editor users add NAME "
            "--role admin --store ...), or keep the default --host 127.0.0.1."
        )
    if not _tls(args):
        print(
            f"kg-editor: warning: serving on {args.host} without TLS: passwords and patient "
            "figures cross the network in clear. Give --certfile/--keyfile, or put a TLS "
            "proxy in front and pass --behind-proxy.",
            file=sys.stderr,
            flush=True,
        )


def policy_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~kg_editor.ui.security.SecurityPolicy` the options ask for."""
    from kg_editor.ui.security import SecurityPolicy

    hosts = list(getattr(args, "allowed_host", []) or [])
    if not is_loopback(args.host) and args.host not in ("0.0.0.0", "::", ""):
        hosts.append(args.host)
    return SecurityPolicy(
        allowed_hosts=tuple(hosts),
        secure_cookies=True if _tls(args) else None,
        trust_proxy=bool(getattr(args, "behind_proxy", False)),
    )


def serve_production(app: Any, args: argparse.Namespace) -> int:
    """Run ``app`` under gunicorn (``--workers`` processes, ``--threads`` each)."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError as exc:  # pragma: no cover - gunicorn is a dependency
        raise KGEditorError(
            "The production server needs gunicorn: pip install gunicorn (or run with "
            "--dev-server on one computer)."
        ) from exc
    if args.workers < 1 or args.threads < 1:
        raise KGEditorError("--workers and --threads must be at least 1.")
    workspace = app.workspace

    def post_fork(_server: Any, _worker: Any) -> None:
        # connections opened by the master must not be shared across processes
        workspace.after_fork()

    host = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
    options: dict[str, Any] = {
        "bind": f"{host}:{args.port}",
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "preload_app": True,
        "post_fork": post_fork,
        "timeout": 120,
        "graceful_timeout": 10,
        # a browser (and the team benchmark's clients) reuse a connection between Dash
        # callbacks; gunicorn's default of 2 s closes it under load while a request may
        # already be on its way, which the client sees as a dropped connection
        "keepalive": 30,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": 8190,
        "proc_name": "kg-editor",
    }
    if args.certfile:
        options.update(certfile=args.certfile, keyfile=args.keyfile)
    if args.behind_proxy:
        options["forwarded_allow_ips"] = "*"

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for k, v in options.items():
                self.cfg.set(k, v)

        def load(self) -> Any:
            return app.server

    scheme = "https" if args.certfile else "http"
    print(
        f"kg-editor is ready: open {scheme}://{args.host}:{args.port}/ in your browser "
        f"({args.workers} worker(s); Ctrl+C to stop).",
        file=sys.stderr,
        flush=True,
    )
    _Server().run()
    return 0
