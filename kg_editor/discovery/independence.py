"""Conditional-independence tests and local scores over cohort codes (equal to pgmpy's, tested)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

__all__ = [
    "CITestResult",
    "ci_test",
    "ci_test_columns",
    "cmh_test",
    "local_bic",
    "mantel_haenszel_log_odds",
    "positivity_violation",
    "positivity_violation_columns",
    "table_ci_test",
]


#: Largest dense x-by-y-by-strata table a test allocates before it keeps only observed strata.
_DENSE_CELLS = 1 << 22


@dataclass(frozen=True)
class CITestResult:
    """Result of a conditional-independence test: statistic, degrees of freedom, p."""

    statistic: float
    dof: int
    p: float


def ci_test(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    y: int,
    z: Sequence[int] = (),
    *,
    method: str = "g",
    yates: bool = True,
    weights: np.ndarray | None = None,
) -> CITestResult:
    """Test ``x`` independent of ``y`` given ``z`` on integer-coded data.

    ``weights`` gives the patients each row stands for (rows as distinct weighted
    patterns, :class:`kg_editor.engines.Patterns`); the test is then the row-level one.

    Stratified chi-square (``method="chi2"``) or G (``"g"``) test: per configuration of
    ``z``, rows/columns that never occur are dropped from the degrees of freedom, and
    2x2 strata get Yates' correction (``yates``). The same convention as pgmpy's
    ``ChiSquare``/``GSq`` tests; a test proves them equal.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.integers(0, 2, 5000); x = (z ^ (rng.random(5000) < .1)); y = (z ^ (rng.random(5000) < .1))
    >>> d = np.column_stack([x, y, z]).astype(np.int64)
    >>> ci_test(d, [2, 2, 2], 0, 1).p < 1e-6, ci_test(d, [2, 2, 2], 0, 1, [2]).p > 0.01
    (True, True)
    """
    kx, ky = int(cards[x]), int(cards[y])
    n = codes.shape[0]
    if z:
        zi = codes[:, z[0]].astype(np.int64, copy=True)
        ns = int(cards[z[0]])
        for c in z[1:]:
            k = int(cards[c])
            if ns * k * kx * ky > _DENSE_CELLS and ns * k * kx * ky > 4 * n:
                # keep only the strata that occur: memory stays linear in the patients
                # (and the stratum index never overflows), whatever the cardinalities
                _, zi = np.unique(zi, return_inverse=True)
                zi = zi.astype(np.int64).ravel()
                ns = int(zi.max()) + 1 if n else 1
            zi *= k
            zi += codes[:, c]
            ns *= k
        if ns * kx * ky > _DENSE_CELLS and ns * kx * ky > 4 * n:
            _, zi = np.unique(zi, return_inverse=True)
            zi = zi.astype(np.int64).ravel()
            ns = int(zi.max()) + 1 if n else 1
        if ns * kx * ky > _DENSE_CELLS and ns * kx * ky > 4 * n:
            return _sparse_ci_test(
                zi, codes[:, x], codes[:, y], kx, ky, method, yates, weights=weights
            )
        flat = (zi * kx + codes[:, x]) * ky + codes[:, y]
    else:
        ns = 1
        flat = codes[:, x].astype(np.int64) * ky + codes[:, y]
    obs = (
        np.bincount(flat, weights=weights, minlength=ns * kx * ky)
        .reshape(ns, kx, ky)
        .astype(np.float64)
    )
    return table_ci_test(obs, method=method, yates=yates)


@numba.njit(cache=True, nogil=True)
def _count_table(columns, cols, ks, weights, n_cells):  # pragma: no cover - compiled
    """Counts (or summed ``weights``) of every cell of the mixed-radix index over the
    rows ``columns[cols[0]], columns[cols[1]], ...`` (digits of sizes ``ks``), in row
    order: the sums of ``np.bincount`` over the same index."""
    n = columns.shape[1]
    m = cols.size
    out = np.zeros(n_cells, np.float64)
    # one pass over the rows, the index built in a register (no index array)
    weighted = weights.size > 0
    for r in range(n):
        i = 0
        for j in range(m):
            i = i * ks[j] + columns[cols[j], r]
        out[i] += weights[r] if weighted else 1.0
    return out


def ci_test_columns(
    columns: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    y: int,
    z: Sequence[int] = (),
    *,
    method: str = "g",
    yates: bool = True,
    weights: np.ndarray | None = None,
) -> CITestResult:
    """:func:`ci_test` on variable-major codes (``columns[v]`` is variable ``v``'s
    states, C-contiguous), its table counted in one compiled pass without temporaries.

    The same table, hence the same test, as ``ci_test(columns.T, ...)`` (tested): a
    table ``ci_test`` would hold densely is counted here cell for cell (weights summed in
    row order, as ``np.bincount`` does); a larger one is left to ``ci_test``'s sparse path.
    The graph-versus-data check re-tests tens of implications per edit this way.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.integers(0, 2, 5000); x = (z ^ (rng.random(5000) < .1)); y = (z ^ (rng.random(5000) < .1))
    >>> cols = np.vstack([x, y, z]).astype(np.int16)
    >>> ci_test_columns(cols, [2, 2, 2], 0, 1, [2]) == ci_test(cols.T, [2, 2, 2], 0, 1, [2])
    True
    """
    order = [*z, x, y]
    ks = np.array([int(cards[c]) for c in order], dtype=np.int64)
    n_cells = math.prod(ks.tolist())
    n = columns.shape[1]
    if n_cells > _DENSE_CELLS and n_cells > 4 * n:  # ci_test keeps only observed cells
        return ci_test(columns.T, cards, x, y, z, method=method, yates=yates, weights=weights)
    w = np.empty(0) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    obs = _count_table(columns, np.array(order, dtype=np.int64), ks, w, n_cells)
    return table_ci_test(obs.reshape(-1, ks[-2], ks[-1]), method=method, yates=yates)


def table_ci_test(obs: np.ndarray, *, method: str = "g", yates: bool = True) -> CITestResult:
    """The test of :func:`ci_test` on its contingency tables: ``obs`` is strata x ``x``
    states x ``y`` states (one stratum for a marginal test), e.g. a pair's table from
    pair counts (marginal tests without a pass over the rows).

    Examples
    --------
    >>> d = np.array([[0, 0], [1, 1], [1, 1], [0, 1]] * 20)
    >>> t = np.bincount(d[:, 0] * 2 + d[:, 1], minlength=4).reshape(1, 2, 2)
    >>> table_ci_test(t).p == ci_test(d, [2, 2], 0, 1).p
    True
    """
    obs = np.asarray(obs, dtype=np.float64)
    ns = obs.shape[0]
    if ns > 1:
        # strata that never occur add nothing (no rows, no degrees of freedom)
        obs = obs[obs.reshape(ns, -1).any(axis=1)]
    rows = obs.sum(axis=2, keepdims=True)
    cols = obs.sum(axis=1, keepdims=True)
    tot = rows.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        exp = rows * cols / tot
    ra = np.count_nonzero(rows[:, :, 0] > 0, axis=1)
    ca = np.count_nonzero(cols[:, 0, :] > 0, axis=1)
    dof_per = np.maximum(ra - 1, 0) * np.maximum(ca - 1, 0)
    dof = int(dof_per.sum())
    safe = exp > 0
    if yates and (dof_per == 1).any():
        diff = np.where(safe, exp - obs, 0.0)
        adj = np.minimum(0.5, np.abs(diff)) * np.sign(diff)
        obs = np.where((dof_per == 1)[:, None, None], obs + adj, obs)
    from scipy import special

    if method == "g":
        terms = 2.0 * (special.xlogy(obs, obs) - special.xlogy(obs, np.where(safe, exp, 1.0)))
        terms = np.where(safe, terms, 0.0)
    elif method == "chi2":
        terms = np.zeros_like(obs)
        np.divide((obs - exp) ** 2, exp, out=terms, where=safe)
    else:
        raise ValueError(f"Unknown CI test {method!r}; choose 'g' or 'chi2'.")
    stat = float(terms.sum())
    p = float(special.chdtrc(dof, stat)) if dof > 0 else float("nan")
    return CITestResult(statistic=stat, dof=dof, p=p)


def _sparse_ci_test(
    zi: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    kx: int,
    ky: int,
    method: str,
    yates: bool,
    weights: np.ndarray | None = None,
) -> CITestResult:
    """The stratified test over observed cells only (for tables too large to hold densely):
    memory linear in the patients, the same statistic as the dense form."""
    from scipy import special

    if method not in ("g", "chi2"):
        raise ValueError(f"Unknown CI test {method!r}; choose 'g' or 'chi2'.")
    xs = xs.astype(np.int64)
    ys = ys.astype(np.int64)
    if weights is None:
        cell, cnt = np.unique((zi * kx + xs) * ky + ys, return_counts=True)
    else:  # weighted patterns: patients per observed cell
        cell, inv = np.unique((zi * kx + xs) * ky + ys, return_inverse=True)
        cnt = np.bincount(inv.ravel(), weights=weights, minlength=len(cell))
        cell, cnt = cell[cnt > 0], cnt[cnt > 0]
    cz = cell // (kx * ky)
    cx = (cell // ky) % kx
    cy = cell % ky
    obs = cnt.astype(np.float64)
    zx, zx_inv = np.unique(cz * kx + cx, return_inverse=True)
    zy, zy_inv = np.unique(cz * ky + cy, return_inverse=True)
    strata, z_inv = np.unique(cz, return_inverse=True)
    n_zx = np.bincount(zx_inv.ravel(), weights=obs)
    n_zy = np.bincount(zy_inv.ravel(), weights=obs)
    n_z = np.bincount(z_inv.ravel(), weights=obs)
    ra = np.bincount(np.searchsorted(strata, zx // kx), minlength=len(strata))
    ca = np.bincount(np.searchsorted(strata, zy // ky), minlength=len(strata))
    dof_per = np.maximum(ra - 1, 0) * np.maximum(ca - 1, 0)
    dof = int(dof_per.sum())
    exp = n_zx[zx_inv.ravel()] * n_zy[zy_inv.ravel()] / n_z[z_inv.ravel()]
    two = dof_per == 1
    if yates and two.any():
        # 2x2 strata: every one of the four cells, observed or not, is adjusted
        s2 = np.flatnonzero(two)
        rows_x = zx[np.isin(zx // kx, strata[s2])]
        cols_y = zy[np.isin(zy // ky, strata[s2])]
        x_pairs = rows_x.reshape(-1, 2) % kx
        y_pairs = cols_y.reshape(-1, 2) % ky
        sz = strata[s2]
        keys, o4, e4 = [], [], []
        for i in (0, 1):
            for j in (0, 1):
                key = (sz * kx + x_pairs[:, i]) * ky + y_pairs[:, j]
                pos = np.searchsorted(cell, key)
                pos_c = np.minimum(pos, len(cell) - 1)
                found = cell[pos_c] == key
                o = np.where(found, obs[pos_c], 0.0)
                nzx = n_zx[np.searchsorted(zx, sz * kx + x_pairs[:, i])]
                nzy = n_zy[np.searchsorted(zy, sz * ky + y_pairs[:, j])]
                e = nzx * nzy / n_z[s2]
                keys.append(key)
                o4.append(o)
                e4.append(e)
        o2 = np.concatenate(o4)
        e2 = np.concatenate(e4)
        diff = e2 - o2
        o2 = o2 + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
        in_two = two[z_inv.ravel()]
        obs_r, exp_r = obs[~in_two], exp[~in_two]
        if method == "g":
            stat = float(
                2.0 * (special.xlogy(obs_r, obs_r) - special.xlogy(obs_r, exp_r)).sum()
                + 2.0 * (special.xlogy(o2, o2) - special.xlogy(o2, e2)).sum()
            )
        else:
            rest_unobserved = float(n_z[~two].sum() - exp_r.sum())
            stat = float(((obs_r - exp_r) ** 2 / exp_r).sum() + rest_unobserved)
            stat += float(((o2 - e2) ** 2 / e2).sum())
    elif method == "g":
        stat = float(2.0 * (special.xlogy(obs, obs) - special.xlogy(obs, exp)).sum())
    else:
        # unobserved cells add their expected count: sum over all cells of e is n_z
        stat = float(((obs - exp) ** 2 / exp).sum() + (n_z.sum() - exp.sum()))
    p = float(special.chdtrc(dof, stat)) if dof > 0 else float("nan")
    return CITestResult(statistic=stat, dof=dof, p=p)


def positivity_violation(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    z: Sequence[int],
    min_expected: float = 10.0,
    *,
    weights: np.ndarray | None = None,
) -> bool:
    """True when ``x``'s non-reference states never occur in a stratum of ``z`` where
    at least ``min_expected`` occurrences would be expected (a structural zero).

    Such a conditioning set violates positivity (``x`` is nested inside ``z``, e.g. a
    complication recorded only in patients with the broader diagnosis), so a
    conditional-independence test given ``z`` compares nothing outside the nesting
    stratum and cannot separate ``x`` from another variable.

    Examples
    --------
    >>> z = np.array([0] * 80 + [1] * 20); x = np.array([0] * 80 + [1] * 10 + [0] * 10)
    >>> d = np.column_stack([x, z])
    >>> positivity_violation(d, [2, 2], 0, [1], min_expected=5), positivity_violation(d, [2, 2], 1, [0], min_expected=5)
    (True, False)
    """
    if not len(z):
        return False
    zi = np.zeros(codes.shape[0], np.int64)
    ns = 1
    for c in z:
        zi = zi * int(cards[c]) + codes[:, c]
        ns *= int(cards[c])
    present = codes[:, x] != 0
    n_z = np.bincount(zi, weights=weights, minlength=ns).astype(np.float64)
    hit = np.bincount(
        zi[present], weights=None if weights is None else weights[present], minlength=ns
    )
    share = present.mean() if weights is None else float(weights[present].sum() / weights.sum())
    expected = n_z * share
    return bool(np.any((hit == 0) & (expected >= min_expected)))


def positivity_violation_columns(
    columns: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    z: Sequence[int],
    min_expected: float = 10.0,
    *,
    weights: np.ndarray | None = None,
) -> bool:
    """:func:`positivity_violation` on variable-major codes (``columns[v]`` is variable
    ``v``'s states), from one compiled count of the ``z`` by ``x`` table (the same answer,
    tested).

    Examples
    --------
    >>> z = np.array([0] * 80 + [1] * 20); x = np.array([0] * 80 + [1] * 10 + [0] * 10)
    >>> cols = np.vstack([x, z]).astype(np.int8)
    >>> positivity_violation_columns(cols, [2, 2], 0, [1], 5), positivity_violation_columns(cols, [2, 2], 1, [0], 5)
    (True, False)
    """
    if not len(z):
        return False
    order = [*z, x]
    ks = np.array([int(cards[c]) for c in order], dtype=np.int64)
    n_cells = math.prod(ks.tolist())
    if n_cells > _DENSE_CELLS and n_cells > 4 * columns.shape[1]:
        return positivity_violation(columns.T, cards, x, z, min_expected, weights=weights)
    w = np.empty(0) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    table = _count_table(columns, np.array(order, dtype=np.int64), ks, w, n_cells)
    table = table.reshape(-1, int(ks[-1]))
    n_z = table.sum(axis=1)
    hit = table[:, 1:].sum(axis=1)
    total = n_z.sum()
    share = hit.sum() / total if total else 0.0
    return bool(np.any((hit == 0) & (n_z * share >= min_expected)))


def local_bic(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    child: int,
    parents: Sequence[int],
    *,
    weights: np.ndarray | None = None,
) -> float:
    """BIC of one family (child given parents) on integer-coded data; equal to pgmpy's
    ``BIC.local_score`` when every state occurs in the data (tested). ``weights`` gives
    the patients each row stands for (weighted patterns): the row-level score.

    Examples
    --------
    >>> d = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    >>> round(local_bic(d, [2, 2], 1, [0]), 3)
    -4.159
    """
    r = int(cards[child])
    q = 1
    n = codes.shape[0]
    idx = np.zeros(n, np.int64)
    seen = 1  # configurations idx can take (observed ones only once compressed)
    for pa in parents:
        k = int(cards[pa])
        if seen * k * r > _DENSE_CELLS and seen * k * r > 4 * n:
            # keep only observed parent configurations: bounded memory, no overflow
            _, idx = np.unique(idx, return_inverse=True)
            idx = idx.astype(np.int64).ravel()
            seen = int(idx.max()) + 1 if n else 1
        idx = idx * k + codes[:, pa]
        seen *= k
        q *= k
    if seen * r > _DENSE_CELLS and seen * r > 4 * n:
        _, idx = np.unique(idx, return_inverse=True)
        idx = idx.astype(np.int64).ravel()
        seen = int(idx.max()) + 1 if n else 1
    nijk = (
        np.bincount(idx * r + codes[:, child], weights=weights, minlength=seen * r)
        .reshape(seen, r)
        .astype(np.float64)
    )
    nij = nijk.sum(axis=1, keepdims=True)
    nz = nijk > 0
    ll = float(np.sum(nijk[nz] * np.log((nijk / np.where(nij > 0, nij, 1.0))[nz])))
    n_rows = codes.shape[0] if weights is None else float(np.sum(weights))
    return ll - 0.5 * math.log(n_rows) * q * (r - 1)


def cmh_test(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    y: int,
    z: Sequence[int],
    *,
    weights: np.ndarray | None = None,
) -> CITestResult:
    """Generalized Cochran-Mantel-Haenszel test of ``x`` and ``y`` given ``z``.

    It looks for an association common to the strata of ``z`` (the same direction in
    each), with ``(kx - 1) (ky - 1)`` degrees of freedom whatever the number of strata,
    where the stratified test of :func:`ci_test` spends that many per stratum: a cause
    whose effect adds to those of the conditioning variables is found with far fewer
    patients (for two binary variables, one degree of freedom instead of one per
    stratum). Equal to statsmodels' ``StratifiedTable.test_null_odds`` for 2 x 2 tables
    (tested).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.integers(0, 8, 4000); x = rng.random(4000) < .3 + .05 * (z % 2)
    >>> y = rng.random(4000) < .2 + .04 * x      # a small effect of x, the same in each stratum
    >>> d = np.column_stack([x, y, z]).astype(np.int64)
    >>> cmh_test(d, [2, 2, 8], 0, 1, [2]).p < 0.01 < ci_test(d, [2, 2, 8], 0, 1, [2]).p
    True
    """
    from scipy import special

    kx, ky = int(cards[x]), int(cards[y])
    zi = np.zeros(codes.shape[0], np.int64)
    for c in z:
        zi = zi * int(cards[c]) + codes[:, c]
    _, zi = np.unique(zi, return_inverse=True)
    zi = zi.astype(np.int64).ravel()
    ns = int(zi.max()) + 1 if len(zi) else 0
    flat = (zi * kx + codes[:, x]) * ky + codes[:, y]
    obs = np.bincount(flat, weights=weights, minlength=ns * kx * ky).reshape(ns, kx, ky)
    obs = obs.astype(np.float64)
    n = obs.sum(axis=(1, 2))
    obs, n = obs[n > 1], n[n > 1]  # a stratum of one patient carries no information
    if not len(n):
        return CITestResult(statistic=0.0, dof=0, p=float("nan"))
    pr = obs.sum(axis=2) / n[:, None]  # row and column shares per stratum
    pc = obs.sum(axis=1) / n[:, None]
    k = (kx - 1) * (ky - 1)
    o = obs[:, : kx - 1, : ky - 1].reshape(len(n), k)
    e = (n[:, None, None] * pr[:, : kx - 1, None] * pc[:, None, : ky - 1]).reshape(len(n), k)
    rx, cy = pr[:, : kx - 1], pc[:, : ky - 1]
    vr = np.einsum("si,ij->sij", rx, np.eye(kx - 1)) - rx[:, :, None] * rx[:, None, :]
    vc = np.einsum("si,ij->sij", cy, np.eye(ky - 1)) - cy[:, :, None] * cy[:, None, :]
    # covariance of the cell counts under independence (hypergeometric), summed over strata
    v = np.einsum("s,sik,sjl->ijkl", n**2 / (n - 1), vr, vc).reshape(k, k)
    d = (o - e).sum(axis=0)
    stat = float(d @ np.linalg.pinv(v) @ d)
    dof = int(np.linalg.matrix_rank(v))
    p = float(special.chdtrc(dof, stat)) if dof > 0 else float("nan")
    return CITestResult(statistic=stat, dof=dof, p=p)


def mantel_haenszel_log_odds(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    y: int,
    z: Sequence[int] = (),
    *,
    weights: np.ndarray | None = None,
) -> float:
    """Log of the Mantel-Haenszel odds ratio of two binary variables given ``z``.

    The association common to the strata of ``z`` (the marginal log odds ratio when
    ``z`` is empty): ``log(sum(a d / n) / sum(b c / n))`` over the 2 x 2 table of each
    stratum. ``nan`` when ``x`` or ``y`` is not binary or a sum is zero. Equal to
    statsmodels' ``StratifiedTable.logodds_pooled`` (tested).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> z = rng.integers(0, 2, 20000); x = (z ^ (rng.random(20000) < .2)); y = (z ^ (rng.random(20000) < .2))
    >>> d = np.column_stack([x, y, z]).astype(np.int64)
    >>> round(mantel_haenszel_log_odds(d, [2, 2, 2], 0, 1), 1), round(mantel_haenszel_log_odds(d, [2, 2, 2], 0, 1, [2]), 1)
    (1.5, 0.0)
    """
    if int(cards[x]) != 2 or int(cards[y]) != 2:
        return float("nan")
    zi = np.zeros(codes.shape[0], np.int64)
    ns = 1
    for c in z:
        zi *= int(cards[c])
        zi += codes[:, c]
        ns *= int(cards[c])
    if ns * 4 > _DENSE_CELLS and ns * 4 > 4 * codes.shape[0]:
        # keep only the strata that occur (empty strata add nothing to either sum)
        _, zi = np.unique(zi, return_inverse=True)
        zi = zi.astype(np.int64).ravel()
        ns = int(zi.max()) + 1 if len(zi) else 0
    flat = (zi * 2 + codes[:, x]) * 2 + codes[:, y]
    t = np.bincount(flat, weights=weights, minlength=ns * 4).reshape(ns, 4).astype(np.float64)
    n = t.sum(axis=1)
    keep = n > 0
    t, n = t[keep], n[keep]
    num = float((t[:, 0] * t[:, 3] / n).sum())
    den = float((t[:, 1] * t[:, 2] / n).sum())
    if num <= 0 or den <= 0:
        return float("nan")
    return math.log(num / den)
