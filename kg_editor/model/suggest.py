"""Ranked candidate edits: which add / remove / reverse would the data favour most?

Each candidate is scored by the *exact* change of a decomposable score (BDeu or BIC: only
the families whose parent sets change are rescored) and by the exact change in held-out
log-likelihood per patient. Candidates that would close a cycle or go against a
constraint are never proposed. Additions are screened by pairwise mutual information
(computed once from all pairwise contingency tables) so that ranking stays interactive on
graphs with a hundred nodes.

Examples
--------
>>> from kg_editor.model.session import EditSession, demo_cohort_for_doctest
>>> cohort, graph = demo_cohort_for_doctest()
>>> s = EditSession(cohort, graph, bootstrap=0)
>>> best = s.suggestions(k=3)
>>> all(x.score_gain > 0 for x in best)
True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from kg_editor.model.fit import CodeTable, Family, fit_family
from kg_editor.model.graph import (
    AddEdge,
    CausalGraph,
    Constraints,
    Edit,
    RemoveEdge,
    ReverseEdge,
    edit_to_dict,
)
from kg_editor.model.metrics import SCORES, family_row_loglik

__all__ = ["Suggestion", "pairwise_mutual_information", "suggest_edits"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    """A proposed edit with its exact gains and the evidence behind it."""

    edit: Edit
    score_gain: float
    loglik_gain: float
    evidence: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "edit": edit_to_dict(self.edit),
            "score_gain": self.score_gain,
            "loglik_gain": self.loglik_gain,
            "evidence": self.evidence,
        }


def pairwise_mutual_information(table: CodeTable) -> tuple[list[str], np.ndarray]:
    """Mutual information (nats) of every pair of variables from one one-hot product."""
    nodes = list(table.columns)
    offsets = np.cumsum([0, *(table.cards[n] for n in nodes)])
    s = int(offsets[-1])
    x = np.zeros((table.n_rows, s), dtype=np.float32)
    rows = np.arange(table.n_rows)
    for i, n in enumerate(nodes):
        x[rows, offsets[i] + table.columns[n]] = 1.0
    xw = x if table.weights is None else x * table.weights[:, None].astype(np.float32)
    joint = (x.T @ xw).astype(float) / max(table.n, 1)
    marg = np.diag(joint).copy()
    mi = np.zeros((len(nodes), len(nodes)))
    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            pij = joint[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]]
            pi = marg[offsets[i] : offsets[i + 1]][:, None]
            pj = marg[offsets[j] : offsets[j + 1]][None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(pij > 0, pij * np.log(pij / (pi * pj)), 0.0)
            mi[i, j] = mi[j, i] = float(terms.sum())
    return nodes, mi


def _family_gain(
    node: str,
    parents: tuple[str, ...],
    train: CodeTable,
    test: CodeTable,
    score: str,
    estimator: str,
    ess: float,
    cache: dict[Any, tuple[float, float]],
) -> tuple[float, float]:
    key = (node, tuple(sorted(parents)), score, estimator, ess)
    hit = cache.get(key)
    if hit is None:
        fam = fit_family(train, node, parents, estimator=estimator, equivalent_sample_size=ess)
        hit = (
            float(SCORES[score](fam.count_table, train.n, ess)),
            test.total(family_row_loglik(fam, test)),
        )
        cache[key] = hit
    return hit


def suggest_edits(
    graph: CausalGraph,
    families: Mapping[str, Family],
    train: CodeTable,
    test: CodeTable,
    *,
    constraints: Constraints | None = None,
    score: str = "bdeu",
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
    k: int = 10,
    exclude: set[str] | frozenset[str] = frozenset(),
    cache: dict[str, Any] | None = None,
    max_add_candidates: int | None = None,
    alpha: float = 0.05,
) -> list[Suggestion]:
    """The ``k`` candidate edits with the largest positive score gain.

    Parameters
    ----------
    score : ``"bdeu"`` or ``"bic"``
        The decomposable score whose exact change ranks candidates.
    exclude : set of str
        Suggestion ids not to propose again (rejected ones).
    cache : dict, optional
        Kept between calls (pairwise MI, family scores).
    max_add_candidates : int, optional
        How many non-adjacent pairs (highest mutual information first) are scored as
        additions (default ``max(60, 6 k)``).
    """
    cons = constraints or Constraints()
    cache = cache if cache is not None else {}
    fam_cache: dict[Any, tuple[float, float]] = cache.setdefault("families", {})
    if "mi" not in cache:
        cache["mi"] = pairwise_mutual_information(train)
    mi_nodes, mi = cache["mi"]
    pos = {n: i for i, n in enumerate(mi_nodes)}
    g = graph.nx
    n_test = max(test.n, 1)
    ess = equivalent_sample_size

    def gain(changes: dict[str, tuple[str, ...]]) -> tuple[float, float, dict[str, Any]]:
        ds = dl = 0.0
        fams = {}
        for node, new_pa in changes.items():
            old_pa = families[node].parents
            s0, l0 = _family_gain(node, old_pa, train, test, score, estimator, ess, fam_cache)
            s1, l1 = _family_gain(node, new_pa, train, test, score, estimator, ess, fam_cache)
            ds += s1 - s0
            dl += l1 - l0
            fams[node] = {
                "parents_before": list(old_pa),
                "parents_after": sorted(new_pa),
                "score_change": s1 - s0,
            }
        return ds, dl / n_test, fams

    out: list[Suggestion] = []

    def consider(edit: Edit, changes: dict[str, tuple[str, ...]], extra: dict[str, Any]) -> None:
        sid = f"{edit.kind}:{edit.source}->{edit.target}"
        if sid in exclude:
            return
        ds, dl, fams = gain(changes)
        if not ds > 0:
            return
        u, v = edit.source, edit.target
        ev = {
            "score": score,
            "families": fams,
            "mutual_information": float(mi[pos[u], pos[v]]) if u in pos and v in pos else None,
            **extra,
        }
        out.append(Suggestion(edit=edit, score_gain=ds, loglik_gain=dl, evidence=ev, id=sid))

    rationale = f"suggested: improves {score.upper()}"
    for u, v in graph.edges:
        attrs = g.edges[u, v]
        extra = {
            "edge_evidence": attrs.get("evidence") or {},
            "provenance": attrs.get("provenance"),
        }
        pa_v = tuple(p for p in families[v].parents if p != u)
        if not cons.is_required(u, v):
            consider(RemoveEdge(u, v, author="suggestion", rationale=rationale), {v: pa_v}, extra)
            if cons.violation(v, u) is None:
                h = nx.DiGraph(g)
                h.remove_edge(u, v)
                if not nx.has_path(h, u, v):
                    consider(
                        ReverseEdge(u, v, author="suggestion", rationale=rationale),
                        {v: pa_v, u: (*families[u].parents, v)},
                        extra,
                    )
    limit = max_add_candidates if max_add_candidates is not None else max(60, 6 * k)
    iu, ju = np.triu_indices(len(mi_nodes), 1)
    order = np.argsort(-mi[iu, ju], kind="stable")
    seen = 0
    for idx in order:
        a, b = mi_nodes[iu[idx]], mi_nodes[ju[idx]]
        if a not in g or b not in g or g.has_edge(a, b) or g.has_edge(b, a):
            continue
        seen += 1
        if seen > limit:
            break
        for u, v in ((a, b), (b, a)):
            if cons.violation(u, v) is not None or nx.has_path(g, v, u):
                continue
            consider(
                AddEdge(u, v, author="suggestion", rationale=rationale),
                {v: (*families[v].parents, u)},
                {},
            )
    out.sort(key=lambda s: (-s.score_gain, s.id))
    return out[:k]
