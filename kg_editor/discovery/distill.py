"""Distil a causal knowledge graph from a cohort's co-occurrence statistics.

The :class:`Distiller` follows the settings-then-fit contract: settings in ``__init__``,
``fit(cohort)`` returns ``self`` with the learned ``graph_``, ``stats_`` and ``report_``.

Steps
-----
1. Pair statistics over the training patients (:func:`kg_editor.discovery.evidence.compute_pair_statistics`).
2. Candidate skeleton: pairs whose association is significant after Benjamini-Hochberg
   (``q < alpha``), non-trivial (Cramér's V / |phi| >= ``min_effect``) and seen together in
   at least ``min_count`` patients. Required edges are always candidates; pairs forbidden
   both ways never are.
3. Structure (a registry of methods, :data:`METHODS`): ``pc`` prunes indirect
   associations with conditional-independence tests on conditioning sets of up to
   ``max_cond`` variables drawn from the candidates (stable PC); an edge goes only when
   neither the stratified test nor a common-effect (Cochran-Mantel-Haenszel) test finds
   a dependence; around the cohort's target the pruning is conservative (sets of at most
   ``target_max_cond``, never a set the target's partner is nested in); ``hc`` runs a
   BIC hill climb restricted to the candidates; ``assoc`` keeps every candidate.
4. Orientation, in this order: expert constraints (required, forbidden, tiers; OMOP
   domains give default tiers demographic -> drug -> condition -> procedure /
   observation / measurement), significant temporal precedence, then v-structures and
   Meek's rules (``pc``), then the BIC score.
5. Cycles are broken deterministically at the weakest edge (smallest test statistic),
   each break reported in ``report_["cycle_breaks"]``.

Examples
--------
>>> from kg_editor.data.sources.synthetic import network_events
>>> from kg_editor.data.cohort import build_cohort
>>> cohort = build_cohort(network_events("asia", 3000, seed=1).source, min_patients=5)
>>> d = Distiller(alpha=0.01).fit(cohort)
>>> d.graph_.has_edge("tub", "either") or d.graph_.has_edge("either", "tub")
True
>>> sorted(d.graph_.edge_attrs(*d.graph_.edges[0])["evidence"])[:3]
['counts', 'measures', 'orientation']
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from kg_editor.data.cohort import Cohort
from kg_editor.data.privacy import DEFAULT_MIN_CELL, protect_node
from kg_editor.discovery.counting import count_pairs
from kg_editor.discovery.evidence import (
    PairStatistics,
    compute_pair_statistics,
    pair_evidence,
    pair_statistics_from_counts,
)
from kg_editor.discovery.independence import (
    CITestResult,
    ci_test_columns,
    cmh_test,
    local_bic,
    mantel_haenszel_log_odds,
    positivity_violation_columns,
)
from kg_editor.errors import ConstraintError, NotFittedError, ResourceLimitError, SchemaError
from kg_editor.model.graph import CausalGraph, Constraints

__all__ = [
    "DEMOGRAPHIC_NAMES",
    "DOMAIN_TIERS",
    "METHODS",
    "Distiller",
    "demographic_variables",
    "estimate_memory_mb",
    "register_method",
    "resolve_constraints",
]

logger = logging.getLogger(__name__)

#: Opt-in preset (``Distiller(domain_tiers=DOMAIN_TIERS)``, CLI ``--domain-tiers``): the
#: tier of each OMOP domain, causes from earlier tiers. It forces every drug-condition
#: edge to point drug -> condition, which is wrong for indications (a condition treated
#: by the drug); it is no longer a default.
DOMAIN_TIERS: dict[str, int] = {
    "demographic": 0,
    "drug": 1,
    "condition": 2,
    "procedure": 3,
    "observation": 3,
    "measurement": 3,
}


@dataclass
class _Work:
    """Mutable state shared by the fitting steps (private)."""

    cohort: Cohort
    stats: PairStatistics
    cons: Constraints
    codes: np.ndarray  # training state codes (n, p), or distinct patterns (k, p)
    cards: np.ndarray
    index: dict[str, int]
    labels: dict[str, str]
    strength: dict[frozenset[str], float]
    skeleton: set[frozenset[str]] = field(default_factory=set)
    sepsets: dict[frozenset[str], tuple[str, ...]] = field(default_factory=dict)
    pruned: list[dict[str, Any]] = field(default_factory=list)
    directed: dict[frozenset[str], tuple[str, str, str, str]] = field(default_factory=dict)
    score_cache: dict[tuple[str, frozenset[str]], float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    reasons: dict[frozenset[str], str] = field(default_factory=dict)
    capped: dict[str, dict[str, Any]] = field(default_factory=dict)
    demographics: frozenset[str] = frozenset()
    weights: np.ndarray | None = None  # patients per row of ``codes`` (weighted patterns)

    _columns: np.ndarray | None = field(default=None, repr=False)

    @property
    def columns(self) -> np.ndarray:
        """The codes variable-major (``columns[v]``: variable ``v`` of every row), made once."""
        if self._columns is None:
            self._columns = np.ascontiguousarray(self.codes.T)
        return self._columns

    def ci(self, x: str, y: str, given: Sequence[str], method: str) -> CITestResult:
        """The conditional-independence test of ``x`` and ``y`` given ``given``: its table
        counted in one compiled pass over the variable-major codes (equal to
        :func:`ci_test` on the rows, tested)."""
        return ci_test_columns(
            self.columns,
            self.cards,
            self.index[x],
            self.index[y],
            [self.index[z] for z in given],
            method=method,
            weights=self.weights,
        )

    def mh_log_odds(self, x: str, y: str, given: Sequence[str] = ()) -> float:
        """The Mantel-Haenszel log odds ratio of ``x`` and ``y`` given ``given``."""
        return mantel_haenszel_log_odds(
            self.codes,
            self.cards,
            self.index[x],
            self.index[y],
            [self.index[z] for z in given],
            weights=self.weights,
        )

    @property
    def n_train(self) -> int:
        """Training patients (the weights' sum for patterns)."""
        return int(self.codes.shape[0] if self.weights is None else self.weights.sum())

    def bic(self, child: str, parents: Sequence[str] | set[str] | frozenset[str]) -> float:
        key = (child, frozenset(parents))
        if key not in self.score_cache:
            self.score_cache[key] = local_bic(
                self.codes,
                self.cards,
                self.index[child],
                sorted(self.index[p] for p in parents),
                weights=self.weights,
            )
        return self.score_cache[key]

    def prune(
        self, pair: frozenset[str], why: str, given: Sequence[str] = (), p: float | None = None
    ) -> None:
        """Record why the pair's edge is not in the graph (shown in the funnel and card)."""
        a, b = sorted(pair)
        lab = self.labels
        self.pruned.append(
            {
                "pair": [a, b],
                "labels": [lab.get(a, a), lab.get(b, b)],
                "given": list(given),
                "given_labels": [lab.get(z, z) for z in given],
                "p": p,
                "why": why,
            }
        )


Method = Callable[["Distiller", _Work], None]
#: Structure methods by name; the built-ins use :func:`register_method` too.
METHODS: dict[str, Method] = {}


def register_method(name: str) -> Callable[[Method], Method]:
    """Register a structure method ``fn(distiller, work)`` that fills ``work.skeleton``
    (and optionally ``work.sepsets`` / ``work.directed``)."""

    def deco(fn: Method) -> Method:
        METHODS[name] = fn
        return fn

    return deco


#: Names (codes or labels, lower case) taken as demographic attributes even without a
#: ``demographic`` domain (e.g. a wide table's ``sex`` column).
DEMOGRAPHIC_NAMES = frozenset(
    {
        "sex",
        "gender",
        "age",
        "age_band",
        "age band",
        "age_group",
        "birth_year",
        "year_of_birth",
        "race",
        "ethnicity",
    }
)


def demographic_variables(cohort: Cohort) -> list[str]:
    """Codes of the cohort's demographic attributes (domain ``demographic``, or a name in
    :data:`DEMOGRAPHIC_NAMES`): nothing recorded in the data causes them."""
    out = []
    for c, var in cohort.variables.items():
        if (
            str(var.domain).lower() == "demographic"
            or str(c).lower() in DEMOGRAPHIC_NAMES
            or str(var.label).lower() in DEMOGRAPHIC_NAMES
        ):
            out.append(c)
    return sorted(out)


def resolve_constraints(
    constraints: Constraints | str | Path | Mapping[str, Any] | None,
    cohort: Cohort,
    domain_tiers: Mapping[str, int] | None = None,
    demographics_first: bool = True,
) -> Constraints:
    """Constraints over cohort codes: labels resolved to codes, unknown names refused.

    Without user tiers, the only default knowledge is that nothing causes a demographic
    attribute (``demographics_first``: demographics in tier 0, every other variable in
    tier 1). ``domain_tiers`` (e.g. :data:`DOMAIN_TIERS`) is an opt-in preset that orders
    whole domains; see ``docs/constraints.md`` for what it implies."""
    if constraints is None:
        base = Constraints()
    elif isinstance(constraints, Constraints):
        base = constraints
    elif isinstance(constraints, Mapping):
        base = Constraints.from_dict(constraints, domains=cohort.domains)
    else:
        base = Constraints.from_file(constraints, domains=cohort.domains)

    def code(name: str) -> str:
        return cohort.resolve(name)

    req = frozenset((code(u), code(v)) for u, v in base.required)
    forb = frozenset((code(u), code(v)) for u, v in base.forbidden)
    tiers: dict[str, int] = {}
    if base.tiers:
        # the user's tiers replace the domain defaults (use "domain:NAME" entries in the
        # file to place whole domains)
        tiers = {code(n): int(t) for n, t in base.tiers.items()}
    elif domain_tiers:
        tiers = {
            c: int(domain_tiers[v.domain])
            for c, v in cohort.variables.items()
            if v.domain in domain_tiers
        }
    elif demographics_first:
        demo = set(demographic_variables(cohort))
        if demo:
            tiers = {c: (0 if c in demo else 1) for c in cohort.variables}
    for u, v in req:
        if u == v:
            raise ConstraintError(f"Constraints: the required edge {u} -> {v} is a self-loop.")
    return Constraints(
        required=req, forbidden=forb, tiers=tiers, forbid_within_tier=base.forbid_within_tier
    )


#: Default memory budget of one distillation (MB): 2 GB at 20k patients x 200 variables.
DEFAULT_MEMORY_BUDGET_MB = 2048.0
#: Fewest training patients a distillation accepts.
MIN_TRAIN_PATIENTS = 50
#: Below this many training patients the report suggests settings for a small cohort.
SMALL_COHORT = 500


def estimate_memory_mb(
    n_patients: int,
    n_variables: int,
    dated: bool,
    max_states: int = 2,
    stability: int = 0,
    patterns: bool = False,
) -> float:
    """Peak memory (MB) a distillation of ``n_patients`` x ``n_variables`` is expected to
    use beyond the cohort itself: the state codes, the date comparisons of the precedence
    counts, the pair table, and the tests' tables (bounded by the patients, see
    :func:`kg_editor.discovery.independence.ci_test`). Calibrated on synthetic cohorts
    (``tests/test_scale.py`` checks the estimate stays above the traced peak).

    Examples
    --------
    >>> round(estimate_memory_mb(20_000, 200, dated=True))
    236

    ``patterns``: ``n_patients`` counts the distinct weighted patterns of an engine's
    cohort, held once as int8 codes (columns are cast one at a time) with no dates.
    """
    n, p = int(n_patients), int(n_variables)
    per_cell = 8.0 + 2.0 + (48.0 if dated else 0.0)  # codes + int64 casts, dates + masks
    if patterns:
        per_cell = 1.0 + 1.0  # the int8 patterns and their pair-count frame
    pairs = p * (p - 1) / 2
    table = pairs * 70 * 8.0 + p * p * 16.0 * (max_states**2)  # pair statistics, count matrix
    tests = 12.0 * n * 8.0  # a test's index arrays and strata
    total = n * p * per_cell + table + tests
    if stability:
        total *= 2.0  # the resample copy of the training table
    return total / 2**20


class Distiller:
    """Distil a causal graph with evidence on every edge from a :class:`~kg_editor.data.cohort.Cohort`.

    Parameters
    ----------
    alpha : float
        Significance level: pairs need ``q < alpha`` (Benjamini-Hochberg) to be candidates;
        conditional-independence tests remove an edge when ``p > ci_alpha`` (default
        ``alpha``); precedence orients when its ``q < alpha``.
    min_count : int
        Patients who must have both variables (any non-reference state) for a candidate.
    min_effect : float
        Smallest Cramér's V (|phi| for binary pairs) of a candidate.
    method : {"pc", "hc", "assoc"}
        Structure method (see :data:`METHODS`).
    constraints : Constraints, path, mapping or None
        Expert constraints (see ``docs/constraints.md``); labels or codes.
    domain_tiers : mapping or None
        Opt-in tier per domain (the :data:`DOMAIN_TIERS` preset); ``None`` (default) for
        no domain order: directions then come from the data.
    demographics_first : bool
        Default knowledge: nothing causes a demographic attribute (sex, age band, ...);
        ignored when the constraints carry tiers or ``domain_tiers`` is given.
    score_margin : float
        Smallest BIC difference (log scale) between the two directions of an edge for the
        score to orient it; below it the edge stays unresolved.
    max_parents : int or None
        Largest in-degree of a distilled family (``None``: no cap).
    patients_per_parameter : float or None
        A distilled family keeps at most ``n_train / patients_per_parameter`` free
        parameters (``None``: no cap). Parents beyond either cap are dropped weakest first;
        the node records why (``capped``).
    test : {"g", "chi2"}
        Statistic of the marginal and conditional independence tests.
    max_cond : int
        Largest conditioning set of the PC pruning.
    target_max_cond : int or None
        Largest conditioning set that may remove a candidate edge of the cohort's target
        (``None``: ``max_cond``). The target's other causes are its neighbours, and
        conditioning on several of them hides a cause whose effect saturates (on the demo,
        haemorrhage is about as likely with one GI condition as with three, so a set of
        three removes five of its six GI causes); those edges stay for the physician to
        judge, and the graph-versus-data check lists them when the data disagree.
    common_effect_test : bool
        A pruning test removes an edge only when neither the stratified test nor a
        Cochran-Mantel-Haenszel test (an association common to the strata,
        :func:`kg_editor.discovery.independence.cmh_test`) finds a dependence: deeper
        conditioning sets spread the patients over many strata, where the stratified
        test alone drops causes whose effects add up.
    max_neighbors : int
        Conditioning sets are drawn from the strongest ``max_neighbors`` candidates of
        each end.
    precedence_share : float
        Smallest share of patients with one variable first for precedence to orient.
    ci_alpha : float, optional
        Level of the pruning tests (default ``alpha``).
    positivity_min_expected : float or None
        A conditioning set is not used to separate two variables when one of them never
        occurs in a stratum where at least this many occurrences were expected (a
        structural zero: the variable is nested in the conditioning set, which violates
        the positivity that conditional-independence tests rely on). ``None`` disables
        the check.
    positivity_scope : {"target", "all"}
        Which candidate edges the positivity check guards: the cohort target's only
        (default; with ``target_max_cond`` the pruning around the target is
        conservative), or every pair. A deterministic node (e.g. ASIA's "either", true
        exactly when tuberculosis or cancer is) nests its causes, so checking every pair
        keeps the indirect edges such a node explains.
    collider_alpha : float
        A collider a -> c <- b (a and b not linked, c not in their separating set) is
        drawn when a and b are dependent given c at this level (one test per triple,
        confirming what the structure predicts).
    explained_share : float or None
        A conditioning set of two or more variables removes a candidate edge between two
        binary variables only when it explains at least this share of their association
        (the Mantel-Haenszel log odds ratio given the set against the marginal one), besides
        the tests finding no dependence. On sparse EHR codes a deep set spreads the few
        patients who have both codes over many strata, and the tests then lack the
        patients to see an association that conditioning left in place; the edge stays
        (counted as ``sets_not_explaining`` in ``report_``). On dense data an indirect
        association is explained by its separating set and goes as before. ``None``
        removes on the tests alone.
    min_cell : int
        Small-cell suppression threshold for exported counts.
    stability : int
        Resamples of the training patients for edge stability (0: none; the CLI's
        default is 30). Every edge's evidence then holds ``stability`` (how often the
        edge, and each direction, was distilled again; see
        :class:`kg_editor.discovery.stability.EdgeStability`).
    progress : callable, optional
        ``progress(step, done, total)`` on long steps (the stability resamples).
    memory_budget_mb : float or None
        Refuse (with :class:`~kg_editor.errors.ResourceLimitError`, before any work) a
        cohort whose estimated peak (:func:`estimate_memory_mb`) exceeds this; ``None``
        for no limit.

    Attributes
    ----------
    graph_ : CausalGraph
        The distilled graph; every edge carries its evidence.
    stats_ : PairStatistics
        Pairwise statistics over the training patients.
    report_ : dict
        Candidates, pruned pairs with their separating sets, orientation rules, cycle
        breaks, timings.
    constraints_ : Constraints
        The constraints the graph honours (the user's, with the domains' default tiers);
        hand them to :class:`kg_editor.model.session.EditSession` so edits honour them too.
    """

    def __init__(
        self,
        alpha: float = 0.01,
        min_count: int = 11,
        min_effect: float = 0.03,
        method: str = "pc",
        constraints: Constraints | str | Path | Mapping[str, Any] | None = None,
        domain_tiers: Mapping[str, int] | None = None,
        demographics_first: bool = True,
        score_margin: float = 3.0,
        max_parents: int | None = 6,
        patients_per_parameter: float | None = 10.0,
        test: str = "g",
        max_cond: int = 3,
        target_max_cond: int | None = 1,
        common_effect_test: bool = True,
        max_neighbors: int = 8,
        precedence_share: float = 0.6,
        ci_alpha: float | None = None,
        positivity_min_expected: float | None = 10.0,
        positivity_scope: str = "target",
        collider_alpha: float = 0.05,
        explained_share: float | None = 0.5,
        min_cell: int = DEFAULT_MIN_CELL,
        stability: int = 0,
        progress: Callable[[str, int, int], None] | None = None,
        memory_budget_mb: float | None = DEFAULT_MEMORY_BUDGET_MB,
    ):
        self.alpha = alpha
        self.min_count = min_count
        self.min_effect = min_effect
        self.method = method
        self.constraints = constraints
        self.domain_tiers = domain_tiers
        self.demographics_first = demographics_first
        self.score_margin = score_margin
        self.max_parents = max_parents
        self.patients_per_parameter = patients_per_parameter
        self.test = test
        self.max_cond = max_cond
        self.target_max_cond = target_max_cond
        self.common_effect_test = common_effect_test
        self.max_neighbors = max_neighbors
        self.precedence_share = precedence_share
        self.ci_alpha = ci_alpha
        self.positivity_min_expected = positivity_min_expected
        self.positivity_scope = positivity_scope
        self.collider_alpha = collider_alpha
        self.explained_share = explained_share
        self.min_cell = min_cell
        self.stability = stability
        self.progress = progress
        self.memory_budget_mb = memory_budget_mb

    def get_params(self) -> dict[str, Any]:
        """Settings as a dict (constraints shown by kind only)."""
        out = {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}
        c = out.get("constraints")
        out["constraints"] = (
            None if c is None else (str(c) if isinstance(c, str | Path) else type(c).__name__)
        )
        out["domain_tiers"] = dict(self.domain_tiers) if self.domain_tiers else None
        out.pop("progress", None)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"Distiller({args})"

    # ---------------------------------------------------------------------------
    def fit(self, cohort: Cohort | Any) -> Distiller:
        """Learn the graph from ``cohort``'s training patients; returns ``self``.

        ``cohort`` is a row-level :class:`~kg_editor.data.cohort.Cohort` or a
        :class:`~kg_editor.engines.PatternCohort` (weighted patterns counted inside an
        engine, with its precedence counts when it was built with ``dates=True``): every
        count, test and score is then taken over the weighted patterns, which gives the
        row-level distillation of the same training patients (tested to 1e-9).
        """
        self._validate(cohort)
        for attr in ("graph_", "stats_", "report_", "constraints_", "stability_"):
            self.__dict__.pop(attr, None)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        cons = resolve_constraints(
            self.constraints, cohort, self.domain_tiers, self.demographics_first
        )
        self.constraints_ = cons
        demographics = frozenset(demographic_variables(cohort))
        patterns = getattr(cohort, "train_patterns", None)
        weights = None
        if patterns is not None:
            # weighted patterns from an engine
            codes_list = list(patterns.columns)
            codes = patterns.codes
            weights = patterns.weights.astype(np.float64)
            pc = count_pairs(
                pd.DataFrame(codes, columns=codes_list, copy=False),
                cohort.states,
                weights=patterns.weights,
            )
            stats = pair_statistics_from_counts(
                pc, getattr(cohort, "precedence", None), labels=cohort.labels, test=self.test
            )
        else:
            train = cohort.train
            dates = None
            if cohort.first_dates is not None:
                dates = cohort.first_dates.reindex(index=train.index)
            stats = compute_pair_statistics(
                train, cohort.states, dates, labels=cohort.labels, test=self.test
            )
            codes_list = list(train.columns)
            codes = np.ascontiguousarray(train.to_numpy(), dtype=np.int16)
        timings["statistics_s"] = time.perf_counter() - t0
        work = _Work(
            cohort=cohort,
            stats=stats,
            cons=cons,
            codes=codes,
            cards=np.array([len(cohort.variables[c].states) for c in codes_list], dtype=np.int64),
            index={c: i for i, c in enumerate(codes_list)},
            labels=cohort.labels,
            strength={},
            demographics=demographics,
            weights=weights,
        )
        tb = stats.table
        stat = tb["statistic"].to_numpy(dtype=np.float64)
        # Fisher-tested pairs have no statistic: rank them by -log p instead.
        stat = np.where(
            np.isnan(stat), -np.log(np.clip(tb["p"].to_numpy(dtype=np.float64), 1e-300, 1.0)), stat
        )
        for a, b, s in zip(tb["a"], tb["b"], stat, strict=True):
            work.strength[frozenset((a, b))] = float(s)
        cand = (
            (tb["q"].to_numpy() < self.alpha)
            & (tb["n11"].to_numpy() >= self.min_count)
            & (tb["cramers_v"].to_numpy() >= self.min_effect)
        )
        skeleton = {frozenset((a, b)) for a, b in zip(tb["a"][cand], tb["b"][cand], strict=True)}
        blocked = set()
        for e in list(skeleton):
            u, v = sorted(e)
            if cons.violation(u, v) and cons.violation(v, u):
                blocked.add(e)
        skeleton -= blocked
        for u, v in cons.required:
            skeleton.add(frozenset((u, v)))
        work.skeleton = skeleton
        n_candidates = len(skeleton)
        t1 = time.perf_counter()
        METHODS[self.method](self, work)
        timings["structure_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        self._orient(work)
        breaks = self._break_cycles(work)
        self._check_recorded_order(work, keep_direction=True)
        self._cap_families(work)
        timings["orientation_s"] = time.perf_counter() - t2
        self.stats_ = stats
        self.graph_ = self._build_graph(work, cohort)
        rules: dict[str, int] = {}
        for _u, _v, rule, _w in work.directed.values():
            rules[rule] = rules.get(rule, 0) + 1
        timings["total_s"] = time.perf_counter() - t0
        self.report_ = {
            "method": self.method,
            "patients_train": work.n_train,
            "variables": len(codes_list),
            "pairs_tested": len(tb),
            "candidates": n_candidates,
            "blocked_by_constraints": len(blocked),
            "pruned": work.pruned,
            "edges": len(self.graph_.edges),
            "orientation_rules": dict(sorted(rules.items())),
            "unresolved_edges": len(self.graph_.unresolved_edges),
            "funnel": self._funnel(work, cand, n_candidates),
            "capped_nodes": {n: c["reason"] for n, c in work.capped.items()},
            "cycle_breaks": breaks,
            **work.notes,
            "timings": {k: round(v, 4) for k, v in timings.items()},
        }
        if self.stability:
            self._add_stability(cohort)
        logger.info(
            "distilled %d edges from %d candidates (%s) in %.2f s",
            len(self.graph_.edges),
            n_candidates,
            self.method,
            timings["total_s"],
        )
        return self

    def _validate(self, cohort: Cohort) -> None:
        """Refuse nonsense settings and cohorts too small or too large, with what to do."""
        if self.method not in METHODS:
            raise SchemaError(
                f"Unknown distil method {self.method!r}; choose one of {', '.join(METHODS)}."
            )
        if self.positivity_scope not in ("target", "all"):
            raise SchemaError(
                f"Unknown positivity_scope {self.positivity_scope!r}; choose 'target' or 'all'."
            )
        if self.test not in ("g", "chi2"):
            raise SchemaError(f"Unknown test {self.test!r}; choose 'g' (G-test) or 'chi2'.")

        def number(
            name: str,
            lo: float,
            hi: float | None = None,
            *,
            whole: bool = False,
            open_lo: bool = False,
            optional: bool = False,
        ) -> None:
            v = getattr(self, name)
            if v is None and optional:
                return
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            if ok and whole:
                ok = float(v).is_integer()
            if ok:
                ok = (v > lo if open_lo else v >= lo) and (hi is None or v <= hi)
            if not ok:
                rng = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
                if open_lo:
                    rng = f"above {lo:g}" + (f" and at most {hi:g}" if hi is not None else "")
                kind = "a whole number " if whole else "a number "
                raise SchemaError(f"The setting {name} must be {kind}{rng}; got {v!r}.")

        number("alpha", 0.0, 0.5, open_lo=True)
        number("ci_alpha", 0.0, 0.5, open_lo=True, optional=True)
        number("collider_alpha", 0.0, 0.5, open_lo=True)
        number("explained_share", 0.0, 1.0, optional=True)
        number("min_count", 0, whole=True)
        number("min_effect", 0.0, 1.0)
        number("max_cond", 0, 6, whole=True)
        number("target_max_cond", 0, 6, whole=True, optional=True)
        number("max_neighbors", 1, whole=True)
        number("precedence_share", 0.5, 1.0)
        number("positivity_min_expected", 0.0, optional=True)
        number("min_cell", 0, whole=True)
        number("score_margin", 0.0)
        number("max_parents", 1, whole=True, optional=True)
        number("patients_per_parameter", 0.0, open_lo=True, optional=True)
        number("stability", 0, 1000, whole=True)
        number("memory_budget_mb", 0.0, open_lo=True, optional=True)
        n_train = _n_train(cohort)
        if self.stability and hasattr(cohort, "train_patterns"):
            raise SchemaError(
                "Edge stability resamples patients with their dates, which weighted patterns "
                "from an engine do not hold: distil with stability=0 (or --stability 0), or "
                "build a row-level cohort for the stability run."
            )
        if n_train < MIN_TRAIN_PATIENTS:
            raise SchemaError(
                f"The cohort has {n_train} training patients; distilling needs at least "
                f"{MIN_TRAIN_PATIENTS}. Use a larger extract or a smaller test share."
            )
        if self.memory_budget_mb is not None:
            p = len(cohort.variables)
            need = estimate_memory_mb(
                _rows_held(cohort, n_train),
                p,
                cohort.first_dates is not None,
                max(len(v.states) for v in cohort.variables.values()) if p else 2,
                int(self.stability),
                patterns=hasattr(cohort, "train_patterns"),
            )
            if need > self.memory_budget_mb:
                raise ResourceLimitError(
                    f"Distilling {n_train:,} training patients x {p} variables needs about "
                    f"{need:,.0f} MB, above the memory budget of {self.memory_budget_mb:,.0f} MB. "
                    "Keep fewer variables (--max-variables), sample the patients, or raise the "
                    "budget (memory_budget_mb)."
                )

    def _funnel(self, work: _Work, cand_mask: np.ndarray, n_candidates: int) -> dict[str, Any]:
        """Where the pairs went: tested -> significant -> kept by count and effect ->
        candidates -> pruned -> bounded -> edges, and which setting to relax."""
        tb = work.stats.table
        q = tb["q"].to_numpy()
        n11 = tb["n11"].to_numpy()
        v = tb["cramers_v"].to_numpy()
        sig = q < self.alpha
        by_count = sig & (n11 < self.min_count)
        by_effect = sig & (n11 >= self.min_count) & (v < self.min_effect)
        pruned_ci = sum(1 for r in work.pruned if r.get("given"))
        bounded = sum(len(c["dropped"]) for c in work.capped.values())
        edges = len(work.directed)
        funnel: dict[str, Any] = {
            **(work.cohort.settings.get("funnel") or {}),
            "variables": len(work.index),
            "pairs_tested": len(tb),
            "significant": int(sig.sum()),
            "suppressed_by_min_count": int(by_count.sum()),
            "below_min_effect": int(by_effect.sum()),
            "candidates": int(n_candidates),
            "pruned_as_indirect": int(pruned_ci),
            "dropped_by_family_bound": int(bounded),
            "edges": int(edges),
        }
        advice: list[str] = []
        if edges <= 1:
            if not sig.any():
                advice.append(
                    f"No pair is significant at alpha = {self.alpha:g}: raise alpha (e.g. 0.05) or "
                    "use more patients."
                )
            if by_count.sum():
                advice.append(
                    f"{int(by_count.sum())} significant pairs have fewer than min_count = "
                    f"{self.min_count} patients with both: lower min_count."
                )
            if by_effect.sum():
                advice.append(
                    f"{int(by_effect.sum())} significant pairs are below min_effect = "
                    f"{self.min_effect:g}: lower min_effect."
                )
            if pruned_ci:
                advice.append(
                    f"{pruned_ci} candidates were pruned as indirect: lower max_cond or ci_alpha."
                )
        n_train = work.n_train
        if n_train < SMALL_COHORT:
            advice.append(
                f"A small cohort ({n_train} training patients): try alpha = 0.05, min_count = 5, "
                "max_cond = 1 and a stability run to see which edges hold."
            )
        funnel["advice"] = advice
        return funnel

    def _add_stability(self, cohort: Cohort) -> None:
        """Distil ``stability`` resamples with the same settings; annotate every edge."""
        from kg_editor.discovery.stability import EdgeStability

        t0 = time.perf_counter()
        settings = {k: v for k, v in vars(self).items() if not k.endswith("_")}
        inner = Distiller(**{**settings, "stability": 0, "progress": None})
        prog = self.progress
        st = EdgeStability(
            inner,
            n_resamples=int(self.stability),
            progress=(lambda done, total: prog("stability", done, total)) if prog else None,
        ).fit(cohort)
        self.stability_ = st
        self.graph_ = st.annotate(self.graph_)
        unstable = st.unstable(self.graph_)
        self.report_["stability"] = {
            "resamples": st.n_resamples_,
            "unstable_edges": len(unstable),
            "unstable": [list(e) for e in unstable],
            "median_frequency": float(np.median([st.frequency(u, v) for u, v in self.graph_.edges]))
            if self.graph_.edges
            else None,
        }
        self.report_["timings"]["stability_s"] = round(time.perf_counter() - t0, 4)

    # ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "graph_"):
            raise NotFittedError(
                "This Distiller is not fitted yet. Call 'fit' with a cohort first."
            )

    def summary(self) -> dict[str, Any]:
        """Short JSON-ready description of the fit (for the CLI)."""
        self._check_fitted()
        rep = dict(self.report_)
        rep["pruned"] = len(rep["pruned"])
        return rep

    def _precedence(self, work: _Work, a: str, b: str) -> tuple[str, str, float, float] | None:
        """(earlier, later, share, q) when precedence is significant and large enough."""
        if not work.stats.has_dates:
            return None
        row, flipped = work.stats.row(a, b)
        share, q = float(row["precedence_share"]), float(row["precedence_q"])
        if not (math.isfinite(share) and math.isfinite(q)) or q >= self.alpha:
            return None
        first, second = (b, a) if flipped else (a, b)
        if share >= self.precedence_share:
            return first, second, share, q
        if share <= 1.0 - self.precedence_share:
            return second, first, 1.0 - share, q
        return None

    def _constraint_direction(
        self, work: _Work, a: str, b: str
    ) -> tuple[str, str, str, str] | None:
        cons, lab = work.cons, work.labels
        if cons.is_required(a, b):
            return a, b, "required", "Required by an expert constraint."
        if cons.is_required(b, a):
            return b, a, "required", "Required by an expert constraint."
        va, vb = cons.violation(a, b), cons.violation(b, a)
        if va and not vb:
            u, v, why = b, a, va
        elif vb and not va:
            u, v, why = a, b, vb
        else:
            return None
        if (
            why.startswith("tier")
            and not (self.constraints or self.domain_tiers)
            and (work.cohort.variables[u].domain == "demographic" or u in work.demographics)
        ):
            text = (
                f"{lab.get(u, u)} is a demographic attribute: nothing recorded in the data causes it, "
                f"so the edge points {lab.get(u, u)} -> {lab.get(v, v)}."
            )
            return u, v, "demographic", text
        if why.startswith("tier"):
            text = (
                f"{lab.get(u, u)} (tier {cons.tiers.get(u)}, {work.cohort.variables[u].domain}) comes before "
                f"{lab.get(v, v)} (tier {cons.tiers.get(v)}, {work.cohort.variables[v].domain}) in the tier order."
            )
            return u, v, "tier", text
        return (
            u,
            v,
            "forbidden",
            f"The reverse direction is forbidden by an expert constraint ({why}).",
        )

    def _recorded_order(self, work: _Work, u: str, v: str) -> tuple[float, int] | None:
        """(share of co-patients with ``u`` recorded before ``v``, ordered co-patients), or
        ``None`` without dates or ordered co-patients."""
        if not work.stats.has_dates:
            return None
        row, flipped = work.stats.row(u, v)
        a_first, b_first = float(row["a_first"]), float(row["b_first"])
        if not (math.isfinite(a_first) and math.isfinite(b_first)) or a_first + b_first <= 0:
            return None
        uf, vf = (b_first, a_first) if flipped else (a_first, b_first)
        return uf / (uf + vf), int(uf + vf)

    def _unresolved(
        self, work: _Work, a: str, b: str, reason: str, picked: tuple[str, str] | None = None
    ) -> tuple[str, str, str, str]:
        """An unresolved entry: the direction picked for fitting and why the data cannot
        decide (recorded order where dates exist, else the better BIC, else code order)."""
        lab = work.labels
        work.reasons[frozenset((a, b))] = reason
        order = self._recorded_order(work, a, b)
        if picked is not None:
            u, v = picked
            pick = f"{lab.get(u, u)} -> {lab.get(v, v)} is used for fitting (the other way closes a cycle)"
        elif order is not None and order[0] != 0.5:
            u, v = (a, b) if order[0] > 0.5 else (b, a)
            share = max(order[0], 1.0 - order[0])
            pick = (
                f"{lab.get(u, u)} -> {lab.get(v, v)} is used for fitting because {lab.get(u, u)} was "
                f"recorded first in {share:.0%} of {order[1]} co-patients (not decisive)"
            )
        else:
            u, v = a, b
            pick = f"{lab.get(u, u)} -> {lab.get(v, v)} is used for fitting (first in code order)"
        why = (
            f"The data cannot tell {lab.get(a, a)} -> {lab.get(b, b)} from {lab.get(b, b)} -> "
            f"{lab.get(a, a)}: {reason}. {pick}; resolve it in one action."
        )
        return u, v, "unresolved", why

    def _orient(self, work: _Work) -> None:
        lab = work.labels
        decided = work.directed  # edges a method already oriented (e.g. hc)
        for e in sorted(work.skeleton, key=sorted):
            if e in decided and decided[e][2] in ("required", "tier", "forbidden", "demographic"):
                continue
            a, b = sorted(e)
            c = self._constraint_direction(work, a, b)
            if c is not None:
                decided[e] = c
                continue
            if e in decided:
                continue
            pr = self._precedence(work, a, b)
            if pr is not None:
                u, v, share, q = pr
                decided[e] = (
                    u,
                    v,
                    "precedence",
                    f"{lab.get(u, u)} was recorded before {lab.get(v, v)} in {share:.0%} of the patients with "
                    f"both (binomial test q = {q:.2g}).",
                )
        if self.method == "pc":
            self._orient_colliders(work)
            self._meek(work)
        # the rest by BIC, strongest first, given the parents decided so far; a
        # difference below ``score_margin`` leaves the edge unresolved
        rest = [e for e in work.skeleton if e not in decided]
        rest.sort(key=lambda e: (-work.strength.get(e, 0.0), sorted(e)))
        for e in rest:
            a, b = sorted(e)
            pa = {u for (u, v, r, _w) in decided.values() if v == a and r != "unresolved"}
            pb = {u for (u, v, r, _w) in decided.values() if v == b and r != "unresolved"}
            gain_ab = work.bic(b, pb | {a}) - work.bic(b, pb)
            gain_ba = work.bic(a, pa | {b}) - work.bic(a, pa)
            if gain_ab >= gain_ba:
                u, v, d = a, b, gain_ab - gain_ba
            else:
                u, v, d = b, a, gain_ba - gain_ab
            if d > self.score_margin:
                decided[e] = (
                    u,
                    v,
                    "score",
                    f"The data fit better with {lab.get(u, u)} as a cause of {lab.get(v, v)} than the "
                    f"reverse (BIC difference {d:.1f} > {self.score_margin:g}, given the parents "
                    "already oriented).",
                )
            else:
                decided[e] = self._unresolved(
                    work,
                    a,
                    b,
                    "no constraint, no significant recorded order and no collider decides it, and "
                    f"both directions fit the data about equally (BIC difference {d:.1f} <= "
                    f"{self.score_margin:g})",
                )
        self._check_recorded_order(work)

    def _check_recorded_order(self, work: _Work, keep_direction: bool = False) -> None:
        """Directions from collider, Meek or score rules (or a cycle break) that go against
        the recorded order of most co-patients become unresolved (the rules and the dates
        disagree); ``keep_direction`` keeps the stored direction as the fitting pick."""
        if not work.stats.has_dates:
            return
        lab = work.labels
        for e, (u, v, rule, why) in sorted(work.directed.items(), key=lambda kv: sorted(kv[0])):
            if rule not in ("v-structure", "meek", "score", "cycle-break"):
                continue
            order = self._recorded_order(work, u, v)
            if order is None or order[0] >= 0.5 or order[1] < self.min_count:
                continue
            a, b = sorted(e)
            work.directed[e] = self._unresolved(
                work,
                a,
                b,
                f"the {rule} rule gives {lab.get(u, u)} -> {lab.get(v, v)} ({why.rstrip('.')}), but "
                f"{lab.get(v, v)} was recorded first in {1 - order[0]:.0%} of {order[1]} co-patients",
                picked=(u, v) if keep_direction else None,
            )

    def _orient_colliders(self, work: _Work) -> None:
        lab = work.labels
        adj: dict[str, set[str]] = {}
        for e in work.skeleton:
            a, b = tuple(e)
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
        for c in sorted(adj):
            for a, b in itertools.combinations(sorted(adj[c]), 2):
                if b in adj.get(a, set()):
                    continue
                sep = work.sepsets.get(frozenset((a, b)))
                if sep is None or c in sep:
                    continue
                ea, eb = frozenset((a, c)), frozenset((b, c))
                if ea in work.directed or eb in work.directed:
                    continue
                # a collider opens the path: a and b must be dependent given c
                r = work.ci(a, b, [c], self.test)
                if not (math.isfinite(r.p) and r.p < self.collider_alpha):
                    continue
                sep_txt = ", ".join(lab.get(s, s) for s in sep) if sep else "nothing"
                for x, other, ex in ((a, b, ea), (b, a, eb)):
                    work.directed[ex] = (
                        x,
                        c,
                        "v-structure",
                        f"{lab.get(x, x)} and {lab.get(other, other)} are independent given {sep_txt} but both "
                        f"are associated with {lab.get(c, c)} and they become dependent given {lab.get(c, c)} "
                        f"(p = {r.p:.2g}): {lab.get(c, c)} is a common effect (collider).",
                    )

    def _meek(self, work: _Work) -> None:
        directed = work.directed
        lab = work.labels
        changed = True
        while changed:
            changed = False
            und = sorted(sorted(e) for e in work.skeleton if e not in directed)
            parents: dict[str, set[str]] = {}
            children: dict[str, set[str]] = {}
            for u, v, _r, _w in directed.values():
                parents.setdefault(v, set()).add(u)
                children.setdefault(u, set()).add(v)
            for a, b in und:
                for x, y in ((a, b), (b, a)):
                    # rule 1: z -> x - y, z and y not adjacent => x -> y
                    z1 = [
                        z
                        for z in sorted(parents.get(x, ()))
                        if frozenset((z, y)) not in work.skeleton
                    ]
                    # rule 2: x -> z -> y and x - y => x -> y
                    z2 = sorted(children.get(x, set()) & parents.get(y, set()))
                    if z1 or z2:
                        why = (
                            f"{lab.get(z1[0], z1[0])} -> {lab.get(x, x)} is oriented and {lab.get(z1[0], z1[0])} is not "
                            f"linked to {lab.get(y, y)}: the other direction would create a collider the tests do not support."
                            if z1
                            else f"{lab.get(x, x)} -> {lab.get(z2[0], z2[0])} -> {lab.get(y, y)}: the other direction would create a cycle."
                        )
                        directed[frozenset((x, y))] = (x, y, "meek", why)
                        changed = True
                        break
                if changed:
                    break

    def _family_limits(self, n_train: int) -> tuple[int | None, float | None]:
        max_par = (
            None if self.patients_per_parameter is None else n_train / self.patients_per_parameter
        )
        return self.max_parents, max_par

    def _cap_families(self, work: _Work) -> None:
        """Bound every family: at most ``max_parents`` parents and ``n_train /
        patients_per_parameter`` free parameters. An unresolved parent edge is flipped
        first when that keeps the graph acyclic and the other family within bounds; then
        the weakest non-required parents are dropped. The node records why."""
        max_k, max_par = self._family_limits(work.n_train)
        if max_k is None and max_par is None:
            return
        lab = work.labels
        card = {c: int(work.cards[i]) for c, i in work.index.items()}

        def parents_of(n: str) -> list[str]:
            return [u for (u, v, _r, _w) in work.directed.values() if v == n]

        def params(n: str, pa: Sequence[str]) -> int:
            return (card[n] - 1) * math.prod(card[p] for p in pa)

        def over(n: str, pa: Sequence[str]) -> bool:
            return (max_k is not None and len(pa) > max_k) or (
                max_par is not None and len(pa) > 0 and params(n, pa) > max_par
            )

        limit_txt = []
        if max_k is not None:
            limit_txt.append(f"at most {max_k} parents")
        if max_par is not None:
            limit_txt.append(
                f"at most {max_par:,.0f} free parameters ({work.n_train:,} training patients / "
                f"{self.patients_per_parameter:g} per parameter)"
            )
        for n in sorted(work.index):
            pa = parents_of(n)
            if not over(n, pa):
                continue
            before, before_params = len(pa), params(n, pa)
            flipped: list[str] = []
            dropped: list[str] = []
            order = sorted(pa, key=lambda p: (work.strength.get(frozenset((p, n)), 0.0), p))
            for p in order:
                if not over(n, parents_of(n)):
                    break
                e = frozenset((p, n))
                entry = work.directed[e]
                if entry[2] != "unresolved" or work.cons.violation(n, p):
                    continue
                g = nx.DiGraph()
                g.add_edges_from((u, v) for (u, v, _r, _w) in work.directed.values())
                g.remove_edge(p, n)
                if nx.has_path(g, p, n) or over(p, [*parents_of(p), n]):
                    continue
                work.directed[e] = (
                    n,
                    p,
                    "unresolved",
                    f"The data cannot tell {lab.get(p, p)} -> {lab.get(n, n)} from {lab.get(n, n)} -> "
                    f"{lab.get(p, p)}: {work.reasons.get(e, 'no rule decides it')}. {lab.get(n, n)} -> "
                    f"{lab.get(p, p)} is used for fitting (the other way exceeds the family bound of "
                    f"{lab.get(n, n)}); resolve it in one action.",
                )
                flipped.append(p)
            for p in order:
                if not over(n, parents_of(n)):
                    break
                if p in flipped or work.directed[frozenset((p, n))][2] == "required":
                    continue
                e = frozenset((p, n))
                del work.directed[e]
                work.skeleton.discard(e)
                dropped.append(p)
                work.prune(
                    e,
                    f"{lab.get(p, p)} -> {lab.get(n, n)} was dropped to keep the family of "
                    f"{lab.get(n, n)} within its bound ({'; '.join(limit_txt)}); it was its weakest parent.",
                )
            kept = parents_of(n)
            work.capped[n] = {
                "parents_before": before,
                "parameters_before": before_params,
                "parents_after": len(kept),
                "parameters_after": params(n, kept),
                "dropped": dropped,
                "dropped_labels": [lab.get(p, p) for p in dropped],
                "flipped": flipped,
                "reason": f"{lab.get(n, n)} had {before} parents and {before_params:,} free parameters; "
                f"a family keeps {' and '.join(limit_txt)}. "
                + (
                    f"Dropped the weakest: {', '.join(lab.get(p, p) for p in dropped)}. "
                    if dropped
                    else ""
                )
                + (
                    f"Pointed unresolved edges away: {', '.join(lab.get(p, p) for p in flipped)}."
                    if flipped
                    else ""
                ),
            }
        work.notes["capped_families"] = len(work.capped)

    def _break_cycles(self, work: _Work) -> list[dict[str, Any]]:
        lab = work.labels
        breaks: list[dict[str, Any]] = []
        while True:
            g = nx.DiGraph()
            g.add_nodes_from(sorted(work.index))
            g.add_edges_from(sorted((u, v) for (u, v, _r, _w) in work.directed.values()))
            try:
                cyc = nx.find_cycle(g)
            except nx.NetworkXNoCycle:
                return breaks
            edges = [(u, v) for u, v in cyc]
            path = [edges[0][0], *[v for _u, v in edges]]
            cands = [e for e in edges if work.directed[frozenset(e)][2] != "required"] or edges
            # an unresolved edge is reversed first (its direction was only a pick), then
            # the weakest by test statistic
            weakest = min(
                cands,
                key=lambda e: (
                    work.directed[frozenset(e)][2] != "unresolved",
                    work.strength.get(frozenset(e), 0.0),
                    e,
                ),
            )
            u, v = weakest
            g.remove_edge(u, v)
            action = "removed"
            if (
                not work.cons.violation(v, u)
                and not nx.has_path(g, u, v)
                and work.directed[frozenset(weakest)][2] != "required"
            ):
                action = "reversed"
                old = work.directed[frozenset(weakest)]
                if old[2] == "unresolved":
                    reason = work.reasons.get(frozenset(weakest), "")
                    work.directed[frozenset(weakest)] = (
                        v,
                        u,
                        "unresolved",
                        f"The data cannot tell {lab.get(u, u)} -> {lab.get(v, v)} from {lab.get(v, v)} -> "
                        f"{lab.get(u, u)}: {reason}. {lab.get(v, v)} -> {lab.get(u, u)} is used for fitting "
                        f"(the other way closes the cycle {' -> '.join(lab.get(n, n) for n in path)}); "
                        "resolve it in one action.",
                    )
                else:
                    work.directed[frozenset(weakest)] = (
                        v,
                        u,
                        "cycle-break",
                        f"Reversed to break the cycle {' -> '.join(lab.get(n, n) for n in path)} at its weakest edge.",
                    )
            else:
                del work.directed[frozenset(weakest)]
                work.skeleton.discard(frozenset(weakest))
            breaks.append(
                {
                    "cycle": path,
                    "cycle_labels": [lab.get(n, n) for n in path],
                    "edge": [u, v],
                    "action": action,
                    "strength": work.strength.get(frozenset(weakest), 0.0),
                }
            )
            logger.info("cycle %s broken: %s %s -> %s", path, action, u, v)

    def _build_graph(self, work: _Work, cohort: Cohort) -> CausalGraph:
        g = nx.DiGraph()
        cons = work.cons
        for c, var in cohort.variables.items():
            shown = protect_node(var.n_patients, cohort.n_patients, k=self.min_cell)
            g.add_node(
                c,
                label=var.label,
                code=c,
                domain=var.domain,
                tier=cons.tiers.get(c),
                prevalence=shown["prevalence"],
                patients=shown["patients"],
                states=tuple(var.states),
            )
        for e in sorted(work.directed, key=sorted):
            u, v, rule, why = work.directed[e]
            ev = pair_evidence(work.stats, u, v, k=self.min_cell)
            ev["orientation"] = {"rule": rule, "why": why}
            depth = self.max_cond if self.method == "pc" else 0
            if cohort.target in e and self.target_max_cond is not None:
                depth = min(depth, self.target_max_cond)
            ev["pruning"] = {"conditioning_sets_tested_up_to": depth}
            attrs: dict[str, Any] = {}
            if rule == "unresolved":
                attrs["unresolved"] = True
            g.add_edge(
                u,
                v,
                provenance="required" if rule == "required" else "distilled",
                endorsed=False,
                evidence=ev,
                orientation=why,
                history=[],
                weight=float(work.strength.get(e, 0.0)),
                **attrs,
            )
        for node, cap in work.capped.items():
            g.nodes[node]["capped"] = cap
        metadata = {
            "created": datetime.now(UTC).isoformat(),
            "source": cohort.source_name,
            "target": cohort.target,
            "cohort_fingerprint": cohort.fingerprint(),
            "cohort_settings": dict(cohort.settings),
            "distiller": self.get_params(),
            "constraints": cons.to_dict(),
            "patients_train": _n_train(cohort),
            "min_cell": self.min_cell,
        }
        return CausalGraph(g, metadata=metadata)


# ---------------------------------------------------------------------------------
# Structure methods
# ---------------------------------------------------------------------------------
@register_method("assoc")
def _assoc(distiller: Distiller, work: _Work) -> None:
    """Keep every candidate association (no pruning)."""


@register_method("pc")
def _pc(distiller: Distiller, work: _Work) -> None:
    """Stable PC pruning on conditioning sets of size 1..max_cond drawn from candidates.

    A set removes an edge when neither the stratified test nor (``common_effect_test``)
    the Cochran-Mantel-Haenszel test finds a dependence at ``ci_alpha`` and, for sets of
    two or more, it explains ``explained_share`` of a binary pair's association; the target's
    edges see sets of at most ``target_max_cond`` and, with ``positivity_scope``
    "target", no set their partner is nested in."""
    ci_alpha = distiller.ci_alpha if distiller.ci_alpha is not None else distiller.alpha
    lab = work.labels
    pos_cache: dict[tuple[str, frozenset[str]], bool] = {}
    skipped = 0

    def nested(v: str, s: tuple[str, ...]) -> bool:
        if distiller.positivity_min_expected is None:
            return False
        key = (v, frozenset(s))
        if key not in pos_cache:
            pos_cache[key] = positivity_violation_columns(
                work.columns,
                work.cards,
                work.index[v],
                [work.index[z] for z in s],
                distiller.positivity_min_expected,
                weights=work.weights,
            )
        return pos_cache[key]

    marginal_lor: dict[frozenset[str], float] = {}
    unexplained = 0

    def explained(a: str, b: str, s: tuple[str, ...]) -> bool:
        # a set that leaves most of a binary pair's association in place (Mantel-Haenszel
        # odds ratio) did not explain it: the test lacked the patients to see it
        e = frozenset((a, b))
        if e not in marginal_lor:
            marginal_lor[e] = work.mh_log_odds(a, b)
        m = marginal_lor[e]
        if not math.isfinite(m) or abs(m) < 1e-12:
            return True
        c = work.mh_log_odds(a, b, s)
        if not math.isfinite(c):
            return True
        return c * m <= 0 or abs(c) <= (1.0 - float(distiller.explained_share or 0.0)) * abs(m)

    target = work.cohort.target
    everywhere = distiller.positivity_scope == "all"
    target_depth = (
        distiller.max_cond if distiller.target_max_cond is None else distiller.target_max_cond
    )
    for level in range(1, distiller.max_cond + 1):
        adj: dict[str, set[str]] = {c: set() for c in work.index}
        for e in work.skeleton:
            a, b = tuple(e)
            adj[a].add(b)
            adj[b].add(a)
        removals: list[tuple[frozenset[str], tuple[str, ...], float]] = []
        for e in sorted(work.skeleton, key=lambda e: (work.strength.get(e, 0.0), sorted(e))):
            a, b = sorted(e)
            if work.cons.is_required(a, b) or work.cons.is_required(b, a):
                continue
            if target in e and level > target_depth:
                continue
            done = False
            seen: set[frozenset[str]] = set()
            for x, y in ((a, b), (b, a)):
                strength_of = {z: work.strength.get(frozenset((x, z)), 0.0) for z in adj[x] - {y}}
                nbrs = sorted(strength_of, key=lambda z: (-strength_of[z], z))
                nbrs = nbrs[: distiller.max_neighbors]
                for s in itertools.combinations(nbrs, level):
                    key = frozenset(s)
                    if key in seen:
                        continue
                    seen.add(key)
                    if (everywhere or target in e) and (nested(a, s) or nested(b, s)):
                        skipped += 1
                        continue
                    r = work.ci(a, b, s, distiller.test)
                    if math.isfinite(r.p) and r.p > ci_alpha and distiller.common_effect_test:
                        # an association common to the strata that the stratified test
                        # misses (it spends its degrees of freedom per stratum) keeps the edge
                        r_cmh = cmh_test(
                            work.codes,
                            work.cards,
                            work.index[a],
                            work.index[b],
                            [work.index[z] for z in s],
                            weights=work.weights,
                        )
                        if math.isfinite(r_cmh.p) and r_cmh.p <= ci_alpha:
                            continue
                    if (
                        math.isfinite(r.p)
                        and r.p > ci_alpha
                        and distiller.explained_share is not None
                        and level >= 2
                        and not explained(a, b, s)
                    ):
                        unexplained += 1
                        continue
                    if math.isfinite(r.p) and r.p > ci_alpha:
                        removals.append((e, tuple(sorted(s)), r.p))
                        done = True
                        break
                if done:
                    break
        for e, s, p in removals:
            work.skeleton.discard(e)
            work.sepsets[e] = s
            a, b = sorted(e)
            work.prune(
                e,
                f"{lab.get(a, a)} and {lab.get(b, b)} are independent given "
                f"{', '.join(lab.get(z, z) for z in s)} (p = {p:.2g}): an indirect association.",
                given=s,
                p=p,
            )
    work.notes["tests_skipped_for_positivity"] = skipped
    work.notes["sets_not_explaining"] = unexplained
    # pairs never candidates are separated by the empty set (for colliders) only when
    # their marginal test is not significant: a pair left out for a small count or a
    # small effect was never shown independent
    tb = work.stats.table
    pvals = tb["p"].to_numpy(dtype=np.float64)
    for a, b, p in zip(tb["a"], tb["b"], pvals, strict=True):
        e = frozenset((a, b))
        if e not in work.skeleton and e not in work.sepsets and math.isfinite(p) and p > ci_alpha:
            work.sepsets[e] = ()


@register_method("hc")
def _hc(distiller: Distiller, work: _Work) -> None:
    """Greedy BIC hill climb (add / remove / reverse) over the candidate pairs only.

    Expert constraints and significant temporal precedence forbid directions; the search
    starts from the required edges.
    """
    cons = work.cons
    allowed: set[tuple[str, str]] = set()
    for e in work.skeleton:
        a, b = sorted(e)
        pr = distiller._precedence(work, a, b)
        for u, v in ((a, b), (b, a)):
            if cons.violation(u, v):
                continue
            if pr is not None and (u, v) != (pr[0], pr[1]) and not cons.is_required(u, v):
                continue
            allowed.add((u, v))
    g = nx.DiGraph()
    g.add_nodes_from(work.index)
    g.add_edges_from(cons.required)
    parents = {n: set(g.predecessors(n)) for n in g.nodes}

    def delta_add(u: str, v: str) -> float:
        return work.bic(v, parents[v] | {u}) - work.bic(v, parents[v])

    def delta_remove(u: str, v: str) -> float:
        return work.bic(v, parents[v] - {u}) - work.bic(v, parents[v])

    for _ in range(10_000):
        best: tuple[float, str, str, str] | None = None
        for u, v in sorted(allowed):
            if g.has_edge(u, v):
                if cons.is_required(u, v):
                    continue
                d = delta_remove(u, v)
                if best is None or d > best[0]:
                    best = (d, "remove", u, v)
                if (v, u) in allowed:
                    d = delta_remove(u, v) + delta_add(v, u)
                    if d > (best[0] if best else -np.inf):
                        g.remove_edge(u, v)
                        ok = not nx.has_path(g, u, v)
                        g.add_edge(u, v)
                        if ok:
                            best = (d, "reverse", u, v)
            elif not g.has_edge(v, u):
                d = delta_add(u, v)
                if (best is None or d > best[0]) and not nx.has_path(g, v, u):
                    best = (d, "add", u, v)
        if best is None or best[0] <= 1e-9:
            break
        _d, op, u, v = best
        if op == "add":
            g.add_edge(u, v)
            parents[v].add(u)
        elif op == "remove":
            g.remove_edge(u, v)
            parents[v].discard(u)
        else:
            g.remove_edge(u, v)
            parents[v].discard(u)
            g.add_edge(v, u)
            parents[u].add(v)
    lab = work.labels
    kept = {frozenset(e) for e in g.edges}
    for e in sorted(work.skeleton - kept, key=sorted):
        a, b = sorted(e)
        work.prune(
            e,
            f"The BIC score is better without an edge between {lab.get(a, a)} and {lab.get(b, b)}.",
        )
    work.skeleton = kept
    for u, v in g.edges:
        e = frozenset((u, v))
        c = distiller._constraint_direction(work, u, v)
        if c is not None and (c[0], c[1]) == (u, v):
            work.directed[e] = c
            continue
        pr = distiller._precedence(work, u, v)
        if pr is not None and (pr[0], pr[1]) == (u, v):
            work.directed[e] = (
                u,
                v,
                "precedence",
                f"{lab.get(u, u)} was recorded before {lab.get(v, v)} in {pr[2]:.0%} of the patients with both "
                f"(binomial test q = {pr[3]:.2g}).",
            )
            continue
        work.directed[e] = (
            u,
            v,
            "score",
            f"The BIC hill climb over candidate edges chose {lab.get(u, u)} -> {lab.get(v, v)}.",
        )


def _n_train(cohort: Any) -> int:
    """Training patients of a row-level or a pattern cohort."""
    patterns = getattr(cohort, "train_patterns", None)
    if patterns is not None:
        return int(patterns.n)
    return int((~np.asarray(cohort.is_test, dtype=bool)).sum())


def _rows_held(cohort: Any, n_train: int) -> int:
    """Rows a distillation holds: the training patients, or their distinct patterns."""
    patterns = getattr(cohort, "train_patterns", None)
    return int(patterns.k) if patterns is not None else n_train


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:  # pragma: no cover - helper for notebooks
    return pd.DataFrame(rows)
