"""Robust and bounded at scale (issue 12): a 120-variable synthetic cohort runs every
documented distillation option within the memory budget, nonsense settings are refused
with a clear message, and the funnel says where the pairs went."""

from __future__ import annotations

import tracemalloc

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from kg_editor.data.cohort import Cohort, Variable
from kg_editor.discovery.distill import DOMAIN_TIERS, Distiller, estimate_memory_mb
from kg_editor.errors import KGEditorError, ResourceLimitError, SchemaError


def random_network_cohort(p: int, n: int, seed: int = 0, dated: bool = True) -> tuple[Cohort, set]:
    """A random sparse DAG over ``p`` binary variables, ``n`` patients sampled from it, first
    dates along the causal order (with noise), half the variables drugs, half conditions."""
    rng = np.random.default_rng(seed)
    order = [f"v{i:03d}" for i in range(p)]
    g = nx.DiGraph()
    g.add_nodes_from(order)
    for j in range(1, p):
        for i in rng.choice(j, size=min(j, int(rng.integers(0, 3))), replace=False):
            g.add_edge(order[i], order[j])
    vals = np.zeros((n, p), dtype=np.int8)
    for j, v in enumerate(order):
        pa = [order.index(u) for u in g.predecessors(v)]
        logit = -1.5 + sum(2.0 * vals[:, k] for k in pa)
        vals[:, j] = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(vals, columns=order, index=[f"p{i}" for i in range(n)])
    frame.index.name = "patient_id"
    depth = {v: 0 for v in order}
    for v in nx.topological_sort(g):
        for u in g.predecessors(v):
            depth[v] = max(depth[v], depth[u] + 1)
    dates = None
    if dated:
        base = pd.Timestamp("2015-01-01")
        dates = pd.DataFrame(
            {
                v: pd.Series(
                    base + pd.to_timedelta(depth[v] * 30 + rng.normal(0, 10, n).round(), unit="D"),
                    index=frame.index,
                ).where(frame[v].to_numpy() == 1)
                for v in order
            }
        )
    variables = {
        v: Variable(
            v,
            v.upper(),
            "drug" if i % 2 else "condition",
            ("absent", "present"),
            int(frame[v].sum()),
            float(frame[v].mean()),
        )
        for i, v in enumerate(order)
    }
    persons = pd.DataFrame({"sex": "F", "birth_year": 1970, "age_band": "40-64"}, index=frame.index)
    is_test = np.zeros(n, dtype=bool)
    is_test[: n // 5] = True
    cohort = Cohort(
        data=frame,
        variables=variables,
        persons=persons,
        first_dates=dates,
        is_test=is_test,
        source_name=f"random-{p}",
    )
    return cohort, set(g.edges)


@pytest.fixture(scope="module")
def wide120():
    return random_network_cohort(120, 3000, seed=2)


#: Every documented option of Distiller (docs/constraints.md, the class docstring).
OPTIONS = [
    {},
    {"method": "hc"},
    {"method": "assoc"},
    {"test": "chi2", "max_cond": 3},
    {"max_cond": 2, "positivity_min_expected": None, "max_neighbors": 4},
    {"domain_tiers": DOMAIN_TIERS},
    {"demographics_first": False, "score_margin": 0.0, "precedence_share": 0.75},
    {"max_parents": None, "patients_per_parameter": None},
    {"alpha": 0.05, "ci_alpha": 0.01, "min_count": 0, "min_effect": 0.0, "min_cell": 0},
    {"stability": 2},
]


@pytest.mark.slow
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_every_option_runs_within_the_memory_budget(wide120, options):
    cohort, _truth = wide120
    budget = estimate_memory_mb(
        int((~cohort.is_test).sum()), len(cohort.variables), True, 2, options.get("stability", 0)
    )
    tracemalloc.start()
    try:
        d = Distiller(**options).fit(cohort)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    print(f"peak {peak_mb:.1f} MB of estimated {budget:.1f} MB")
    assert peak_mb <= budget, (peak_mb, budget)
    g = d.graph_
    assert nx.is_directed_acyclic_graph(g.nx) and len(g.edges) > 0
    f = d.report_["funnel"]
    assert f["pairs_tested"] == 120 * 119 // 2 and f["edges"] == len(g.edges)
    assert f["significant"] >= f["candidates"] - len(d.constraints_.required) >= f["edges"] - 1
    if options.get("max_parents", 6) is not None:
        assert max(len(g.parents(n)) for n in g.nodes) <= 6


def test_true_structure_is_mostly_found_on_dated_events(wide120):
    cohort, truth = wide120
    g = Distiller().fit(cohort).graph_
    pred = set(g.edges)
    assert len(pred & truth) >= 0.6 * len(truth)
    # with dates, directions are nearly always right where the edge is true
    skel = {frozenset(e) for e in truth}
    on_true = [e for e in pred if frozenset(e) in skel]
    assert sum(e in truth for e in on_true) >= 0.95 * len(on_true)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"min_count": -1}, "min_count"),
        ({"min_effect": 2.0}, "min_effect"),
        ({"max_cond": -1}, "max_cond"),
        ({"max_cond": 1.5}, "max_cond"),
        ({"precedence_share": 0.2}, "precedence_share"),
        ({"max_parents": 0}, "max_parents"),
        ({"patients_per_parameter": 0}, "patients_per_parameter"),
        ({"stability": -3}, "stability"),
        ({"test": "t"}, "Unknown test"),
        ({"method": "magic"}, "Unknown distil method"),
    ],
)
def test_nonsense_settings_are_refused_clearly(options, message):
    cohort, _ = random_network_cohort(5, 200, seed=1)
    with pytest.raises(SchemaError, match=message):
        Distiller(**options).fit(cohort)


def test_too_few_training_patients_and_the_memory_budget_are_refused_before_work():
    small, _ = random_network_cohort(4, 60, seed=1)  # 48 training patients
    with pytest.raises(SchemaError, match="at least 50"):
        Distiller().fit(small)
    cohort, _ = random_network_cohort(30, 400, seed=1)
    with pytest.raises(ResourceLimitError, match="memory budget") as err:
        Distiller(memory_budget_mb=0.01).fit(cohort)
    assert isinstance(err.value, KGEditorError) and "--max-variables" in str(err.value)
    # the documented figure: 20k patients x 200 variables stays within 2 GB
    assert estimate_memory_mb(20_000, 200, dated=True) < 2048


def test_a_result_with_few_edges_says_which_setting_to_relax():
    rng = np.random.default_rng(0)
    cohort, _ = random_network_cohort(6, 300, seed=3)
    cohort.data.loc[:, :] = (rng.random(cohort.data.shape) < 0.3).astype(np.int8)  # noise
    d = Distiller().fit(cohort)
    f = d.report_["funnel"]
    assert f["edges"] <= 1 and f["advice"]
    assert any("alpha" in a or "min_count" in a or "min_effect" in a for a in f["advice"])
    assert any("small cohort" in a for a in f["advice"])  # 240 training patients
