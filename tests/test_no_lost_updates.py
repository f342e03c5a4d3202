"""No lost updates: two tabs, two workers on one store, a full disk, a killed server,
two physicians saving on one branch. Through the real HTTP route where a page is
involved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from _dash_http import DashHTTP
from test_security import add_values, allowed_add, open_tab

pytest.importorskip("dash")


@pytest.fixture(scope="module")
def app(make_demo_app):
    return make_demo_app(bootstrap=0)


def edges(store, sid):
    return {(e["source"], e["target"]) for e in store.load_session_state(sid)["graph"]["edges"]}


def alert_of(resp):
    data = resp.get_json()["response"]
    return data.get("kg-alert-text", {}).get("children")


def test_two_tabs_on_one_session_cannot_lose_an_update(app):
    store = app.workspace.store
    tab_a, sess = open_tab(app)
    sid = sess["session_id"]
    tab_b = DashHTTP(app.server.test_client())
    text = tab_b.open_page("/", f"?session={sid}").get_data(as_text=True)
    assert f'"session_id":"{sid}","revision":0' in text
    pair_a = allowed_add(app, sid)
    resp = tab_a.fire("kg-form-add", "n_clicks", 1, add_values(app, sess, pair=pair_a))
    assert resp.status_code == 200 and alert_of(resp) is None
    # the page learns its new revision with the answer
    side = resp.get_json()["sideUpdate"]["kg-session"]["data"]
    assert side == {"session_id": sid, "revision": 1}
    # tab B still shows revision 0: its edit is refused, visibly, and nothing changes
    pair_b = allowed_add(app, sid)
    resp = tab_b.fire("kg-form-add", "n_clicks", 1, add_values(app, sess, pair=pair_b))
    assert resp.status_code == 200
    assert "changed in another tab" in alert_of(resp) and "reload" in alert_of(resp)
    assert edges(store, sid) >= {pair_a} and pair_b not in edges(store, sid)
    assert store.session_revision(sid) == 1
    # tab B's undo cannot revert tab A's edit either
    resp = tab_b.fire("kg-undo", "n_clicks", 1, {("kg-session", "data"): sess})
    assert "changed in another tab" in alert_of(resp) and pair_a in edges(store, sid)
    # after a reload tab B sees A's edit and its own edit applies on top
    resp = tab_b.fire(
        "kg-form-add", "n_clicks", 1, add_values(app, {**sess, "revision": 1}, pair=pair_b)
    )
    assert alert_of(resp) is None
    assert {pair_a, pair_b} <= edges(store, sid) and store.session_revision(sid) == 2
    # one audit entry per applied edit, none for the refused ones
    audit = store.audit(app.workspace.project_id, session_id=sid)
    assert [(a.edit["source"], a.edit["target"]) for a in audit] == [pair_a, pair_b]


def test_two_workers_on_one_store_cannot_lose_an_update(make_demo_app, demo_cohort, demo_graph):
    from kg_editor.errors import ConflictError
    from kg_editor.ui import create_app

    one = make_demo_app(bootstrap=0)
    url = one.workspace.store.url
    two = create_app(
        "demo",
        cohort=demo_cohort,
        graph=demo_graph,
        store_url=url,
        session_options={"bootstrap": 0},
    )
    w1, w2 = one.workspace, two.workspace
    sid = w1.open_session()
    pair1 = allowed_add(one, sid)
    with w1.editing(sid) as s:
        s.add(*pair1, author="dr_a", rationale="one")
    # worker 2 has never seen the session: rebuilt from the store, with worker 1's edit
    pair2 = allowed_add(two, sid)
    with w2.editing(sid) as s:
        assert s.graph.has_edge(*pair1)
        s.add(*pair2, author="dr_b", rationale="two")
    # worker 1's cached copy is stale: it is rebuilt before use, so nothing is lost
    with w1.editing(sid) as s:
        assert s.graph.has_edge(*pair1) and s.graph.has_edge(*pair2)
    # a writer that read the old revision and writes late is refused by the store
    state = w1.store.load_session_state(sid)
    with pytest.raises(ConflictError, match="changed elsewhere"):
        w1.store.save_session_state(sid, w1.project_id, state, expected_revision=1)
    assert edges(w1.store, sid) >= {pair1, pair2}


def test_a_full_disk_leaves_memory_and_store_unchanged(make_demo_app):
    import sqlalchemy as sa

    app = make_demo_app(bootstrap=0)
    store, reg = app.workspace.store, app.workspace
    tab, sess = open_tab(app)
    sid = sess["session_id"]
    before = store.load_session_state(sid)
    n_audit = len(store.audit(reg.project_id))

    def full(dbapi_conn, _record):  # the database may not grow: SQLITE_FULL on the next write
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()

    sa.event.listen(store.engine, "connect", full)
    store.engine.dispose()
    try:
        resp = tab.fire("kg-form-add", "n_clicks", 1, add_values(app, sess, rationale="z" * 9000))
        assert resp.status_code == 200
        assert "not applied" in alert_of(resp) and "unchanged" in alert_of(resp)
    finally:
        sa.event.remove(store.engine, "connect", full)
        store.engine.dispose()
    after = store.load_session_state(sid)
    assert after["graph"] == before["graph"] and after["revision"] == before["revision"]
    assert len(store.audit(reg.project_id)) == n_audit  # no entry for an edit never stored
    with reg.reading(sid) as s:  # memory follows the store
        assert s.graph.to_dict() == before["graph"]
    # the page's next edit works once there is room again
    resp = tab.fire("kg-form-add", "n_clicks", 1, add_values(app, sess))
    assert alert_of(resp) is None and store.session_revision(sid) == 1


_KILLED_EDIT = textwrap.dedent(
    """
    import os, signal, sys
    import sqlalchemy as sa
    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources import load_source
    from kg_editor.model.graph import CausalGraph
    from kg_editor.workspace import ProjectSpec, Workspace

    url, sid, graph_file, src, dst = sys.argv[1:6]
    cohort = build_cohort(load_source("demo"), target="Gastrointestinal hemorrhage")
    reg = Workspace(ProjectSpec("demo", "Gastrointestinal hemorrhage"), cohort=cohort,
                    graph=CausalGraph.from_json(graph_file), store=url,
                    session_options={"bootstrap": 0})

    def die(conn):  # the edit is written, its transaction not yet committed
        os.kill(os.getpid(), signal.SIGKILL)

    with reg.editing(sid) as s:
        s.add(src, dst, author="dr_k", rationale="about to be killed")
        reg.log_edit(sid, s.history[-1].edit, None)
        sa.event.listen(reg.store.engine, "commit", die)
    """
)


def test_kill_9_during_an_edit_leaves_no_orphan_audit_entry(make_demo_app, tmp_path):
    app = make_demo_app(bootstrap=0)
    reg, store = app.workspace, app.workspace.store
    sid = reg.open_session()
    graph_file = tmp_path / "g.json"
    graph_file.write_text(json.dumps(reg.base_graph().to_dict()))
    src, dst = allowed_add(app, sid)
    script = tmp_path / "killed_edit.py"
    script.write_text(_KILLED_EDIT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, str(script), store.url, sid, str(graph_file), src, dst],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert store.session_revision(sid) == 0
    assert (src, dst) not in edges(store, sid)
    assert store.audit(reg.project_id, session_id=sid) == []


def test_two_physicians_saving_on_one_branch_get_a_conflict(make_demo_app):
    from kg_editor.errors import ConflictError

    app = make_demo_app(bootstrap=0)
    reg = app.workspace
    a, b = reg.open_session(), reg.open_session()
    with reg.editing(a) as s:
        s.add(*allowed_add(app, a), author="dr_a", rationale="a")
    with reg.editing(b) as s:
        s.add(*allowed_add(app, b), author="dr_b", rationale="b")
    v1 = reg.save_version(a, author="dr_a", message="A's edit")
    with pytest.raises(ConflictError, match="merge"):
        reg.save_version(b, author="dr_b", message="B's edit")
    assert reg.store.head(reg.project_id).id == v1.id  # A's version was not replaced
    # A saves again on top of its own version: no conflict
    with reg.editing(a) as s:
        s.add(*allowed_add(app, a), author="dr_a", rationale="a2")
    v2 = reg.save_version(a, author="dr_a", message="A again")
    assert v2.parent_id == v1.id


def test_accept_works_after_the_worker_lost_its_copy(app):
    reg = app.workspace
    sid = reg.open_session()
    with reg.reading(sid) as s:
        shown = s.suggestions(k=5)[0]
    reg.forget(sid)  # a restart, or another worker answers the click
    with reg.editing(sid) as s:
        s.accept(shown.id, author="dr_a")
        assert s.history[-1].kind == "accept"


def test_a_stale_worker_catches_up_by_replaying_only_the_new_edits(
    make_demo_app, demo_cohort, demo_graph
):
    from kg_editor.ui import create_app

    one = make_demo_app(bootstrap=0)
    two = create_app(
        "demo",
        cohort=demo_cohort,
        graph=demo_graph,
        store_url=one.workspace.store.url,
        session_options={"bootstrap": 0},
    )
    w1, w2 = one.workspace, two.workspace
    sid = w1.open_session()
    mine = w1.session(sid)
    for _ in range(2):
        pair = allowed_add(two, sid)
        with w2.editing(sid) as s:
            s.add(*pair, author="dr_b", rationale="elsewhere")
    same = w1.session(sid)
    assert same is mine  # caught up in place, not rebuilt
    assert same.graph == w2.session(sid).graph and len(same.history) == 3
    assert w1.revision(sid) == w1.store.session_revision(sid) == 2


def test_undo_reverts_only_the_authors_own_edit(app):
    from kg_editor.errors import KGEditorError

    reg = app.workspace
    sid = reg.open_session()
    pair = allowed_add(app, sid)
    with reg.editing(sid) as s:
        s.add(*pair, author="dr_a", rationale="mine")
    with pytest.raises(KGEditorError, match="made by dr_a"), reg.editing(sid) as s:
        s.undo(author="dr_b")
    assert pair in edges(reg.store, sid)
    with reg.editing(sid) as s:
        s.undo(author="dr_a")
    assert pair not in edges(reg.store, sid)
