"""Teaching-mode latency beside the direct pgmpy computations, measured in one run.

Run: ``python benchmarks/teaching_latency.py [--runs 3] [--beliefs-only] [network ...]``
(about a minute with ``--beliefs-only``, three to four more for the pgmpy back-door
search, which is capped). Networks: ALARM (37 nodes), HEPAR2 (70) and PATHFINDER (109),
bundled with pgmpy and read offline.

Beliefs (what the acceptance of issue 14 asks: beliefs for all nodes under a few findings):

* ours: ``belief_update`` (posterior, prior, shift of every node under 3 findings, plus
  P(findings)) on a :class:`TeachingModel` whose junction tree is compiled when it is
  wrapped (timed separately, in the "wrap + compile" row) and whose prior is computed
  once before timing (it is cached per model version in the app too). Each repetition
  gets fresh findings, so no calibration is served from the cache. The timed path
  includes resolving the findings, the model-change checksum, one calibration of the
  tree, and building the JSON-ready records.
* pgmpy: one ``VariableElimination.query`` per unobserved node with the same findings
  (the ``VariableElimination`` object is built once, outside the clock; each query
  prunes the network and picks its elimination order, as pgmpy always does). It
  computes neither the prior, the shifts nor P(findings), so the comparison favours it.
* pgmpy's ``BeliefPropagation`` is not a usable reference: it rebuilds its junction tree
  on every query after pruning, and a query of all unobserved nodes at once
  (``joint=False``) falls back to one elimination over all of them (ALARM: it tried to
  allocate 86 GiB).

Both sides get the same findings in the same repetitions, interleaved (ours, pgmpy, ours,
...) so that load from other jobs falls on both; each run gives the median of ``REPS``
repetitions and the table shows the median of the runs (and the range of the per-run
ratios). The load average from ``uptime`` is printed before and after.

The other rows: the do-query of ``seeing_vs_doing`` (graph surgery on the compiled tree)
beside pgmpy ``CausalInference.query(do=...)``; ``adjustment_sets`` (minimal back-door sets
by separator enumeration) beside pgmpy ``CausalInference.get_all_backdoor_adjustment_sets``
(a subset search), with a cap of ``CAP`` seconds per pgmpy call; ``path_report`` (every
active trail, shortest first).

It prints medians and ratios; paste the table into ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import subprocess
import time
import warnings

warnings.filterwarnings("ignore")

import networkx as nx  # noqa: E402
from pgmpy.inference import (  # noqa: E402
    CausalInference,
    VariableElimination,
)

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


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def bench_beliefs(name: str, model, tm: TeachingModel, rnd: random.Random, runs: int) -> list[str]:
    """``belief_update`` vs pgmpy VE per node and BP, same findings, interleaved."""
    from kg_editor.model.fit import sample_network

    g = tm.graph.nx
    leaves = [n for n in tm.nodes if g.out_degree(n) == 0]
    ve = VariableElimination(tm.pgmpy)
    tm.prior()  # cached once per model version
    per_run: list[tuple[float, float]] = []
    for _ in range(runs):
        # 3 findings on leaves (what a clinician observes) from sampled patients (so
        # possible); fresh findings each repetition, the same for every engine
        patients = sample_network(tm.pgmpy, REPS, seed=rnd.randrange(10**6))
        findings = [
            {n: str(row[n]) for n in rnd.sample(leaves, 3)} for _, row in patients.iterrows()
        ]
        ours, ref = [], []
        for f in findings:
            t = time.perf_counter()
            belief_update(tm, f)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            for n in tm.nodes:
                if n not in f:
                    ve.query([n], evidence=f, show_progress=False)
            ref.append(time.perf_counter() - t)
        per_run.append((statistics.median(ours), statistics.median(ref)))
    o = statistics.median(r[0] for r in per_run)
    p = statistics.median(r[1] for r in per_run)
    ratios = [r[1] / r[0] for r in per_run]
    return [
        f"| | belief_update, 3 findings (all nodes + prior + shift + P(findings)); "
        f"{runs} runs x {REPS} reps | {o * 1e3:.2f} ms "
        f"| {p * 1e3:.0f} ms (VE query per node) | {p / o:.0f}x (runs {min(ratios):.0f}-{max(ratios):.0f}x) |",
    ]


def bench(name: str, rnd: random.Random, runs: int, beliefs_only: bool) -> list[str]:
    from kg_editor.model.fit import bundled_network

    model = bundled_network(name)
    builds = []
    for _ in range(REPS):
        t = time.perf_counter()
        tm = TeachingModel(model)
        builds.append(time.perf_counter() - t)
    build = statistics.median(builds)
    g = tm.graph.nx
    jt = tm._jt
    widest = max(len(c) for c in jt.cliques)
    rows = [
        f"| {name} ({len(tm.nodes)} nodes) | wrap + compile (check_model, junction tree of "
        f"{len(jt.cliques)} cliques, widest {widest} variables) | {build * 1e3:.0f} ms | | |"
    ]
    rows += bench_beliefs(name, model, tm, rnd, runs)

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
    p = _median(pgmpy_do, 3)
    rows.append(
        f"| | 10 do-queries P(y given do(x)) | {o * 1e3:.1f} ms first (surgery + calibration), "
        f"{o2 * 1e3:.2f} ms repeated (answer cache) "
        f"| {p * 1e3:.0f} ms (CausalInference.query, median of 3) | {p / o:.0f}x / {p / o2:,.0f}x |"
    )

    if beliefs_only:
        return rows

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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("networks", nargs="*", default=["alarm", "hepar2", "pathfinder"])
    ap.add_argument("--runs", type=int, default=3, help="runs of REPS repetitions (median shown)")
    ap.add_argument("--beliefs-only", action="store_true", help="skip back-door sets and trails")
    args = ap.parse_args()
    rnd = random.Random(0)
    print("load before:", _load())
    print("| network | step | kg-editor | pgmpy | ratio |")
    print("|---|---|---|---|---|")
    for name in args.networks:
        for row in bench(name, rnd, args.runs, args.beliefs_only):
            print(row, flush=True)
    print("load after:", _load())


if __name__ == "__main__":
    main()
