"""The version store on a real SQLite file: versions, branches, restore, merge, audit,
sessions, migrations, and a writer killed in the middle of saving."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa

from kg_editor.errors import StoreError
from kg_editor.model.graph import (
    AddEdge,
    CausalGraph,
    RemoveEdge,
    ReverseEdge,
    apply_edit,
    edit_to_dict,
)
from kg_editor.versions.diff import MergeConflictError
from kg_editor.versions.store import (
    SCHEMA_HEAD,
    Store,
    data_home,
    default_store_url,
    metadata,
    new_id,
)

NODES = ["asia", "tub", "smoke", "lung", "bronc", "either", "xray", "dysp"]
#: How a stored report records its protection (every report the store writes passes it).
PRIVACY_RULE = "small-cell and complementary suppression"

REPORT = {
    "accuracy": {"loglik": -2.1, "auroc": 0.71},
    "targets": {"lung": {"auroc": 0.8}},
    "interpretability": {"edges": 3},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(tmp_path / "store.sqlite")
    else:
        sock = request.getfixturevalue("postgres_socket")
        name = "t_" + new_id()
        admin = sa.create_engine(
            f"postgresql+psycopg://kg@/postgres?host={sock}", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        s = Store(f"postgresql+psycopg://kg@/{name}?host={sock}")
    yield s
    s.close()


@pytest.fixture
def base_graph():
    return CausalGraph.from_edges(
        [("asia", "tub"), ("smoke", "lung"), ("smoke", "bronc")], nodes=NODES
    )


def test_default_location_follows_kg_editor_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KG_EDITOR_HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home"
    assert default_store_url() == f"sqlite:///{tmp_path / 'home' / 'store.sqlite'}"
    with Store() as s:
        assert s.schema_revision() == SCHEMA_HEAD
    assert (tmp_path / "home" / "store.sqlite").exists()


def test_migrations_create_the_tables_the_code_uses(store):
    insp = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        have = {c["name"] for c in insp.get_columns(table.name)}
        assert have == {c.name for c in table.columns}, table.name
    if store.engine.dialect.name != "sqlite":
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_reopening_runs_no_migration_twice(tmp_path, base_graph):
    with Store(tmp_path / "s.sqlite") as s:
        p = s.ensure_project("p", "fp")
        v = s.save_version(p.id, base_graph, author="a")
    with Store(tmp_path / "s.sqlite") as s2:
        assert s2.get_version(v.id).graph == base_graph
        assert s2.schema_revision() == SCHEMA_HEAD


def test_projects_are_keyed_by_name_and_fingerprint(store):
    p = store.ensure_project(
        "asia", "abc", {"min_patients": 20}, source_name="synthetic-asia", target="lung"
    )
    assert store.ensure_project("asia", "abc").id == p.id
    assert store.get_project("asia") == store.get_project(p.id) == p
    assert p.settings == {"min_patients": 20} and p.target == "lung"
    with pytest.raises(StoreError, match="different dataset"):
        store.ensure_project("asia", "other")
    with pytest.raises(StoreError, match="Projects: asia"):
        store.get_project("nope")


def test_versions_chain_on_branches_with_reports_and_edits(store, base_graph):
    p = store.ensure_project("asia", "fp")
    v1 = store.save_version(p.id, base_graph, author="dr_a", message="distilled", report=REPORT)
    e = AddEdge("lung", "either", author="dr_a", rationale="cancer shows on the x-ray")
    g2 = apply_edit(base_graph, e)
    rep2 = {**REPORT, "accuracy": {"loglik": -2.0, "auroc": float("nan")}}
    v2 = store.save_version(
        p.id, g2, author="dr_a", message="add lung -> either", report=rep2, edits=[e]
    )
    assert v1.parent_id is None and v2.parent_id == v1.id and v2.seq == v1.seq + 1
    got = store.get_version(v2.id)
    assert got.graph == g2 and got.edits == [e]
    assert got.report["accuracy"]["auroc"] is None  # NaN stored as null, JSON stays strict
    assert got.key_metrics()["accuracy.loglik"] == -2.0
    assert store.get_version(v2.id[:6]).id == v2.id  # prefix lookup
    assert [v.id for v in store.list_versions(p.id)] == [v1.id, v2.id]
    frame = store.versions_frame(p.id)
    assert list(frame["id"]) == [v1.id, v2.id] and "accuracy.loglik" in frame.columns
    with pytest.raises(StoreError, match="No version"):
        store.get_version("doesnotexist")


def test_branch_restore_and_diff(store, base_graph):
    p = store.ensure_project("asia", "fp")
    v1 = store.save_version(p.id, base_graph, author="a", message="start", report=REPORT)
    g2 = apply_edit(base_graph, RemoveEdge("smoke", "bronc"))
    v2 = store.save_version(p.id, g2, author="a", message="remove")
    b1 = store.branch(v1.id, "dr_b", author="b")
    assert (
        b1.branch == "dr_b"
        and b1.parent_id == v1.id
        and b1.graph == base_graph
        and b1.report == {**REPORT, "privacy": {"min_cell": 11, "rule": PRIVACY_RULE}}
    )
    with pytest.raises(StoreError, match="already exists"):
        store.branch(v1.id, "dr_b", author="b")
    b2 = store.save_version(
        p.id, apply_edit(base_graph, ReverseEdge("asia", "tub")), branch="dr_b", author="b"
    )
    assert b2.parent_id == b1.id
    assert set(store.branches(p.id)) == {"main", "dr_b"}
    assert store.head(p.id, "dr_b").id == b2.id
    r = store.restore(v1.id, author="a")
    assert r.branch == "main" and r.parent_id == v2.id and r.graph == base_graph
    assert store.head(p.id).id == r.id
    assert [v.id for v in store.list_versions(p.id, "main")] == [v1.id, v2.id, r.id]
    d = store.diff(v2.id, b2.id)
    assert [(c.source, c.target) for c in d.added] == [("smoke", "bronc")]
    assert [(c.source, c.target) for c in d.reversed] == [("tub", "asia")]
    cmp = store.compare(v1.id, v2.id)
    assert list(cmp.metrics.columns) == ["section", "metric", v1.id, v2.id, "delta"]
    assert cmp.to_dict()["diff"]["summary"] == "0 edges added, 1 removed, 0 reversed"
    assert store.common_ancestor(r.id, b2.id) == v1.id
    actions = [a.action for a in store.audit(p.id)]
    assert actions == ["save", "save", "branch", "save", "restore"]


def test_merge_with_conflicts_then_resolutions(store, base_graph):
    p = store.ensure_project("asia", "fp")
    root = store.save_version(p.id, base_graph, author="a")
    store.branch(root.id, "dr_b", author="b")
    a1 = store.save_version(p.id, apply_edit(base_graph, ReverseEdge("smoke", "lung")), author="a")
    a2 = store.save_version(p.id, apply_edit(a1.graph, AddEdge("lung", "xray")), author="a")
    b2 = store.save_version(
        p.id, apply_edit(base_graph, RemoveEdge("smoke", "lung")), branch="dr_b", author="b"
    )
    b3 = store.save_version(
        p.id, apply_edit(b2.graph, AddEdge("tub", "either")), branch="dr_b", author="b"
    )
    with pytest.raises(MergeConflictError) as exc:
        store.merge(a2.id, b3.id, author="lead")
    (c,) = exc.value.conflicts
    assert c.key == "lung -- smoke" and "removed in theirs" in c.message
    assert store.head(p.id).id == a2.id  # nothing saved
    m = store.merge(a2.id, b3.id, {c.key: "theirs"}, author="lead", message="consensus")
    assert m.parent_id == a2.id and m.merge_parent_id == b3.id and m.branch == "main"
    assert sorted(m.graph.edges) == [
        ("asia", "tub"),
        ("lung", "xray"),
        ("smoke", "bronc"),
        ("tub", "either"),
    ]
    assert store.common_ancestor(m.id, b3.id) == b3.id


def test_audit_log_and_session_state(store, base_graph):
    p = store.ensure_project("asia", "fp")
    e1 = AddEdge("lung", "xray", author="dr_a", rationale="seen on film")
    e2 = ReverseEdge("asia", "tub", author="dr_b", rationale="travel precedes infection")
    store.log_edit(p.id, "s1", e1, {"accuracy": {"loglik": 0.01}})
    store.log_edit(p.id, "s2", e2, None)
    log = store.audit(p.id)
    assert [(x.author, x.rationale, x.action) for x in log] == [
        ("dr_a", "seen on film", "edit"),
        ("dr_b", "travel precedes infection", "edit"),
    ]
    assert log[0].edit == edit_to_dict(e1) and log[0].report_delta == {"accuracy": {"loglik": 0.01}}
    assert [x.session_id for x in store.audit(p.id, session_id="s2")] == ["s2"]
    g = apply_edit(base_graph, e1)
    state = {"graph": g.to_dict(), "history": [edit_to_dict(e1)], "cursor": 1, "target": "lung"}
    store.save_session_state("s1", p.id, state)
    back = store.load_session_state("s1")
    assert CausalGraph.from_dict(back["graph"]) == g and back["history"] == [edit_to_dict(e1)]
    assert back["cursor"] == 1 and back["project_id"] == p.id
    store.save_session_state("s1", p.id, {**state, "cursor": 0})
    assert store.load_session_state("s1")["cursor"] == 0
    assert [s["id"] for s in store.list_sessions(p.id)] == ["s1"]
    assert store.delete_session_state("s1") and store.load_session_state("s1") is None


def test_session_saves_are_compare_and_set_with_their_audit_entries(store, base_graph):
    """No lost updates in the store (SQLite and PostgreSQL): every save of a session
    bumps its revision; a writer holding an older revision is refused and writes nothing,
    not even the audit entry that came with its edit."""
    from kg_editor.errors import ConflictError

    p = store.ensure_project("asia", "fp")
    state = {"graph": base_graph.to_dict(), "history": []}
    assert store.save_session_state("s1", p.id, state) == 0
    assert store.session_revision("s1") == 0 and store.session_revision("nope") is None
    e1 = AddEdge("lung", "xray", author="dr_a", rationale="first")
    g1 = apply_edit(base_graph, e1)
    rev = store.save_session_state(
        "s1",
        p.id,
        {"graph": g1.to_dict(), "history": [edit_to_dict(e1)]},
        expected_revision=0,
        audit=[{"edit": e1, "report_delta": None, "action": "edit"}],
    )
    assert rev == 1 and store.load_session_state("s1")["revision"] == 1
    # a second writer that read revision 0 is refused: nothing of its edit is stored
    e2 = AddEdge("tub", "either", author="dr_b", rationale="late")
    with pytest.raises(ConflictError, match="changed elsewhere"):
        store.save_session_state(
            "s1",
            p.id,
            {"graph": apply_edit(base_graph, e2).to_dict(), "history": [edit_to_dict(e2)]},
            expected_revision=0,
            audit=[{"edit": e2, "report_delta": None, "action": "edit"}],
        )
    back = store.load_session_state("s1")
    assert CausalGraph.from_dict(back["graph"]) == g1 and back["revision"] == 1
    assert [a.rationale for a in store.audit(p.id, session_id="s1")] == ["first"]


def test_a_save_onto_a_moved_branch_head_is_refused(store, base_graph):
    from kg_editor.errors import ConflictError

    p = store.ensure_project("asia", "fp")
    v1 = store.save_version(p.id, base_graph, author="dr_a", expected_head=None, check_head=True)
    g2 = apply_edit(base_graph, AddEdge("lung", "xray", author="dr_a"))
    v2 = store.save_version(p.id, g2, author="dr_a", expected_head=v1.id, check_head=True)
    with pytest.raises(ConflictError, match="moved on"):
        store.save_version(p.id, base_graph, author="dr_b", expected_head=v1.id, check_head=True)
    assert store.head(p.id).id == v2.id
    # ids are matched exactly: LIKE wildcards match nothing
    for bad in ("%%%%", "____", v1.id[:4] + "%"):
        with pytest.raises(StoreError, match="No version"):
            store.get_version(bad)


def test_failed_write_leaves_nothing_behind(store, base_graph):
    p = store.ensure_project("asia", "fp")
    with pytest.raises(StoreError, match="No version"):
        store.save_version(p.id, base_graph, parent="ghost", author="a")
    assert store.list_versions(p.id) == [] and store.audit(p.id) == []


def test_two_stores_on_one_file_see_each_other(tmp_path, base_graph):
    path = tmp_path / "shared.sqlite"
    with Store(path) as s1, Store(path) as s2:
        p = s1.ensure_project("asia", "fp")
        v = s1.save_version(p.id, base_graph, author="a")
        v2 = s2.save_version(p.id, base_graph, author="b")
        assert v2.parent_id == v.id
        assert [x.id for x in s1.list_versions(p.id)] == [v.id, v2.id]


WRITER = textwrap.dedent(
    """
    import sys
    from kg_editor.model.graph import AddEdge, CausalGraph
    from kg_editor.versions.store import Store

    store = Store(sys.argv[1])
    project = store.ensure_project("kill", "fp")
    nodes = [f"v{i:03d}" for i in range(300)]
    i = 0
    while True:
        edges = [(nodes[j], nodes[j + 1 + (i + j) % 7]) for j in range(250)]
        g = CausalGraph.from_edges(edges, nodes=nodes)
        v = store.save_version(project.id, g, author="writer", message=f"save {i}",
                               report={"accuracy": {"i": i}})
        print(v.id, i, flush=True)
        i += 1
    """
)


def _expected_edges(i: int) -> set[tuple[str, str]]:
    nodes = [f"v{k:03d}" for k in range(300)]
    return {(nodes[j], nodes[j + 1 + (i + j) % 7]) for j in range(250)}


@pytest.mark.parametrize("kill_after", [5, 17])
def test_writer_killed_mid_save_loses_nothing_committed(tmp_path, kill_after):
    path = tmp_path / "kill.sqlite"
    Store(path).close()  # create and migrate first
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed: list[tuple[str, int]] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while len(committed) < kill_after and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            vid, i = line.split()
            committed.append((vid, int(i)))
        # let it get into the middle of the next save(s), then kill without warning
        time.sleep(0.01 * kill_after)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) == kill_after, "the writer did not report its commits"
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with Store(path) as s:
        p = s.get_project("kill")
        versions = {v.id: v for v in s.list_versions(p.id)}
        for vid, i in committed:
            v = versions[vid]
            assert v.message == f"save {i}" and v.report["accuracy"] == {"i": i}
            assert set(v.graph.edges) == _expected_edges(i)
        # every stored version is whole (a half-written one would fail to parse)
        for v in versions.values():
            assert len(v.graph.nodes) == 300
        seqs = sorted(v.seq for v in versions.values())
        assert seqs == list(range(1, len(seqs) + 1))
        # the store still takes writes
        s.save_version(p.id, CausalGraph.from_edges([("a", "b")]), author="after")


def test_versions_cli_list_diff_branch_merge_export(tmp_path, capsys, base_graph):
    from kg_editor.cli import main
    from kg_editor.formats import read_graph, write_graph

    db = str(tmp_path / "cli.sqlite")
    f1 = tmp_path / "g1.dagitty"
    write_graph(base_graph, "dagitty", f1)
    f2 = tmp_path / "g2.csv"
    write_graph(apply_edit(base_graph, ReverseEdge("smoke", "lung")), "csv", f2)
    f3 = tmp_path / "g3.json"
    apply_edit(base_graph, RemoveEdge("smoke", "lung")).to_json(f3)

    def run(*argv: str) -> str:
        capsys.readouterr()
        assert main(list(argv)) == 0
        return capsys.readouterr().out

    v1 = run("versions", "save", str(f1), "--store", db, "-a", "dr_a", "-m", "first").strip()
    b1 = run("versions", "branch", v1, "dr_b", "--store", db, "--json")
    v2 = run("versions", "save", str(f2), "--store", db, "-b", "dr_b", "-m", "reverse").strip()
    v3 = run("versions", "save", str(f3), "--store", db, "-m", "remove").strip()
    listing = run("versions", "list", "--store", db)
    assert v1 in listing and v3 in listing and "dr_b" in listing and '"branch": "dr_b"' in b1
    out = run("versions", "diff", v1, v2, "--store", db)
    assert "1 reversed" in out and "lung -> smoke" in out
    # a conflicting merge exits with a clear error naming the key, saving nothing
    assert main(["versions", "merge", v3, v2, "--store", db]) == 2
    assert "lung -- smoke" in capsys.readouterr().err
    merged = run("versions", "merge", v3, v2, "--store", db, "-r", "lung -- smoke=theirs", "--json")
    import json

    mv = json.loads(merged)
    assert mv["merge_parent_id"] == v2 and mv["parent_id"] == v3
    out_file = tmp_path / "merged.graphml"
    run("versions", "export", mv["id"], "--store", db, "-o", str(out_file))
    assert read_graph(out_file).has_edge("lung", "smoke")
    log = run("versions", "log", "--store", db, "--json")
    assert [e["action"] for e in json.loads(log)] == ["save", "branch", "save", "save", "merge"]
    shown = run("versions", "show", v1[:6], "--store", db)
    assert "first" in shown and "dr_a" in shown


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    from kg_editor.model.graph import AddEdge, CausalGraph
    from kg_editor.versions.store import Store

    store = Store(sys.argv[1])
    project = store.ensure_project("race", "fp")
    g = CausalGraph.from_edges([("a", "b")], nodes=["c"])
    for i in range(15):
        store.save_version(project.id, g, author=sys.argv[2], message=f"{sys.argv[2]} {i}")
        store.log_edit(project.id, sys.argv[2], AddEdge("a", "c"))
    """
)


def test_concurrent_writers_queue_instead_of_failing(tmp_path):
    path = tmp_path / "race.sqlite"
    with Store(path) as s:
        s.ensure_project("race", "fp")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, str(path), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with Store(path) as s:
        pid = s.get_project("race").id
        versions = s.list_versions(pid)
        assert len(versions) == 30
        assert [v.seq for v in versions] == list(range(1, 31))
        # each save chained onto the head that existed when it committed
        assert [v.parent_id for v in versions[1:]] == [v.id for v in versions[:-1]]
        assert len(s.audit(pid)) == 60


def test_an_old_schema_is_migrated_on_open_and_keeps_its_data(tmp_path):
    from alembic import command
    from alembic.config import Config

    from kg_editor.versions import store as store_mod

    path = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(os.path.dirname(store_mod.__file__) + "/migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql(
            "INSERT INTO projects (id, name, fingerprint, source_name, settings, created) "
            "VALUES ('p1', 'old', 'fp', '', '{}', '2026-01-01 00:00:00')"
        )
        g = CausalGraph.from_edges([("a", "b")]).to_json(indent=None)
        conn.exec_driver_sql(
            "INSERT INTO versions (id, project_id, seq, branch, author, message, created, graph, edits) "
            f"VALUES ('v1', 'p1', 1, 'main', 'x', 'old one', '2026-01-01 00:00:00', '{g}', '[]')"
        )
    engine.dispose()
    with Store(path) as s:
        assert s.schema_revision() == SCHEMA_HEAD != "0001"
        v = s.get_version("v1")
        assert v.graph.edges == [("a", "b")] and v.message == "old one"
        v2 = s.save_version("p1", v.graph, author="new")
        assert v2.parent_id == "v1" and v2.seq == 2
        with pytest.raises(sa.exc.IntegrityError), s.engine.begin() as conn:  # 0002's index holds
            conn.exec_driver_sql("UPDATE versions SET seq = 1 WHERE id = ?", (v2.id,))


SELF_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from sqlalchemy import event
    from kg_editor.model.graph import AddEdge, CausalGraph
    from kg_editor.versions.store import Store

    store = Store(sys.argv[1])
    project = store.ensure_project("atomic", "fp")
    g = CausalGraph.from_edges([("a", "b")], nodes=["c"])
    for i in range(3):
        print(store.save_version(project.id, g, author="w", message=f"kept {i}").id, flush=True)

    @event.listens_for(store.engine, "after_cursor_execute")
    def die(conn, cursor, statement, *args):
        # the version row is written; the audit row is written; the commit has not run
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT"):
            os.kill(os.getpid(), signal.SIGKILL)

    store.save_version(project.id, g, author="w", message="half-written")
    print("not reached", flush=True)
    """
)


def test_writer_killed_inside_the_transaction_leaves_no_half_version(tmp_path):
    path = tmp_path / "atomic.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", SELF_KILLER, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    kept = proc.stdout.split()
    assert len(kept) == 3 and "not reached" not in proc.stdout
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with Store(path) as s:
        pid = s.get_project("atomic").id
        versions = s.list_versions(pid)
        assert [v.id for v in versions] == kept
        assert [v.message for v in versions] == ["kept 0", "kept 1", "kept 2"]
        assert len(s.audit(pid)) == 3  # the audit row of the killed save was rolled back too
        assert s.save_version(pid, versions[0].graph, author="after").seq == 4
