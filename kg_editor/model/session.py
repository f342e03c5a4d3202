"""EditSession: the graph a physician is correcting, its fitted model, report and history.

Every edit refits only the families whose parent sets changed (one ``numpy.bincount``
each), re-scores only their likelihood terms and only the targets whose Markov blanket
they touch (the target's log posterior loses the factors of the replaced families and
gains the new ones; the score order is merged from the last one), and answers with a
:class:`~kg_editor.model.report.ReportDelta`. Every figure equals
a from-scratch pgmpy fit on the same data (``tests/test_session.py`` proves it).

Examples
--------
>>> from kg_editor.model.session import EditSession, demo_cohort_for_doctest
>>> cohort, graph = demo_cohort_for_doctest()
>>> s = EditSession(cohort, graph, bootstrap=20)
>>> d = s.add("smoke", "dysp", author="dr_a", rationale="direct effect")
>>> s.graph.has_edge("smoke", "dysp"), s.can_undo
(True, True)
>>> _ = s.undo()
>>> s.graph.has_edge("smoke", "dysp"), [h.kind for h in s.history]
(False, ['start', 'edit', 'undo'])
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from kg_editor.cache import LRU
from kg_editor.data.cohort import Cohort
from kg_editor.data.privacy import DEFAULT_MIN_CELL
from kg_editor.errors import (
    CycleError,
    FormatError,
    KGEditorError,
    SchemaError,
    unknown_variable,
)
from kg_editor.model.checks import ImpliedIndependencies, family_bounds, review_queue
from kg_editor.model.fit import CodeTable, Family, families_to_pgmpy, fit_families, refit_families
from kg_editor.model.graph import (
    AddEdge,
    AddLatent,
    CausalGraph,
    Constraints,
    Edit,
    EndorseEdge,
    RemoveEdge,
    RemoveLatent,
    ResolveEdge,
    ReverseEdge,
    apply_edit,
    changed_families,
    edit_from_dict,
    edit_to_dict,
)
from kg_editor.model.metrics import (
    bdeu_term,
    bic_term,
    blanket_logits,
    bootstrap_auroc,
    bootstrap_weights,
    family_row_loglik,
    fixed_blanket_table,
    group_codes,
    interpretability,
    loglik_term,
    posterior_from_logits,
    precedence_contradiction,
    resort,
    summarise_logits,
    target_metrics_from_scores,
)
from kg_editor.model.report import Report, ReportDelta
from kg_editor.model.suggest import Suggestion, suggest_edits

__all__ = ["SESSION_FORMAT", "EditSession", "HistoryEntry", "demo_cohort_for_doctest"]

logger = logging.getLogger(__name__)

SESSION_FORMAT = "kg-editor-session"
HISTORY_KINDS = ("start", "edit", "undo", "redo", "accept", "reject", "merge", "split")
#: Recent model versions whose per-target results (posterior, metrics, bootstrap) are kept.
_TARGET_CACHE_SIZE = 8


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a session: what happened, the report after it, and its delta."""

    kind: str
    edit: Edit | None
    report: Report
    delta: ReportDelta | None
    created: datetime = field(default_factory=_now)
    author: str = "anonymous"
    suggestion_id: str | None = None
    concept: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "edit": edit_to_dict(self.edit) if self.edit is not None else None,
            "created": self.created.isoformat(),
            "author": self.author,
            "suggestion_id": self.suggestion_id,
        }
        if self.concept is not None:
            out["concept"] = dict(self.concept)
        return out


@dataclass
class _TargetEntry:
    families: tuple[Family, ...]
    p: np.ndarray  # P(T != reference) per held-out row
    order: np.ndarray  # a permutation sorting p
    block: dict[str, Any]
    boot: np.ndarray | None = None


@dataclass
class _Logits:
    """The unnormalised log posterior of one target (held-out rows x states, fixed
    point) for one model; the next model's is this one minus the factors of the families
    an edit replaced plus those of their successors."""

    families: tuple[Family, ...]
    values: np.ndarray
    order: np.ndarray


@dataclass
class _Step:
    edit: Edit
    graph_before: CausalGraph
    families_before: dict[str, Family]
    graph_after: CausalGraph
    families_after: dict[str, Family]


class EditSession:
    """An editing session over one cohort and one graph.

    Parameters
    ----------
    cohort : Cohort or PatternCohort
        Training rows fit the CPDs; held-out rows give every accuracy figure. A
        :class:`kg_editor.engines.PatternCohort` (patterns only, from an engine) runs the
        weighted path.
    graph : CausalGraph
        The starting graph; its nodes must be cohort variables (codes).
    constraints : Constraints, optional
        Expert constraints every edit must honour (unless overridden).
    targets : sequence of str, optional
        Codes or labels of the target diagnoses (default ``[cohort.target]``).
    estimator : ``"bdeu"`` or ``"mle"``
        How CPDs are estimated; ``bdeu`` also ranks suggestions by BDeu, ``mle`` by BIC.
    equivalent_sample_size : float
        BDeu prior strength.
    reference : CausalGraph, optional
        A graph to measure agreement with (precision/recall).
    author : str
        Default author of edits.
    alpha : float
        Significance level (data support of edges, temporal precedence).
    bootstrap : int
        Paired bootstrap resamples for the CIs of the changes (0 turns CIs off).
    seed : int
        Seed of the bootstrap.
    patterns : bool
        Compress the training and held-out rows to distinct patterns with weights
        (:class:`kg_editor.engines.Patterns`; held-out patterns keep sex and age band):
        every figure equals the row-level one, and an edit's cost grows with distinct
        patterns, not patients. Posteriors are then given per held-out pattern, and the
        bootstrap draws Multinomial(n, w / n) counts per pattern.
    """

    def __init__(
        self,
        cohort: Cohort,
        graph: CausalGraph,
        *,
        constraints: Constraints | None = None,
        targets: Sequence[str] | None = None,
        estimator: str = "bdeu",
        equivalent_sample_size: float = 10.0,
        reference: CausalGraph | None = None,
        author: str = "anonymous",
        alpha: float = 0.05,
        bootstrap: int = 200,
        seed: int = 0,
        patterns: bool = False,
    ):
        missing = [n for n in graph.nodes if n not in cohort.variables]
        if missing:
            raise (
                unknown_variable(
                    str(missing[0]),
                    [*cohort.variables, *cohort.labels.values()],
                    what="cohort variable",
                )
                if len(missing) == 1
                else KGEditorError(
                    f"The graph names {len(missing)} variables the cohort lacks: {', '.join(map(str, missing[:10]))}"
                    f"{' ...' if len(missing) > 10 else ''}. Build the cohort with these variables or remove them."
                )
            )
        self.cohort = cohort
        self.constraints = constraints or Constraints()
        self.estimator = estimator.lower()
        self.equivalent_sample_size = float(equivalent_sample_size)
        self.reference = reference
        self.author = author
        self.alpha = float(alpha)
        self.n_bootstrap = int(bootstrap)
        self.seed = int(seed)
        self.score_name = "bdeu" if self.estimator == "bdeu" else "bic"

        nodes = list(graph.nodes)
        self.patterns = bool(patterns)
        self._set_tables(cohort, nodes)
        self._weights: np.ndarray | None = None
        self._draw_bootstrap()  # in the background, while the session opens
        self._dates: dict[str, np.ndarray] | None = None
        self._precedence: dict[tuple[str, str], dict[str, Any]] = {}
        self._target_cache: dict[str, LRU[tuple[int, ...], _TargetEntry]] = {}
        self._logits: dict[str, _Logits] = {}
        self._pair_cache: dict[str, Any] = {}
        self._issued: dict[str, Suggestion] = {}
        self._rejected: set[str] = set()

        self.targets = self._resolve_targets(
            targets if targets is not None else ([cohort.target] if cohort.target else []), graph
        )
        self.initial_graph = graph
        self.graph = graph
        # the graph-versus-data check, updated incrementally on every report
        self._check = ImpliedIndependencies(alpha=self.alpha).fit(
            graph, self._train.columns, self._train.cards, weights=self._train.weights
        )
        self.families = fit_families(
            self._train,
            {n: graph.parents(n) for n in nodes},
            estimator=self.estimator,
            equivalent_sample_size=self.equivalent_sample_size,
        )
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._stale: list[Family] = []
        self.report = self._make_report(self.graph, self.families)
        #: The saved version this session's graph was last based on (opened from or
        #: saved as); a save checks the branch head is still this one (no lost updates).
        self.base_version: str | None = None
        self.history: list[HistoryEntry] = [
            HistoryEntry("start", None, self.report, None, author=author)
        ]

    # ------------------------------------------------------------------ helpers
    def _set_tables(self, cohort: Cohort, nodes: list[str]) -> None:
        """Training and held-out tables (and held-out subgroups) of ``nodes``: patient
        rows, or weighted patterns (``patterns=True`` or a PatternCohort)."""
        cards = cohort.cardinalities
        if getattr(cohort, "train_patterns", None) is not None:
            # a PatternCohort (kg_editor.engines): no patient rows at all
            self.patterns = True
            pc: Any = cohort
            self._train, self._test, self._groups = _tables_of_patterns(
                pc.train_patterns.marginal(nodes),
                pc.test_patterns.marginal(nodes, keys=list(pc.test_patterns.extra)),
            )
        elif self.patterns:  # weighted patterns compressed from the cohort's rows
            self._train, self._test, self._groups = _pattern_tables(
                cohort.train[nodes], cohort.test[nodes], cohort.test_persons, cards
            )
        else:
            persons = cohort.test_persons
            self._train = CodeTable.from_frame(cohort.train[nodes], cards)
            self._test = CodeTable.from_frame(cohort.test[nodes], cards)
            self._groups = {
                a: group_codes(persons[a].astype(str).to_numpy())
                for a in ("sex", "age_band")
                if a in persons.columns
            }

    def _resolve_targets(self, targets: Sequence[str | None], graph: CausalGraph) -> list[str]:
        out = []
        for t in targets:
            if t is None:
                continue
            code = graph.resolve(str(t))
            if code not in out:
                out.append(code)
        return out

    def _terms(self, fam: Family) -> tuple[float, float, float, float]:
        t = fam.cache.get("terms")
        if t is None:
            rows = family_row_loglik(fam, self._test)
            counts = fam.count_table  # the non-empty cells only, for a sparse family
            ll = loglik_term(counts)
            t = (
                ll,
                bic_term(counts, self._train.n, loglik=ll),
                bdeu_term(counts, self.equivalent_sample_size),
                self._test.total(rows),
            )
            fam.cache["terms"] = t
        return t

    def _target_entry(
        self, target: str, graph: CausalGraph, families: Mapping[str, Family]
    ) -> _TargetEntry:
        fams = (families[target], *(families[c] for c in graph.children(target)))
        key = tuple(id(f) for f in fams)
        lru = self._target_cache.setdefault(target, LRU(_TARGET_CACHE_SIZE))
        hit = lru.get(key)
        if hit is not None and all(a is b for a, b in zip(hit.families, fams, strict=True)):
            return hit
        logits, previous = self._target_logits(target, fams)
        true_state = self._test.columns[target]
        p, hits = summarise_logits(logits.values, true_state)
        order = resort(p, previous) if previous is not None else None
        metrics, p, order = target_metrics_from_scores(
            true_state, p, hits, self._groups, weights=self._test.float_weights, order=order
        )
        logits.order = order
        var = self.cohort.variables[target]
        block = {"label": var.label, "reference_state": var.states[0], **metrics}
        entry = _TargetEntry(fams, p, order, block)
        lru[key] = entry
        return entry

    def _target_logits(
        self, target: str, fams: tuple[Family, ...]
    ) -> tuple[_Logits, np.ndarray | None]:
        """The target's log posterior for the model ``fams``: the last one kept, updated
        by the factors that differ when fewer differ than stay, else summed afresh; in
        exact fixed point (:func:`~kg_editor.model.metrics.fixed_blanket_table`), so
        both ways give the same bits. Also returns the earlier model's score order
        (``None`` when summed afresh)."""
        fixed = all(fixed_blanket_table(f, target, self._test) is not None for f in fams)
        last = self._logits.get(target)
        if fixed and last is not None and last.values.dtype.kind == "i":
            new_ids = {id(f) for f in fams}
            old_ids = {id(f) for f in last.families}
            gone = [f for f in last.families if id(f) not in new_ids]
            came = [f for f in fams if id(f) not in old_ids]
            if len(gone) + len(came) < len(fams):
                blanket_logits(gone, target, self._test, out=last.values, sign=-1.0, fixed=True)
                blanket_logits(came, target, self._test, out=last.values, fixed=True)
                previous = last.order
                last.families = fams
                return last, previous
        self._logits.pop(target, None)  # free the old array before summing afresh
        values = blanket_logits(fams, target, self._test, fixed=fixed)
        fresh = _Logits(fams, values, np.empty(0, np.int64))
        self._logits[target] = fresh
        return fresh, None

    def _first_dates(self) -> dict[str, np.ndarray] | None:
        if self.cohort.first_dates is None:
            return None
        if self._dates is None:
            fd = self.cohort.first_dates
            train_idx = self.cohort.data.index[~self.cohort.is_test]
            fd = fd.reindex(index=train_idx)
            self._dates = {
                str(c): pd.to_datetime(fd[c]).to_numpy(dtype="datetime64[ns]") for c in fd.columns
            }
        return self._dates

    def _contradicting(self, graph: CausalGraph) -> list[tuple[str, str]]:
        dates = self._first_dates()
        if dates is None:
            return []
        out = []
        for u, v in graph.edges:
            if u not in dates or v not in dates:
                continue
            res = self._precedence.get((u, v))
            if res is None:
                res = precedence_contradiction(dates[u], dates[v], self.alpha)
                self._precedence[(u, v)] = res
            if res["contradicts"]:
                out.append((u, v))
        return out

    def _make_report(self, graph: CausalGraph, families: Mapping[str, Family]) -> Report:
        ll_tr = bic = bdeu = ll_te = 0.0
        for f in families.values():
            a, b, c, d = self._terms(f)
            ll_tr += a
            bic += b
            bdeu += c
            ll_te += d
        n_test = self._test.n
        acc = {
            "loglik_per_patient": ll_te / n_test if n_test else float("nan"),
            "bic": bic,
            "bdeu": bdeu,
            "loglik_train": ll_tr,
            "n_train": self._train.n,
            "n_test": n_test,
        }
        targets = {t: self._target_entry(t, graph, families).block for t in self.targets}
        interp = interpretability(
            graph.nx,
            families,
            self.targets,
            reference=self.reference.edges if self.reference is not None else None,
            alpha=self.alpha,
            contradicting=self._contradicting(graph),
        )
        interp.update(self._trust(graph))
        settings = {
            "estimator": self.estimator,
            "equivalent_sample_size": self.equivalent_sample_size,
            "alpha": self.alpha,
            "score": self.score_name,
            "targets": list(self.targets),
        }
        return Report.build(acc, targets, interp, settings)

    # trust figures of the report
    def _trust(self, graph: CausalGraph) -> dict[str, Any]:
        """Unresolved directions, edges against the recorded order, family bounds and the
        implied independencies the data contradict (re-tested only where the edit reached)."""
        lab = graph.label
        against = 0
        against_asserted = 0
        dates = self._first_dates()
        if dates is not None:
            self._contradicting(graph)  # fills the precedence cache of every dated edge
            for u, v in graph.edges:
                res = self._precedence.get((u, v))
                if res is not None and res["share"] is not None and res["share"] > 0.5:
                    against += 1
                    against_asserted += not graph.edge_attrs(u, v).get("unresolved")
        bounds = family_bounds(graph, self._train.cards, self._train.n)
        check = self._check.update(graph)
        failing = [
            {**r.to_dict(), "labels": [lab(r.x), lab(r.y)], "why": r.describe(lab)}
            for r in check.first_failures(20)
        ]
        return {
            "unresolved_edges": len(graph.unresolved_edges),
            "edges_against_temporal_order": against,
            "asserted_edges_against_temporal_order": against_asserted,
            "families_over_bound": len(bounds),
            "family_bound_warnings": [b["message"] for b in bounds],
            # unmeasured common causes shape the implications above, not the fitted model
            "latent_causes": len(graph.latent_pairs),
            **check.summary(),
            "implied_independence_failing": failing,
        }

    def resolve(
        self,
        source: str,
        target: str,
        *,
        author: str | None = None,
        rationale: str = "",
        override: bool = False,
    ) -> ReportDelta:
        """Settle an unresolved edge as ``source -> target`` (one action either way)."""
        return self._edit(ResolveEdge, source, target, author, rationale, override)

    def endorse(
        self, source: str, target: str, *, author: str | None = None, rationale: str = ""
    ) -> ReportDelta:
        """Confirm ``source -> target`` as clinically right (no refit: the structure is
        unchanged); the report's endorsed share rises and the review queue moves on."""
        return self._edit(EndorseEdge, source, target, author, rationale, False)

    def add_latent(
        self, a: str, b: str, *, author: str | None = None, rationale: str = ""
    ) -> ReportDelta:
        """Say ``a`` and ``b`` share an unmeasured common cause (``a <-> b``).

        Nothing is refitted: the fitted model, and so log-likelihood, BIC, AUROC and the
        beliefs, has the measured variables only. The implied independencies, active
        trails and adjustment sets are read from the graph with the cause as an
        unobserved parent of both (:meth:`CausalGraph.causal_nx`), so the report's
        graph-versus-data check changes with it.
        """
        return self._edit(AddLatent, a, b, author, rationale, False)

    def remove_latent(
        self, a: str, b: str, *, author: str | None = None, rationale: str = ""
    ) -> ReportDelta:
        """Withdraw the unmeasured common cause of ``a`` and ``b``."""
        return self._edit(RemoveLatent, a, b, author, rationale, False)

    def review_queue(self) -> list[dict[str, Any]]:
        """The edges in the order a physician should review them, each with its reason
        and whether it is reviewed (endorsed, added, reversed or resolved by a clinician);
        see :func:`kg_editor.model.checks.review_queue`."""
        return review_queue(self.graph)

    def edge_table(
        self, evidence_for: Callable[[str, str], Mapping[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """One row per edge (direction status, evidence with suppressed counts,
        stability, conflicts with the data, endorsement); see
        :func:`kg_editor.model.edge_table.edge_rows`. ``evidence_for(source, target)``
        gives the data's evidence of an edge carrying none (one a clinician added)."""
        from kg_editor.model.edge_table import edge_rows

        contra = (self.report.interpretability or {}).get("contradicting_edges") or []
        return edge_rows(
            self.graph,
            against_time=[(str(e[0]), str(e[1])) for e in contra],
            alpha=self.alpha,
            min_cell=int(self.cohort.settings.get("min_cell", DEFAULT_MIN_CELL)),
            evidence_for=evidence_for,
        )

    def _bootstrap_draw(self, test: CodeTable) -> np.ndarray:
        """The paired-bootstrap resamples of the held-out table ``test`` (seeded by
        ``seed``): patients (or patterns) x resamples."""
        if test.weights is not None:
            from kg_editor.engines.patterns import pattern_bootstrap_weights

            return pattern_bootstrap_weights(test.weights, self.n_bootstrap, self.seed)
        return bootstrap_weights(test.n, self.n_bootstrap, self.seed)

    def _draw_bootstrap(self) -> None:
        """Start drawing the bootstrap resamples in a background thread.

        They depend on the held-out table and the seed only, never on an edit: drawn
        once per held-out table, every edit's paired CIs reuse them (the same resamples
        before and after the edit). At a million patients the draw takes a second or
        more (200 multinomials over the held-out patterns); started at open, it no
        longer lands on the first edit. :meth:`_bootstrap` waits for it.
        """
        self._weights = None
        self._pending: tuple[threading.Thread, dict[str, np.ndarray]] | None = None
        if self.n_bootstrap <= 0 or self._test.n == 0:
            return
        box: dict[str, np.ndarray] = {}
        test = self._test

        def draw() -> None:
            # a failure leaves the box empty; _bootstrap then draws again and raises
            with contextlib.suppress(Exception):
                box["w"] = self._bootstrap_draw(test)

        thread = threading.Thread(target=draw, name="kg-editor-bootstrap", daemon=True)
        thread.start()
        self._pending = (thread, box)

    def _bootstrap(self) -> np.ndarray | None:
        if self.n_bootstrap <= 0 or self._test.n == 0:
            return None
        if self._weights is None:
            pending, self._pending = getattr(self, "_pending", None), None
            if pending is not None:
                pending[0].join()
                self._weights = pending[1].get("w")
            if self._weights is None:
                self._weights = self._bootstrap_draw(self._test)
        return self._weights

    def _ci_factory(
        self,
        graph_b: CausalGraph,
        fam_b: Mapping[str, Family],
        graph_a: CausalGraph,
        fam_a: Mapping[str, Family],
    ) -> Any:
        targets = list(self.targets)
        entries = [
            (t, self._target_entry(t, graph_b, fam_b), self._target_entry(t, graph_a, fam_a))
            for t in targets
        ]
        changed = [n for n in fam_a if fam_a[n] is not fam_b.get(n)]

        def compute() -> dict[str, Any]:
            w = self._bootstrap()
            if w is None:
                return {}
            lo_q, hi_q = 2.5, 97.5
            d = np.zeros(self._test.n_rows)
            for n in changed:
                d += family_row_loglik(fam_a[n], self._test) - family_row_loglik(
                    fam_b[n], self._test
                )
            ll = (
                np.einsum("ib,i->b", w, d.astype(np.float32)) / self._test.n
            )  # no BLAS: steadier on busy cores
            out: dict[str, Any] = {
                "loglik_per_patient": (
                    float(np.percentile(ll, lo_q)),
                    float(np.percentile(ll, hi_q)),
                ),
                "targets": {},
            }
            for t, eb, ea in entries:
                if eb is ea:
                    out["targets"][t] = {"auroc": (0.0, 0.0), "brier": (0.0, 0.0)}
                    continue
                y = self._test.columns[t] != 0
                for e in (eb, ea):
                    if e.boot is None:
                        e.boot = bootstrap_auroc(y, e.p, w, e.order)
                assert ea.boot is not None and eb.boot is not None
                da = ea.boot - eb.boot
                da = da[np.isfinite(da)]
                sq = (ea.p - y) ** 2 - (eb.p - y) ** 2
                db = np.einsum("ib,i->b", w, sq.astype(np.float32)) / self._test.n
                out["targets"][t] = {
                    "auroc": (float(np.percentile(da, lo_q)), float(np.percentile(da, hi_q)))
                    if da.size
                    else (float("nan"), float("nan")),
                    "brier": (float(np.percentile(db, lo_q)), float(np.percentile(db, hi_q))),
                }
            return out

        return compute

    def _delta(
        self,
        graph_b: CausalGraph,
        fam_b: Mapping[str, Family],
        rep_b: Report,
        graph_a: CausalGraph,
        fam_a: Mapping[str, Family],
        rep_a: Report,
        edit: Edit | None,
    ) -> ReportDelta:
        return ReportDelta(
            rep_b,
            rep_a,
            ci=self._ci_factory(graph_b, fam_b, graph_a, fam_a),
            edit=_edit_dict(edit) if edit is not None else None,
        )

    # ------------------------------------------------------------------ editing
    def apply(self, edit: Edit) -> ReportDelta:
        """Apply an edit; refit the touched families; return the report delta.

        Raises ``CycleError``, ``EdgeError``, ``ConstraintError`` or
        ``UnknownVariableError`` (from :func:`kg_editor.model.graph.apply_edit`, unchanged); the
        session is unchanged then.
        """
        return self._apply(edit, kind="edit")

    def _apply(self, edit: Edit, kind: str, suggestion_id: str | None = None) -> ReportDelta:
        new_graph = apply_edit(self.graph, edit, self.constraints)
        fams = refit_families(
            self.families,
            self._train,
            {n: new_graph.parents(n) for n in changed_families(edit)},
            changed_families(edit),
            estimator=self.estimator,
            equivalent_sample_size=self.equivalent_sample_size,
        )
        report = self._make_report(new_graph, fams)
        delta = self._delta(self.graph, self.families, self.report, new_graph, fams, report, edit)
        self._undo.append(_Step(edit, self.graph, self.families, new_graph, fams))
        self._redo.clear()
        self._switch(new_graph, fams, report)
        self.history.append(
            HistoryEntry(kind, edit, report, delta, author=edit.author, suggestion_id=suggestion_id)
        )
        logger.debug("%s: %s", kind, edit)
        return delta

    def _edit(
        self,
        cls: type[Edit],
        source: str,
        target: str,
        author: str | None,
        rationale: str,
        override: bool,
    ) -> ReportDelta:
        u, v = self.graph.resolve(source), self.graph.resolve(target)
        return self.apply(
            cls(u, v, author=author or self.author, rationale=rationale, override=override)
        )

    def add(
        self,
        source: str,
        target: str,
        *,
        author: str | None = None,
        rationale: str = "",
        override: bool = False,
    ) -> ReportDelta:
        """Add ``source -> target`` (codes or labels)."""
        return self._edit(AddEdge, source, target, author, rationale, override)

    def remove(
        self,
        source: str,
        target: str,
        *,
        author: str | None = None,
        rationale: str = "",
        override: bool = False,
    ) -> ReportDelta:
        """Remove ``source -> target``."""
        return self._edit(RemoveEdge, source, target, author, rationale, override)

    def reverse(
        self,
        source: str,
        target: str,
        *,
        author: str | None = None,
        rationale: str = "",
        override: bool = False,
    ) -> ReportDelta:
        """Reverse ``source -> target`` into ``target -> source``."""
        return self._edit(ReverseEdge, source, target, author, rationale, override)

    @property
    def undo_graph(self) -> CausalGraph | None:
        """The graph an undo would restore (``None``: nothing to undo)."""
        return self._undo[-1].graph_before if self._undo else None

    @property
    def redo_graph(self) -> CausalGraph | None:
        """The graph a redo would restore (``None``: nothing to redo)."""
        return self._redo[-1].graph_after if self._redo else None

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self, *, author: str | None = None, own_only: bool = True) -> ReportDelta:
        """Undo the last edit (the graph, with its attributes, is restored exactly).

        With ``own_only`` (the default) an author undoes only their own last edit: when
        the last edit is someone else's, nothing changes and the error names them.
        """
        if not self._undo:
            raise KGEditorError("There is nothing to undo.")
        last = self._undo[-1].edit
        if own_only and author is not None and last.author != author:
            raise KGEditorError(
                f"The last edit ({last.source} -> {last.target}) was made by {last.author}, "
                "not by you; Undo only reverts your own last edit. Change it with a new edit "
                "(and a rationale) instead."
            )
        step = self._undo.pop()
        self._redo.append(step)
        return self._restore(step.graph_before, step.families_before, "undo", step.edit, author)

    def redo(self, *, author: str | None = None) -> ReportDelta:
        """Redo the last undone edit."""
        if not self._redo:
            raise KGEditorError("There is nothing to redo.")
        step = self._redo.pop()
        self._undo.append(step)
        return self._restore(step.graph_after, step.families_after, "redo", step.edit, author)

    def _switch(self, graph: CausalGraph, fams: dict[str, Family], report: Report) -> None:
        """Make ``graph``/``fams`` current; free the per-patient arrays of the families
        replaced one step earlier (kept one step so the last delta's CIs stay cheap; they
        are recomputed on demand after an undo)."""
        for f in self._stale:
            f.drop_patient_cache()
        self._stale = [f for n, f in self.families.items() if fams.get(n) is not f]
        self.graph, self.families, self.report = graph, fams, report

    def _restore(
        self, graph: CausalGraph, fams: dict[str, Family], kind: str, edit: Edit, author: str | None
    ) -> ReportDelta:
        report = self._make_report(graph, fams)
        delta = self._delta(self.graph, self.families, self.report, graph, fams, report, edit)
        self._switch(graph, fams, report)
        self.history.append(HistoryEntry(kind, edit, report, delta, author=author or self.author))
        return delta

    # ------------------------------------------------------------------ concepts
    def merge(
        self,
        nodes: Sequence[str],
        name: str,
        *,
        author: str | None = None,
        rationale: str = "",
    ) -> ReportDelta:
        """Merge the selected binary nodes into one concept and refit.

        The cohort's variables are rebuilt from the members' patients
        (:meth:`kg_editor.data.cohort.Cohort.merge`: present when any member is, from the
        earliest member date); the concept node takes every edge of its members to the
        rest of the graph (edges among members disappear). The step is recorded in the
        history with its author, time and rationale and saved by :meth:`to_dict`;
        :meth:`split` is its inverse (undo does not cross a merge).

        Raises
        ------
        CycleError
            The members are linked through an outside node (``A -> X -> B``): the concept
            would be its own ancestor. The cycle is named; the session is unchanged.
        SchemaError
            Fewer than two nodes, a categorical or demographic node, a name in use.
        """
        members = list(dict.fromkeys(self.graph.resolve(n) for n in nodes))
        self._need_rows("Merging nodes")
        cohort = self.cohort.merge(members, name)
        code = next(c for c in cohort.codes if c not in self.cohort.variables)
        who = author or self.author
        graph = _contract(self.graph, members, code, cohort, who, rationale)
        record = {"op": "merge", "nodes": members, "name": name, "code": code}
        return self._rebind(cohort, graph, "merge", record, who, rationale)

    def split(self, node: str, *, author: str | None = None, rationale: str = "") -> ReportDelta:
        """Split a merged concept back into its member nodes and refit.

        Each member takes the concept's parents and children. Recorded like :meth:`merge`.
        """
        code = self.graph.resolve(node)
        self._need_rows("Splitting a concept")
        cohort = self.cohort.split(code)
        members = list(self.cohort.set_aside[code][0])
        who = author or self.author
        graph = _expand(self.graph, code, members, cohort, who, rationale)
        record = {"op": "split", "node": code, "nodes": members}
        return self._rebind(cohort, graph, "split", record, who, rationale)

    def _need_rows(self, what: str) -> None:
        if not hasattr(self.cohort, "merge"):  # a PatternCohort: patterns only
            raise SchemaError(
                f"{what} needs the patients' rows; this session runs on weighted patterns "
                "counted inside an engine. Build the cohort in memory (EngineSource.cohort) "
                "and open the session with patterns=True instead."
            )

    def _rebind(
        self,
        cohort: Cohort,
        graph: CausalGraph,
        kind: str,
        record: dict[str, Any],
        author: str,
        rationale: str,
    ) -> ReportDelta:
        before = self.report
        nodes = list(graph.nodes)
        if kind == "merge":
            mapping = {m: record["code"] for m in record["nodes"]}
        else:
            back = cohort.target if cohort.target in record["nodes"] else ""
            mapping = {record["node"]: back or ""}
        self.cohort = cohort
        self._set_tables(cohort, nodes)  # rows or weighted patterns, as the session began
        self._draw_bootstrap()  # the held-out patterns (and so the bootstrap) may change
        self._dates = None
        self._precedence = {}
        self._target_cache = {}
        self._logits = {}
        self._pair_cache = {}
        self._issued = {}
        targets = [mapping.get(t, t) for t in self.targets]
        self.targets = [t for t in dict.fromkeys(targets) if t and t in graph]
        fams = fit_families(
            self._train,
            {n: graph.parents(n) for n in nodes},
            estimator=self.estimator,
            equivalent_sample_size=self.equivalent_sample_size,
        )
        for f in self._stale:
            f.drop_patient_cache()
        self._stale = []
        self.graph, self.families = graph, fams
        # the variables changed: the graph-versus-data check starts again on the new ones
        self._check = ImpliedIndependencies(alpha=self.alpha).fit(
            graph, self._train.columns, self._train.cards, weights=self._train.weights
        )
        self.report = self._make_report(graph, fams)
        self._undo.clear()
        self._redo.clear()
        entry = {**record, "rationale": rationale}
        delta = ReportDelta(before, self.report, ci=None, edit=entry)
        self.history.append(
            HistoryEntry(kind, None, self.report, delta, author=author, concept=entry)
        )
        return delta

    # ------------------------------------------------------------------ suggestions
    def suggestions(self, k: int = 10) -> list[Suggestion]:
        """The ``k`` best candidate edits by exact change in the decomposable score."""
        out = suggest_edits(
            self.graph,
            self.families,
            self._train,
            self._test,
            constraints=self.constraints,
            score=self.score_name,
            estimator=self.estimator,
            equivalent_sample_size=self.equivalent_sample_size,
            k=k,
            exclude=self._rejected,
            cache=self._pair_cache,
            alpha=self.alpha,
        )
        for s in out:
            self._issued[s.id] = s
        return out

    def _suggestion(self, suggestion_or_id: Suggestion | str) -> Suggestion:
        if isinstance(suggestion_or_id, Suggestion):
            return suggestion_or_id
        s = self._issued.get(str(suggestion_or_id))
        if s is None and str(suggestion_or_id) not in self._rejected:
            # a worker that rebuilt this session (restart, another process) has not
            # issued the suggestions the page shows: ids are deterministic, recompute them
            self.suggestions(k=50)
            s = self._issued.get(str(suggestion_or_id))
        if s is None:
            raise KGEditorError(
                f"No suggestion with id {suggestion_or_id!r}; ask for suggestions() first and use one of their ids."
            )
        return s

    def accept(
        self, suggestion_or_id: Suggestion | str, *, author: str | None = None
    ) -> ReportDelta:
        """Apply a suggestion; recorded in the history as ``accept``."""
        s = self._suggestion(suggestion_or_id)
        e = s.edit
        edit = type(e)(
            e.source,
            e.target,
            author=author or self.author,
            rationale=e.rationale or "accepted suggestion",
        )
        return self._apply(edit, kind="accept", suggestion_id=s.id)

    def reject(self, suggestion_or_id: Suggestion | str, *, author: str | None = None) -> None:
        """Record that a suggestion was rejected; it is not suggested again."""
        s = self._suggestion(suggestion_or_id)
        self._rejected.add(s.id)
        self.history.append(
            HistoryEntry(
                "reject",
                s.edit,
                self.report,
                None,
                author=author or self.author,
                suggestion_id=s.id,
            )
        )

    # ------------------------------------------------------------------ reading
    def set_targets(self, targets: Sequence[str]) -> Report:
        """Change the targets (codes or labels); returns the new report."""
        self.targets = self._resolve_targets(list(targets), self.graph)
        self.report = self._make_report(self.graph, self.families)
        return self.report

    def posterior(self, target: str) -> np.ndarray:
        """Held-out patients' P(target != reference state), in ``cohort.test`` row order."""
        t = self.graph.resolve(target)
        return self._target_entry(t, self.graph, self.families).p.copy()

    def posterior_table(self, target: str) -> np.ndarray:
        """Held-out patients' full posterior over the target's states (states x patients)."""
        t = self.graph.resolve(target)
        fams = [self.families[t], *(self.families[c] for c in self.graph.children(t))]
        fixed = all(fixed_blanket_table(f, t, self._test) is not None for f in fams)
        return posterior_from_logits(blanket_logits(fams, t, self._test, fixed=fixed)).T.copy()

    def cpd_table(self, node: str) -> pd.DataFrame:
        """The node's CPD with state labels: one row per parent configuration, one column
        per state of the node."""
        n = self.graph.resolve(node)
        fam = self.families[n]
        states = self.cohort.variables
        if fam.parents:
            index = pd.MultiIndex.from_product(
                [list(states[p].states) for p in fam.parents],
                names=[states[p].label for p in fam.parents],
            )
        else:
            index = pd.Index(["(no parents)"], name="")
        cols = pd.Index(list(states[n].states), name=states[n].label)
        return pd.DataFrame(fam.cpd.T.copy(), index=index, columns=cols)

    def external(self, site: Any) -> dict[str, Any]:
        """The current model's accuracy on another site, from that site's count tables
        (:class:`kg_editor.model.external.SiteCounts`); see
        :func:`kg_editor.model.external.side_by_side` for internal vs external."""
        from kg_editor.model.external import external_report

        return external_report(self.families, site, self.cohort.states, self.targets)

    def to_pgmpy(self) -> Any:
        """The current model as a pgmpy ``DiscreteBayesianNetwork`` with our CPDs."""
        return families_to_pgmpy(self.families, self.cohort.states)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The starting graph, the settings and the edit history (JSON-ready)."""
        return {
            "format": SESSION_FORMAT,
            "version": 1,
            "settings": {
                "targets": list(self.targets),
                "estimator": self.estimator,
                "equivalent_sample_size": self.equivalent_sample_size,
                "author": self.author,
                "alpha": self.alpha,
                "bootstrap": self.n_bootstrap,
                "seed": self.seed,
                "patterns": self.patterns,
            },
            "cohort": self.cohort.fingerprint(),
            "initial_graph": self.initial_graph.to_dict(),
            "graph": self.graph.to_dict(),
            "constraints": self.constraints.to_dict(),
            "reference": self.reference.to_dict() if self.reference is not None else None,
            "history": [h.to_dict() for h in self.history],
            "base_version": self.base_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cohort: Cohort) -> EditSession:
        """Rebuild a session by replaying its history on ``cohort``."""
        if data.get("format") != SESSION_FORMAT:
            raise FormatError(
                f"This is not a kg-editor session (format is {data.get('format')!r})."
            )
        st = data.get("settings", {})
        ref = data.get("reference")
        if data.get("cohort") and data["cohort"] != cohort.fingerprint():
            logger.warning(
                "Rebuilding a session on a cohort that differs from the one it was saved with "
                "(fingerprint %s, saved %s): its figures will differ.",
                cohort.fingerprint(),
                data["cohort"],
            )
        session = cls(
            cohort,
            CausalGraph.from_dict(data["initial_graph"]),
            constraints=Constraints.from_dict(data.get("constraints") or {}),
            targets=st.get("targets"),
            estimator=st.get("estimator", "bdeu"),
            equivalent_sample_size=st.get("equivalent_sample_size", 10.0),
            reference=CausalGraph.from_dict(ref) if ref else None,
            author=st.get("author", "anonymous"),
            alpha=st.get("alpha", 0.05),
            bootstrap=st.get("bootstrap", 200),
            seed=st.get("seed", 0),
            patterns=bool(st.get("patterns", False)),
        )
        session._replay(data.get("history", []), 0)
        session.base_version = data.get("base_version")
        if "graph" in data and CausalGraph.from_dict(data["graph"]) != session.graph:
            raise FormatError(
                "Replaying the session's history does not give its saved graph; the file is inconsistent."
            )
        return session

    def catch_up(self, data: Mapping[str, Any]) -> bool:
        """Bring this session to the newer saved state ``data`` (another worker edited
        it) by replaying only the history entries it lacks; ``False`` (nothing changed)
        when ``data`` is not this session's history continued, or its settings differ;
        rebuild with :meth:`from_dict` then."""
        entries = list(data.get("history", []))
        n = len(self.history)
        settings = data.get("settings", {})
        if len(entries) < n or list(settings.get("targets") or []) != list(self.targets):
            return False
        mine = self.history[-1].to_dict()
        theirs = entries[n - 1]
        if (mine["kind"], mine["created"], mine["edit"]) != (
            theirs.get("kind"),
            theirs.get("created"),
            theirs.get("edit"),
        ):
            return False
        self._replay(entries[n:], n)
        self.base_version = data.get("base_version")
        if "graph" in data and CausalGraph.from_dict(data["graph"]) != self.graph:
            raise FormatError(
                "Catching up with the saved session does not give its saved graph; reload the page."
            )
        return True

    def _replay(self, entries: Sequence[Mapping[str, Any]], offset: int) -> None:
        """Re-apply saved history entries (``offset``: the index of the first one)."""
        session = self
        for i, h in enumerate(entries, start=offset):
            kind = h.get("kind")
            if kind not in HISTORY_KINDS:
                raise FormatError(f"History entry {i + 1} has unknown kind {kind!r}.")
            created = datetime.fromisoformat(h["created"]) if h.get("created") else _now()
            edit = edit_from_dict(h["edit"]) if h.get("edit") else None
            if kind == "start":
                session.history[0] = _replace(
                    session.history[0], created=created, author=h.get("author", session.author)
                )
                continue
            if kind in ("edit", "accept"):
                assert edit is not None
                session._apply(edit, kind=kind, suggestion_id=h.get("suggestion_id"))
            elif kind == "undo":
                session.undo(author=h.get("author"), own_only=False)
            elif kind == "redo":
                session.redo(author=h.get("author"))
            elif kind in ("merge", "split"):
                rec = h.get("concept") or {}
                if kind == "merge":
                    session.merge(
                        rec["nodes"],
                        rec["name"],
                        author=h.get("author"),
                        rationale=rec.get("rationale", ""),
                    )
                else:
                    session.split(
                        rec["node"], author=h.get("author"), rationale=rec.get("rationale", "")
                    )
            elif kind == "reject":
                sid = h.get("suggestion_id") or ""
                session._rejected.add(sid)
                session.history.append(
                    HistoryEntry(
                        "reject",
                        edit,
                        session.report,
                        None,
                        author=h.get("author", session.author),
                        suggestion_id=sid,
                    )
                )
            session.history[-1] = _replace(
                session.history[-1], created=created, author=h.get("author", session.author)
            )


def _concept_attrs(cohort: Cohort, code: str) -> dict[str, Any]:
    from kg_editor.data.privacy import protect_node

    var = cohort.variables[code]
    k = int(cohort.settings.get("min_cell", 11))
    return {
        "label": var.label,
        "code": code,
        "domain": var.domain,
        "states": tuple(var.states),
        **protect_node(var.n_patients, cohort.n_patients, k=k),
    }


def _contract(
    graph: CausalGraph,
    members: Sequence[str],
    code: str,
    cohort: Cohort,
    author: str,
    rationale: str,
) -> CausalGraph:
    """``graph`` with ``members`` contracted into the node ``code`` (a CycleError if the
    members are linked through an outside node)."""
    import networkx as nx

    old = graph.nx
    inside = set(members)
    g = nx.DiGraph()
    for n, a in old.nodes(data=True):
        if n not in inside:
            g.add_node(n, **dict(a))
    tiers = [old.nodes[m].get("tier") for m in members if old.nodes[m].get("tier") is not None]
    g.add_node(code, **_concept_attrs(cohort, code), tier=min(tiers) if tiers else None)
    note = {"edit": "merge", "members": list(members), "author": author, "rationale": rationale}
    for u, v, a in old.edges(data=True):
        uu, vv = (code if u in inside else u), (code if v in inside else v)
        if uu == vv or g.has_edge(uu, vv):
            continue
        attrs = dict(a)
        if code in (uu, vv):
            attrs.update(
                provenance="clinician",
                evidence={},
                history=[*attrs.get("history", []), note],
            )
        g.add_edge(uu, vv, **attrs)
    if not nx.is_directed_acyclic_graph(g):
        cyc = [u for u, _ in nx.find_cycle(g)]
        labels = [graph.label(n) if n in graph else cohort.variables[n].label for n in cyc]
        raise CycleError(
            "Merging "
            + ", ".join(repr(graph.label(m)) for m in members)
            + " would create the cycle "
            + " -> ".join([*labels, labels[0]])
            + "; remove the edge through the outside node first.",
            cycle=[*cyc, cyc[0]],
        )
    return CausalGraph(g, metadata=graph.metadata)


def _expand(
    graph: CausalGraph,
    code: str,
    members: Sequence[str],
    cohort: Cohort,
    author: str,
    rationale: str,
) -> CausalGraph:
    """``graph`` with the concept ``code`` replaced by ``members``, each with its edges."""
    import networkx as nx

    from kg_editor.data.privacy import protect_node

    old = graph.nx
    k = int(cohort.settings.get("min_cell", 11))
    g = nx.DiGraph()
    for n, a in old.nodes(data=True):
        if n != code:
            g.add_node(n, **dict(a))
    for m in members:
        var = cohort.variables[m]
        g.add_node(
            m,
            label=var.label,
            code=m,
            domain=var.domain,
            states=tuple(var.states),
            tier=old.nodes[code].get("tier"),
            **protect_node(var.n_patients, cohort.n_patients, k=k),
        )
    note = {"edit": "split", "concept": code, "author": author, "rationale": rationale}
    for u, v, a in old.edges(data=True):
        if code not in (u, v):
            g.add_edge(u, v, **dict(a))
            continue
        for m in members:
            attrs = dict(a)
            attrs.update(
                provenance="clinician", evidence={}, history=[*attrs.get("history", []), note]
            )
            g.add_edge(m if u == code else u, m if v == code else v, **attrs)
    return CausalGraph(g, metadata=graph.metadata)


def _pattern_tables(
    train: pd.DataFrame,
    test: pd.DataFrame,
    persons: pd.DataFrame,
    cards: Mapping[str, int],
) -> tuple[CodeTable, CodeTable, dict[str, tuple[list[str], np.ndarray]]]:
    """Training and held-out rows as weighted patterns (held-out ones keyed by subgroup)."""
    from kg_editor.engines.patterns import Patterns

    tr = Patterns.from_frame(train, cards)
    keys = {a: persons[a].astype(str).to_numpy() for a in ("sex", "age_band") if a in persons}
    te = Patterns.from_frame(test, cards, keys or None)
    assert isinstance(tr, Patterns) and isinstance(te, Patterns)
    return _tables_of_patterns(tr, te)


def _tables_of_patterns(
    tr: Any, te: Any
) -> tuple[CodeTable, CodeTable, dict[str, tuple[list[str], np.ndarray]]]:
    groups = {a: group_codes(te.extra[a]) for a in ("sex", "age_band") if a in te.extra}
    return (
        CodeTable.from_patterns(tr.codes, tr.columns, tr.cards, tr.weights),
        CodeTable.from_patterns(te.codes, te.columns, te.cards, te.weights),
        groups,
    )


def _edit_dict(edit: Edit) -> dict[str, Any]:
    """``edit_to_dict`` without ``dataclasses.asdict``'s deep copy (hot path)."""
    return {
        "source": edit.source,
        "target": edit.target,
        "author": edit.author,
        "rationale": edit.rationale,
        "created": edit.created.isoformat(),
        "override": edit.override,
        "kind": edit.kind,
    }


def _replace(entry: HistoryEntry, **changes: Any) -> HistoryEntry:
    from dataclasses import replace

    return replace(entry, **changes)


def demo_cohort_for_doctest() -> tuple[Cohort, CausalGraph]:
    """A small cohort sampled from pgmpy's ASIA network and its true graph (for examples)."""
    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources.synthetic import network_events

    syn = network_events("asia", 600, seed=3)
    cohort = build_cohort(syn.source, target="lung", min_patients=5, include_demographics=False)
    edges = [(u, v) for u, v in syn.true_edges if u in cohort.variables and v in cohort.variables]
    graph = CausalGraph.from_edges(
        edges, nodes=cohort.codes, labels=cohort.labels, provenance="distilled"
    )
    return cohort, graph
