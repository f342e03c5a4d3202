"""Conditional-independence tests and local scores over cohort codes (equal to pgmpy's, tested)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CITestResult",
    "ci_test",
    "local_bic",
    "positivity_violation",
]


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
) -> CITestResult:
    """Test ``x`` independent of ``y`` given ``z`` on integer-coded data.

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
    if z:
        zi = codes[:, z[0]].astype(np.int64, copy=True)
        ns = int(cards[z[0]])
        for c in z[1:]:
            zi *= int(cards[c])
            zi += codes[:, c]
            ns *= int(cards[c])
        flat = (zi * kx + codes[:, x]) * ky + codes[:, y]
    else:
        ns = 1
        flat = codes[:, x] * ky + codes[:, y]
    obs = np.bincount(flat, minlength=ns * kx * ky).reshape(ns, kx, ky).astype(np.float64)
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


def positivity_violation(
    codes: np.ndarray,
    cards: Sequence[int] | np.ndarray,
    x: int,
    z: Sequence[int],
    min_expected: float = 10.0,
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
    n_z = np.bincount(zi, minlength=ns).astype(np.float64)
    hit = np.bincount(zi[present], minlength=ns)
    expected = n_z * present.mean()
    return bool(np.any((hit == 0) & (expected >= min_expected)))


def local_bic(
    codes: np.ndarray, cards: Sequence[int] | np.ndarray, child: int, parents: Sequence[int]
) -> float:
    """BIC of one family (child given parents) on integer-coded data; equal to pgmpy's
    ``BIC.local_score`` when every state occurs in the data (tested).

    Examples
    --------
    >>> d = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    >>> round(local_bic(d, [2, 2], 1, [0]), 3)
    -4.159
    """
    r = int(cards[child])
    q = 1
    idx = np.zeros(codes.shape[0], np.int64)
    for pa in parents:
        idx = idx * int(cards[pa]) + codes[:, pa]
        q *= int(cards[pa])
    nijk = np.bincount(idx * r + codes[:, child], minlength=q * r).reshape(q, r).astype(np.float64)
    nij = nijk.sum(axis=1, keepdims=True)
    nz = nijk > 0
    ll = float(np.sum(nijk[nz] * np.log((nijk / np.where(nij > 0, nij, 1.0))[nz])))
    return ll - 0.5 * math.log(codes.shape[0]) * q * (r - 1)
