"""``kg-editor serve --workers 2``: a real gunicorn server with two worker processes on
one store; two clinicians on one session through the real HTTP route cannot lose an
update, and every worker answers every request from the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("requests")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.team_load import run_load, start_server


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_worker_processes_lose_no_update(demo_graph, tmp_path):
    graph = demo_graph.to_dict()
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(graph))
    url = f"sqlite:///{tmp_path / 'kg.db'}"
    base, proc = start_server(url, graph_file, workers=2)
    try:
        import subprocess

        # gunicorn's master and its two worker processes

        kids = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(kids) == 2, kids
        res = run_load(base, url, graph, clients=4, seconds=8, workers=2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert res.errors == [] and res.lost == []
    assert res.edits >= 4  # every clinician got edits through


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_worker_processes_on_postgresql_lose_no_update(demo_graph, tmp_path):
    """The team setup: a throw-away PostgreSQL server (as the store tests start one), two
    gunicorn workers, four clinicians in pairs on shared sessions for a few seconds."""
    pytest.importorskip("psycopg")
    from benchmarks.team_load import start_postgres

    try:
        url, stop_pg = start_postgres()
    except SystemExit as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    graph = demo_graph.to_dict()
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(graph))
    try:
        base, proc = start_server(url, graph_file, workers=2)
        try:
            res = run_load(base, url, graph, clients=4, seconds=8, workers=2)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        stop_pg()
    assert res.errors == [] and res.lost == []
    assert res.edits >= 4
