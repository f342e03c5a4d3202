"""Teaching-mode latency beside the direct pgmpy computations, measured in one run.

Run: ``python benchmarks/teaching_latency.py`` (about a minute on 2 cores).

For ALARM (37 nodes), HEPAR2 (70) and PATHFINDER (109), all bundled with pgmpy and read
offline, it times:

* ``belief_update`` (prior, posterior and shift of every node under 3 findings, plus
  P(findings)) beside a bare loop of pgmpy ``VariableElimination.query`` per node;
* the do-query of ``seeing_vs_doing`` (graph surgery + elimination) beside pgmpy
  ``CausalInference.query(do=...)``;
* ``adjustment_sets`` (minimal back-door sets by separator enumeration) beside pgmpy
  ``CausalInference.get_all_backdoor_adjustment_sets`` (a subset search), with a cap of
  ``CAP`` seconds per pgmpy call;
* ``path_report`` (every active trail, shortest first).

It prints medians and ratios; paste the table into ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import networkx as nx  # noqa: E402
from pgmpy.inference import CausalInference, VariableElimination  # noqa: E402

from kg_editor.teaching import adjustment_sets, belief_update, path_report  # noqa: E402
from kg_editor.teaching.beliefs import TeachingModel  # noqa: E402

CAP = 10.0  # seconds allowed for one pgmpy adjustment-set call
REPS = 9


def _median(fn, reps: int = REPS) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _pgmpy_all_backdoor(name: str, x: str, y: str, conn) -> None:  # in a child process
    warnings.filterwarnings("ignore")
    ci = CausalInference(TeachingModel.from_bundled(name).pgmpy)
    t = time.perf_counter()
    ci.get_all_backdoor_adjustment_sets(x, y)
    conn.send(time.perf_counter() - t)


def _capped_pgmpy_backdoor(name: str, x: str, y: str, cap: float) -> float | None:
    """Seconds pgmpy's subset search took, or None when it ran past ``cap`` (then killed)."""
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=_pgmpy_all_backdoor, args=(name, x, y, child))
    proc.start()
    got = parent.poll(cap + 30)  # the child reads the network first (a few seconds)
    if got:
        took = parent.recv()
        proc.join()
        return took if took <= cap else None
    proc.terminate()
    proc.join()
    return None


def bench(name: str, rnd: random.Random) -> list[str]:
    from kg_editor.model.fit import bundled_network, sample_network

    model = bundled_network(name)
    t = time.perf_counter()
    tm = TeachingModel(model)
    build = time.perf_counter() - t
    g = tm.graph.nx
    leaves = [n for n in tm.nodes if g.out_degree(n) == 0]
    rows = [
        f"| {name} ({len(tm.nodes)} nodes) | wrap a fitted model (check_model) | {build * 1e3:.0f} ms | | |"
    ]

    # beliefs under 3 findings on leaves (what a clinician observes), taken from sampled
    # patients so they are possible; fresh findings each rep
    patients = sample_network(model, REPS, seed=rnd.randrange(10**6))
    findings = [{n: str(row[n]) for n in rnd.sample(leaves, 3)} for _, row in patients.iterrows()]
    ve = VariableElimination(tm.pgmpy)
    tm.prior()  # cached once per model version
    it = iter(findings)
    ours = _median(lambda: belief_update(tm, next(it)))
    it2 = iter(findings)

    def pgmpy_loop() -> None:
        f = next(it2)
        for n in tm.nodes:
            if n not in f:
                ve.query([n], evidence=f, show_progress=False)

    ref = _median(pgmpy_loop)
    rows.append(
        f"| | belief_update, 3 findings (all nodes + prior + shift + P(findings)) | {ours * 1e3:.0f} ms "
        f"| {ref * 1e3:.0f} ms (VE per node) | {ref / ours:.2f}x |"
    )

    # do-queries
    ci = CausalInference(tm.pgmpy)
    pairs = [(x, y) for x in tm.nodes for y in tm.nodes if x != y and y in nx.descendants(g, x)]
    sample = rnd.sample(pairs, min(10, len(pairs)))
    fresh = TeachingModel(tm.pgmpy, tm.graph)  # no cached mutilated networks

    def ours_do() -> None:
        for x, y in sample:
            fresh.interventional(y, {x: fresh.states(x)[0]})

    def pgmpy_do() -> None:
        for x, y in sample:
            ci.query([y], do={x: tm.states(x)[0]}, show_progress=False)

    o = _median(ours_do, 1)
    o2 = _median(ours_do, 3)
    p = _median(pgmpy_do, 1)
    rows.append(
        f"| | 10 do-queries P(y given do(x)) | {o * 1e3:.0f} ms first, {o2 * 1e3:.0f} ms cached "
        f"| {p * 1e3:.0f} ms (CausalInference.query) | {p / o:.1f}x / {p / o2:.1f}x |"
    )

    # adjustment sets
    confounded = [
        (x, y)
        for x, y in pairs
        if adjustment_sets(tm, x, y, include_parents=False) != [frozenset()]
    ]
    sample = rnd.sample(confounded, min(5, len(confounded)))
    ours_adj = [_median(lambda x=x, y=y: adjustment_sets(tm, x, y), 3) for x, y in sample]
    ref_adj = [_capped_pgmpy_backdoor(name, x, y, CAP) for x, y in sample]
    done = [r for r in ref_adj if r is not None]
    ref_txt = (f"median {statistics.median(done) * 1e3:.0f} ms" if done else "none finished") + (
        f"; {len(ref_adj) - len(done)}/{len(ref_adj)} ran past {CAP:.0f} s"
        if len(done) < len(ref_adj)
        else ""
    )
    worst_ours = max(ours_adj)
    ratio = (
        f">= {CAP / worst_ours:,.0f}x"
        if len(done) < len(ref_adj)
        else f"{statistics.median(done) / statistics.median(ours_adj):,.0f}x"
    )
    rows.append(
        f"| | all back-door sets, 5 confounded pairs | median {statistics.median(ours_adj) * 1e3:.1f} ms, "
        f"max {worst_ours * 1e3:.1f} ms | {ref_txt} (get_all_backdoor_adjustment_sets) | {ratio} |"
    )

    # active trails
    tr = []
    for _ in range(20):
        a, b = rnd.sample(tm.nodes, 2)
        z = rnd.sample([n for n in tm.nodes if n not in (a, b)], 2)
        tr.append(_median(lambda a=a, b=b, z=z: path_report(tm, a, b, z), 1))
    rows.append(
        f"| | path_report (all active trails), 20 random pairs, 2 observed | median "
        f"{statistics.median(tr) * 1e3:.1f} ms, max {max(tr) * 1e3:.1f} ms | | |"
    )
    return rows


def main() -> None:
    rnd = random.Random(0)
    print("| network | step | kg-editor | pgmpy | ratio |")
    print("|---|---|---|---|---|")
    for name in sys.argv[1:] or ["alarm", "hepar2", "pathfinder"]:
        for row in bench(name, rnd):
            print(row, flush=True)


if __name__ == "__main__":
    main()
