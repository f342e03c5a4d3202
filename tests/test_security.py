"""The hardening layer through the real HTTP route (Flask test client): rebinding and
foreign origins refused, frames refused, CSRF, size limits, session-creation limits,
exact version ids."""

from __future__ import annotations

import networkx as nx
import pytest
from _dash_http import DashHTTP

pytest.importorskip("dash")


@pytest.fixture(scope="module")
def app(make_demo_app):
    return make_demo_app(bootstrap=0)


def open_tab(app, **headers):
    """A new browser tab: loads the page, returns (DashHTTP, session data)."""
    tab = DashHTTP(app.server.test_client(), headers=headers)
    assert tab.status(tab.get("/")) == 200
    resp = tab.open_page("/")
    assert tab.status(resp) == 200, resp.get_data(as_text=True)[:300]
    return tab, tab.session_data(resp)


def allowed_add(app, sid):
    with app.workspace.reading(sid) as session:
        g = session.graph.nx
        nodes = sorted(session.graph.nodes)
        return next(
            (a, b)
            for a in nodes
            for b in nodes
            if a != b
            and not g.has_edge(a, b)
            and not g.has_edge(b, a)
            and session.constraints.violation(a, b) is None
            and not nx.has_path(g, b, a)
        )


def add_values(app, sess, rationale="seen on the ward", author="dr_a", pair=None):
    a, b = pair or allowed_add(app, sess["session_id"])
    return {
        ("kg-session", "data"): sess,
        ("kg-form-source", "value"): a,
        ("kg-form-target", "value"): b,
        ("kg-author", "value"): author,
        ("kg-rationale", "value"): rationale,
    }


def n_edges(app, sid):
    state = app.workspace.store.load_session_state(sid)
    return len(state["graph"]["edges"])


def test_a_rebinding_host_is_refused(app):
    tab, sess = open_tab(app)
    before = n_edges(app, sess["session_id"])
    resp = tab.get("/", headers={"Host": "attacker.example:8050"})
    assert resp.status_code == 421
    assert "DNS rebinding" in resp.get_data(as_text=True)
    resp = tab.fire(
        "kg-form-add", "n_clicks", 1, add_values(app, sess), headers={"Host": "attacker.example"}
    )
    assert resp.status_code == 421 and "--allowed-host" in resp.get_json()["error"]
    assert n_edges(app, sess["session_id"]) == before
    # loopback names and IPv6 loopback are served
    for host in ("127.0.0.1:8050", "localhost", "[::1]:8050"):
        assert tab.get("/", headers={"Host": host}).status_code == 200


def test_allowed_host_is_served(make_demo_app, demo_cohort, demo_graph, tmp_path):
    from kg_editor.ui import create_app
    from kg_editor.ui.security import SecurityPolicy

    app2 = create_app(
        "demo",
        cohort=demo_cohort,
        graph=demo_graph,
        store_url=f"sqlite:///{tmp_path / 'kg.db'}",
        session_options={"bootstrap": 0},
        security=SecurityPolicy(allowed_hosts=("kg.ward7.example",)),
    )
    client = app2.server.test_client()
    assert client.get("/", headers={"Host": "kg.ward7.example"}).status_code == 200
    assert client.get("/", headers={"Host": "kg.ward8.example"}).status_code == 421


def test_a_foreign_origin_is_refused_and_same_origin_needs_the_csrf_token(app):
    tab, sess = open_tab(app)
    sid = sess["session_id"]
    before = n_edges(app, sid)
    vals = add_values(app, sess)
    resp = tab.fire("kg-form-add", "n_clicks", 1, vals, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403 and "evil.example" in resp.get_json()["error"]
    # same origin, but the token is not echoed: refused
    resp = tab.fire(
        "kg-form-add",
        "n_clicks",
        1,
        vals,
        headers={"Origin": "http://localhost", "X-CSRFToken": "guessed"},
    )
    assert resp.status_code == 403 and "CSRF" in resp.get_json()["error"]
    assert n_edges(app, sid) == before
    # the renderer's way: the _csrf_token cookie echoed in X-CSRFToken
    assert tab.cookie("_csrf_token")
    resp = tab.fire("kg-form-add", "n_clicks", 1, vals, headers={"Origin": "http://localhost"})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert n_edges(app, sid) == before + 1


def test_framing_is_refused_by_every_page(app):
    client = app.server.test_client()
    for path in ("/", "/versions", "/_dash-layout", "/login"):
        resp = client.get(path)
        assert resp.headers["X-Frame-Options"] == "DENY", path
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert (
            "'unsafe-eval'" not in csp
            and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        )
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_an_oversized_request_is_refused_with_a_message(app):
    tab, sess = open_tab(app)
    sid = sess["session_id"]
    before = app.workspace.store.load_session_state(sid)
    body = tab.body("kg-form-add", "n_clicks", 1, add_values(app, sess, rationale="x" * 2_000_000))
    resp = tab.post_json("/_dash-update-component", body)
    assert resp.status_code == 413
    msg = resp.get_json()["error"]
    assert "too large" in msg and "1.0 MB" in msg
    # a 5 MB upload to any path is refused before it is read
    resp = tab.client.post("/versions", data=b"0" * 5_000_000)
    assert resp.status_code == 413 and "too large" in resp.get_data(as_text=True)
    # a rationale over the field limit: refused, naming the field
    resp = tab.fire("kg-form-add", "n_clicks", 1, add_values(app, sess, rationale="y" * 20_000))
    assert resp.status_code == 413
    msg = resp.get_json()["error"]
    assert "the rationale" in msg and "20,000" in msg and "10,000" in msg
    after = app.workspace.store.load_session_state(sid)
    assert after["graph"] == before["graph"] and after["revision"] == before["revision"]


def test_session_creation_is_rate_limited_and_old_unused_sessions_expire(
    demo_cohort, demo_graph, tmp_path
):
    from datetime import UTC, datetime, timedelta

    from kg_editor.ui import create_app
    from kg_editor.ui.security import SecurityPolicy

    app2 = create_app(
        "demo",
        cohort=demo_cohort,
        graph=demo_graph,
        store_url=f"sqlite:///{tmp_path / 'kg.db'}",
        session_options={"bootstrap": 0},
        security=SecurityPolicy(session_creations=3),
    )
    store = app2.workspace.store
    tab = DashHTTP(app2.server.test_client())
    for _ in range(3):
        assert tab.open_page("/").status_code == 200
    assert len(store.list_sessions()) == 3
    resp = tab.open_page("/")
    assert resp.status_code == 429 and "Too many new editing sessions" in resp.get_json()["error"]
    assert len(store.list_sessions()) == 3
    # reopening an existing session is not a new one
    sid = store.list_sessions()[0]["id"]
    resp = tab.open_page("/", f"?session={sid}")
    assert resp.status_code == 200 and sid in resp.get_data(as_text=True)
    # another computer has its own allowance
    other = tab.open_page("/", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert other.status_code == 200
    # untouched sessions expire; an edited one is kept
    state = store.load_session_state(sid)
    store.save_session_state(sid, state["project_id"], state)  # revision 1: "edited"
    gone = store.expire_sessions(datetime.now(UTC) + timedelta(seconds=1))
    assert gone == 3 and [s["id"] for s in store.list_sessions()] == [sid]


def test_percent_and_underscore_in_a_version_id_match_nothing(app):
    from kg_editor.errors import StoreError

    store = app.workspace.store
    pid = app.workspace.project_id
    other = store.ensure_project("another project", "fp-other")
    v = store.save_version(other.id, app.workspace.base_graph(), author="dr_b", message="theirs")
    store.save_version(pid, app.workspace.base_graph(), author="dr_a", message="ours")
    for bad in ("%%%%", "____", v.id[:4] + "%", "%" + v.id[-4:], "_" * 12):
        with pytest.raises(StoreError, match="No version"):
            store.get_version(bad)
    assert store.get_version(v.id).message == "theirs"
    assert store.get_version(v.id[:6]).id == v.id  # a literal prefix still works
