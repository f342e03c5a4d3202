"""Accounts, sign-in and roles: the store's accounts, the /login page and every role's
allowed and refused actions through the real HTTP route; the users CLI."""

from __future__ import annotations

import io
import json

import pytest
from _dash_http import DashHTTP
from test_security import add_values

pytest.importorskip("dash")

PASSWORDS = {
    "vera": "viewer-passphrase-1",
    "ed": "editor-passphrase-2",
    "rita": "reviewer-passphrase-3",
    "ada": "admin-passphrase-4",
}
ROLE_OF = {"vera": "viewer", "ed": "editor", "rita": "reviewer", "ada": "admin"}


@pytest.fixture(scope="module")
def team_app(make_demo_app):
    app = make_demo_app(bootstrap=0)
    accounts = app.workspace.accounts
    for name, pw in PASSWORDS.items():
        accounts.add(name, pw, role=ROLE_OF[name])
    return app


def sign_in(app, name, password=None, **environ):
    tab = DashHTTP(app.server.test_client())
    assert tab.get("/login").status_code == 200
    resp = tab.client.post(
        "/login",
        data={
            "username": name,
            "password": password or PASSWORDS[name],
            "csrf_token": tab.cookie("_csrf_token"),
            "next": "/",
        },
        environ_base=environ or {},
    )
    return tab, resp


def session_of(tab):
    resp = tab.open_page("/")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return tab.session_data(resp)


# -- the store's accounts ---------------------------------------------------------------
def test_hashes_are_salted_memory_hard_and_verified():
    from kg_editor.versions.accounts import hash_password, verify_password

    a, b = hash_password("same passphrase"), hash_password("same passphrase")
    assert a != b  # salted
    kind, n, r, _p, _salt, _digest = a.split("$")
    assert (kind, int(n), int(r)) == ("scrypt", 2**14, 8)
    assert 128 * int(r) * int(n) >= 16 * 2**20  # 16 MiB of memory per guess
    assert verify_password("same passphrase", a) and not verify_password("same passphrasE", a)
    assert not verify_password("x", "garbage")


def test_accounts_add_list_role_disable(tmp_path):
    from kg_editor.errors import AccessError, KGEditorError
    from kg_editor.versions.accounts import Accounts
    from kg_editor.versions.store import Store

    with Store(tmp_path / "s.sqlite") as store:
        acc = Accounts(store)
        assert not acc.any()
        acc.add("dr_lee", "a long enough passphrase", role="viewer")
        assert acc.any() and [a.username for a in acc.list()] == ["dr_lee"]
        with pytest.raises(KGEditorError, match="already exists"):
            acc.add("dr_lee", "another long passphrase")
        with pytest.raises(KGEditorError, match="too short"):
            acc.add("dr_kim", "short")
        with pytest.raises(KGEditorError, match="Unknown role"):
            acc.add("dr_kim", "a long enough passphrase", role="chief")
        with pytest.raises(KGEditorError, match="not allowed"):
            acc.add("dr kim'; --", "a long enough passphrase")
        assert not acc.get("dr_lee").can("editor")
        assert acc.set_role("dr_lee", "reviewer").can("editor")
        acc.disable("dr_lee")
        with pytest.raises(AccessError, match="disabled"):
            acc.authenticate("dr_lee", "a long enough passphrase")
        acc.enable("dr_lee")
        assert acc.authenticate("dr_lee", "a long enough passphrase").role == "reviewer"
        # the stored hash is not the password
        with store.engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT password_hash FROM accounts").scalar()
        assert "a long enough passphrase" not in stored


def test_sign_in_attempts_are_rate_limited(tmp_path):
    from kg_editor.errors import AccessError
    from kg_editor.versions.accounts import LOGIN_FAILURES, Accounts
    from kg_editor.versions.store import Store

    with Store(tmp_path / "s.sqlite") as store:
        acc = Accounts(store)
        acc.add("dr_lee", "the right passphrase")
        for _ in range(LOGIN_FAILURES):
            with pytest.raises(AccessError, match="Wrong user name or password"):
                acc.authenticate("dr_lee", "a wrong guess", client="10.1.1.1")
        # even the right password is refused now, from any computer
        with pytest.raises(AccessError, match="Too many failed sign-ins"):
            acc.authenticate("dr_lee", "the right passphrase", client="10.9.9.9")
        # and that computer cannot try other accounts either
        acc.add("dr_kim", "another right passphrase")
        with pytest.raises(AccessError, match="for this computer"):
            acc.authenticate("dr_kim", "another right passphrase", client="10.1.1.1")
        assert acc.authenticate("dr_kim", "another right passphrase", client="10.2.2.2")


# -- the web app ------------------------------------------------------------------------
def test_sign_in_is_required_when_accounts_exist(team_app):
    client = team_app.server.test_client()
    resp = client.get("/")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login?next=")
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/versions").status_code == 303
    page = client.get("/login").get_data(as_text=True)
    assert 'name="password"' in page and 'name="csrf_token"' in page
    # a wrong password: the page says so, no cookie
    tab, resp = sign_in(team_app, "ed", "not the password", REMOTE_ADDR="10.0.0.50")
    assert resp.status_code == 401 and "Wrong user name or password" in resp.get_data(as_text=True)
    assert tab.cookie("kg_session") is None
    # the login form itself needs the CSRF token
    tab = DashHTTP(team_app.server.test_client())
    tab.get("/login")
    resp = tab.client.post("/login", data={"username": "ed", "password": PASSWORDS["ed"]})
    assert resp.status_code == 403
    # the right one: a secure, HttpOnly session cookie, then the editor
    tab, resp = sign_in(team_app, "ed")
    assert resp.status_code == 303
    cookie = resp.headers.getlist("Set-Cookie")
    sess_cookie = next(c for c in cookie if c.startswith("kg_session="))
    assert "HttpOnly" in sess_cookie and "SameSite=Lax" in sess_cookie
    assert tab.get("/").status_code == 200
    assert tab.get("/_dash-layout").status_code == 200
    # signing out ends it
    tab.client.post("/logout", headers={"X-CSRFToken": tab.cookie("_csrf_token")})
    assert tab.get("/_dash-layout").status_code == 401


def _try_edit(app, name, author_typed="someone else"):
    tab, resp = sign_in(app, name)
    assert resp.status_code == 303
    sess = session_of(tab)
    before = app.workspace.store.load_session_state(sess["session_id"])["revision"]
    resp = tab.fire("kg-form-add", "n_clicks", 1, add_values(app, sess, author=author_typed))
    after = app.workspace.store.load_session_state(sess["session_id"])
    return tab, sess, resp, after["revision"] - before


@pytest.mark.parametrize("name", ["vera", "ed", "rita", "ada"])
def test_each_role_is_allowed_or_refused_an_edit_on_the_server(team_app, name):
    tab, sess, resp, moved = _try_edit(team_app, name)
    if ROLE_OF[name] == "viewer":
        assert resp.status_code == 403
        assert "needs the editor role" in resp.get_json()["error"]
        assert moved == 0
        # a viewer may still read: select a node
        node = sorted(team_app.workspace.base_graph().nodes)[0]
        resp = tab.fire("kg-canvas", "tapNodeData", {"id": node}, {("kg-session", "data"): sess})
        assert resp.status_code == 200 and "kg-details" in resp.get_data(as_text=True)
        # and may not undo, save or accept either
        for comp, prop, value in (
            ("kg-undo", "n_clicks", 1),
            ("kg-e-save", "n_clicks", 1),
            ({"type": "kg-suggest-accept", "index": "add:a->b"}, "n_clicks", 1),
        ):
            r = tab.fire(comp, prop, value, {("kg-session", "data"): sess})
            assert r.status_code == 403, comp
    else:
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        assert moved == 1
        # the author is the signed-in account, whatever the name field says
        last = team_app.workspace.store.audit(
            team_app.workspace.project_id, session_id=sess["session_id"]
        )[-1]
        assert last.author == name and last.action == "edit"


def test_a_saved_version_is_authored_by_the_account(team_app):
    tab, sess, resp, _ = _try_edit(team_app, "rita")
    resp = tab.fire(
        "kg-e-save",
        "n_clicks",
        1,
        {
            ("kg-session", "data"): {**sess, "revision": sess["revision"] + 1},
            ("kg-author", "value"): "an impostor",
            ("kg-e-save-message", "value"): "reviewed",
            ("kg-e-url", "search"): "",
        },
    )
    assert resp.status_code == 200 and "Saved" in resp.get_data(as_text=True)
    head = team_app.workspace.store.head(team_app.workspace.project_id)
    assert head.author == "rita" and head.message == "reviewed"


def test_a_disabled_account_is_signed_out_at_once(team_app):
    accounts = team_app.workspace.accounts
    accounts.add("temp_doc", "a temporary passphrase", role="editor")
    tab, _ = sign_in(team_app, "temp_doc", "a temporary passphrase")
    assert tab.get("/_dash-layout").status_code == 200
    accounts.disable("temp_doc")
    assert tab.get("/_dash-layout").status_code == 401


def test_users_cli(tmp_path, monkeypatch, capsys):
    from kg_editor.cli import main

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("a passphrase for the cli\n"))
    assert (
        main(["users", "--store", url, "add", "dr_cli", "--role", "viewer", "--password-stdin"])
        == 0
    )
    assert main(["users", "--store", url, "set-role", "dr_cli", "reviewer"]) == 0
    assert main(["users", "--store", url, "--json", "list"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert [(r["username"], r["role"], r["active"]) for r in rows] == [("dr_cli", "reviewer", True)]
    assert main(["users", "--store", url, "disable", "dr_cli"]) == 0
    assert main(["users", "--store", url, "list"]) == 0
    assert "(disabled)" in capsys.readouterr().out
    assert main(["users", "--store", url, "set-role", "nobody", "admin"]) == 2
    assert "No account named 'nobody'" in capsys.readouterr().err


def test_serve_refuses_a_network_address_without_accounts(tmp_path, capsys):
    from kg_editor.cli import main

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    assert main(["serve", "--host", "0.0.0.0", "--store", url]) == 2
    assert "Refusing to listen on 0.0.0.0" in capsys.readouterr().err


def test_serve_warns_without_tls_when_accounts_exist(tmp_path, capsys):
    import argparse

    from kg_editor.commands._serving import check_bind
    from kg_editor.versions.accounts import Accounts
    from kg_editor.versions.store import Store

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    with Store(url) as s:
        Accounts(s).add("ada", "admin passphrase here", role="admin")
    check_bind(argparse.Namespace(host="10.0.0.5", store=url, certfile=None, behind_proxy=False))
    assert "without TLS" in capsys.readouterr().err
    check_bind(argparse.Namespace(host="10.0.0.5", store=url, certfile=None, behind_proxy=True))
    assert "without TLS" not in capsys.readouterr().err
