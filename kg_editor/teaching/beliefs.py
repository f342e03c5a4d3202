"""Teaching mode's exact beliefs and interventions over a fitted Bayesian network.

:class:`TeachingModel` wraps a fitted pgmpy ``DiscreteBayesianNetwork`` (and, when one
is given, the :class:`~kg_editor.model.graph.CausalGraph` it was fitted on, for the labels a
clinician reads). It compiles the network's tables once into a junction tree
(:mod:`kg_editor.teaching.junction`) and answers every query by calibrating that tree:

* observational beliefs ``P(node | findings)`` for all nodes at once, and ``P(findings)``;
* interventional beliefs ``P(node | do(X = x), findings)`` by graph surgery: the edges
  into ``X`` are cut, ``X`` is given a parent-free distribution and then observed, and the
  query runs on that mutilated network (Pearl's truncated factorisation). The compiled
  tree stays valid for the mutilated network, so only one clique table is recomputed.

pgmpy itself is reached through :mod:`kg_editor.adapters.pgmpy` (the only module that
imports it); the pure teaching API in :mod:`kg_editor.teaching` calls this one.

The answers equal pgmpy's exact ``VariableElimination`` (the tests check them to 1e-9);
the tree is compiled once per model and recompiled when the wrapped model's structure or
tables change.

Examples
--------
>>> tm = TeachingModel.from_bundled("cancer")
>>> round(tm.prior()["Cancer"]["True"], 4)
0.0116
>>> round(tm.marginal("Cancer", {"Xray": "positive"})["True"], 4)
0.0503
>>> round(tm.interventional("Cancer", {"Xray": "positive"})["True"], 4)  # an x-ray causes nothing
0.0116
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
import numpy as np

from kg_editor.errors import KGEditorError, SchemaError
from kg_editor.model.graph import CausalGraph
from kg_editor.teaching.junction import JunctionTree, ZeroProbabilityError

__all__ = ["ImpossibleFindingsError", "TeachingModel", "as_teaching_model"]

logger = logging.getLogger(__name__)

Beliefs = dict[str, dict[str, float]]


class ImpossibleFindingsError(KGEditorError, ValueError):
    """The findings cannot occur together under the model (their probability is zero)."""


class TeachingModel:
    """A fitted discrete Bayesian network ready for teaching queries.

    Build one with :meth:`from_pgmpy` (a fitted pgmpy model, e.g. the edit session's),
    :meth:`from_graph_and_cpds` or :meth:`from_bundled`. The instance caches the prior
    and the mutilated networks of interventions, so repeated calls are cheap. If the
    wrapped pgmpy model is changed after wrapping, the next query notices (a checksum of
    its edges and tables) and recompiles.

    Parameters
    ----------
    model : pgmpy.models.DiscreteBayesianNetwork
        A model with a CPD for every node (``check_model`` must pass). Tables whose
        columns sum to 1 only up to rounding (BIF files print a few digits) are
        renormalised on a copy, which :attr:`pgmpy` then returns; the input is not changed.
    graph : CausalGraph, optional
        The graph the model was fitted on; supplies labels. Its edges must be the
        model's edges. When omitted a graph is built from the model (labels = ids).

    Examples
    --------
    >>> tm = TeachingModel.from_bundled("asia")
    >>> tm.states("smoke")
    ('yes', 'no')
    >>> len(tm.nodes), tm.label("smoke")
    (8, 'smoke')
    """

    def __init__(self, model: Any, graph: CausalGraph | None = None):
        from kg_editor.adapters.pgmpy import is_network

        if not is_network(model):
            raise SchemaError(
                f"Teaching mode needs a fitted discrete Bayesian network, got {type(model).__name__}."
            )
        missing = [n for n in model.nodes() if model.get_cpds(n) is None]
        if missing:
            raise SchemaError(
                "The model has no probability table for "
                + ", ".join(sorted(map(str, missing)))
                + "; fit the model before opening teaching mode."
            )
        try:
            model.check_model()
        except ValueError as exc:
            raise SchemaError(f"The model's probability tables are inconsistent: {exc}") from exc
        self._own_graph = graph is None
        if graph is None:
            graph = CausalGraph.from_edges(model.edges(), nodes=model.nodes())
        else:
            if set(graph.nodes) != set(model.nodes()) or set(graph.edges) != set(model.edges()):
                extra = sorted(set(graph.edges) ^ set(model.edges()))[:3]
                raise SchemaError(
                    "The graph and the fitted model differ"
                    + (
                        f" (e.g. edge {extra[0][0]} -> {extra[0][1]})"
                        if extra
                        else " in their nodes"
                    )
                    + "; refit the model on this graph version first."
                )
        self._source = model
        self._graph = graph
        self._load(model)

    def _load(self, model: Any) -> None:
        """Compile the junction tree of ``model`` (tables renormalised on a copy if needed)."""
        self._fingerprint = _fingerprint(model)
        if any(
            not np.allclose(np.asarray(c.values).sum(axis=0), 1.0, rtol=0.0, atol=1e-12)
            for c in model.get_cpds()
        ):
            # BIF files print a few digits, so columns sum to 1 only up to ~1e-7; every
            # answer must be that of one network, so renormalise a copy (not the input)
            model = model.copy()
            for c in model.get_cpds():
                c.normalize(inplace=True)
        self._model = model
        self._states: dict[str, tuple[Any, ...]] = {
            str(n): tuple(model.get_cpds(n).state_names[n]) for n in model.nodes()
        }
        self._index = {n: {str(s): i for i, s in enumerate(st)} for n, st in self._states.items()}
        self._order = [str(n) for n in nx.topological_sort(model)]
        cpds = {str(c.variable): c for c in model.get_cpds()}
        self._jt = JunctionTree(
            {n: len(self._states[n]) for n in self._order},
            {n: (tuple(map(str, c.variables)), np.asarray(c.values)) for n, c in cpds.items()},
        )
        self._mutilated: dict[frozenset[str], JunctionTree] = {}
        self._calibrated: dict[tuple[frozenset[str], frozenset[tuple[str, str]]], Any] = {}

    def _current(self) -> None:
        """Recompile when the wrapped model changed since it was compiled."""
        if _fingerprint(self._source) != self._fingerprint:
            fresh = TeachingModel(self._source, None if self._own_graph else self._graph)
            self.__dict__.update(fresh.__dict__)

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_pgmpy(cls, model: Any, graph: CausalGraph | None = None) -> TeachingModel:
        """Wrap a fitted pgmpy ``DiscreteBayesianNetwork`` (labels from ``graph``)."""
        return cls(model, graph)

    @classmethod
    def from_session(cls, session: Any) -> TeachingModel:
        """The current model of an :class:`~kg_editor.model.session.EditSession` (labels from its graph).

        Build a new one after each edit (wrapping costs a few milliseconds); cache it by
        graph version in the web app.

        Examples
        --------
        >>> from kg_editor.model.session import EditSession, demo_cohort_for_doctest
        >>> cohort, graph = demo_cohort_for_doctest()
        >>> tm = TeachingModel.from_session(EditSession(cohort, graph, bootstrap=0))
        >>> sorted(tm.marginal("lung", {"xray": "present"})) == sorted(tm.states("lung"))
        True
        """
        return cls(session.to_pgmpy(), session.graph)

    @classmethod
    def from_bundled(cls, name: str) -> TeachingModel:
        """A network bundled with pgmpy (``asia``, ``cancer``, ``alarm`` ...), read offline."""
        from kg_editor.model.fit import bundled_network

        return cls(bundled_network(name))

    @classmethod
    def from_graph_and_cpds(
        cls, graph: CausalGraph, cpds: Mapping[str, Any] | Iterable[Any]
    ) -> TeachingModel:
        """Build the pgmpy network of ``graph`` from its probability tables.

        Parameters
        ----------
        graph : CausalGraph
        cpds : mapping node -> table, or an iterable of pgmpy ``TabularCPD``
            A table is a pgmpy ``TabularCPD``, or an array of shape
            ``(n_states, product of the parents' state counts)``: column ``j`` is
            ``P(node | parents in configuration j)``, parents in ``graph.parents(node)``
            order (sorted ids), the last parent varying fastest (pgmpy's convention).
            States come from the node's ``states`` attribute (default ``("0", "1")``).

        Examples
        --------
        >>> g = CausalGraph.from_edges([("smoking", "cough")], labels={"smoking": "Smoking"})
        >>> tm = TeachingModel.from_graph_and_cpds(
        ...     g, {"smoking": [[0.7], [0.3]], "cough": [[0.9, 0.6], [0.1, 0.4]]}
        ... )
        >>> round(tm.prior()["cough"]["1"], 3), tm.label("smoking")
        (0.19, 'Smoking')
        """
        from kg_editor.adapters.pgmpy import is_tabular_cpd, new_network, tabular_cpd

        model = new_network(graph.nodes, graph.edges)
        items = list(cpds.items()) if isinstance(cpds, Mapping) else [(None, c) for c in cpds]

        def states_of(node: str) -> list[str]:
            st = graph.node_attrs(node).get("states")
            return [str(s) for s in st] if st else ["0", "1"]

        built = []
        for node, table in items:
            if is_tabular_cpd(table):
                built.append(table)
                continue
            graph._check_node(str(node))
            parents = list(graph.parents(str(node)))
            values = np.asarray(table, dtype=float)
            st = states_of(str(node))
            if values.ndim == 1:
                values = values.reshape(-1, 1)
            expected = (
                len(st),
                int(np.prod([len(states_of(p)) for p in parents])) if parents else 1,
            )
            if values.shape != expected:
                raise SchemaError(
                    f"The table of {graph.label(str(node))} has shape {values.shape}; expected {expected} "
                    f"({len(st)} states x one column per configuration of {', '.join(parents) or 'no parents'})."
                )
            built.append(
                tabular_cpd(
                    str(node),
                    len(st),
                    values,
                    evidence=parents or None,
                    evidence_card=[len(states_of(p)) for p in parents] or None,
                    state_names={str(node): st, **{p: states_of(p) for p in parents}},
                )
            )
        model.add_cpds(*built)
        return cls(model, graph)

    # -- read access --------------------------------------------------------------
    @property
    def pgmpy(self) -> Any:
        """The wrapped pgmpy ``DiscreteBayesianNetwork`` (do not modify it)."""
        return self._model

    @property
    def graph(self) -> CausalGraph:
        return self._graph

    @property
    def nodes(self) -> list[str]:
        """Node ids in a topological order (causes before effects)."""
        return list(self._order)

    def states(self, node: str) -> tuple[str, ...]:
        """The node's states as strings, in the model's order."""
        return tuple(str(s) for s in self._states[self.resolve(node)])

    def label(self, node: str) -> str:
        return self._graph.label(node)

    def state_space(self) -> dict[str, dict[str, Any]]:
        """``{node: {"label": ..., "states": [...]}}`` in topological order, for evidence menus.

        Examples
        --------
        >>> TeachingModel.from_bundled("cancer").state_space()["Smoker"]
        {'label': 'Smoker', 'states': ['True', 'False']}
        """
        return {n: {"label": self.label(n), "states": list(self.states(n))} for n in self._order}

    def resolve(self, name: str) -> str:
        """Node id for an id or a label; raises :class:`UnknownVariableError` with suggestions."""
        if name in self._states:
            return name
        return self._graph.resolve(str(name))

    def resolve_findings(self, findings: Mapping[str, Any] | None) -> dict[str, str]:
        """Check findings ``{node: state}`` (ids or labels; states compared as text).

        Raises
        ------
        UnknownVariableError
            A node is not in the model (closest names suggested).
        SchemaError
            A state is not one of the node's states.
        """
        out: dict[str, str] = {}
        for name, state in (findings or {}).items():
            node = self.resolve(str(name))
            sts = self.states(node)
            if str(state) not in sts:
                raise SchemaError(
                    f"{self.label(node)} has no state {state!r}; choose one of {', '.join(sts)}.",
                    column=node,
                )
            out[node] = str(state)
        return out

    # -- queries --------------------------------------------------------------------
    def _impossible(
        self, findings: Mapping[str, str], dos: Mapping[str, str]
    ) -> ImpossibleFindingsError:
        names = ", ".join(f"{self.label(n)} = {s}" for n, s in findings.items())
        setting = (
            " once " + ", ".join(f"{self.label(n)} is set to {s}" for n, s in dos.items())
            if dos
            else ""
        )
        return ImpossibleFindingsError(
            f"The findings {names} cannot occur together under the model{setting} "
            "(probability zero); remove one of them."
        )

    def _tree(self, dos: frozenset[str]) -> JunctionTree:
        """The compiled tree, or its mutilated copy with every edge into ``dos`` cut."""
        if not dos:
            return self._jt
        hit = self._mutilated.get(dos)
        if hit is None:
            hit = self._jt.with_factors(
                {x: ((x,), np.full(len(self._states[x]), 1.0 / len(self._states[x]))) for x in dos}
            )
            if len(self._mutilated) >= 64:
                self._mutilated.clear()
            self._mutilated[dos] = hit
        return hit

    def _calibrate(
        self, findings: Mapping[str, str], dos: Mapping[str, str] | None = None
    ) -> tuple[Beliefs, float]:
        """Every node's belief and ``P(findings)`` (under ``do(dos)`` when given), cached.

        ``findings`` and ``dos`` are resolved (ids and state strings) and disjoint.
        """
        self._current()
        dos = dos or {}
        key = (frozenset(dos), frozenset({**findings, **dos}.items()))
        hit = self._calibrated.get(key)
        if hit is None:
            evidence = {n: self._index[n][s] for n, s in {**findings, **dos}.items()}
            try:
                cal = self._tree(key[0]).calibrate(evidence)
            except ZeroProbabilityError:
                raise self._impossible(findings, dos) from None
            beliefs = {
                n: dict(zip(self.states(n), cal.marginals[n].tolist(), strict=True))
                for n in self._order
            }
            for n, s in {**findings, **dos}.items():
                beliefs[n] = {st: float(st == s) for st in beliefs[n]}
            hit = (beliefs, cal.p_evidence)
            if len(self._calibrated) >= 128:
                self._calibrated.clear()
            self._calibrated[key] = hit
        return hit

    def prior(self) -> Beliefs:
        """``P(node)`` for every node, with no findings (cached)."""
        beliefs, _ = self._calibrate({})
        return {n: dict(d) for n, d in beliefs.items()}

    def marginals(self, findings: Mapping[str, Any] | None = None) -> Beliefs:
        """``P(node | findings)`` for every node; an observed node gets probability 1 on its state.

        One calibration of the compiled junction tree answers every node at once.

        Raises
        ------
        ImpossibleFindingsError
            The findings have probability zero under the model.

        Examples
        --------
        >>> tm = TeachingModel.from_bundled("asia")
        >>> post = tm.marginals({"dysp": "yes"})
        >>> post["dysp"], round(post["bronc"]["yes"], 4)
        ({'yes': 1.0, 'no': 0.0}, 0.834)
        """
        beliefs, _ = self._calibrate(self.resolve_findings(findings))
        return {n: dict(d) for n, d in beliefs.items()}

    def marginal(self, node: str, findings: Mapping[str, Any] | None = None) -> dict[str, float]:
        """``P(node | findings)`` for one node."""
        node = self.resolve(node)
        beliefs, _ = self._calibrate(self.resolve_findings(findings))
        return dict(beliefs[node])

    def probability_of_findings(self, findings: Mapping[str, Any] | None = None) -> float:
        """``P(findings)``, the normaliser of the calibrated junction tree (1.0 for no findings).

        Raises :class:`ImpossibleFindingsError` when it is zero.

        Examples
        --------
        >>> tm = TeachingModel.from_bundled("cancer")
        >>> round(tm.probability_of_findings({"Smoker": "True", "Cancer": "True"}), 6)
        0.0096
        """
        fnd = self.resolve_findings(findings)
        if not fnd:
            return 1.0
        _, p = self._calibrate(fnd)
        return p

    def interventional(
        self,
        node: str,
        do: Mapping[str, Any],
        findings: Mapping[str, Any] | None = None,
    ) -> dict[str, float]:
        """``P(node | do(X = x, ...), findings)`` by graph surgery on the compiled tree.

        The edges into ``X`` are cut (``X``'s table is replaced by a parent-free one; the
        junction tree stays valid, so only the clique that held the table is recomputed)
        and ``X`` is then observed. The findings are conditioned on in the mutilated
        network (Pearl's definition), so findings downstream of ``X`` are handled
        correctly too.

        Raises
        ------
        ImpossibleFindingsError
            The findings have probability zero once ``X`` is set.

        Examples
        --------
        >>> tm = TeachingModel.from_bundled("asia")
        >>> round(tm.interventional("dysp", {"smoke": "yes"})["yes"], 4)
        0.5528
        """
        node = self.resolve(node)
        dos = self.resolve_findings(do)
        fnd = self.resolve_findings(findings)
        for x, s in dos.items():
            if x in fnd and fnd[x] != s:
                raise SchemaError(
                    f"{self.label(x)} is both set to {s} and observed as {fnd[x]}; drop one of them.",
                    column=x,
                )
            fnd.pop(x, None)
        if node in dos:
            return {st: float(st == dos[node]) for st in self.states(node)}
        if node in fnd:
            return {st: float(st == fnd[node]) for st in self.states(node)}
        beliefs, _ = self._calibrate(fnd, dos)
        return dict(beliefs[node])


def _fingerprint(model: Any) -> tuple[Any, ...]:
    """What identifies a model's structure and tables (cheap: a checksum per table)."""
    return (
        tuple(model.edges()),
        tuple(
            (c.variable, id(c), zlib.crc32(np.ascontiguousarray(c.values).tobytes()))
            for c in model.get_cpds()
        ),
    )


def as_teaching_model(model: Any, graph: CausalGraph | None = None) -> TeachingModel:
    """Return ``model`` if it is a :class:`TeachingModel`, else wrap a pgmpy network."""
    if isinstance(model, TeachingModel):
        return model
    return TeachingModel(model, graph)
