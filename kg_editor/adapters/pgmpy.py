"""The pgmpy adapter: the only module of kg-editor that imports pgmpy.

An upstream rename (pgmpy moved its estimators and scores in 1.x) touches this file
alone; a test walks every module's imports to keep it so. It holds

* the handful of pgmpy objects the rest of the package builds or queries, behind plain
  functions (:func:`new_network`, :func:`tabular_cpd`, :func:`estimate_cpds`,
  :func:`structure_score`, :func:`variable_elimination`, :func:`forward_sample`,
  :func:`read_bif_model`, :func:`example_models_dir`), used by
  :mod:`kg_editor.model.fit`, :mod:`kg_editor.model.metrics` and
  :mod:`kg_editor.teaching.beliefs`;
* BIF and XMLBIF with their probability tables, for :mod:`kg_editor.formats`. A writer
  takes a :class:`~kg_editor.model.graph.CausalGraph` plus optional CPDs (a list of pgmpy
  ``TabularCPD`` or a fitted pgmpy model); a reader returns the graph and the pgmpy model
  with its CPDs.

pgmpy is imported inside the functions, so importing this module stays cheap.

Examples
--------
>>> from kg_editor.model.fit import bundled_network
>>> model = bundled_network("asia")
>>> g = from_pgmpy_model(model)
>>> text = write_bif(g, model)
>>> g2, m2 = read_bif(text)
>>> g2 == g, m2.get_cpds("tub").values.round(2).tolist()
(True, [[0.05, 0.01], [0.95, 0.99]])
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import networkx as nx

from kg_editor.errors import FormatError
from kg_editor.model.graph import CausalGraph

__all__ = [
    "estimate_cpds",
    "example_models_dir",
    "forward_sample",
    "from_pgmpy_model",
    "hill_climb_reference",
    "implied_cis_reference",
    "is_network",
    "is_tabular_cpd",
    "new_network",
    "pc_reference",
    "read_bif",
    "read_bif_model",
    "read_xmlbif",
    "structure_score",
    "tabular_cpd",
    "to_pgmpy_model",
    "uniform_cpds",
    "variable_elimination",
    "write_bif",
    "write_xmlbif",
]

logger = logging.getLogger(__name__)

_BIF_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


# ---------------------------------------------------------------------------------
# the pgmpy objects the package uses
# ---------------------------------------------------------------------------------
def example_models_dir() -> Path:
    """The folder of the ``.bif.gz`` networks that ship inside pgmpy."""
    import pgmpy

    return Path(pgmpy.__file__).parent / "utils" / "example_models"


def read_bif_model(text: str) -> Any:
    """A pgmpy network (with CPDs) from BIF text."""
    from pgmpy.readwrite import BIFReader

    return BIFReader(string=text).get_model()


def forward_sample(model: Any, n: int, seed: int = 0) -> Any:
    """``n`` forward-sampled rows (a DataFrame of state names) of a network."""
    from pgmpy.sampling import BayesianModelSampling

    return BayesianModelSampling(model).forward_sample(size=n, seed=seed, show_progress=False)


def new_network(nodes: Iterable[str] = (), edges: Iterable[tuple[str, str]] = ()) -> Any:
    """An empty pgmpy ``DiscreteBayesianNetwork`` with these nodes and edges."""
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(list(nodes))
    model.add_edges_from(list(edges))
    return model


def is_network(obj: Any) -> bool:
    """True for a pgmpy ``DiscreteBayesianNetwork``."""
    from pgmpy.models import DiscreteBayesianNetwork

    return isinstance(obj, DiscreteBayesianNetwork)


def tabular_cpd(
    variable: str,
    card: int,
    values: Any,
    *,
    evidence: Sequence[str] | None = None,
    evidence_card: Sequence[int] | None = None,
    state_names: Mapping[str, Sequence[str]] | None = None,
) -> Any:
    """A pgmpy ``TabularCPD`` (columns: parent configurations, first parent slowest)."""
    from pgmpy.factors.discrete import TabularCPD

    return TabularCPD(
        variable,
        card,
        values,
        evidence=list(evidence) if evidence else None,
        evidence_card=list(evidence_card) if evidence_card else None,
        state_names={k: list(v) for k, v in (state_names or {}).items()},
    )


def is_tabular_cpd(obj: Any) -> bool:
    """True for a pgmpy ``TabularCPD``."""
    from pgmpy.factors.discrete import TabularCPD

    return isinstance(obj, TabularCPD)


def estimate_cpds(
    model: Any,
    frame: Any,
    *,
    estimator: str,
    equivalent_sample_size: float = 10.0,
    state_names: Mapping[str, Sequence[str]] | None = None,
) -> list[Any]:
    """pgmpy's own CPD estimates (``"bdeu"`` or ``"mle"``) of ``model``'s families."""
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator, DiscreteMLE

    names = {k: list(v) for k, v in (state_names or {}).items()}
    est: Any
    if estimator == "bdeu":
        est = DiscreteBayesianEstimator(
            prior_type="BDeu", equivalent_sample_size=equivalent_sample_size, state_names=names
        )
    else:
        est = DiscreteMLE(state_names=names)
    est.fit(model, frame)
    return list(est.parameters_)


def structure_score(
    model: Any,
    data: Any,
    kind: str = "bic",
    state_names: Mapping[str, Sequence[str]] | None = None,
    equivalent_sample_size: float = 10.0,
) -> float:
    """pgmpy's score of ``model`` on ``data`` (state names): ``bic``, ``bdeu`` or ``loglik``."""
    from pgmpy import structure_score as ss

    names = {k: list(v) for k, v in (state_names or {}).items()} or None
    scorer: Any
    if kind == "bic":
        scorer = ss.BIC(data, state_names=names)
    elif kind == "bdeu":
        scorer = ss.BDeu(data, equivalent_sample_size=equivalent_sample_size, state_names=names)
    else:
        scorer = ss.LogLikelihood(data, state_names=names)
    return float(scorer.score(model))


def variable_elimination(model: Any) -> Any:
    """pgmpy's exact ``VariableElimination`` inference on ``model``."""
    from pgmpy.inference import VariableElimination

    return VariableElimination(model)


# ---------------------------------------------------------------------------------
# BIF and XMLBIF
# ---------------------------------------------------------------------------------
def _is_model(obj: Any) -> bool:
    return hasattr(obj, "get_cpds") and hasattr(obj, "edges")


def _states(graph: CausalGraph, node: str) -> list[str]:
    st = graph.node_attrs(node).get("states")
    return [str(s) for s in st] if st else ["absent", "present"]


def uniform_cpds(graph: CausalGraph) -> list[Any]:
    """Uniform CPDs over each node's ``states`` (``absent``/``present`` by default):
    a stand-in so that a structure can travel in formats that require tables."""
    from pgmpy.factors.discrete import TabularCPD

    cpds = []
    for n in graph.nodes:
        pa = list(graph.parents(n))
        sn = {n: _states(graph, n), **{p: _states(graph, p) for p in pa}}
        k = len(sn[n])
        cols = 1
        for p in pa:
            cols *= len(sn[p])
        cpds.append(
            TabularCPD(
                n,
                k,
                [[1.0 / k] * cols for _ in range(k)],
                evidence=pa or None,
                evidence_card=[len(sn[p]) for p in pa] or None,
                state_names=sn,
            )
        )
    return cpds


def to_pgmpy_model(graph: CausalGraph, cpds: Any = None) -> Any:
    """A pgmpy ``DiscreteBayesianNetwork`` with ``graph``'s structure and the given CPDs.

    Parameters
    ----------
    cpds : list of TabularCPD, pgmpy model, ``"uniform"`` or None
        With a model, its CPDs are used. ``"uniform"`` builds uniform stand-in tables. ``None``
        leaves the model without CPDs.

    Raises
    ------
    FormatError
        A CPD's parents do not match the graph (the tables were fitted for another
        structure: refit first).
    """
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(graph.nodes)
    model.add_edges_from(graph.edges)
    if cpds is None:
        return model
    if isinstance(cpds, str):
        if cpds != "uniform":
            raise FormatError(
                f"Unknown CPD option {cpds!r}; use 'uniform', a list of CPDs or a fitted model."
            )
        cpd_list: Sequence[Any] = uniform_cpds(graph)
    elif _is_model(cpds):
        cpd_list = list(cpds.get_cpds())
    else:
        cpd_list = list(cpds)
    by_var = {c.variable: c for c in cpd_list}
    missing = [n for n in graph.nodes if n not in by_var]
    if missing:
        raise FormatError(
            f"No probability table for {', '.join(graph.label(n) for n in missing[:10])}"
            + (" ..." if len(missing) > 10 else "")
            + ". Fit the model on the cohort (or pass cpds='uniform') before exporting."
        )
    for n in graph.nodes:
        cpd = by_var[n]
        have = sorted(cpd.variables[1:])
        want = sorted(graph.parents(n))
        if have != want:
            raise FormatError(
                f"The probability table of {graph.label(n)} was fitted with parents "
                f"{have or 'none'}, but the graph gives it {want or 'none'}. Refit after editing, then export."
            )
    model.add_cpds(*[by_var[n].copy() for n in graph.nodes])
    model.check_model()
    return model


def from_pgmpy_model(model: Any, provenance: str = "imported") -> CausalGraph:
    """A :class:`CausalGraph` with the model's structure; node ``states`` come from its
    CPDs, and node attributes (``label``, ...) are kept."""
    g = nx.DiGraph()
    for n in model.nodes():
        attrs = {k: v for k, v in dict(model.nodes[n]).items() if k not in ("weight", "latent")}
        attrs.setdefault("label", str(n))
        cpd = model.get_cpds(n) if model.get_cpds() else None
        if cpd is not None:
            attrs["states"] = tuple(str(s) for s in cpd.state_names[n])
        g.add_node(str(n), **attrs)
    for u, v in model.edges():
        g.add_edge(str(u), str(v), provenance=provenance, endorsed=False, evidence={}, history=[])
    return CausalGraph(g)


def _with_node_attrs(model: Any, graph: CausalGraph, keys: Sequence[str]) -> None:
    for n in graph.nodes:
        attrs = graph.node_attrs(n)
        model.nodes[n].clear()
        for k in keys:
            if k == "id":
                continue
            val = attrs.get(k)
            if val is not None and val != "":
                model.nodes[n][k] = quote(str(val), safe=" ")


def write_bif(graph: CausalGraph, cpds: Any = None) -> str:
    """BIF text (Interchange Format 0.15, read by pgmpy, bnlearn, GeNIe, Hugin).

    Node labels and domains travel as escaped ``property`` lines. Variable names that BIF
    cannot hold (spaces, colons, ...) are written as safe names with the original code
    in an ``id`` property, and restored by :func:`read_bif`.

    Parameters
    ----------
    cpds : list of TabularCPD, pgmpy model, or ``"uniform"``
        BIF carries probability tables, so they are required.
    """
    from pgmpy.readwrite import BIFWriter

    if cpds is None:
        raise FormatError(
            "BIF holds probability tables: fit the model first (or export with uniform "
            "uniform stand-in tables). For the structure alone, use DAGitty, GraphML or JSON."
        )
    renames: dict[str, str] = {}
    used: set[str] = set()
    for n in graph.nodes:
        if _BIF_SAFE.match(n):
            used.add(n)
    for n in graph.nodes:
        if not _BIF_SAFE.match(n):
            base = re.sub(r"[^A-Za-z0-9_]", "_", n).strip("_") or "v"
            cand, i = f"v_{base}", 1
            while cand in used:
                i += 1
                cand = f"v_{base}_{i}"
            used.add(cand)
            renames[n] = cand
    model = to_pgmpy_model(graph, cpds)
    _with_node_attrs(model, graph, ("label", "domain"))
    for n in renames:
        model.nodes[n]["id"] = quote(n, safe="")
    if renames:
        model = _relabel(model, renames)
    return str(BIFWriter(model))


def _relabel(model: Any, mapping: dict[str, str]) -> Any:
    """A copy of ``model`` with variables renamed (CPDs included)."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    def r(x: str) -> str:
        return mapping.get(x, x)

    new = DiscreteBayesianNetwork()
    for n in model.nodes():
        new.add_node(r(n), **dict(model.nodes[n]))
    new.add_edges_from((r(u), r(v)) for u, v in model.edges())
    cpds = []
    for c in model.get_cpds():
        var, ev = c.variables[0], c.variables[1:]
        cpds.append(
            TabularCPD(
                r(var),
                c.variable_card,
                c.get_values(),
                evidence=[r(e) for e in ev] or None,
                evidence_card=list(c.cardinality[1:]) or None,
                state_names={r(k): list(v) for k, v in c.state_names.items()},
            )
        )
    new.add_cpds(*cpds)
    return new


def _decode_attrs(model: Any) -> dict[str, dict[str, str]]:
    out = {}
    for n in model.nodes():
        out[n] = {
            str(k): unquote(str(v))
            for k, v in dict(model.nodes[n]).items()
            if k not in ("weight", "latent")
        }
    return out


def _graph_from_read_model(model: Any) -> tuple[CausalGraph, Any]:
    attrs = _decode_attrs(model)
    mapping = {n: a["id"] for n, a in attrs.items() if a.get("id")}
    if mapping:
        model = _relabel(model, mapping)
        attrs = {mapping.get(n, n): a for n, a in attrs.items()}
    for n in model.nodes():
        model.nodes[n].clear()
        for k, v in attrs[n].items():
            if k != "id":
                model.nodes[n][k] = v
    return from_pgmpy_model(model), model


def read_bif(text: str) -> tuple[CausalGraph, Any]:
    """Read BIF text: the graph (labels restored) and the pgmpy model with its CPDs."""
    from pgmpy.readwrite import BIFReader

    try:
        model = BIFReader(string=text, include_properties=True).get_model()
    except Exception as exc:
        raise FormatError(f"This is not a readable BIF network: {exc}") from exc
    return _graph_from_read_model(model)


def write_xmlbif(graph: CausalGraph, cpds: Any = None) -> str:
    """XMLBIF 0.3 text (read by pgmpy, Weka, GeNIe). The node label is kept as a property.

    XMLBIF holds probability tables, so ``cpds`` is required (see :func:`write_bif`).
    """
    from pgmpy.readwrite import XMLBIFWriter

    if cpds is None:
        raise FormatError(
            "XMLBIF holds probability tables: fit the model first (or export with uniform "
            "uniform stand-in tables). For the structure alone, use DAGitty, GraphML or JSON."
        )
    model = to_pgmpy_model(graph, cpds)
    # pgmpy's XMLBIF writer keeps a single property per variable: the label.
    _with_node_attrs(model, graph, ("label",))
    return str(XMLBIFWriter(model))


def read_xmlbif(text: str) -> tuple[CausalGraph, Any]:
    """Read XMLBIF text: the graph and the pgmpy model with its CPDs."""
    from pgmpy.readwrite import XMLBIFReader

    try:
        model = XMLBIFReader(string=text).get_model()
    except Exception as exc:
        raise FormatError(f"This is not a readable XMLBIF network: {exc}") from exc
    return _graph_from_read_model(model)


def implied_cis_reference(graph: CausalGraph, data: Any, ci_test: str = "chi_square") -> Any:
    """pgmpy's ``ImpliedCIs`` on ``graph`` and a frame of states (reference for
    :class:`kg_editor.model.checks.ImpliedIndependencies`): columns ``u``, ``v``,
    ``cond_vars``, ``p-value``."""
    from pgmpy.base import DAG
    from pgmpy.metrics import ImpliedCIs

    dag = DAG()
    dag.add_nodes_from(graph.nodes)
    dag.add_edges_from(graph.edges)
    return ImpliedCIs(ci_test=ci_test, show_progress=False).evaluate(X=data, causal_graph=dag)


def pc_reference(data: Any, significance_level: float = 0.01, max_cond_vars: int = 3) -> Any:
    """pgmpy's PC (stable variant, chi-square test) on a frame of states; returns the
    estimated networkx DiGraph (an undirected PC edge appears both ways)."""
    from pgmpy.estimators import PC

    est = PC(data)
    model = est.estimate(
        variant="stable",
        ci_test="chi_square",
        significance_level=significance_level,
        max_cond_vars=max_cond_vars,
        return_type="pdag",
        show_progress=False,
    )
    g = nx.DiGraph()
    g.add_nodes_from(data.columns)
    g.add_edges_from(model.edges())
    return g


def hill_climb_reference(data: Any, max_indegree: int | None = 6) -> Any:
    """pgmpy's BIC hill climb on a frame of states; returns a networkx DiGraph."""
    from pgmpy.estimators import HillClimbSearch

    model = HillClimbSearch(data).estimate(
        scoring_method="bic-d", max_indegree=max_indegree, show_progress=False
    )
    g = nx.DiGraph()
    g.add_nodes_from(data.columns)
    g.add_edges_from(model.edges())
    return g
