"""Consensus: votes, tallies, Fleiss' kappa against statsmodels, the disagreement
register, protected branches and proposals; the /consensus page over HTTP."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg_editor.model.graph import AddEdge, CausalGraph, apply_edit
from kg_editor.versions.consensus import CHOICES, Consensus, fleiss_kappa
from kg_editor.versions.store import Store

inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(0, 2), min_size=n, max_size=n), min_size=1, max_size=15
        )
    )
)
def test_fleiss_kappa_equals_statsmodels(ratings):
    table = np.array([[row.count(c) for c in range(3)] for row in ratings])
    ref = inter_rater.fleiss_kappa(table, method="fleiss")
    got = fleiss_kappa(table)
    if np.isnan(ref) or not np.isfinite(ref):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(ref, abs=1e-12)


def test_kappa_needs_equal_raters():
    with pytest.raises(Exception, match="same number of raters"):
        fleiss_kappa([[2, 1, 0], [1, 0, 0]])


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        yield s


def test_votes_tallies_kappa_and_register(store):
    p = store.ensure_project("p", "fp")
    c = Consensus(store, p.id, round="v1")
    votes = {
        ("a", "b"): ["keep", "keep", "keep"],
        ("b", "c"): ["keep", "remove", "keep"],
        ("c", "d"): ["reverse", "remove", "remove"],
        ("a", "d"): ["remove", "remove", "remove"],
    }
    for (s, t), vs in votes.items():
        for who, v in zip(["dr_a", "dr_b", "dr_c"], vs, strict=True):
            c.vote(who, s, t, v, comment=f"{who} says {v}")
    c.vote("dr_b", "b", "c", "keep", "changed my mind")  # replaces, not adds
    tallies = c.tallies()
    assert tallies[("b", "c")] == {"keep": 3, "remove": 0, "reverse": 0}
    assert tallies[("c", "d")] == {"keep": 0, "remove": 2, "reverse": 1}
    table = np.array([[tallies[e][ch] for ch in CHOICES] for e in sorted(tallies)])
    assert c.kappa() == pytest.approx(inter_rater.fleiss_kappa(table))
    reg = c.disagreements()
    assert [(d.source, d.target) for d in reg] == [("c", "d")]
    assert reg[0].agreement == pytest.approx(1 / 3)
    assert ("dr_a", "reverse", "dr_a says reverse") in reg[0].comments
    # another round does not mix in
    assert Consensus(store, p.id, round="v2").tallies() == {}
    with pytest.raises(Exception, match="not one of"):
        c.vote("dr_a", "a", "b", "maybe")


def test_votes_need_the_reviewer_role(store):
    from kg_editor.errors import AccessError
    from kg_editor.versions.accounts import Accounts

    acc = Accounts(store)
    ed = acc.add("ed", "editor passphrase", role="editor")
    rita = acc.add("rita", "reviewer passphrase", role="reviewer")
    p = store.ensure_project("p", "fp")
    c = Consensus(store, p.id)
    with pytest.raises(AccessError, match="reviewer role"):
        c.vote(ed, "a", "b", "keep")
    assert c.vote(rita, "a", "b", "keep").reviewer == "rita"


def test_protected_branch_takes_proposals_a_reviewer_approves(store):
    from kg_editor.errors import AccessError
    from kg_editor.versions.accounts import Accounts

    acc = Accounts(store)
    ed = acc.add("ed", "editor passphrase", role="editor")
    rita = acc.add("rita", "reviewer passphrase", role="reviewer")
    p = store.ensure_project("p", "fp")
    g = CausalGraph.from_edges([("a", "b")], nodes=["c"])
    v0 = store.save_version(p.id, g, author="rita", message="start")
    c = Consensus(store, p.id)
    c.protect("main")
    assert c.protected() == ["main"]
    with pytest.raises(AccessError, match="protected"):
        c.check_save(ed, "main")
    c.check_save(rita, "main")
    c.check_save(ed, "ed-work")
    b = store.branch(v0.id, "ed-work", author="ed")
    g2 = apply_edit(g, AddEdge("b", "c", author="ed", rationale="seen"))
    v2 = store.save_version(p.id, g2, branch="ed-work", author="ed", message="b -> c")
    prop = c.propose(ed, v2.id, "main", comment="please review")
    assert [x.id for x in c.proposals("pending")] == [prop.id]
    own = c.propose(rita, v2.id, "main")
    with pytest.raises(AccessError, match="another reviewer"):
        c.approve(rita, own.id)
    assert c.reject(rita, own.id).status == "rejected"
    with pytest.raises(AccessError, match="reviewer role"):
        c.approve(ed, prop.id)
    merged = c.approve(rita, prop.id, "agreed")
    assert merged.branch == "main" and merged.author == "rita"
    assert merged.graph.has_edge("b", "c") and merged.merge_parent_id == v2.id
    assert c.proposals("pending") == [] and c.proposals("approved")[0].merged_id == merged.id
    with pytest.raises(Exception, match="already approved"):
        c.approve(rita, prop.id)
    assert b.branch == "ed-work"


def test_the_consensus_page_over_http(make_demo_app):
    app = make_demo_app(bootstrap=0)
    client = app.server.test_client()
    page = client.get("/consensus")
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    html = page.get_data(as_text=True)
    assert "not defined yet" in html
    token = client.get_cookie("_csrf_token").value
    edges = sorted(app.workspace.base_graph().edges)[:3]
    plan = {"dr_a": ["keep", "keep", "remove"], "dr_b": ["keep", "remove", "remove"]}
    for who, vs in plan.items():
        for (s, t), v in zip(edges, vs, strict=True):
            r = client.post(
                "/consensus/vote",
                data={
                    "csrf_token": token,
                    "round": "",
                    "source": s,
                    "target": t,
                    "reviewer": who,
                    "vote": v,
                    "comment": "",
                },
                headers={"Origin": "http://localhost", "X-CSRFToken": token},
            )
            assert r.status_code == 303, r.get_data(as_text=True)[:200]
    # a forged vote without the token is refused
    r = client.post(
        "/consensus/vote",
        data={
            "round": "",
            "source": edges[0][0],
            "target": edges[0][1],
            "reviewer": "x",
            "vote": "remove",
        },
        headers={"Origin": "http://localhost"},
    )
    assert r.status_code == 403
    html = client.get("/consensus?round=").get_data(as_text=True)
    table = np.array(
        [
            [1 * (plan["dr_a"][i] == c) + 1 * (plan["dr_b"][i] == c) for c in CHOICES]
            for i in range(3)
        ]
    )
    want = inter_rater.fleiss_kappa(table)
    got = float(re.search(r'data-kappa="([^"]+)"', html).group(1))
    assert got == pytest.approx(want)
    # the register lists the two edges the reviewers split on
    register = html.split('id="consensus-disagreements"')[1].split("</table>")[0]
    assert register.count("<tr>") == 1 + 1  # header + the one split edge
