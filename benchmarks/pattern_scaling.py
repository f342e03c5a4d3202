"""Edit cost against the number of patients: rows vs weighted patterns, side by side.

For each network and size, the same cohort (sampled from a network bundled with pgmpy,
read offline) opens two sessions: one over patient rows and one over weighted patterns
(``EditSession(patterns=True)``: the distinct rows with their counts). The same random
valid edits are applied to both and each edit -> report + bootstrap CIs (200 resamples)
is timed. The figures are checked equal (AUROC of the target after every edit, to 1e-9).
With few variables the distinct patterns stop growing with the patients, and so does the
cost of an edit on patterns; on a wide network (HEPAR2, ``benchmarks/edit_latency.py
--patterns``) every row is distinct and patterns bring nothing.

Run: ``python benchmarks/pattern_scaling.py [--sizes 10000 100000 1000000] [--edits 30]``
"""

from __future__ import annotations

import argparse
import os
import random
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

NETWORKS = {"asia": "lung", "child": "Disease"}


def run_edits(sessions, edits):
    lat = {k: [] for k in sessions}
    for edit in edits:
        for name, s in sessions.items():
            t0 = time.perf_counter()
            d = s.apply(edit)
            d.to_dict()  # the CIs the editor always shows
            lat[name].append(time.perf_counter() - t0)
        a, b = (s.report.targets for s in sessions.values())
        t = next(iter(a))
        x, y = a[t]["auroc"], b[t]["auroc"]
        assert (x != x and y != y) or abs(x - y) <= 1e-9, (x, y)
    return {k: np.array(v) * 1000 for k, v in lat.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS))
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from kg_editor.errors import KGEditorError
    from kg_editor.model.fit import bundled_network, sampled_cohort
    from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge, apply_edit
    from kg_editor.model.session import EditSession

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "\n| network | patients | distinct train / test patterns | open rows / patterns (ms) | "
        "edit + CIs p50 rows / patterns (ms) | p95 rows / patterns (ms) | p50 ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for net in args.networks:
        target = NETWORKS[net]
        truth = bundled_network(net)
        for n in args.sizes:
            cohort = sampled_cohort(net, n, target=target, seed=args.seed)
            graph = CausalGraph.from_edges(list(truth.edges()), nodes=cohort.codes)
            t0 = time.perf_counter()
            rows = EditSession(cohort, graph, targets=[target], bootstrap=200)
            t_rows = time.perf_counter() - t0
            t0 = time.perf_counter()
            pats = EditSession(cohort, graph, targets=[target], bootstrap=200, patterns=True)
            t_pats = time.perf_counter() - t0
            rng = random.Random(args.seed)
            nodes = sorted(graph.nodes)
            edits = []
            g = graph
            while len(edits) < args.edits:
                kind = rng.choice(["add", "remove", "reverse"])
                if kind == "add":
                    u, v = rng.sample(nodes, 2)
                    e = AddEdge(u, v)
                else:
                    u, v = rng.choice(sorted(g.edges))
                    e = RemoveEdge(u, v) if kind == "remove" else ReverseEdge(u, v)
                try:
                    g = apply_edit(g, e)
                except KGEditorError:
                    continue
                edits.append(e)
            lat = run_edits({"rows": rows, "patterns": pats}, edits)
            r50, p50 = np.percentile(lat["rows"], 50), np.percentile(lat["patterns"], 50)
            r95, p95 = np.percentile(lat["rows"], 95), np.percentile(lat["patterns"], 95)
            print(
                f"| {net} | {n:,} | {pats._train.n_rows:,} / {pats._test.n_rows:,} | "
                f"{t_rows * 1000:.0f} / {t_pats * 1000:.0f} | {r50:.2f} / {p50:.2f} | "
                f"{r95:.2f} / {p95:.2f} | {r50 / p50:.1f}x |",
                flush=True,
            )
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("Every edit's target AUROC equal between rows and patterns (1e-9): yes")


if __name__ == "__main__":
    main()
