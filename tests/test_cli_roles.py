"""Roles hold on the command line too (issue 15): once a store has accounts, every CLI
command that writes to it signs in (``--as``, password from $KG_EDITOR_PASSWORD or the
terminal), is refused below its role with a message, and records the account as author."""

from __future__ import annotations

import io
import json

import pytest

from kg_editor.cli import main
from kg_editor.model.graph import CausalGraph


@pytest.fixture()
def store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    graph = tmp_path / "g.json"
    CausalGraph.from_edges([("a", "b"), ("b", "c")]).to_json(graph)
    return url, graph


def _add(url, name, role, monkeypatch, *auth):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{name} has a long passphrase\n"))
    return main(["users", "--store", url, *auth, "add", name, "--role", role, "--password-stdin"])


def test_without_accounts_the_store_is_single_user(store, capsys):
    url, graph = store
    assert main(["versions", "save", str(graph), "--store", url, "-a", "dr_home"]) == 0
    vid = capsys.readouterr().out.strip()
    assert main(["versions", "show", vid, "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["author"] == "dr_home"


def test_writes_sign_in_and_respect_roles(store, capsys, monkeypatch):
    url, graph = store
    assert _add(url, "admin_a", "admin", monkeypatch) == 0  # the first administrator
    # now only an administrator manages accounts
    monkeypatch.delenv("KG_EDITOR_PASSWORD", raising=False)
    assert _add(url, "dr_v", "viewer", monkeypatch) == 2
    assert "--as USERNAME" in capsys.readouterr().err
    monkeypatch.setenv("KG_EDITOR_PASSWORD", "admin_a has a long passphrase")
    assert _add(url, "dr_v", "viewer", monkeypatch, "--as", "admin_a") == 0
    assert _add(url, "dr_e", "editor", monkeypatch, "--as", "admin_a") == 0
    capsys.readouterr()

    # saving a version needs an account with the editor role
    assert main(["versions", "save", str(graph), "--store", url]) == 2
    assert "needs the editor role" in capsys.readouterr().err
    monkeypatch.setenv("KG_EDITOR_PASSWORD", "dr_v has a long passphrase")
    assert main(["versions", "save", str(graph), "--store", url, "--as", "dr_v"]) == 2
    assert "dr_v is a viewer" in capsys.readouterr().err
    monkeypatch.setenv("KG_EDITOR_PASSWORD", "wrong")
    assert main(["versions", "save", str(graph), "--store", url, "--as", "dr_e"]) == 2
    assert "Wrong user name or password" in capsys.readouterr().err
    monkeypatch.setenv("KG_EDITOR_PASSWORD", "dr_e has a long passphrase")
    args = ["versions", "save", str(graph), "--store", url, "--as", "dr_e", "-a", "someone else"]
    assert main(args) == 0
    vid = capsys.readouterr().out.strip()
    assert main(["versions", "show", vid, "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["author"] == "dr_e"  # the account, not -a

    # a branch is an editor's; a merge a reviewer's
    assert main(["versions", "branch", vid, "trial", "--store", url, "--as", "dr_e"]) == 0
    bid = capsys.readouterr().out.split()[0]
    assert main(["versions", "merge", vid, bid, "--store", url, "--as", "dr_e"]) == 2
    assert "needs the reviewer role" in capsys.readouterr().err
    # and the editor cannot manage accounts
    assert main(["users", "--store", url, "--as", "dr_e", "set-role", "dr_e", "admin"]) == 2
    assert "needs the admin role" in capsys.readouterr().err


def test_protected_branch_takes_proposals_a_reviewer_approves(store, capsys, monkeypatch):
    url, graph = store
    assert _add(url, "admin_a", "admin", monkeypatch) == 0
    monkeypatch.setenv("KG_EDITOR_PASSWORD", "admin_a has a long passphrase")
    assert _add(url, "dr_e", "editor", monkeypatch, "--as", "admin_a") == 0
    assert _add(url, "dr_r", "reviewer", monkeypatch, "--as", "admin_a") == 0
    assert main(["versions", "save", str(graph), "--store", url, "--as", "admin_a"]) == 0
    base = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["versions", "protect", "main", "--store", url, "--as", "admin_a"]) == 0
    capsys.readouterr()

    def as_user(name):
        monkeypatch.setenv("KG_EDITOR_PASSWORD", f"{name} has a long passphrase")
        return ["--store", url, "--as", name]

    # an editor cannot save straight onto main any more ...
    assert main(["versions", "save", str(graph), *as_user("dr_e")]) == 2
    assert "is protected" in capsys.readouterr().err
    # ... but saves on a branch of her own and proposes it
    other = CausalGraph.from_edges([("a", "b"), ("a", "c")])
    other_file = graph.parent / "other.json"
    other.to_json(other_file)
    assert (
        main(
            ["versions", "save", str(other_file), "-b", "dr_e", "--parent", base, *as_user("dr_e")]
        )
        == 0
    )
    vid = capsys.readouterr().out.strip()
    assert main(["versions", "propose", vid, "--to", "main", "-m", "a -> c", *as_user("dr_e")]) == 0
    pid = capsys.readouterr().out.strip()
    assert main(["versions", "proposals", "--store", url, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["id"], row["status"], row["author"]) == (pid, "pending", "dr_e")
    # the editor cannot approve it; a reviewer can, and main then holds the change
    assert main(["versions", "approve", pid, *as_user("dr_e")]) == 2
    assert "needs the reviewer role" in capsys.readouterr().err
    assert main(["versions", "approve", pid, *as_user("dr_r")]) == 0
    merged = capsys.readouterr().out.split()[0]
    assert main(["versions", "show", merged, "--store", url, "--json", "--graph"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["branch"] == "main" and shown["author"] == "dr_r"
    assert main(["versions", "proposals", "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "approved"
