"""A bounded, loopback-only load test of ``kg-editor serve --workers N``.

Simulated clinicians edit through the real HTTP route (``/_dash-update-component``, as the
browser's renderer posts it) for a fixed time. Clinicians work in pairs on one shared
editing session, each toggling (removing, then adding back) edges of the starting graph
that only they touch, so the final graph every session must hold is known exactly. A
refused stale edit (the partner got there first) is reloaded and retried, as a person
would after the conflict alert. At the end it checks: no HTTP error, no generic server
error, no lost update (every session's stored graph equals the one its clinicians' applied
edits give, its revision equals their count, and the audit log holds one entry per edit).

Usage (starts a throw-away PostgreSQL server in a temporary directory unless --store is
given; binds 127.0.0.1 only)::

    python benchmarks/team_load.py --clients 20 --workers 4 --seconds 60
    python benchmarks/team_load.py --clients 1 --workers 1 --seconds 20   # single user

Run it only briefly on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from benchmarks import local_postgres
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    import local_postgres  # type: ignore[no-redef]

__all__ = ["Clinician", "LoadResult", "run_load", "start_postgres", "start_server"]

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_postgres() -> tuple[str, Any]:
    """A throw-away PostgreSQL for the load test: (SQLAlchemy URL, stop function)."""
    try:
        root, stop = local_postgres.start_postgres(max_connections=200)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    return f"postgresql+psycopg://kg@/postgres?host={root}", stop


def start_server(
    store_url: str, graph_file: Path, *, workers: int, port: int | None = None
) -> tuple[str, subprocess.Popen[str]]:
    """``kg-editor serve`` on 127.0.0.1 with ``workers`` processes; returns (base URL,
    process) once it answers."""
    import requests

    port = port or _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "DASH_DISABLE_VERSION_CHECK": "true",
    }
    cmd = [
        sys.executable,
        "-m",
        "kg_editor.cli",
        "serve",
        "--port",
        str(port),
        "--store",
        store_url,
        "--graph",
        str(graph_file),
        "--workers",
        str(workers),
        "--threads",
        "4",
    ]
    # a graph distilled outside a workspace records its target but no project: name it
    target = json.loads(Path(graph_file).read_text()).get("metadata", {}).get("target")
    if target:
        cmd += ["--target", str(target)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"kg-editor serve exited: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if requests.get(base + "/_dash-dependencies", timeout=2).status_code == 200:
                return base, proc
        except requests.RequestException:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("kg-editor serve did not answer within 300 s")


@dataclass
class Clinician:
    """One simulated clinician: a ``requests`` session (cookies, CSRF token) on one
    editing session, toggling the edges it owns."""

    base: str
    owned: list[tuple[str, str]]
    session_id: str | None = None
    revision: int = 0
    removed: set[tuple[str, str]] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    applied: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import requests

        sys.path.insert(0, str(ROOT / "tests"))
        from _dash_http import DashHTTP

        self.http = DashHTTP(requests.Session(), base=self.base)

    def open(self, session_id: str | None = None) -> str:
        resp = self.http.open_page("/", f"?session={session_id}" if session_id else "")
        resp.raise_for_status()
        data = self.http.session_data(resp)
        self.session_id, self.revision = data["session_id"], int(data["revision"] or 0)
        return str(self.session_id)

    def _values(self, edge: tuple[str, str]) -> dict[tuple[str, str], Any]:
        return {
            ("kg-session", "data"): {"session_id": self.session_id, "revision": self.revision},
            ("kg-author", "value"): "load",
            ("kg-rationale", "value"): "load test",
            ("kg-form-source", "value"): edge[0],
            ("kg-form-target", "value"): edge[1],
            ("kg-selected-edge", "data"): {"source": edge[0], "target": edge[1]},
        }

    def step(self, i: int) -> None:
        edge = self.owned[i % len(self.owned)]
        add = edge in self.removed
        t = time.perf_counter()
        resp = self.http.fire(
            "kg-form-add" if add else "kg-edge-remove", "n_clicks", i + 1, self._values(edge)
        )
        dt = time.perf_counter() - t
        if resp.status_code != 200:
            self.errors.append(f"HTTP {resp.status_code}: {resp.text[:200]}")
            return
        body = resp.json()
        alert = body.get("response", {}).get("kg-alert-text", {}).get("children")
        if alert and "changed" in alert and "reload" in alert.lower():  # a ConflictError
            self.conflicts += 1
            self.open(self.session_id)  # reload, as the alert says
            return
        if alert:
            self.errors.append(str(alert)[:200])
            return
        self.revision = int(body["sideUpdate"]["kg-session"]["data"]["revision"])
        self.latencies.append(dt)
        self.applied += 1
        (self.removed.discard if add else self.removed.add)(edge)


@dataclass
class LoadResult:
    clients: int
    workers: int
    seconds: float
    edits: int
    conflicts: int
    errors: list[str]
    lost: list[str]
    p50_ms: float
    p95_ms: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def run_load(
    base: str, store_url: str, graph: dict[str, Any], *, clients: int, seconds: float, workers: int
) -> LoadResult:
    """Drive ``clients`` clinicians (in pairs per session) for ``seconds``; verify."""
    from kg_editor.versions.store import Store

    edges = [(e["source"], e["target"]) for e in graph["edges"]]
    per = max(1, len(edges) // max(clients, 1))
    docs = [Clinician(base, edges[i * per : (i + 1) * per] or edges[:1]) for i in range(clients)]
    for i, d in enumerate(docs):
        d.open(docs[i - 1].session_id if i % 2 == 1 else None)
    stop_at = time.monotonic() + seconds

    def work(d: Clinician) -> None:
        i = 0
        while time.monotonic() < stop_at:
            try:
                d.step(i)
            except Exception as exc:  # a dropped connection counts as an error
                d.errors.append(repr(exc)[:200])
            i += 1

    threads = [threading.Thread(target=work, args=(d,)) for d in docs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lost: list[str] = []
    with Store(store_url) as store:
        by_session: dict[str, list[Clinician]] = {}
        for d in docs:
            by_session.setdefault(str(d.session_id), []).append(d)
        for sid, group in by_session.items():
            state = store.load_session_state(sid)
            assert state is not None
            have = {(e["source"], e["target"]) for e in state["graph"]["edges"]}
            removed = set().union(*(d.removed for d in group))
            want = set(edges) - removed
            if have != want:
                lost.append(f"{sid}: graph differs by {len(have ^ want)} edges")
            n = sum(d.applied for d in group)
            if state["revision"] != n:
                lost.append(f"{sid}: revision {state['revision']} != {n} applied edits")
            pid = state["project_id"]
            audit = store.audit(pid, session_id=sid)
            if len(audit) != n:
                lost.append(f"{sid}: {len(audit)} audit entries != {n} applied edits")
    lat = sorted(x for d in docs for x in d.latencies)
    q = statistics.quantiles(lat, n=20) if len(lat) >= 20 else [float("nan")] * 19
    return LoadResult(
        clients=clients,
        workers=workers,
        seconds=seconds,
        edits=len(lat),
        conflicts=sum(d.conflicts for d in docs),
        errors=[e for d in docs for e in d.errors],
        lost=lost,
        p50_ms=1000 * statistics.median(lat) if lat else float("nan"),
        p95_ms=1000 * q[18],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--store", help="store URL (default: a throw-away PostgreSQL)")
    args = parser.parse_args()
    if args.seconds > 120:
        raise SystemExit("Keep the load test short on a shared machine (at most 120 s).")
    os.environ["DASH_DISABLE_VERSION_CHECK"] = "true"
    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources import load_source
    from kg_editor.discovery.distill import Distiller

    cohort = build_cohort(load_source("demo"), target="Gastrointestinal hemorrhage")
    graph = Distiller().fit(cohort).graph_.to_dict()
    tmp = Path(tempfile.mkdtemp(prefix="kg-load-"))
    graph_file = tmp / "graph.json"
    graph_file.write_text(json.dumps(graph))
    stop_pg = None
    url = args.store
    if url is None:
        url, stop_pg = start_postgres()
    base, proc = start_server(url, graph_file, workers=args.workers)
    try:
        res = run_load(
            base, url, graph, clients=args.clients, seconds=args.seconds, workers=args.workers
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if stop_pg is not None:
            stop_pg()
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    print(
        json.dumps(
            {
                **res.to_dict(),
                "errors": res.errors[:5],
                "n_errors": len(res.errors),
                "loadavg": [round(x, 2) for x in load],
            },
            indent=1,
        )
    )
    return 0 if not res.errors and not res.lost else 1


if __name__ == "__main__":
    sys.exit(main())
