"""Accuracy and interpretability measures of a fitted graph (formulas in ``docs/metrics.md``).

Everything here is vectorised over patients: the held-out log-likelihood is a sum of
per-family terms, the Markov-blanket posterior of a target is one soft-max over
``log P(T | Pa(T)) + sum_children log P(C | Pa(C))`` for all held-out patients at once
(each family's term gathered from a small table indexed by the patient's local
configuration, summed in exact fixed point so that an edit swaps only the terms it
changed), AUROC is rank based (one ``argsort``, or a merge of the last order). The pgmpy references these are tested against
(``VariableElimination``, ``pgmpy.structure_score``, reached through
:mod:`kg_editor.adapters.pgmpy`) live at the end of the module.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); s = np.array([0.1, 0.4, 0.35, 0.8])
>>> auroc(y, s)
0.75
>>> round(brier(y, s), 4)
0.1581
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
from scipy.special import gammaln

from kg_editor.adapters.pgmpy import structure_score
from kg_editor.errors import KGEditorError
from kg_editor.model.fit import CodeTable, Family, SparseCounts, sorted_positions

__all__ = [
    "FIXED_POINT_BITS",
    "SCORES",
    "accuracy",
    "auroc",
    "bdeu_term",
    "bic_term",
    "blanket_index",
    "blanket_logits",
    "blanket_table",
    "bootstrap_auroc",
    "bootstrap_weights",
    "brier",
    "calibration",
    "family_row_loglik",
    "fixed_blanket_table",
    "group_codes",
    "interpretability",
    "largest_gap",
    "loglik_term",
    "longest_path_length",
    "markov_blanket_factor",
    "pgmpy_heldout_loglik",
    "pgmpy_posterior",
    "pgmpy_structure_score",
    "posterior_from_factors",
    "posterior_from_logits",
    "precedence_contradiction",
    "resort",
    "roc_points",
    "sparse_blanket",
    "subgroup_metrics",
    "summarise_logits",
    "target_metrics",
    "target_metrics_from_scores",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------
# decomposable scores (per family, from training counts)
# ---------------------------------------------------------------------------------
def loglik_term(counts: np.ndarray | SparseCounts) -> float:
    """Training log-likelihood of a family at its MLE: ``sum N_jk log(N_jk / N_j)``
    (over the non-empty cells only when ``counts`` is a :class:`SparseCounts`)."""
    if isinstance(counts, SparseCounts):
        c = counts.values.astype(float)
        n_j = counts.totals.astype(float)[counts.owner]
        return float(((np.log(c) - np.log(n_j)) * c).sum())
    c = counts.astype(float)
    cond = c.sum(axis=0)
    logc = np.zeros_like(c)
    np.log(c, out=logc, where=c > 0)
    logn = np.zeros_like(cond)
    np.log(cond, out=logn, where=cond > 0)
    return float(((logc - logn) * c).sum())


def bic_term(counts: np.ndarray | SparseCounts, n: int, loglik: float | None = None) -> float:
    """BIC of a family: ``LL - log(N)/2 * q (r - 1)`` (pgmpy ``structure_score.BIC``);
    ``loglik``, when given, is the family's :func:`loglik_term` (not recomputed)."""
    r, q = counts.shape
    ll = loglik_term(counts) if loglik is None else loglik
    return ll - 0.5 * math.log(n) * q * (r - 1)


def bdeu_term(counts: np.ndarray | SparseCounts, equivalent_sample_size: float = 10.0) -> float:
    """BDeu log marginal likelihood of a family (pgmpy ``structure_score.BDeu``).

    ``sum_j [lgamma(a_j) - lgamma(a_j + N_j)] + sum_jk [lgamma(b + N_jk) - lgamma(b)]``
    with ``a_j = ess / q`` and ``b = ess / (r q)``. Empty cells and configurations add
    0, so a :class:`SparseCounts` is summed over its non-empty cells only.
    """
    r, q = counts.shape
    alpha = equivalent_sample_size / q
    beta = equivalent_sample_size / (r * q)
    if isinstance(counts, SparseCounts):
        c = counts.values.astype(float)
        n_j = counts.totals.astype(float)
        return float(
            (gammaln(c + beta) - math.lgamma(beta)).sum()
            - (gammaln(n_j + alpha) - math.lgamma(alpha)).sum()
        )
    c = counts.astype(float)
    return float(
        gammaln(c + beta).sum()
        - gammaln(c.sum(axis=0) + alpha).sum()
        + q * math.lgamma(alpha)
        - r * q * math.lgamma(beta)
    )


#: Decomposable structure scores by name: ``f(counts, n, ess) -> float``.
SCORES: dict[str, Any] = {
    "bdeu": lambda counts, n, ess: bdeu_term(counts, ess),
    "bic": lambda counts, n, ess: bic_term(counts, n),
    "loglik": lambda counts, n, ess: loglik_term(counts),
}


# ---------------------------------------------------------------------------------
# held-out likelihood and the Markov-blanket posterior
# ---------------------------------------------------------------------------------
def _test_config(family: Family, test: CodeTable) -> np.ndarray:
    cfg = family.cache.get(("cfg", id(test)))
    if cfg is None:
        cfg, q, _ = test.config_index(family.parents)
        if q < 2**31:
            cfg = cfg.astype(np.int32)
        family.cache[("cfg", id(test))] = cfg
    return cfg


def family_row_loglik(family: Family, test: CodeTable) -> np.ndarray:
    """``log P(x_node | x_parents)`` for every row of ``test`` (one gather; the rows'
    parent configurations are cached on the family, the result is not, except for a
    sparse family, whose rows are looked up among its non-empty cells)."""
    cfg = _test_config(family, test)
    if family.sparse is None:
        out: np.ndarray = family.log_cpd[test.columns[family.node], cfg]
        return out
    key = ("rowll", id(test))
    hit = family.cache.get(key)
    if hit is None:
        hit = family.log_prob(test.columns[family.node], cfg)
        family.cache[key] = hit
    res: np.ndarray = hit
    return res


def markov_blanket_factor(family: Family, target: str, test: CodeTable) -> np.ndarray:
    """The family's factor in the target's posterior: ``log P(x_node | x_pa)`` for every
    target state ``t`` (rows) and every test patient (columns).

    The family must be the target's own or one of its children's. This is the
    row-level reference (``r_t x patients`` floats per family: 10 GB for a 63-state
    target with 106 children at 200,000 held-out patients); the session sums the small
    tables of :func:`blanket_table` instead (:func:`blanket_logits`), and the tests
    prove both equal.
    """
    key = ("mb", target, id(test))
    out = family.cache.get(key)
    if out is not None:
        return out
    r_t = test.cards[target]
    cfg = _test_config(family, test)
    if family.node == target:
        if family.sparse is None:
            out = family.log_cpd[:, cfg]
        else:
            out = np.empty((r_t, test.n_rows))
            for t in range(r_t):
                out[t] = family.log_prob(np.full(test.n_rows, t, dtype=np.int64), cfg)
    else:
        k = family.parents.index(target)
        stride = family.strides[k]
        base = cfg - test.columns[target].astype(np.int64) * stride
        node_codes = test.columns[family.node]
        out = np.empty((r_t, test.n_rows))
        for t in range(r_t):
            out[t] = family.log_prob(node_codes, base + t * stride)
    family.cache[key] = out
    return out


def blanket_table(family: Family, target: str, test: CodeTable | None = None) -> np.ndarray:
    """The family's factor in the target's posterior as a small table: one row per
    *local configuration* (the node's state and its parents other than the target),
    one column per target state, holding ``log P(x_node | x_pa)``.

    For the target's own family the local configuration is its parents' configuration.
    The table has ``r_node * q_other`` rows whatever the number of patients;
    :func:`blanket_index` gives each held-out row's local configuration, so
    ``blanket_table(f, t, test)[blanket_index(f, t, test)]`` equals
    ``markov_blanket_factor(f, t, test).T`` (a test proves it).

    A sparse family (:attr:`Family.sparse`, millions of mostly empty cells) gives the
    rows of the local configurations that ``test`` holds only, from its non-empty cells
    (:func:`sparse_blanket`); ``test`` is required then.

    Examples
    --------
    >>> import pandas as pd
    >>> from kg_editor.model.fit import fit_family
    >>> tab = CodeTable.from_frame(pd.DataFrame({"t": [0, 1, 2, 1], "c": [0, 1, 1, 0]}), {"t": 3, "c": 2})
    >>> blanket_table(fit_family(tab, "c", ("t",)), "t").shape  # 2 states of c x 3 of t
    (2, 3)
    """
    if family.sparse is not None:
        return sparse_blanket(family, target, _need_test(family, target, test))[0]
    key = ("mbtab", target)
    out: np.ndarray | None = family.cache.get(key)
    if out is not None:
        return out
    logp = family.log_cpd
    if family.node == target:
        out = np.ascontiguousarray(logp.T)
    else:
        k = family.parents.index(target)
        full = logp.reshape(family.card, *family.parent_cards)
        r_t = family.parent_cards[k]
        out = np.ascontiguousarray(np.moveaxis(full, 1 + k, -1).reshape(-1, r_t))
    family.cache[key] = out
    return out


def _need_test(family: Family, target: str, test: CodeTable | None) -> CodeTable:
    if test is None:
        raise KGEditorError(
            f"The factor of {family.node!r} in the posterior of {target!r} is built for the "
            "held-out patients it is applied to; pass their table."
        )
    return test


def blanket_index(family: Family, target: str, test: CodeTable) -> np.ndarray:
    """Each row's local configuration in :func:`blanket_table` (cached on the family;
    ``int32`` when the table is small enough, which it nearly always is)."""
    if family.sparse is not None:
        return sparse_blanket(family, target, test)[1]
    key = ("mbidx", target, id(test))
    out: np.ndarray | None = family.cache.get(key)
    if out is not None:
        return out
    if family.node == target:
        idx = _test_config(family, test)
        m = family.n_configurations
    else:
        others = tuple(p for p in family.parents if p != target)
        cfg, q, _ = test.config_index(others)
        idx = test.columns[family.node].astype(np.int64) * q
        idx += cfg
        m = family.card * q
    out = idx.astype(np.int32) if m < 2**31 else idx
    family.cache[key] = out
    return out


def sparse_blanket(family: Family, target: str, test: CodeTable) -> tuple[np.ndarray, np.ndarray]:
    """:func:`blanket_table` and :func:`blanket_index` of a sparse family for the rows
    of ``test``: one table row per local configuration that ``test`` holds (at most one
    per held-out row, never more than the dense table's), filled from the family's
    non-empty cells; the other entries are those of an empty cell (its configuration's,
    or that of a configuration no training row has). Cached on the family per table.

    Equal, entry for entry, to :func:`markov_blanket_factor` (both read
    :meth:`Family.sparse_logs`); the tests prove it.
    """
    key_t, key_i = ("mbtab", target, id(test)), ("mbidx", target, id(test))
    table: np.ndarray | None = family.cache.get(key_t)
    index: np.ndarray | None = family.cache.get(key_i)
    if table is not None and index is not None:
        return table, index
    sp = family.sparse
    assert sp is not None
    cells, empty, unseen = family.sparse_logs()
    r = family.card
    cfg = _test_config(family, test).astype(np.int64)
    if family.node == target:
        # rows: the parents' configurations held by test; columns: the target's states
        local, inverse = np.unique(cfg, return_inverse=True)
        pos, seen = sorted_positions(sp.configs, local)
        table = np.empty((local.size, r))
        table[:] = np.where(seen, empty[pos] if empty.size else unseen, unseen)[:, None]
        pos, ok = sorted_positions(local, sp.cell_configs)
        table[pos[ok], sp.states[ok]] = cells[ok]
    else:
        # rows: (the node's state, the other parents' configuration) held by test,
        # keyed base * r + state with base the configuration at target state 0
        k = family.parents.index(target)
        stride, r_t = family.strides[k], family.parent_cards[k]
        cfg -= test.columns[target].astype(np.int64) * stride
        cfg *= r
        cfg += test.columns[family.node]
        local, inverse = np.unique(cfg, return_inverse=True)
        bases = local // r
        first = (
            np.concatenate(([True], bases[1:] != bases[:-1])) if bases.size else bases.astype(bool)
        )
        row_base = np.cumsum(first) - 1
        base_keys = bases[first]
        # an empty cell's log P, per (base, target state): its configuration's
        per_base = np.full((base_keys.size, r_t), unseen)
        digit = (sp.configs // stride) % r_t
        pos, ok = sorted_positions(base_keys, sp.configs - digit * stride)
        per_base[pos[ok], digit[ok]] = empty[ok]
        table = per_base[row_base]
        digit = (sp.cell_configs // stride) % r_t
        pos, ok = sorted_positions(local, (sp.cell_configs - digit * stride) * r + sp.states)
        table[pos[ok], digit[ok]] = cells[ok]
    index = inverse.ravel().astype(np.int32)
    family.cache[key_t] = table
    family.cache[key_i] = index
    return table, index


#: Fixed-point scale of the log factors summed into a target's posterior: integers are
#: added exactly, so a posterior updated edit by edit is bit-equal to one summed afresh
#: (float sums are not: a removed factor leaves rounding residue that breaks ties).
#: The resolution, 2**-40 (9.1e-13) per factor, moves a posterior by ~1e-10 at most.
FIXED_POINT_BITS = 40


def fixed_blanket_table(
    family: Family, target: str, test: CodeTable | None = None
) -> np.ndarray | None:
    """:func:`blanket_table` on the fixed-point grid (``int64``), ``None`` when a factor
    is ``-inf`` (an MLE zero): such models are summed in floating point instead. A
    sparse family needs ``test`` (its table is built for those rows) and is ``None``
    exactly when its dense table would be (:attr:`Family.all_finite`)."""
    key: tuple[Any, ...] = ("mbfix", target)
    if family.sparse is not None:
        key = ("mbfix", target, id(_need_test(family, target, test)))
    if key in family.cache:
        out: np.ndarray | None = family.cache[key]
        return out
    if family.sparse is not None:
        out = (
            np.rint(np.ldexp(blanket_table(family, target, test), FIXED_POINT_BITS)).astype(
                np.int64
            )
            if family.all_finite
            else None
        )
    else:
        table = blanket_table(family, target)
        out = (
            np.rint(np.ldexp(table, FIXED_POINT_BITS)).astype(np.int64)
            if np.isfinite(table).all()
            else None
        )
    family.cache[key] = out
    return out


def blanket_logits(
    families: Sequence[Family],
    target: str,
    test: CodeTable,
    out: np.ndarray | None = None,
    sign: float = 1.0,
    fixed: bool = False,
) -> np.ndarray:
    """``sum_f log P(x_f | x_pa(f))`` for every held-out row (rows) and target state
    (columns): the unnormalised log posterior of the target, from the small tables of
    :func:`blanket_table` (no ``states x patients`` array per family).

    With ``fixed`` the sum is taken in ``int64`` on the grid of
    :func:`fixed_blanket_table` (every factor must be finite). ``out`` (rows x states)
    is added to in place (``sign=-1`` subtracts: an edit replaces only the factors of
    the families it touched).
    """
    r_t = test.cards[target]
    if out is None:
        out = np.zeros((test.n_rows, r_t), dtype=np.int64 if fixed else float)
    buf = np.empty_like(out)
    for f in families:
        table = fixed_blanket_table(f, target, test) if fixed else blanket_table(f, target, test)
        if table is None:
            raise KGEditorError(
                f"The factor of {f.node!r} in the posterior of {target!r} has a zero "
                "probability; sum it in floating point (fixed=False)."
            )
        np.take(table, blanket_index(f, target, test), axis=0, out=buf)
        if sign >= 0:
            out += buf
        else:
            out -= buf
    return out


def summarise_logits(
    logits: np.ndarray, true_state: np.ndarray, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """``P(T != reference)`` and whether the most probable state (first on ties) is the
    true one, for every row of ``logits`` (rows x states, float or fixed-point),
    normalised chunk by chunk as :func:`posterior_from_factors` does (no full posterior
    kept)."""
    n = logits.shape[0]
    p = np.empty(n)
    hit = np.empty(n, dtype=bool)
    for a in range(0, n, chunk):
        post = posterior_from_logits(logits[a : a + chunk])
        p[a : a + chunk] = 1.0 - post[:, 0]
        hit[a : a + chunk] = np.argmax(post, axis=1) == true_state[a : a + chunk]
    return p, hit


def posterior_from_logits(logits: np.ndarray) -> np.ndarray:
    """Normalise rows of log factors (rows x states; ``int64`` ones are fixed-point,
    see :func:`blanket_logits`) into probabilities (a new array); the transpose of
    :func:`posterior_from_factors`."""
    if logits.dtype.kind == "i":  # exact shift by the row maximum, then to float
        total = np.ldexp((logits - logits.max(axis=1)[:, None]).astype(float), -FIXED_POINT_BITS)
    else:
        total = logits - _row_max(logits)[:, None]
    np.exp(total, out=total)
    z = total.sum(axis=1)
    bad = z <= 0
    if bad.any():
        total[bad] = 1.0
        z[bad] = total.shape[1]
    total /= z[:, None]
    return total


def _row_max(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=1)
    m[~np.isfinite(m)] = 0.0
    return m


def posterior_from_factors(factors: Sequence[np.ndarray]) -> np.ndarray:
    """Normalise a sum of log factors into probabilities (states x patients)."""
    total = factors[0].copy()
    for f in factors[1:]:
        total += f
    m = total.max(axis=0)
    m[~np.isfinite(m)] = 0.0
    total -= m
    np.exp(total, out=total)
    z = total.sum(axis=0)
    bad = z <= 0
    if bad.any():
        total[:, bad] = 1.0
        z[bad] = total.shape[0]
    total /= z
    return total


# ---------------------------------------------------------------------------------
# discrimination and calibration
# ---------------------------------------------------------------------------------
def _tie_ranks(sorted_scores: np.ndarray) -> np.ndarray:
    """Average (1-based) ranks of already-sorted scores, ties sharing their mean rank."""
    n = sorted_scores.shape[0]
    if n == 0:
        return np.zeros(0)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    mean_rank = (starts + ends + 1) / 2.0
    return np.repeat(mean_rank, ends - starts)


def _weighted_tie_ranks(sorted_scores: np.ndarray, ws: np.ndarray) -> np.ndarray:
    """Mid-ranks of sorted scores when row ``i`` stands for ``ws[i]`` patients: the rank
    every one of those patients would get in the expanded table."""
    n = sorted_scores.shape[0]
    if n == 0:
        return np.zeros(0)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    cum = np.concatenate([[0.0], np.cumsum(ws, dtype=float)])
    ends = np.append(starts[1:], n)
    block = cum[ends] - cum[starts]
    mean_rank = cum[starts] + (block + 1.0) / 2.0
    return np.repeat(mean_rank, ends - starts)


def _auroc_sorted_weighted(ys: np.ndarray, ps: np.ndarray, ws: np.ndarray) -> float:
    w1 = float(ws[ys].sum())
    w0 = float(ws.sum()) - w1
    if w1 <= 0 or w0 <= 0:
        return float("nan")
    ranks = _weighted_tie_ranks(ps, ws)
    return float((np.dot(ranks[ys], ws[ys]) - w1 * (w1 + 1) / 2.0) / (w1 * w0))


def _auroc_sorted(ys: np.ndarray, ps: np.ndarray, ws: np.ndarray | None = None) -> float:
    if ws is not None:
        return _auroc_sorted_weighted(ys, ps, ws)
    n1 = int(np.count_nonzero(ys))
    n0 = ys.shape[0] - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = _tie_ranks(ps)
    return float((ranks[ys].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def auroc(
    y: np.ndarray,
    score: np.ndarray,
    order: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half.

    ``order`` (an ``argsort`` of ``score``) may be given to skip the sort. NaN when only
    one class is present. ``weights`` (patients per row, for weighted patterns) gives
    the AUROC of the expanded table.

    Examples
    --------
    >>> auroc(np.array([0, 1, 1]), np.array([0.2, 0.2, 0.9]))
    0.75
    """
    y = np.asarray(y, dtype=bool)
    if order is None:
        order = np.argsort(score)
    ws = None if weights is None else np.asarray(weights, dtype=float)[order]
    return _auroc_sorted(y[order], np.asarray(score)[order], ws)


def brier(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean squared difference between the predicted probability and the outcome
    (``weights``: patients per row)."""
    y = np.asarray(y, dtype=float)
    if not y.size:
        return float("nan")
    sq = (np.asarray(p) - y) ** 2
    if weights is not None:
        return float(np.dot(sq, weights) / np.sum(weights))
    return float(np.mean(sq))


def accuracy(
    true_state: np.ndarray, posterior: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Share of patients whose most probable state (first on ties) is their true state."""
    if posterior.shape[1] == 0:
        return float("nan")
    hit = np.argmax(posterior, axis=0) == true_state
    if weights is not None:
        return float(np.dot(hit, weights) / np.sum(weights))
    return float(np.mean(hit))


def calibration(
    y: np.ndarray, p: np.ndarray, bins: int = 10, weights: np.ndarray | None = None
) -> tuple[float, list[dict[str, Any]]]:
    """Expected calibration error over ``bins`` equal-width bins, and the reliability bins.

    ``ECE = sum_b n_b / n * |mean(y in b) - mean(p in b)|``; a probability of exactly 1
    falls in the last bin.

    Examples
    --------
    >>> ece, rows = calibration(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.6, 0.4]), bins=2)
    >>> round(ece, 3), [r["count"] for r in rows]
    (0.25, [2, 2])
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    n = y.size
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    if weights is not None:  # weighted patterns
        w = np.asarray(weights, dtype=float)
        n = round(float(w.sum()))
        cnt = np.rint(np.bincount(idx, weights=w, minlength=bins)).astype(np.int64)
        sp = np.bincount(idx, weights=p * w, minlength=bins)
        sy = np.bincount(idx, weights=y * w, minlength=bins)
    else:
        cnt = np.bincount(idx, minlength=bins)
        sp = np.bincount(idx, weights=p, minlength=bins)
        sy = np.bincount(idx, weights=y, minlength=bins)
    rows = []
    ece = 0.0
    for b in range(bins):
        c = int(cnt[b])
        mp = float(sp[b] / c) if c else None
        my = float(sy[b] / c) if c else None
        if c:
            ece += c / n * abs(float(sy[b] / c) - float(sp[b] / c))
        rows.append(
            {
                "lower": b / bins,
                "upper": (b + 1) / bins,
                "count": c,
                "mean_predicted": mp,
                "observed_rate": my,
            }
        )
    return (float(ece) if n else float("nan")), rows


def _roc_sorted(
    ys: np.ndarray, ps: np.ndarray, max_points: int = 201, ws: np.ndarray | None = None
) -> dict[str, list[float]]:
    n1: float
    n0: float
    if ws is None:
        n1 = int(np.count_nonzero(ys))
        n0 = ys.size - n1
    else:
        wt = np.asarray(ws, dtype=float)
        n1 = float(wt[ys].sum())
        n0 = float(wt.sum()) - n1
    if n1 == 0 or n0 == 0:
        return {"fpr": [], "tpr": [], "thresholds": []}
    ys = ys[::-1]
    s = ps[::-1]
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    if ws is None:
        tp = np.cumsum(ys)[last]
        fp = (last + 1) - tp
    else:
        wr = wt[::-1]
        tp = np.cumsum(wr * ys)[last]
        fp = np.cumsum(wr * ~ys)[last]
    fpr = np.concatenate([[0.0], fp / n0])
    tpr = np.concatenate([[0.0], tp / n1])
    thr = np.concatenate([[np.inf], s[last]])
    if fpr.size > max_points:
        keep = np.unique(np.linspace(0, fpr.size - 1, max_points).round().astype(int))
        fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    return {
        "fpr": fpr.tolist(),
        "tpr": tpr.tolist(),
        "thresholds": [None, *thr[1:].tolist()],
    }


def roc_points(
    y: np.ndarray, score: np.ndarray, order: np.ndarray | None = None, max_points: int = 201
) -> dict[str, list[float]]:
    """ROC curve vertices (one per distinct threshold, thinned to ``max_points``).

    Equal to ``sklearn.metrics.roc_curve(..., drop_intermediate=False)`` before thinning;
    the first threshold (infinity) is given as ``None``.
    """
    y = np.asarray(y, dtype=bool)
    if order is None:
        order = np.argsort(score)
    return _roc_sorted(y[order], np.asarray(score)[order], max_points)


def target_metrics(
    true_state: np.ndarray,
    posterior: np.ndarray,
    groups: Mapping[str, tuple[Sequence[str], np.ndarray]],
    bins: int = 10,
    weights: np.ndarray | None = None,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Every per-target figure from the posterior (states x patients), with one sort.

    Returns the metrics dict, ``p = P(T != reference)`` and its ``argsort``. With
    ``weights`` (patients per column: weighted patterns) every figure is that of the
    expanded table.
    """
    p = 1.0 - posterior[0]
    hit = np.argmax(posterior, axis=0) == true_state
    return target_metrics_from_scores(true_state, p, hit, groups, bins=bins, weights=weights)


def target_metrics_from_scores(
    true_state: np.ndarray,
    p: np.ndarray,
    hit: np.ndarray,
    groups: Mapping[str, tuple[Sequence[str], np.ndarray]],
    bins: int = 10,
    weights: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """:func:`target_metrics` from ``p = P(T != reference)`` and the rows whose most
    probable state is the true one (no ``states x patients`` posterior needed).

    ``order`` is any permutation sorting ``p`` (ties in any order: every figure counts
    ties the same way); without it one ``argsort`` is taken. Returns the metrics dict,
    ``p`` and the order.
    """
    y = true_state != 0
    if order is None:
        order = np.argsort(p)
    ps = p[order]
    ys = y[order]
    ws = None if weights is None else np.asarray(weights, dtype=float)[order]
    n = int(y.size) if weights is None else round(float(np.sum(weights)))
    prev = (
        (float(y.mean()) if weights is None else float(np.dot(y, weights) / n))
        if n
        else float("nan")
    )
    if not y.size:
        acc = float("nan")
    elif weights is not None:
        acc = float(np.dot(hit, weights) / np.sum(weights))
    else:
        acc = float(np.mean(hit))
    ece, rel = calibration(y, p, bins=bins, weights=weights)
    subs = subgroup_metrics(y, p, groups, order=order, weights=weights)
    block = {
        "n": n,
        "prevalence": prev,
        "auroc": _auroc_sorted(ys, ps, ws),
        "brier": brier(y, p, weights),
        "accuracy": acc,
        "ece": ece,
        "reliability": rel,
        "roc": _roc_sorted(ys, ps, ws=ws),
        "subgroups": subs,
        "largest_gap": largest_gap(subs),
    }
    return block, p, order


def resort(p: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """A permutation sorting ``p``, found from the order of an earlier score (an edit
    moves few patients, so the stable merge sort runs on nearly sorted input).

    Examples
    --------
    >>> p = np.array([0.3, 0.1, 0.2]); o = resort(p, np.array([1, 0, 2]))
    >>> p[o].tolist()
    [0.1, 0.2, 0.3]
    """
    return previous[np.argsort(p[previous], kind="stable")]


def group_codes(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct values (as text) and each patient's index into them, for
    :func:`subgroup_metrics`."""
    labels, inv = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return [str(v) for v in labels], inv.astype(np.int16)


def subgroup_metrics(
    y: np.ndarray,
    p: np.ndarray,
    groups: Mapping[str, tuple[Sequence[str], np.ndarray]],
    order: np.ndarray | None = None,
    min_size: int = 1,
    weights: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """AUROC and Brier per subgroup, vectorised over the groups of each attribute.

    ``weights`` (patients per row, for weighted patterns) gives the figures of the
    expanded table.

    ``groups`` maps an attribute name (``sex``, ``age_band``) to ``(labels, codes)``
    (see :func:`group_codes`). The global ``order`` of ``p`` is reused: a stable counting
    sort on the group codes keeps each group's patients in score order, so one pass
    gives every group's ranks.

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1]); p = np.array([0.1, 0.8, 0.3, 0.2])
    >>> rows = subgroup_metrics(y, p, {"sex": group_codes(np.array(["F", "F", "M", "M"]))})
    >>> [(r["group"], r["auroc"]) for r in rows]
    [('F', 1.0), ('M', 0.0)]
    """
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    if order is None:
        order = np.argsort(p)
    if weights is not None:
        return _subgroup_metrics_weighted(y, p, groups, order, min_size, weights)
    ps = p[order]
    ys = y[order]
    out = []
    for attr, (labels, codes) in groups.items():
        k = len(labels)
        cs = codes[order]
        perm = np.argsort(cs, kind="stable")
        psg, ysg, csg = ps[perm], ys[perm], cs[perm]
        m = psg.size
        if m == 0:
            continue
        new = np.empty(m, dtype=bool)
        new[0] = True
        new[1:] = (psg[1:] != psg[:-1]) | (csg[1:] != csg[:-1])
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], m)
        pos_mid = np.repeat((starts + ends - 1) / 2.0, ends - starts)  # 0-based mean position
        n_g = np.bincount(codes, minlength=k)
        seg_start = np.concatenate([[0], np.cumsum(n_g)[:-1]])
        ranks = pos_mid - np.repeat(seg_start, n_g) + 1.0
        nz = np.flatnonzero(n_g)
        at = seg_start[nz]
        n1_g = np.zeros(k)
        r1_g = np.zeros(k)
        yf = ysg.astype(float)
        n1_g[nz] = np.add.reduceat(yf, at)
        r1_g[nz] = np.add.reduceat(ranks * yf, at)
        # summed in patient order, not score order: ties may come in any order and the
        # sum must not depend on it (an incremental report equals a fresh one)
        sq_g = np.bincount(codes, weights=(p - y) ** 2, minlength=k)
        for j, v in enumerate(labels):
            n, n1 = int(n_g[j]), int(n1_g[j])
            if n < min_size or n == 0:
                continue
            au = (
                float((r1_g[j] - n1 * (n1 + 1) / 2.0) / (n1 * (n - n1)))
                if 0 < n1 < n
                else float("nan")
            )
            out.append(
                {
                    "attribute": attr,
                    "group": str(v),
                    "n": n,
                    "positives": n1,
                    "auroc": au,
                    "brier": float(sq_g[j] / n),
                }
            )
    return out


def _subgroup_metrics_weighted(
    y: np.ndarray,
    p: np.ndarray,
    groups: Mapping[str, tuple[Sequence[str], np.ndarray]],
    order: np.ndarray,
    min_size: int,
    weights: np.ndarray,
) -> list[dict[str, Any]]:
    """:func:`subgroup_metrics` when each row stands for ``weights[i]`` patients: per
    attribute, one stable sort by group (score order within) and one pass of sums, the
    weighted mid-ranks taken within each group's segment (no pass per group)."""
    w = np.asarray(weights, dtype=float)
    out = []
    for attr, (labels, codes) in groups.items():
        k = len(labels)
        perm = order[np.argsort(codes[order], kind="stable")]  # by group, score order within
        if perm.size == 0:
            continue
        psg, ysg, wsg = p[perm], y[perm], w[perm]
        csg = codes[perm].astype(np.int64)
        m = perm.size
        new = np.empty(m, dtype=bool)
        new[0] = True
        new[1:] = (psg[1:] != psg[:-1]) | (csg[1:] != csg[:-1])
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], m)
        cum = np.concatenate([[0.0], np.cumsum(wsg)])
        rows_g = np.bincount(csg, minlength=k)
        seg = np.concatenate([[0], np.cumsum(rows_g)[:-1]])  # each group's first row
        below = cum[starts] - cum[seg[csg[starts]]]  # the group's patients scored lower
        mean_rank = below + (cum[ends] - cum[starts] + 1.0) / 2.0
        ranks = np.repeat(mean_rank, ends - starts)
        wy = np.where(ysg, wsg, 0.0)
        r1_g = np.bincount(csg, weights=ranks * wy, minlength=k)
        # sums in patient order, not score order (ties come in any order): see above
        w_g = np.bincount(codes, weights=w, minlength=k)
        w1_g = np.bincount(codes, weights=np.where(y, w, 0.0), minlength=k)
        sq_g = np.bincount(codes, weights=(p - y) ** 2 * w, minlength=k)
        for j, v in enumerate(labels):
            n = round(float(w_g[j]))
            if n < min_size or n == 0:
                continue
            n1 = round(float(w1_g[j]))
            w1, w0 = float(w1_g[j]), float(w_g[j]) - float(w1_g[j])
            out.append(
                {
                    "attribute": attr,
                    "group": str(v),
                    "n": int(n),
                    "positives": int(n1),
                    "auroc": float((r1_g[j] - w1 * (w1 + 1) / 2.0) / (w1 * w0))
                    if 0 < n1 < n and w1 > 0 and w0 > 0
                    else float("nan"),
                    "brier": float(sq_g[j] / w_g[j]),
                }
            )
    return out


def largest_gap(rows: Sequence[Mapping[str, Any]], gap_threshold: float = 0.05) -> dict[str, Any]:
    """The largest between-group difference in AUROC and Brier within one attribute.

    ``flagged`` is true when the AUROC gap reaches ``gap_threshold``.
    """
    best: dict[str, Any] = {"metric": None, "attribute": None, "gap": 0.0, "flagged": False}
    for metric in ("auroc", "brier"):
        by_attr: dict[str, list[Mapping[str, Any]]] = {}
        for r in rows:
            if r[metric] == r[metric]:  # not NaN
                by_attr.setdefault(r["attribute"], []).append(r)
        for attr, rs in by_attr.items():
            if len(rs) < 2:
                continue
            lo = min(rs, key=lambda r: r[metric])
            hi = max(rs, key=lambda r: r[metric])
            gap = float(hi[metric] - lo[metric])
            key = f"{metric}_gap"
            if gap > best.get(key, {}).get("gap", -1.0):
                best[key] = {
                    "attribute": attr,
                    "gap": gap,
                    "best": hi["group"] if metric == "auroc" else lo["group"],
                    "worst": lo["group"] if metric == "auroc" else hi["group"],
                }
    au = best.get("auroc_gap")
    if au:
        best.update(
            metric="auroc",
            attribute=au["attribute"],
            gap=au["gap"],
            flagged=au["gap"] >= gap_threshold,
        )
    return best


# ---------------------------------------------------------------------------------
# paired bootstrap
# ---------------------------------------------------------------------------------
def bootstrap_weights(n: int, resamples: int, seed: int = 0) -> np.ndarray:
    """How many times each patient is drawn in each of ``resamples`` bootstrap samples
    (an ``n x resamples`` float32 matrix, one column per resample); the same matrix
    serves every model, so the bootstrap is paired."""
    rng = np.random.default_rng(seed)
    w = np.empty((n, resamples), dtype=np.float32)
    for b in range(resamples):
        w[:, b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return w


_AUROC_KERNEL: Any = None


def _auroc_kernel() -> Any:
    """A compiled loop (numba) over resamples x patients in score order."""
    global _AUROC_KERNEL
    if _AUROC_KERNEL is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def kernel(order, new_group, y, weights_t, out):  # pragma: no cover - compiled
            n = order.shape[0]
            n_boot = weights_t.shape[1]
            num = np.zeros(n_boot)
            cum_neg = np.zeros(n_boot)
            tot_pos = np.zeros(n_boot)
            gp = np.zeros(n_boot)
            gn = np.zeros(n_boot)
            for k in range(n):
                if new_group[k] and k > 0:
                    for b in range(n_boot):
                        num[b] += gp[b] * (cum_neg[b] + 0.5 * gn[b])
                        cum_neg[b] += gn[b]
                        tot_pos[b] += gp[b]
                        gp[b] = 0.0
                        gn[b] = 0.0
                i = order[k]
                row = weights_t[i]
                if y[i]:
                    for b in range(n_boot):
                        gp[b] += row[b]
                else:
                    for b in range(n_boot):
                        gn[b] += row[b]
            for b in range(n_boot):
                num[b] += gp[b] * (cum_neg[b] + 0.5 * gn[b])
                cum_neg[b] += gn[b]
                tot_pos[b] += gp[b]
                den = tot_pos[b] * cum_neg[b]
                out[b] = num[b] / den if den > 0 else np.nan

        _AUROC_KERNEL = kernel
    return _AUROC_KERNEL


def bootstrap_auroc(
    y: np.ndarray, score: np.ndarray, weights_t: np.ndarray, order: np.ndarray | None = None
) -> np.ndarray:
    """AUROC in every bootstrap resample (columns of ``weights_t``, patients x resamples:
    how often each patient is drawn), ties counted half: ``sum_g W1_g (W0_<g + W0_g / 2) / (W1 W0)`` over groups
    ``g`` of equal score, in one compiled pass per resample.

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1]); s = np.array([0.1, 0.8, 0.3, 0.2])
    >>> float(bootstrap_auroc(y, s, np.ones((4, 1), dtype=np.float32))[0]) == auroc(y, s)
    True
    """
    y = np.ascontiguousarray(y, dtype=np.bool_)
    score = np.asarray(score, dtype=float)
    if order is None:
        order = np.argsort(score)
    order = np.ascontiguousarray(order, dtype=np.int64)
    ss = score[order]
    new = np.ones(ss.size, dtype=np.bool_)
    new[1:] = ss[1:] != ss[:-1]
    out = np.empty(weights_t.shape[1])
    _auroc_kernel()(order, new, y, np.ascontiguousarray(weights_t, dtype=np.float32), out)
    return out


# ---------------------------------------------------------------------------------
# interpretability
# ---------------------------------------------------------------------------------
def _edge_q(evidence: Mapping[str, Any] | None) -> float | None:
    if not evidence:
        return None
    for key in ("q", "q_value", "qvalue"):
        v = evidence.get(key)
        if isinstance(v, int | float):
            return float(v)
    test = evidence.get("test")
    if isinstance(test, Mapping):
        return _edge_q(test)
    return None


def precedence_contradiction(
    first_source: np.ndarray, first_target: np.ndarray, alpha: float = 0.05
) -> dict[str, Any]:
    """Does the data say the target is recorded before the source?

    Among patients with both dates, ``share`` is the share with the target strictly
    first; the edge contradicts precedence when ``share > 1/2`` with a two-sided binomial
    test p < ``alpha`` (same-day pairs are left out).
    """
    from scipy.stats import binomtest

    both = ~(np.isnat(first_source) | np.isnat(first_target))
    a = first_source[both]
    b = first_target[both]
    tgt_first = int((b < a).sum())
    src_first = int((a < b).sum())
    n = tgt_first + src_first
    if n == 0:
        return {"n": 0, "target_first": 0, "share": None, "p": None, "contradicts": False}
    p = float(binomtest(tgt_first, n, 0.5).pvalue)
    share = tgt_first / n
    return {
        "n": n,
        "target_first": tgt_first,
        "share": share,
        "p": p,
        "contradicts": bool(share > 0.5 and p < alpha),
    }


def longest_path_length(graph: nx.DiGraph) -> int:
    """Edges on the longest directed path (edge attributes such as ``weight`` ignored).

    Examples
    --------
    >>> longest_path_length(nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c")]))
    2
    """
    dist: dict[Any, int] = {}
    for v in nx.topological_sort(graph):
        dist[v] = max((dist[u] + 1 for u in graph.predecessors(v)), default=0)
    return max(dist.values(), default=0)


def interpretability(
    graph: nx.DiGraph,
    families: Mapping[str, Family],
    targets: Sequence[str],
    *,
    reference: Iterable[tuple[str, str]] | None = None,
    alpha: float = 0.05,
    contradicting: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Structure measures of ``graph`` (a networkx DiGraph with kg-editor edge attrs)."""
    edges = list(graph.edges)
    m = len(edges)
    n = graph.number_of_nodes()
    indeg = [d for _, d in graph.in_degree()]
    endorsed = sum(
        1
        for u, v in edges
        if graph.edges[u, v].get("provenance") == "clinician" or graph.edges[u, v].get("endorsed")
    )
    supported = 0
    with_q = 0
    for u, v in edges:
        q = _edge_q(graph.edges[u, v].get("evidence"))
        if q is not None:
            with_q += 1
            supported += q < alpha
    mb: dict[str, int] = {}
    for t in targets:
        blanket = set(graph.predecessors(t)) | set(graph.successors(t))
        for c in graph.successors(t):
            blanket |= set(graph.predecessors(c))
        blanket.discard(t)
        mb[t] = len(blanket)
    prec = rec = None
    if reference is not None:
        ref = set(reference)
        hit = len(ref & set(edges))
        prec = hit / m if m else None
        rec = hit / len(ref) if ref else None
    contra = sorted(set(contradicting) & set(edges))
    return {
        "nodes": n,
        "edges": m,
        "parameters": int(sum(f.n_parameters for f in families.values())),
        "mean_in_degree": m / n if n else 0.0,
        "max_in_degree": max(indeg) if indeg else 0,
        "markov_blanket_size": mb,
        "longest_path": longest_path_length(graph),
        "endorsed_share": endorsed / m if m else None,
        "supported_share": supported / m if m else None,
        "edges_with_evidence": with_q,
        "reference_precision": prec,
        "reference_recall": rec,
        "precedence_contradictions": len(contra),
        "contradicting_edges": [list(e) for e in contra],
    }


# ---------------------------------------------------------------------------------
# pgmpy references (used by the tests and by benchmarks)
# ---------------------------------------------------------------------------------
#: pgmpy's own score of a model on data (state names): ``bic``, ``bdeu`` or ``loglik``.
pgmpy_structure_score = structure_score


def pgmpy_posterior(model: Any, rows: Any, target: str) -> np.ndarray:
    """P(target | every other variable) per row by pgmpy ``VariableElimination`` (slow)."""
    from kg_editor.adapters.pgmpy import variable_elimination

    ve = variable_elimination(model)
    out = []
    for _, row in rows.iterrows():
        ev = {k: str(v) for k, v in row.items() if k != target}
        out.append(ve.query([target], evidence=ev, show_progress=False).values)
    return np.array(out).T


def pgmpy_heldout_loglik(model: Any, rows: Any) -> float:
    """Mean log P(row) per row by pgmpy ``get_state_probability`` (slow; a reference)."""
    total = 0.0
    for _, row in rows.iterrows():
        total += math.log(model.get_state_probability({k: str(v) for k, v in row.items()}))
    return total / len(rows)
