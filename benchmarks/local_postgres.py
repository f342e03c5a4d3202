"""A throw-away PostgreSQL server on a Unix socket, for the tests and the team load test.

The server binaries come from Debian's ``postgresql`` package (``scripts/test.sh``
installs it when ``initdb`` is missing); as root the server runs as the ``postgres`` user
(``initdb`` refuses root). Nothing listens on a TCP port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["postgres_bindir", "start_postgres"]


def postgres_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (newest Debian version first)."""
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists():
            return cand
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def start_postgres(max_connections: int = 100) -> tuple[Path, Callable[[], None]]:
    """Start a server; return (its socket folder, a function that stops and removes it).

    Connect with ``postgresql+psycopg://kg@/postgres?host=<socket folder>`` (user ``kg``,
    trust authentication on the socket only).

    Raises
    ------
    RuntimeError
        The binaries, ``runuser`` or the ``postgres`` user are missing, or the server did
        not start; the message says which.
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="kg-pg-"))  # outside pytest's 0700 tree
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        if shutil.which("runuser") is None:
            raise RuntimeError("running as root without runuser")
        try:
            uid = pwd.getpwnam("postgres").pw_uid
        except KeyError:
            raise RuntimeError("running as root and there is no postgres user") from None
        os.chown(root, uid, -1)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = root / "data"

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *a], capture_output=True, text=True, timeout=120)

    r = run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "kg")
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {r.stderr[-300:]}")
    r = run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        f"-k {root} -c listen_addresses='' -c max_connections={int(max_connections)}",
        "-l",
        str(root / "log"),
        "-w",
        "start",
    )
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {r.stderr[-300:]}")

    def stop() -> None:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)

    return root, stop
