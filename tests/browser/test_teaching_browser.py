"""Teaching mode in a real browser: findings set by clicking nodes, posteriors on the canvas
and in the table equal to :func:`kg_editor.teaching.posteriors` on the same session model,
seeing versus doing equal to the API, active trails highlighted edge for edge, scenarios
saved, replayed and exported; offline, no console errors, no patient rows.

One server and one headless Chromium serve the module; the tests run in order and share
the page (its findings carry from one test to the next).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser

TOL = 1e-9


@pytest.fixture(scope="module")
def sid(editor):
    return parse_qs(urlparse(editor.page.url).query)["session"][0]


def _model(editor_server, sid):
    """An independent wrap of the page's session model (the Python API's view)."""
    from kg_editor.teaching.beliefs import TeachingModel

    with editor_server.workspace.reading(sid) as session:
        return TeachingModel.from_session(session)


def _set(editor, component, value):
    """Choose a value in a dropdown the way a user's choice reaches Dash."""
    editor.page.evaluate(
        "(a) => window.dash_clientside.set_props(a[0], {value: a[1]})", [component, value]
    )


def _evidence(editor):
    chips = editor.page.locator("#kg-teach-findings .chip")
    return {
        chips.nth(i).get_attribute("data-node"): chips.nth(i).get_attribute("data-state")
        for i in range(chips.count())
    }


def _wait_evidence(editor, expected):
    editor.page.wait_for_function(
        """(exp) => {
            const chips = [...document.querySelectorAll('#kg-teach-findings .chip')];
            const got = Object.fromEntries(chips.map(c => [c.dataset.node, c.dataset.state]));
            const ek = Object.keys(exp).sort(), gk = Object.keys(got).sort();
            return JSON.stringify(ek) === JSON.stringify(gk) && ek.every(k => got[k] === exp[k]);
        }""",
        arg=expected,
        timeout=20000,
    )


def _table(editor):
    rows = editor.page.locator("table.posteriors tbody tr")
    return {
        rows.nth(i).get_attribute("data-node"): json.loads(
            rows.nth(i).get_attribute("data-posterior")
        )
        for i in range(rows.count())
    }


def _canvas(editor):
    return editor.js(
        "const out = {}; cy.nodes('.teach').forEach(n => { out[n.id()] = n.data('teach_post'); });"
        "return out;"
    )


def _check_beliefs(editor, editor_server, sid, evidence):
    from kg_editor.teaching import posteriors

    _wait_evidence(editor, evidence)
    ref = posteriors(_model(editor_server, sid), evidence)
    # the canvas is painted once the server answers for these findings
    editor.page.wait_for_function(
        """(exp) => { const el = document.getElementById('kg-canvas'); const cy = el._cyreg.cy;
            return Object.entries(exp).every(([n, s]) => cy.getElementById(n).data('teach_observed') === s)
              && cy.nodes('.teach').length > 0; }""",
        arg=evidence,
        timeout=20000,
    )
    table, canvas = _table(editor), _canvas(editor)
    assert set(table) == set(ref) == set(canvas)
    for node, dist in ref.items():
        for state, p in dist.items():
            assert table[node][state] == pytest.approx(p, abs=TOL), (node, state)
            assert canvas[node][state] == pytest.approx(p, abs=TOL), (node, state)
    observed = editor.page.evaluate("() => window.kgTeach.painted().observed")
    assert sorted(observed) == sorted(evidence)
    return ref


def test_teaching_mode_shows_priors(editor, editor_server, sid):
    assert not editor.page.is_visible("#kg-teach-panel")
    editor.page.click("#kg-teach-mode")
    editor.page.wait_for_selector("#kg-teach-panel", state="visible")
    editor.page.wait_for_selector("table.posteriors tbody tr")
    _check_beliefs(editor, editor_server, sid, {})
    assert editor.page.is_visible("#kg-teach-legend")


def test_clicking_nodes_sets_findings(editor, editor_server, sid):
    tm = _model(editor_server, sid)
    with editor_server.workspace.reading(sid) as session:
        target = session.targets[0]
    editor.page.mouse.click(*editor.node_xy(target))
    _check_beliefs(editor, editor_server, sid, {target: "present"})
    editor.page.mouse.click(*editor.node_xy(target))  # the next state
    _check_beliefs(editor, editor_server, sid, {target: "absent"})
    editor.page.mouse.click(*editor.node_xy(target))  # and back to unknown
    _check_beliefs(editor, editor_server, sid, {})
    # two findings: a node on the canvas and one from the menu
    other = next(n for n in tm.nodes if n not in (target, "sex") and tm.graph.nx.degree(n) >= 2)
    editor.page.mouse.click(*editor.node_xy(target))
    _wait_evidence(editor, {target: "present"})
    _set(editor, "kg-teach-set-node", other)
    editor.page.wait_for_timeout(800)  # the state menu follows the variable
    _set(editor, "kg-teach-set-state", "present")
    editor.page.click("#kg-teach-set")
    ref = _check_beliefs(editor, editor_server, sid, {target: "present", other: "present"})
    # the posteriors moved from the priors
    prior = tm.prior()
    assert (
        max(abs(ref[n]["present"] - prior[n]["present"]) for n in ref if "present" in ref[n]) > 0.01
    )


def _confounded_pair(tm, evidence):
    from kg_editor.teaching import seeing_vs_doing

    for y in tm.nodes:
        if y in evidence:
            continue
        for x in tm.graph.nx.predecessors(y):
            if x in evidence or "present" not in tm.states(x):
                continue
            sd = seeing_vs_doing(tm, x, "present", y, evidence)
            if sd["confounded"] and sd["max_abs_difference"] > 1e-4:
                return x, y, sd
    raise AssertionError("no confounded pair in the demo graph")


def test_seeing_versus_doing_equals_the_api(editor, editor_server, sid):
    tm = _model(editor_server, sid)
    evidence = _evidence(editor)
    x, y, sd = _confounded_pair(tm, evidence)
    _set(editor, "kg-teach-cause", x)
    editor.page.wait_for_function(
        "() => (document.getElementById('kg-teach-cause-state') || {}).textContent.includes('present')",
        timeout=15000,
    )
    _set(editor, "kg-teach-outcome", y)
    editor.page.wait_for_selector("#kg-teach-sd-table td.see")
    for state in sd["seeing"]:
        row = f"#kg-teach-sd-table tr[data-state='{state}']"
        see = float(editor.page.get_attribute(f"{row} td.see", "data-value"))
        do = float(editor.page.get_attribute(f"{row} td.do", "data-value"))
        diff = float(editor.page.get_attribute(f"{row} td.diff", "data-value"))
        assert see == pytest.approx(sd["seeing"][state], abs=TOL)
        assert do == pytest.approx(sd["doing"][state], abs=TOL)
        assert diff == pytest.approx(sd["difference"][state], abs=TOL)
    # the do-query equals the direct graph-surgery computation on the same model
    assert sd["doing"] == pytest.approx(tm.interventional(y, {x: "present"}, evidence), abs=TOL)
    # open back-door paths are listed and drawn on the canvas, edge for edge
    from kg_editor.ui.editor.elements import edge_id

    n_listed = editor.page.locator("#kg-teach-sd li.backdoor").count()
    assert n_listed == len(sd["open_backdoor_paths"]) > 0
    want = sorted({edge_id(u, v) for t in sd["open_backdoor_paths"] for u, v in t["edges"]})
    editor.page.wait_for_function(
        "(w) => JSON.stringify(window.kgTeach.painted().backdoor) === JSON.stringify(w)",
        arg=want,
        timeout=15000,
    )


def test_active_trails_are_highlighted(editor, editor_server, sid):
    from kg_editor.teaching import adjustment_report, path_report
    from kg_editor.ui.editor.elements import edge_id

    tm = _model(editor_server, sid)
    evidence = _evidence(editor)
    # a pair of unobserved nodes joined by several active trails given the findings
    best = None
    for a in tm.nodes:
        for b in tm.graph.nx.successors(a):
            if a in evidence or b in evidence:
                continue
            rep = path_report(tm, a, b, evidence, max_trails=50)
            if not rep["truncated"] and (best is None or len(rep["trails"]) > len(best["trails"])):
                best = rep
        if best is not None and len(best["trails"]) >= 3:
            break
    assert best is not None and len(best["trails"]) >= 2
    _set(editor, "kg-teach-path-a", best["a"])
    _set(editor, "kg-teach-path-b", best["b"])
    want = sorted(edge_id(u, v) for u, v in best["edges"])
    editor.page.wait_for_function(
        "(w) => JSON.stringify(window.kgTeach.painted().trail) === JSON.stringify(w)",
        arg=want,
        timeout=15000,
    )
    # exactly those edges carry the trail style
    styled = editor.js(
        "return cy.edges().filter(e => e.hasClass('teach-trail')).map(e => e.id()).sort();"
    )
    assert styled == want
    assert editor.page.locator("#kg-teach-paths li.trail").count() == len(best["trails"])
    assert editor.page.get_attribute("#kg-teach-dsep", "data-dseparated") == "false"
    adj = adjustment_report(tm, best["a"], best["b"])
    shown = [
        json.loads(editor.page.locator("#kg-teach-adj-sets li").nth(i).get_attribute("data-nodes"))
        for i in range(editor.page.locator("#kg-teach-adj-sets li").count())
    ]
    assert shown == [s["nodes"] for s in adj["sets"]]


def test_scenario_save_replay_export(editor, editor_server, sid, tmp_path):
    from kg_editor.teaching import Scenario, replay

    evidence = _evidence(editor)
    editor.page.fill("#kg-teach-scn-name", "Bleeding on two findings")
    editor.page.fill("#kg-teach-scn-question", "Which drug explains it?")
    editor.page.click("#kg-teach-scn-save")
    editor.page.wait_for_selector("li.scenario")
    store = editor_server.workspace.store
    rows = store.list_scenarios(editor_server.workspace.project_id)
    assert len(rows) == 1 and rows[0]["session_id"] == sid
    saved = Scenario.from_dict(rows[0]["scenario"])
    assert dict(saved.findings) == evidence and saved.question == "Which drug explains it?"
    assert saved.cause is not None and saved.outcome is not None
    # clear everything, then replay: findings, cause and outcome come back
    editor.page.click("#kg-teach-clear")
    _wait_evidence(editor, {})
    editor.page.click(f"li.scenario[data-id='{rows[0]['id']}'] button:has-text('Replay')")
    ref = _check_beliefs(editor, editor_server, sid, evidence)
    out = replay(saved, _model(editor_server, sid))
    for n in ref:
        assert out["beliefs"]["nodes"][[r["id"] for r in out["beliefs"]["nodes"]].index(n)][
            "posterior"
        ] == pytest.approx(ref[n], abs=TOL)
    editor.page.wait_for_selector("#kg-teach-sd-table td.see")
    see = out["seeing_vs_doing"][0]
    for state, p in see["doing"].items():
        v = editor.page.get_attribute(
            f"#kg-teach-sd-table tr[data-state='{state}'] td.do", "data-value"
        )
        assert float(v) == pytest.approx(p, abs=TOL)
    # export as JSON (a real download)
    with editor.page.expect_download() as dl:
        editor.page.click(f"li.scenario[data-id='{rows[0]['id']}'] button:has-text('JSON')")
    path = tmp_path / "scenario.json"
    dl.value.save_as(path)
    assert Scenario.from_json(path.read_text()) == saved
    with editor.page.expect_download() as dl:
        editor.page.click("#kg-teach-scn-export-all")
    dl.value.save_as(tmp_path / "all.json")
    from kg_editor.teaching import load_scenarios

    assert load_scenarios((tmp_path / "all.json").read_text()) == [saved]


def test_an_edit_in_teaching_mode_refits_the_beliefs(editor, editor_server, sid):
    """Removing an edge changes the model: the beliefs follow the new graph."""
    evidence = _evidence(editor)
    builds = editor_server.app.teaching_cache.builds
    with editor_server.workspace.reading(sid) as session:
        u, v = sorted(session.graph.edges)[0]
    editor.select_edge(u, v)
    editor.page.click("#kg-edge-remove")
    editor.wait_edge(u, v, present=False)
    editor.page.wait_for_function(
        "(n) => document.querySelectorAll('table.posteriors tbody tr').length === n",
        arg=len(_model(editor_server, sid).nodes),
        timeout=15000,
    )
    editor.page.wait_for_timeout(500)
    _check_beliefs(editor, editor_server, sid, evidence)
    assert editor_server.app.teaching_cache.builds == builds + 1


def test_switching_off_clears_the_canvas_and_stays_clean(editor, editor_server):
    editor.page.click("#kg-teach-mode")
    editor.page.wait_for_selector("#kg-teach-panel", state="hidden")
    editor.page.wait_for_function("() => window.kgTeach.painted().teach === 0", timeout=15000)
    hosts = {urlparse(u).hostname for u in editor.requests if u.startswith("http")}
    assert hosts == {"127.0.0.1"}
    assert editor.console_errors == []
    bodies = "\n".join(editor_server.callback_bodies)
    assert "patient_id" not in bodies
