"""The consensus page (``/consensus``): reviewers vote on the edges of the graph under
review, and everyone sees the per-edge tallies, Fleiss' kappa across reviewers, the
disagreement register and the proposals waiting for a reviewer.

A plain server-rendered page (forms posted with the page's CSRF token), served by the
same Flask app behind :mod:`kg_editor.ui.security`. Votes need the reviewer role when the
store has accounts; without accounts (one computer, single user) the reviewer types a name.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import flask

from kg_editor.errors import KGEditorError
from kg_editor.ui.security import CSRF_COOKIE, current_account
from kg_editor.versions.consensus import CHOICES

if TYPE_CHECKING:
    from kg_editor.model.graph import CausalGraph
    from kg_editor.versions.consensus import Consensus
    from kg_editor.workspace import Workspace

__all__ = ["CONSENSUS_PATH", "register_consensus_page"]

logger = logging.getLogger(__name__)

CONSENSUS_PATH = "/consensus"


def _esc(text: Any) -> str:
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _edge_key(source: str, target: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in f"{source}--{target}")


def register_consensus_page(app: Any, workspace: Workspace) -> None:
    """Add ``/consensus`` (GET) and ``/consensus/vote``, ``/consensus/decide`` (POST)."""
    server: flask.Flask = app.server

    def review(round_: str | None) -> tuple[Consensus, CausalGraph, str]:
        cons = workspace.consensus(round_)
        return cons, workspace.review_graph(cons.round), cons.round

    def page() -> Any:
        rnd_arg = flask.request.args.get("round")
        message = flask.request.args.get("msg", "")
        try:
            cons, graph, rnd = review(rnd_arg)
        except KGEditorError as exc:
            return flask.make_response(f"<p>{_esc(exc)}</p>", 404)
        acc = current_account()
        accounts_on = bool(flask.g.get("kg_accounts"))
        can_vote = (acc is not None and acc.can("reviewer")) or not accounts_on
        token = flask.request.cookies.get(CSRF_COOKIE, "")
        tallies = cons.tallies()
        edges, _table, reviewers = cons.kappa_table()
        kappa = cons.kappa()
        mine = {v.edge: v for v in cons.votes() if acc is not None and v.reviewer == acc.username}
        kappa_text = "not defined yet" if math.isnan(kappa) else f"{kappa:.3f}"
        rows = []
        for s, t in sorted(graph.edges):
            tal = tallies.get((s, t), dict.fromkeys(CHOICES, 0))
            key = _edge_key(s, t)
            cells = "".join(
                f"<td class='tally-{c}' data-choice='{c}'>{tal[c]}</td>" for c in CHOICES
            )
            form = ""
            if can_vote:
                cur = mine.get((s, t))
                opts = "".join(
                    f"<option value='{c}'{' selected' if cur and cur.vote == c else ''}>{c}</option>"
                    for c in CHOICES
                )
                who = (
                    ""
                    if accounts_on
                    else "<input name='reviewer' placeholder='your name' required maxlength='64'>"
                )
                form = (
                    f"<form method='post' action='{CONSENSUS_PATH}/vote' class='vote' id='vote-{key}'>"
                    f"<input type='hidden' name='csrf_token' value='{_esc(token)}'>"
                    f"<input type='hidden' name='round' value='{_esc(rnd)}'>"
                    f"<input type='hidden' name='source' value='{_esc(s)}'>"
                    f"<input type='hidden' name='target' value='{_esc(t)}'>"
                    f"{who}<select name='vote'>{opts}</select>"
                    "<input name='comment' placeholder='why (optional)' maxlength='2000'>"
                    "<button type='submit'>Vote</button></form>"
                )
            rows.append(
                f"<tr id='tally-{key}' data-source='{_esc(s)}' data-target='{_esc(t)}'>"
                f"<td>{_esc(graph.label(s))} &rarr; {_esc(graph.label(t))}</td>{cells}<td>{form}</td></tr>"
            )
        dis = []
        for d in cons.disagreements():
            notes = "; ".join(
                f"{_esc(r)} ({_esc(v)}){': ' + _esc(c) if c else ''}" for r, v, c in d.comments
            )
            tally = ", ".join(f"{c} {d.tally[c]}" for c in CHOICES if d.tally[c])
            dis.append(
                f"<tr><td>{_esc(graph.label(d.source))} &rarr; {_esc(graph.label(d.target))}</td>"
                f"<td>{tally}</td><td>{d.agreement:.2f}</td><td>{notes}</td></tr>"
            )
        props = []
        for p in cons.proposals("pending"):
            buttons = ""
            if can_vote:
                buttons = "".join(
                    f"<form method='post' action='{CONSENSUS_PATH}/decide' class='decide'>"
                    f"<input type='hidden' name='csrf_token' value='{_esc(token)}'>"
                    f"<input type='hidden' name='proposal' value='{_esc(p.id)}'>"
                    f"<input type='hidden' name='decision' value='{d}'>"
                    f"<button type='submit'>{d.title()}</button></form>"
                    for d in ("approve", "reject")
                )
            props.append(
                f"<tr><td>{_esc(p.version_id)}</td><td>{_esc(p.author)}</td>"
                f"<td>{_esc(p.branch)}</td><td>{_esc(p.comment)}</td><td>{buttons}</td></tr>"
            )
        who = f"Signed in as {_esc(acc.username)} ({_esc(acc.role)})" if acc else ""
        html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Consensus - kg-editor</title><link rel="stylesheet" href="/assets/kg_editor.css"></head>
<body><main class="consensus">
<h1>Reviewers' consensus</h1>
<p class="who">{who} &middot; <a href="/">Back to the editor</a></p>
<p>Reviewing {"version " + _esc(rnd) if rnd else "the distilled graph"}: {len(graph.edges)} edges.</p>
{f"<p class='message' role='status'>{_esc(message)}</p>" if message else ""}
<p id="consensus-kappa" data-kappa="{kappa if not math.isnan(kappa) else ""}"
 data-reviewers="{len(reviewers)}" data-edges="{len(edges)}">Agreement across
{len(reviewers)} reviewers (Fleiss' kappa over the {len(edges)} edges all of them rated):
<strong>{kappa_text}</strong></p>
<table id="consensus-tallies"><thead><tr><th>Edge</th>
{"".join(f"<th>{c}</th>" for c in CHOICES)}<th>Your vote</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>Disagreement register</h2>
<table id="consensus-disagreements"><thead><tr><th>Edge</th><th>Votes</th><th>Agreement</th>
<th>Comments</th></tr></thead><tbody>{"".join(dis) or "<tr><td colspan='4'>No disagreement.</td></tr>"}</tbody></table>
<h2>Proposals waiting for a reviewer</h2>
<table id="consensus-proposals"><tbody>{"".join(props) or "<tr><td>None.</td></tr>"}</tbody></table>
</main></body></html>"""
        return flask.make_response(html)

    def _back(rnd: str, msg: str = "") -> Any:
        q = urlencode({"round": rnd, **({"msg": msg} if msg else {})})
        return flask.redirect(f"{CONSENSUS_PATH}?{q}", code=303)

    def vote() -> Any:
        form = flask.request.form
        rnd = form.get("round", "")
        acc = current_account()
        if flask.g.get("kg_accounts") and (acc is None or not acc.can("reviewer")):
            return flask.make_response(
                "<p>Voting needs the reviewer role; ask an administrator.</p>", 403
            )
        try:
            cons, graph, rnd = review(rnd)
            s, t = form.get("source", ""), form.get("target", "")
            if not graph.has_edge(s, t):
                raise KGEditorError(f"{s} -> {t} is not an edge of the graph under review.")
            cons.vote(
                acc if acc is not None else form.get("reviewer", ""),
                s,
                t,
                form.get("vote", ""),
                form.get("comment", ""),
            )
        except KGEditorError as exc:
            return _back(rnd, str(exc))
        return _back(rnd, f"Vote recorded on {graph.label(s)} -> {graph.label(t)}.")

    def decide() -> Any:
        form = flask.request.form
        acc = current_account()
        if flask.g.get("kg_accounts") and (acc is None or not acc.can("reviewer")):
            return flask.make_response("<p>Deciding needs the reviewer role.</p>", 403)
        cons = workspace.consensus("")
        who: Any = acc if acc is not None else (form.get("reviewer") or "reviewer")
        try:
            if form.get("decision") == "approve":
                v = cons.approve(who, form.get("proposal", ""), form.get("comment", ""))
                msg = f"Approved: merged as version #{v.seq} ({v.id})."
            else:
                cons.reject(who, form.get("proposal", ""), form.get("comment", ""))
                msg = "Proposal rejected."
        except KGEditorError as exc:
            msg = str(exc)
        return flask.redirect(f"{CONSENSUS_PATH}?msg={quote(msg)}", code=303)

    server.add_url_rule(CONSENSUS_PATH, "kg_consensus", page, methods=["GET"])
    server.add_url_rule(f"{CONSENSUS_PATH}/vote", "kg_consensus_vote", vote, methods=["POST"])
    server.add_url_rule(f"{CONSENSUS_PATH}/decide", "kg_consensus_decide", decide, methods=["POST"])
