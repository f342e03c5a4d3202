"""Open an EditSession on PATHFINDER at many patients (target ``Fault``: 63 states, 106
children) and report its peak memory, then time edits.

pgmpy's forward sampler takes tens of minutes for 1M patients on the shared cores, so the
patients are drawn here by a vectorised forward sampler over the network's own CPDs
(topological order, inverse CDF per parent configuration); the cohort is built exactly as
:func:`kg_editor.model.fit.sampled_cohort` builds it. Edits are random adds, removes and
reverses (a quarter near the target), each timed to the report + bootstrap CIs, with the
graph-versus-data check's share.

Run: ``python benchmarks/pathfinder_open.py 1000000 20`` (patients, edits).
"""

import os
import random
import resource
import sys
import time

import networkx as nx
import numpy as np
import pandas as pd

from kg_editor.data.cohort import Cohort, Variable, stratified_split
from kg_editor.errors import KGEditorError
from kg_editor.model.fit import bundled_network
from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge
from kg_editor.model.session import EditSession


def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n = int(sys.argv[1])
    n_edits = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    m = bundled_network("pathfinder")
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    codes = {}
    for node in nx.topological_sort(m):
        cpd = m.get_cpds(node)
        pa = list(cpd.variables[1:])
        cards = list(cpd.cardinality)
        vals = cpd.get_values()  # r x q, last parent fastest
        cfg = np.zeros(n, np.int64)
        for p, k in zip(pa, cards[1:], strict=False):
            cfg = cfg * k + codes[p]
        cum = np.cumsum(vals, axis=0)
        cum[-1] = 1.0
        u = rng.random(n)
        out = np.zeros(n, np.int8)
        for j in np.unique(cfg):
            sel = cfg == j
            out[sel] = np.minimum(np.searchsorted(cum[:, j], u[sel], side="right"), cards[0] - 1)
        codes[node] = out
    variables = {}
    for node in sorted(m.nodes()):
        states = tuple(str(s) for s in m.get_cpds(node).state_names[node])
        nz = int((codes[node] != 0).sum())
        variables[node] = Variable(node, node, "condition", states, nz, nz / n)
    ids = pd.Index([f"S{i:07d}" for i in range(n)], name="patient_id")
    frame = pd.DataFrame({k: codes[k] for k in sorted(codes)}, index=ids)
    del codes
    r2 = np.random.default_rng(1)
    persons = pd.DataFrame(
        {
            "sex": r2.choice(np.array(["F", "M"]), n),
            "birth_year": r2.integers(1930, 2005, n).astype(float),
            "age_band": r2.choice(np.array(["18-39", "40-64", "65+"]), n),
        },
        index=ids,
    )
    cohort = Cohort(
        data=frame,
        variables=variables,
        persons=persons,
        first_dates=None,
        is_test=stratified_split(frame["Fault"].to_numpy(), test_size=0.2, seed=0),
        target="Fault",
        source_name="sampled-pathfinder",
        settings={"n": n, "seed": 0, "test_size": 0.2},
    )
    print(
        f"sampled {n:,} in {time.perf_counter() - t0:.1f} s; peak RSS {rss():,.0f} MB; frame {frame.memory_usage().sum() / 1e6:.0f} MB"
    )
    graph = CausalGraph.from_edges(list(m.edges()), nodes=cohort.codes, provenance="distilled")
    t0 = time.perf_counter()
    s = EditSession(cohort, graph, bootstrap=200, seed=0)
    print(
        f"open {time.perf_counter() - t0:.1f} s; peak RSS {rss():,.0f} MB; load {os.getloadavg()}"
    )
    chk = [0.0]
    orig = s._check.update

    def timed(*a, **k):
        t = time.perf_counter()
        r = orig(*a, **k)
        chk[-1] += time.perf_counter() - t
        return r

    s._check.update = timed
    rnd = random.Random(0)
    nodes = sorted(s.graph.nodes)
    lat = []
    checks = []
    while len(lat) < n_edits:
        kind = rnd.choice(["add", "remove", "reverse"])
        near = rnd.random() < 0.25
        if kind == "add":
            u, v = rnd.sample(nodes, 2)
            if near:
                u, v = (u, "Fault") if rnd.random() < 0.5 else ("Fault", v)
            e = AddEdge(u, v)
        else:
            edges = sorted(s.graph.edges)
            if near:
                edges = [x for x in edges if "Fault" in x] or edges
            u, v = rnd.choice(edges)
            e = RemoveEdge(u, v) if kind == "remove" else ReverseEdge(u, v)
        if e.source == e.target:
            continue
        chk.append(0.0)
        t = time.perf_counter()
        try:
            d = s.apply(e)
        except KGEditorError:
            continue
        d.to_dict()
        lat.append(time.perf_counter() - t)
        checks.append(chk[-1])
    lat = np.array(lat) * 1000
    checks = np.array(checks) * 1000
    print(
        f"{len(lat)} edits: edit + CIs p50 {np.percentile(lat, 50):.1f} ms p95 {np.percentile(lat, 95):.1f} ms; "
        f"check p50 {np.percentile(checks, 50):.1f} ms; without check p50 {np.percentile(lat - checks, 50):.1f} p95 {np.percentile(lat - checks, 95):.1f} ms; "
        f"peak RSS {rss():,.0f} MB; load {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
