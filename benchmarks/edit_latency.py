"""Edit -> full report latency of EditSession on HEPAR2, beside pgmpy's full refit.

HEPAR2 (70 nodes, bundled with pgmpy, read offline) is sampled into 100k patients split
80/20; a diagnosis node is the target. 200 random valid edits (adds, removes, reverses,
a quarter of them in the target's own family or blanket) are applied one by one and each
edit -> full report is timed (refit of the touched families, held-out log-likelihood,
BIC/BDeu, the target's Markov-blanket posterior over all held-out patients, AUROC, Brier,
calibration, ROC, subgroups, interpretability). The paired-bootstrap CIs are computed on
first use of the delta; they are timed separately ("+ CIs").

In the same run: (a) pgmpy's full refit (DiscreteBayesianNetwork + DiscreteBayesianEstimator
BDeu) and (b) that refit plus ``model.predict`` of the target on the held-out patients
(timed on a subsample and extrapolated).

Run: ``python benchmarks/edit_latency.py [--patients 100000] [--edits 200] [--target Cirrhosis]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--edits", type=int, default=200)
    ap.add_argument("--target", default="Cirrhosis")
    ap.add_argument("--pgmpy-refits", type=int, default=3)
    ap.add_argument("--predict-rows", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from kg_editor.errors import KGEditorError
    from kg_editor.model.fit import bundled_network, pgmpy_fit, sampled_cohort
    from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge
    from kg_editor.model.session import EditSession

    t0 = time.perf_counter()
    cohort = sampled_cohort("hepar2", args.patients, target=args.target, seed=args.seed)
    truth = bundled_network("hepar2")
    graph = CausalGraph.from_edges(list(truth.edges()), nodes=cohort.codes, provenance="distilled")
    print(
        f"sampled {cohort.n_patients:,} patients x {len(cohort.codes)} variables in {time.perf_counter() - t0:.1f} s; "
        f"train {int((~cohort.is_test).sum()):,} / test {int(cohort.is_test.sum()):,}; target {args.target}"
    )

    t0 = time.perf_counter()
    session = EditSession(cohort, graph, bootstrap=200, seed=args.seed)
    t_open = time.perf_counter() - t0
    print(f"open session (fit all 70 families + first report): {t_open * 1000:.0f} ms")

    rng = random.Random(args.seed)
    nodes = sorted(session.graph.nodes)
    tgt = args.target
    lat, lat_ci, kinds = [], [], {"add": 0, "remove": 0, "reverse": 0}
    target_edits = 0
    blanket: list[bool] = []
    attempts = 0
    while len(lat) < args.edits and attempts < 50 * args.edits:
        attempts += 1
        kind = rng.choice(["add", "remove", "reverse"])
        near_target = rng.random() < 0.25
        g = session.graph
        if kind == "add":
            u, v = rng.sample(nodes, 2)
            if near_target:
                u, v = (u, tgt) if rng.random() < 0.5 else (tgt, v)
            edit = AddEdge(u, v)
        else:
            edges = sorted(g.edges)
            if near_target:
                edges = [e for e in edges if tgt in e] or edges
            u, v = rng.choice(edges)
            edit = RemoveEdge(u, v) if kind == "remove" else ReverseEdge(u, v)
        if edit.source == edit.target:
            continue
        before_block = session.report.targets[tgt]
        try:
            t0 = time.perf_counter()
            delta = session.apply(edit)
            t1 = time.perf_counter()
        except KGEditorError:
            continue
        delta.to_dict()  # materialise the paired-bootstrap CIs
        t2 = time.perf_counter()
        lat.append(t1 - t0)
        lat_ci.append(t2 - t0)
        kinds[edit.kind] += 1
        target_edits += int(tgt in (edit.source, edit.target))
        blanket.append(session.report.targets[tgt] is not before_block)
    lat_ms = np.array(lat) * 1000
    ci_ms = np.array(lat_ci) * 1000
    p50, p95 = np.percentile(lat_ms, [50, 95])
    c50, c95 = np.percentile(ci_ms, [50, 95])
    print(f"{len(lat)} valid edits ({kinds}; {target_edits} touching the target)")
    mb = np.array(blanket)
    if mb.any() and (~mb).any():
        print(
            f"  edits that change the target's Markov-blanket families ({int(mb.sum())}): p50 "
            f"{np.percentile(lat_ms[mb], 50):.2f} ms, p95 {np.percentile(lat_ms[mb], 95):.2f} ms; "
            f"the others ({int((~mb).sum())}): p50 {np.percentile(lat_ms[~mb], 50):.2f} ms, "
            f"p95 {np.percentile(lat_ms[~mb], 95):.2f} ms"
        )
    try:
        import os

        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    except OSError:  # pragma: no cover
        pass

    # (a) pgmpy full refit
    train = cohort.labelled(cohort.train).astype(str)
    test = cohort.labelled(cohort.test).astype(str)
    refits = []
    model = None
    for _ in range(args.pgmpy_refits):
        t0 = time.perf_counter()
        model = pgmpy_fit(train, session.graph.edges, cohort.states, nodes=session.graph.nodes)
        refits.append(time.perf_counter() - t0)
    refit = statistics.median(refits)
    # (b) + model.predict on the held-out set, timed on a subsample and extrapolated
    sub = test.drop(columns=[tgt]).iloc[: args.predict_rows]
    t0 = time.perf_counter()
    model.predict(sub, n_jobs=1)
    per_row = (time.perf_counter() - t0) / len(sub)
    predict_all = per_row * len(test)

    print()
    print("| measure | time | ratio to kg-editor p50 |")
    print("|---|---:|---:|")
    print(f"| kg-editor edit -> full report, p50 | {p50:.2f} ms | 1x |")
    print(f"| kg-editor edit -> full report, p95 | {p95:.2f} ms | |")
    print(
        f"| kg-editor edit -> full report + bootstrap CIs (200 resamples), p50 | {c50:.2f} ms | |"
    )
    print(
        f"| kg-editor edit -> full report + bootstrap CIs (200 resamples), p95 | {c95:.2f} ms | |"
    )
    print(
        f"| pgmpy full refit (median of {len(refits)}) | {refit * 1000:.0f} ms | {refit * 1000 / p50:.0f}x |"
    )
    print(
        f"| pgmpy model.predict, per held-out row ({len(sub)} timed) | {per_row * 1000:.1f} ms | |"
    )
    print(
        f"| pgmpy full refit + predict on {len(test):,} held-out rows (extrapolated) | {(refit + predict_all):.0f} s | "
        f"{(refit + predict_all) * 1000 / p50:,.0f}x |"
    )
    ok = p50 <= 10 and p95 <= 25 and refit * 1000 / p50 >= 40
    print(f"\ntargets p50 <= 10 ms, p95 <= 25 ms, >= 40x pgmpy refit: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
