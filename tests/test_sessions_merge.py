"""Whose sessions and merging in the application layer (the web page and the CLI call
these): a person's sessions listed with their edits, a typed name claiming a session,
an unknown session id answered with a page instead of a new session, the name carried to
the versions page, and the merge explained conflict by conflict with the same result as
the store's merge."""

from __future__ import annotations

import networkx as nx
import pytest

from kg_editor.errors import AccessError, StoreError
from kg_editor.model.graph import CausalGraph, RemoveEdge, ReverseEdge, apply_edit
from kg_editor.versions.diff import merge_graphs, pair_key

pytest.importorskip("dash")


@pytest.fixture(scope="module")
def app(make_demo_app):
    return make_demo_app(bootstrap=0)


@pytest.fixture(scope="module")
def ws(app):
    return app.workspace


def _lone_edge(graph: CausalGraph) -> tuple[str, str]:
    """An edge that can be reversed without closing a cycle (no other path u ~> v)."""
    g = graph.nx
    for u, v in sorted(graph.edges):
        h = g.copy()
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v):
            return u, v
    raise AssertionError("no reversible edge")


# -- sessions -------------------------------------------------------------------------
def test_a_persons_sessions_are_listed_with_their_edits(ws):
    a1 = ws.open_session(author="Dr Sessions A")
    a2 = ws.open_session(author="Dr Sessions A")
    b1 = ws.open_session(author="Dr Sessions B")
    anon = ws.open_session()
    with ws.editing(a1) as s:
        e1, e2 = sorted(s.graph.edges)[:2]
        s.remove(*e1, rationale="spurious")
        s.remove(*e2)
        s.undo()
    mine = ws.sessions_of("Dr Sessions A")
    assert [m.id for m in mine] == [a1, a2]  # the one edited last first
    first = mine[0]
    assert first.n_edits == 1 and first.n_steps == 3
    assert first.last_edit == "undid an edit" and first.last_author == "Dr Sessions A"
    assert first.n_edges == len(ws.session(a1).graph.edges)
    assert first.n_variables == len(ws.session(a1).graph.nodes)
    assert first.target == ws.session(a1).targets[0]
    assert mine[1].n_edits == 0 and mine[1].last_edit == "opened"
    assert [m.id for m in ws.sessions_of("Dr Sessions B")] == [b1]
    assert anon not in {m.id for m in ws.sessions_of("anonymous")}
    assert ws.sessions_of("") == []


def test_a_typed_name_claims_the_session_without_moving_its_revision(ws):
    sid = ws.open_session()
    rev = ws.session_revision(sid)
    assert ws.session_owner(sid) is None
    assert ws.claim_session(sid, "  Dr Claim ") is True
    assert ws.session_owner(sid) == "Dr Claim"
    assert ws.session_revision(sid) == rev  # open pages of the session stay current
    with ws.editing(sid, expected_revision=ws.revision(sid)) as s:
        s.remove(*sorted(s.graph.edges)[0])
    assert ws.session_owner(sid) == "Dr Claim"  # an edit keeps the owner
    assert [m.id for m in ws.sessions_of("Dr Claim")] == [sid]
    assert ws.claim_session(sid, "anonymous") is False
    assert ws.claim_session("0123456789abcdef0123", "Dr Claim") is False  # no such session


def test_expiry_keeps_named_sessions(ws):
    from datetime import UTC, datetime, timedelta

    named = ws.open_session()
    ws.claim_session(named, "Dr Kept")
    unnamed = ws.open_session()
    ws.expire_sessions(datetime.now(UTC) + timedelta(seconds=1))
    assert ws.exists(named) and not ws.exists(unnamed)


def test_an_unknown_session_id_shows_a_page_and_opens_nothing(app, render_page):
    store = app.workspace.store
    before = len(store.list_sessions())
    for search in ("?session=0123456789abcdef0123", "?session=../etc"):
        text = render_page(app, "/", search)
        assert "kg-missing-session" in text and "This editing session is not here" in text
        assert "Resume one of your sessions" in text and "Start a new session" in text
    assert "kg-missing-session" in render_page(app, "/versions", "?session=0123456789abcdef0123")
    assert len(store.list_sessions()) == before
    assert "kg-canvas" in render_page(app, "/", "")  # the bare address: a new session
    assert len(store.list_sessions()) == before + 1


def test_the_sessions_page_lists_the_typed_names_sessions(app, render_page):
    ws = app.workspace
    sid = ws.open_session(author="Dr Page")
    text = render_page(app, "/sessions", "?name=Dr+Page")
    assert sid in text and "Resume" in text
    # coming from a session: its owner's sessions, that one marked
    text = render_page(app, "/sessions", f"?session={sid}")
    assert sid in text and "(this one)" in text
    assert sid not in render_page(app, "/sessions", "?name=Somebody+Else")


def test_the_name_typed_in_the_editor_reaches_the_versions_page(app, render_page):
    import json

    ws = app.workspace
    sid = ws.open_session()
    ws.claim_session(sid, "Dr Okafor")
    page = json.loads(render_page(app, "/versions", f"?session={sid}"))

    def find(node, wanted):
        if isinstance(node, dict):
            if (node.get("props") or {}).get("id") == wanted:
                return node["props"]
            for v in node.values():
                if (hit := find(v, wanted)) is not None:
                    return hit
        elif isinstance(node, list):
            for v in node:
                if (hit := find(v, wanted)) is not None:
                    return hit
        return None

    assert find(page, "kg-v-save-author")["value"] == "Dr Okafor"
    assert find(page, "kg-v-sessions-link")["href"].endswith(sid)
    assert find(page, "kg-v-merge") is not None
    editor = json.loads(render_page(app, "/", f"?session={sid}"))
    assert find(editor, "kg-author")["value"] == "Dr Okafor"


# -- merging ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def conflict(ws):
    """main reverses an edge that branch dr_b removes (each with its reason)."""
    base = ws.base_graph()
    u, v = _lone_edge(base)
    vs = ws.versions
    pid = ws.project_id
    v0 = vs.save_graph(base, project=pid, branch="m-main", author="dr_a", message="start")
    ours_g = apply_edit(base, ReverseEdge(u, v, author="dr_a", rationale="onset precedes"))
    theirs_g = apply_edit(base, RemoveEdge(u, v, author="dr_b", rationale="spurious in notes"))
    ours = vs.save_graph(
        ours_g,
        project=pid,
        branch="m-main",
        author="dr_a",
        message="reverse",
        parent=v0.id,
        edits=[ReverseEdge(u, v, author="dr_a", rationale="onset precedes")],
    )
    b0 = vs.branch(v0.id, "m-dr-b", author="dr_b")
    theirs = vs.save_graph(
        theirs_g,
        project=pid,
        branch="m-dr-b",
        author="dr_b",
        message="remove",
        parent=b0.id,
        edits=[RemoveEdge(u, v, author="dr_b", rationale="spurious in notes")],
    )
    return {"u": u, "v": v, "ours": ours, "theirs": theirs, "base": v0}


def test_the_preview_lists_the_conflict_with_both_sides(ws, conflict):
    u, v = conflict["u"], conflict["v"]
    p = ws.preview_merge("branch:m-main", "branch:m-dr-b")
    assert p.ours.id == conflict["ours"].id and p.theirs.id == conflict["theirs"].id
    assert [c.key for c in p.conflicts] == [pair_key(u, v)] and not p.ready
    view = p.conflicts[0]
    g = ws.base_graph()
    assert view.ours.state == f"{g.label(v)} -> {g.label(u)}"
    assert view.theirs.state == "no edge"
    assert (view.ours.author, view.ours.rationale) == ("dr_a", "onset precedes")
    assert (view.theirs.author, view.theirs.rationale) == ("dr_b", "spurious in notes")
    assert view.ours.evidence == dict(g.nx.edges[u, v].get("evidence") or {})
    values = [c[0] for c in view.choices]
    assert values == ["ours", "theirs"]  # no direction to leave unresolved: theirs has none


def test_the_web_merge_equals_the_store_merge(ws, conflict):
    key = pair_key(conflict["u"], conflict["v"])
    a, b = conflict["ours"].id, conflict["theirs"].id
    expected = ws.store.preview_merge(a, b, {key: "theirs"}).graph
    p = ws.preview_merge(a, b, {key: "theirs"})
    assert p.ready and p.graph == expected
    saved = ws.merge_versions(a, b, {key: "theirs"}, author="Dr Merge", message="agreed: spurious")
    assert saved.graph == expected == ws.versions.get(saved.id).graph
    assert not saved.graph.has_edge(conflict["u"], conflict["v"])
    assert (saved.author, saved.message, saved.branch) == ("Dr Merge", "agreed: spurious", "m-main")
    assert saved.parent_id == a and saved.merge_parent_id == b
    assert saved.report is not None
    assert saved.report["interpretability"]["edges"] == len(expected.edges)
    # the CLI's call, same choice: the same graph
    cli = ws.versions.merge(a, b, {key: "theirs"}, author="cli")
    assert cli.graph == saved.graph


def test_unanswered_conflicts_refuse_to_save(ws, conflict):
    from kg_editor.versions.diff import MergeConflictError

    with pytest.raises(MergeConflictError, match="1 conflict"):
        ws.merge_versions(conflict["ours"].id, conflict["theirs"].id, {})


def test_a_choice_that_closes_a_cycle_is_refused_with_the_cycle_named(ws):
    from kg_editor.versions.diff import MergeConflictError

    vs, pid = ws.versions, ws.project_id
    nodes = sorted(ws.base_graph().nodes)[:3]
    a, b, c = nodes
    base = CausalGraph.from_edges([(a, b)], nodes=nodes)
    ours_g = CausalGraph.from_edges([(a, b), (b, c), (a, c)], nodes=nodes)
    theirs_g = CausalGraph.from_edges([(a, b), (c, a)], nodes=nodes)
    v0 = vs.save_graph(base, project=pid, branch="cyc", author="x")
    o = vs.save_graph(ours_g, project=pid, branch="cyc", author="x", parent=v0.id)
    br = vs.branch(v0.id, "cyc-b", author="y")
    t = vs.save_graph(theirs_g, project=pid, branch="cyc-b", author="y", parent=br.id)
    key = pair_key(a, c)
    # both added an edge between a and c, in opposite directions
    view = ws.preview_merge(o.id, t.id).conflicts[0]
    assert view.key == key and [c[0] for c in view.choices] == ["ours", "theirs", "unresolved"]
    # theirs (c -> a) closes a -> b -> c -> a with ours' b -> c: refused, the cycle named
    p = ws.preview_merge(o.id, t.id, {key: "theirs"})
    assert not p.ready and [x.kind for x in p.problems] == ["cycle"]
    named = p.problems[0].key.removeprefix("cycle:").split(" -> ")
    assert set(named) == {a, b, c} and named[0] == named[-1]
    assert "cycle" in p.problems[0].message
    with pytest.raises(MergeConflictError, match="cycle"):
        ws.merge_versions(o.id, t.id, {key: "theirs"})
    # the edge may stay with its direction left open
    left = ws.preview_merge(o.id, t.id, {key: "unresolved"})
    assert left.ready and left.graph.unresolved_edges == [(a, c)]
    assert ws.preview_merge(o.id, t.id, {key: "ours"}).graph.has_edge(a, c)


def test_a_protected_branch_takes_a_merge_from_a_reviewer_only(make_demo_app, demo_graph):
    app = make_demo_app(bootstrap=0)
    ws = app.workspace
    ws.accounts.add("editor1", "a long password 1", role="editor")
    ws.accounts.add("reviewer1", "a long password 2", role="reviewer")
    vs, pid = ws.versions, ws.project_id
    u, v = _lone_edge(demo_graph)
    v0 = vs.save_graph(demo_graph, project=pid, branch="main", author="reviewer1")
    vs.branch(v0.id, "mine", author="editor1")
    mine = vs.save_graph(
        apply_edit(demo_graph, RemoveEdge(u, v)), project=pid, branch="mine", author="editor1"
    )
    ws.consensus("").protect("main")
    with pytest.raises(AccessError, match="protected"):
        ws.merge_versions("branch:main", mine.id, author="editor1")
    merged = ws.merge_versions("branch:main", mine.id, author="reviewer1", message="approved")
    assert merged.branch == "main" and not merged.graph.has_edge(u, v)


def test_version_refs_name_branch_heads(ws, conflict):
    assert ws.version_ref("branch:m-dr-b") == conflict["theirs"].id
    with pytest.raises(StoreError, match="no version"):
        ws.version_ref("branch:nobody-has-this")


# -- the merge itself (core) -------------------------------------------------------------
def test_latent_causes_are_merged_three_way():
    base = CausalGraph.from_edges([("a", "b")], nodes=["c", "d"])
    data = base.to_dict()
    data["latent"] = [["a", "c"]]
    ours = CausalGraph.from_dict(data)
    tdata = base.to_dict()
    tdata["latent"] = [["b", "d"]]
    theirs = CausalGraph.from_dict(tdata)
    merged = merge_graphs(base, ours, theirs).graph
    assert merged.latent_pairs == [("a", "c"), ("b", "d")]
    # removed on one side, kept on the other: removed
    both = CausalGraph.from_dict({**base.to_dict(), "latent": [["a", "c"]]})
    assert merge_graphs(both, base, both).graph.latent_pairs == []


def test_the_compare_table_lists_settings_only_where_they_differ():
    from kg_editor.ui.versions.view import comparison_table
    from kg_editor.versions.diff import metric_table

    a = {
        "accuracy": {"loglik_per_patient": -3.0},
        "provenance": {"distiller": {"alpha": 0.01, "max_parents": 6}},
        "privacy": {"min_cell": 11},
    }
    b = {
        "accuracy": {"loglik_per_patient": -2.9},
        "provenance": {"distiller": {"alpha": 0.05, "max_parents": 6}},
        "privacy": {"min_cell": 11},
    }
    table = comparison_table(metric_table(a, b, labels=("A", "B")), ("A", "B"))
    rows = table.children[1].children
    assert [r.id for r in rows] == [
        "kg-v-metric-accuracy-loglik_per_patient",
        "kg-v-metric-provenance-distiller-alpha",
    ]
    assert getattr(rows[0], "data-benefit") == "better"


def test_a_signed_in_account_owns_its_new_sessions_and_sees_only_those(make_demo_app):
    from test_accounts import PASSWORDS, ROLE_OF, session_of, sign_in

    app = make_demo_app(bootstrap=0)
    for name, pw in PASSWORDS.items():
        app.workspace.accounts.add(name, pw, role=ROLE_OF[name])
    ed, _ = sign_in(app, "ed")
    mine = session_of(ed)["session_id"]
    rita, _ = sign_in(app, "rita")
    hers = session_of(rita)["session_id"]
    assert app.workspace.session_owner(mine) == "ed"
    assert app.workspace.session_owner(hers) == "rita"
    page = ed.open_page("/sessions", "").get_data(as_text=True)
    assert mine in page and hers not in page and "Signed in as" in page
    # asking for another person's list by name gets one's own: the name is the account
    resp = ed.fire("kg-s-name", "value", "rita", {("kg-s-current", "data"): None})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and mine in text and hers not in text
