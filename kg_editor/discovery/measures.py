"""Association measures and tests for pairs of clinical variables, as a registry.

Every binary measure is vectorised over arrays of 2x2 cells: ``n11`` (both present),
``n10`` (A only), ``n01`` (B only), ``n00`` (neither). A measure returns a dict with
``estimate`` and, where it has one, ``ci_low``/``ci_high`` (95 %). Measures are registered
by name with :func:`register_measure`; the built-ins use the same hook, so a new one
appears in every evidence card without other changes.

Tests: Pearson chi-square or G (log-likelihood ratio) for every pair, Fisher's exact
test when an expected cell count is small; Benjamini-Hochberg q-values over all pairs;
a two-sided binomial test of temporal precedence.

Examples
--------
>>> import numpy as np
>>> cells = dict(n11=np.array([30.0]), n10=np.array([70.0]), n01=np.array([20.0]), n00=np.array([880.0]))
>>> round(float(MEASURES["odds_ratio"].compute(**cells)["estimate"][0]), 3)
18.857
>>> sorted(MEASURES)[:4]
['lift', 'mutual_information', 'npmi', 'odds_ratio']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "MEASURES",
    "TESTS",
    "Measure",
    "bh_qvalues",
    "binomial_two_sided",
    "compute_measures",
    "cramers_v",
    "fisher_exact_2x2",
    "independence_test",
    "mutual_information_table",
    "precedence_test",
    "register_measure",
    "table_test",
]

Z95 = float(stats.norm.ppf(0.975))
ArrayDict = dict[str, np.ndarray]


@dataclass(frozen=True)
class Measure:
    """A registered association measure.

    Attributes
    ----------
    name : str
        Registry key (also the evidence key).
    label : str
        Short human name ("Odds ratio").
    description : str
        One sentence a clinician can read.
    compute : callable
        ``compute(n11=, n10=, n01=, n00=) -> {"estimate": array, ["ci_low", "ci_high"]}``.
    """

    name: str
    label: str
    description: str
    compute: Callable[..., ArrayDict]


MEASURES: dict[str, Measure] = {}


def register_measure(
    name: str, label: str, description: str
) -> Callable[[Callable[..., ArrayDict]], Callable[..., ArrayDict]]:
    """Register a vectorised 2x2 measure under ``name`` (decorator)."""

    def deco(fn: Callable[..., ArrayDict]) -> Callable[..., ArrayDict]:
        MEASURES[name] = Measure(name=name, label=label, description=description, compute=fn)
        return fn

    return deco


def _cells(n11: Any, n10: Any, n01: Any, n00: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(x, dtype=np.float64) for x in (n11, n10, n01, n00))


def _haldane(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Add 0.5 to every cell of the tables that have a zero cell (Haldane-Anscombe)."""
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    h = np.where(zero, 0.5, 0.0)
    return a + h, b + h, c + h, d + h


@register_measure(
    "lift",
    "Lift",
    "P(A and B) / (P(A) P(B)): how many times more often the two co-occur than by chance.",
)
def lift(n11: Any, n10: Any, n01: Any, n00: Any) -> ArrayDict:
    a, b, c, d = _cells(n11, n10, n01, n00)
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        est = a * n / ((a + b) * (a + c))
    return {"estimate": est}


@register_measure("pmi", "PMI", "Pointwise mutual information, log(lift) in nats.")
def pmi(n11: Any, n10: Any, n01: Any, n00: Any) -> ArrayDict:
    with np.errstate(divide="ignore"):
        return {"estimate": np.log(lift(n11, n10, n01, n00)["estimate"])}


@register_measure(
    "npmi",
    "NPMI",
    "Normalised PMI in [-1, 1]: -1 never together, 0 independent, 1 always together.",
)
def npmi(n11: Any, n10: Any, n01: Any, n00: Any) -> ArrayDict:
    a, b, c, d = _cells(n11, n10, n01, n00)
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        p = pmi(a, b, c, d)["estimate"]
        h = -np.log(a / n)
        est = np.where(a == 0, -1.0, np.where(h == 0, 1.0, p / h))
    return {"estimate": est}


@register_measure(
    "odds_ratio",
    "Odds ratio",
    "Odds of B with A over odds of B without A, with a 95% Woolf CI (0.5 added to every cell when one is zero).",
)
def odds_ratio(n11: Any, n10: Any, n01: Any, n00: Any) -> ArrayDict:
    a, b, c, d = _haldane(*_cells(n11, n10, n01, n00))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_or = np.log(a * d / (b * c))
        se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return {
        "estimate": np.exp(log_or),
        "ci_low": np.exp(log_or - Z95 * se),
        "ci_high": np.exp(log_or + Z95 * se),
    }


@register_measure(
    "relative_risk",
    "Relative risk",
    "Risk of B among patients with A over risk of B among patients without A, with a 95% log-scale CI.",
)
def relative_risk(n11: Any, n10: Any, n01: Any, n00: Any) -> ArrayDict:
    a, b, c, d = _haldane(*_cells(n11, n10, n01, n00))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rr = np.log((a / (a + b)) / (c / (c + d)))
        se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return {
        "estimate": np.exp(log_rr),
        "ci_low": np.exp(log_rr - Z95 * se),
        "ci_high": np.exp(log_rr + Z95 * se),
    }


@register_measure("phi", "Phi", "Correlation of the two presence indicators, in [-1, 1].")
def phi(n11: Any, n10: Any, n01: Any, n00: Any) -> ArrayDict:
    a, b, c, d = _cells(n11, n10, n01, n00)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = (a * d - b * c) / np.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    return {"estimate": est}


@register_measure(
    "mutual_information", "Mutual information", "Information shared by the two variables, in nats."
)
def mutual_information(n11: Any, n10: Any, n01: Any, n00: Any) -> ArrayDict:
    a, b, c, d = _cells(n11, n10, n01, n00)
    n = a + b + c + d
    r1, r0, c1, c0 = a + b, c + d, a + c, b + d
    total = np.zeros_like(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for o, r, k in ((a, r1, c1), (b, r1, c0), (c, r0, c1), (d, r0, c0)):
            total += np.where(o > 0, o / n * np.log(o * n / (r * k)), 0.0)
    return {"estimate": total}


def compute_measures(
    n11: Any, n10: Any, n01: Any, n00: Any, names: list[str] | None = None
) -> dict[str, ArrayDict]:
    """Every registered measure (or ``names``) over the given 2x2 cells."""
    chosen = names if names is not None else list(MEASURES)
    return {m: MEASURES[m].compute(n11=n11, n10=n10, n01=n01, n00=n00) for m in chosen}


# ---------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------
def _chi2_2x2(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, g: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = a + b + c + d
    r1, r0, c1, c0 = a + b, c + d, a + c, b + d
    stat = np.zeros_like(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for o, r, k in ((a, r1, c1), (b, r1, c0), (c, r0, c1), (d, r0, c0)):
            e = r * k / n
            if g:
                stat += np.where(o > 0, 2.0 * o * np.log(o / e), 0.0)
            else:
                stat += np.where(e > 0, (o - e) ** 2 / e, 0.0)
    degenerate = (r1 == 0) | (r0 == 0) | (c1 == 0) | (c0 == 0)
    stat = np.where(degenerate, 0.0, stat)
    return stat, np.where(degenerate, 1.0, stats.chi2.sf(stat, 1))


#: Independence tests for a 2x2 table by name: ``(n11, n10, n01, n00) -> (statistic, p)``.
TESTS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "chi2": lambda a, b, c, d: _chi2_2x2(*_cells(a, b, c, d), g=False),  # type: ignore[misc,arg-type]
    "g": lambda a, b, c, d: _chi2_2x2(*_cells(a, b, c, d), g=True),  # type: ignore[misc,arg-type]
}


def fisher_exact_2x2(n11: int, n10: int, n01: int, n00: int) -> float:
    """Two-sided Fisher exact p-value of one 2x2 table (scipy)."""
    return float(stats.fisher_exact([[n11, n10], [n01, n00]]).pvalue)


def independence_test(
    n11: Any, n10: Any, n01: Any, n00: Any, method: str = "chi2", fisher_below: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test independence of every 2x2 table; Fisher's exact test where an expected cell
    count is below ``fisher_below``.

    Returns
    -------
    statistic, p, test_name : arrays
        ``statistic`` is NaN where Fisher's test was used.

    Examples
    --------
    >>> s, p, t = independence_test([2, 200], [8, 100], [10, 100], [80, 600])
    >>> list(t)
    ['fisher', 'chi2']
    """
    a, b, c, d = _cells(n11, n10, n01, n00)
    if method not in TESTS:
        raise ValueError(f"Unknown test {method!r}; choose one of {sorted(TESTS)}.")
    stat, p = TESTS[method](a, b, c, d)
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        min_exp = (
            np.minimum.reduce(
                [(a + b) * (a + c), (a + b) * (b + d), (c + d) * (a + c), (c + d) * (b + d)]
            )
            / n
        )
    small = np.atleast_1d(min_exp < fisher_below)
    names = np.full(small.shape, method, dtype=object)
    stat = np.atleast_1d(stat).astype(np.float64)
    p = np.atleast_1d(p).astype(np.float64)
    for i in np.flatnonzero(small):
        p[i] = fisher_exact_2x2(*(int(np.atleast_1d(x)[i]) for x in (a, b, c, d)))
        stat[i] = np.nan
        names[i] = "fisher"
    return stat, p, names


def table_test(table: np.ndarray, method: str = "chi2") -> tuple[float, int, float]:
    """Chi-square or G test of an r x c contingency table, empty rows/columns dropped.

    Returns ``(statistic, dof, p)``; equal to ``scipy.stats.chi2_contingency`` without
    continuity correction.
    """
    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if t.shape[0] < 2 or t.shape[1] < 2:
        return 0.0, 0, 1.0
    lam = "log-likelihood" if method == "g" else "pearson"
    res = stats.chi2_contingency(t, correction=False, lambda_=lam)
    return float(res.statistic), int(res.dof), float(res.pvalue)


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of an r x c table (0 = independent, 1 = determined).

    Examples
    --------
    >>> round(cramers_v(np.array([[30, 70], [20, 880]])), 4)
    0.3824
    """
    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if t.shape[0] < 2 or t.shape[1] < 2:
        return 0.0
    chi2 = stats.chi2_contingency(t, correction=False).statistic
    return float(np.sqrt(chi2 / (t.sum() * (min(t.shape) - 1))))


def mutual_information_table(table: np.ndarray) -> float:
    """Mutual information (nats) of an r x c table."""
    t = np.asarray(table, dtype=np.float64)
    n = t.sum()
    if n == 0:
        return 0.0
    outer = t.sum(axis=1, keepdims=True) * t.sum(axis=0, keepdims=True)
    nz = t > 0
    return float(np.sum(t[nz] / n * np.log(t[nz] * n / outer[nz])))


def bh_qvalues(p: Any) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up adjusted p-values); NaN stays NaN.

    Examples
    --------
    >>> bh_qvalues([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    arr = np.asarray(p, dtype=np.float64)
    out = np.full(arr.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(arr))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(arr[ok], kind="stable")]
    ranked = arr[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.minimum(q, 1.0)
    return out


def binomial_two_sided(k: Any, n: Any) -> np.ndarray:
    """Two-sided binomial test p-value against 1/2, vectorised (equals scipy's binomtest).

    Examples
    --------
    >>> binomial_two_sided([7, 5], [10, 10]).round(4).tolist()
    [0.3438, 1.0]
    """
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    lo = np.minimum(k, n - k)
    with np.errstate(invalid="ignore"):
        p = np.where(k * 2 == n, 1.0, np.minimum(1.0, 2.0 * stats.binom.cdf(lo, n, 0.5)))
    return np.where(n > 0, p, np.nan)


def precedence_test(a_first: Any, b_first: Any) -> tuple[np.ndarray, np.ndarray]:
    """Share of patients (with both codes dated, ties excluded) in whom A came first, and
    the two-sided binomial p-value against a share of 1/2.

    Examples
    --------
    >>> share, p = precedence_test([40], [10])
    >>> float(share[0]), bool(p[0] < 0.001)
    (0.8, True)
    """
    a = np.asarray(a_first, dtype=np.float64)
    b = np.asarray(b_first, dtype=np.float64)
    n = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, a / n, np.nan)
    return np.atleast_1d(share), np.atleast_1d(binomial_two_sided(a, n))
