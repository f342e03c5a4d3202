"""Beliefs under findings and interventions: posteriors, belief updates, seeing versus doing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from kg_editor.errors import SchemaError
from kg_editor.teaching.adjustment import (
    _minimal_backdoor_sets,
)
from kg_editor.teaching.beliefs import as_teaching_model
from kg_editor.teaching.paths import (
    TRAIL_SEARCH_BUDGET,
    _enumerate_trails,
    _trail_dict,
)

__all__ = [
    "belief_update",
    "posteriors",
    "seeing_vs_doing",
]


# ---------------------------------------------------------------------------------
# Beliefs
# ---------------------------------------------------------------------------------
def posteriors(
    model: Any, evidence: Mapping[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """``P(node = state | evidence)`` for every node (exact: one calibration of the compiled junction tree).

    Observed nodes get probability 1 on their observed state. Nodes come in a
    topological order. Use :func:`belief_update` for the prior and the shift too.
    """
    return as_teaching_model(model).marginals(evidence)


def belief_update(model: Any, evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every node's prior, posterior and shift under the findings, ready for the canvas.

    Returns
    -------
    dict
        ``findings`` (resolved ids -> state), ``p_findings`` (how probable the findings
        are together under the model), ``nodes`` (one record per node in topological
        order: ``id``, ``label``, ``observed`` (state or ``None``), ``prior``,
        ``posterior``, ``shift`` (posterior - prior, per state) and ``max_shift`` (the
        largest absolute shift)), and ``most_changed`` (unobserved ids, largest shift
        first).

    Examples
    --------
    >>> from kg_editor.teaching.beliefs import TeachingModel
    >>> upd = belief_update(TeachingModel.from_bundled("cancer"), {"Xray": "positive"})
    >>> top = upd["most_changed"][0]
    >>> node = next(n for n in upd["nodes"] if n["id"] == top)
    >>> top, round(node["shift"]["True"], 4)
    ('Cancer', 0.0387)
    """
    tm = as_teaching_model(model)
    fnd = tm.resolve_findings(evidence)
    p = tm.probability_of_findings(fnd)
    prior = tm.prior()
    post = tm.marginals(fnd)
    nodes: list[dict[str, Any]] = []
    for n in tm.nodes:
        shift = {s: post[n][s] - prior[n][s] for s in prior[n]}
        nodes.append(
            {
                "id": n,
                "label": tm.label(n),
                "observed": fnd.get(n),
                "prior": prior[n],
                "posterior": post[n],
                "shift": shift,
                "max_shift": max(abs(d) for d in shift.values()),
            }
        )
    ranked = sorted((r for r in nodes if r["observed"] is None), key=lambda r: -r["max_shift"])
    return {
        "findings": fnd,
        "p_findings": p,
        "nodes": nodes,
        "most_changed": [r["id"] for r in ranked],
    }


def seeing_vs_doing(
    model: Any,
    cause: str,
    cause_state: str,
    outcome: str,
    evidence: Mapping[str, Any] | None = None,
    *,
    max_paths: int = 20,
) -> dict[str, Any]:
    """``P(outcome | cause = x, findings)`` beside ``P(outcome | do(cause = x), findings)``.

    Observing the cause also carries information along the back-door paths (trails
    that enter the cause through an arrow into it); setting it cuts them. The two agree
    when no back-door path is open given the findings (rule 2 of the do-calculus), so
    the open ones, listed here, explain the difference.

    Returns
    -------
    dict
        ``cause``, ``cause_label``, ``cause_state``, ``outcome``, ``outcome_label``,
        ``findings``; ``seeing``, ``doing`` and ``prior`` (``P(outcome | findings)``) as
        state -> probability; ``difference`` (seeing - doing, per state) and
        ``max_abs_difference``; ``open_backdoor_paths`` (trails as in
        :func:`active_trails`, in the graph without the edges out of the cause),
        ``confounded`` (any open), ``truncated``; ``adjustment_sets`` (minimal back-door
        sets with no findings, as sorted lists of ids), ``adjustment_set_labels`` (the
        same sets as the labels a clinician reads, alphabetical) and ``explanation``
        (labels only, never ids).
    """
    tm = as_teaching_model(model)
    x, y = tm.resolve(cause), tm.resolve(outcome)
    if x == y:
        raise SchemaError(f"Choose an outcome other than the cause ({tm.label(x)}).")
    (x_state,) = tm.resolve_findings({x: cause_state}).values()
    fnd = tm.resolve_findings(evidence)
    if y in fnd:
        raise SchemaError(
            f"{tm.label(y)} is already observed as {fnd[y]}; remove that finding to ask about it.",
            column=y,
        )
    if x in fnd and fnd[x] != x_state:
        raise SchemaError(
            f"{tm.label(x)} is observed as {fnd[x]}; remove that finding to compare {tm.label(x)} = {x_state}.",
            column=x,
        )
    fnd.pop(x, None)
    seeing = tm.marginal(y, {**fnd, x: x_state})
    doing = tm.interventional(y, {x: x_state}, fnd)
    prior = tm.marginal(y, fnd)
    diff = {s: seeing[s] - doing[s] for s in seeing}

    g = tm.graph.nx
    gb = nx.DiGraph(g)
    gb.remove_edges_from(list(g.out_edges(x)))
    z = set(fnd) - {x, y}
    paths, truncated = _enumerate_trails(gb, x, y, z, max_paths, TRAIL_SEARCH_BUDGET)
    backdoor = [_trail_dict(g, p, tm.label) for p in paths]
    sets = [sorted(s) for s in _minimal_backdoor_sets(g, x, y, 10)]
    set_labels = [sorted((tm.label(n) for n in s), key=str.casefold) for s in sets]

    lx, ly = tm.label(x), tm.label(y)
    given = f" given {', '.join(f'{tm.label(n)} = {s}' for n, s in fnd.items())}" if fnd else ""
    gap = max(abs(d) for d in diff.values())
    if not backdoor:
        text = (
            f"No back-door path from {lx} to {ly} is open{given}, so observing {lx} = {x_state} "
            f"and setting it tell the same story about {ly}."
        )
    else:
        adj = (
            f" Adjusting for {{{', '.join(set_labels[0])}}} removes it." if sets and sets[0] else ""
        )
        text = (
            f"Observing {lx} = {x_state} also says something about {ly} through "
            f"{len(backdoor)}{'+' if truncated else ''} open back-door path(s){given}, e.g. "
            f"{backdoor[0]['text']}; setting {lx} cuts them. The two differ by up to "
            f"{100 * gap:.1f} percentage points.{adj}"
        )
    return {
        "cause": x,
        "cause_label": lx,
        "cause_state": x_state,
        "outcome": y,
        "outcome_label": ly,
        "findings": fnd,
        "prior": prior,
        "seeing": seeing,
        "doing": doing,
        "difference": diff,
        "max_abs_difference": gap,
        "open_backdoor_paths": backdoor,
        "confounded": bool(backdoor),
        "truncated": truncated,
        "adjustment_sets": sets,
        "adjustment_set_labels": set_labels,
        "explanation": text,
    }
