"""Pair-counting speed: 1M patients x 500 codes x 10M events with Zipf-like frequencies.

Compares, side by side in one run, with equal counts checked and **the same number of
repetitions for every method** (``--repeat``, medians reported, best beside them):
  * the product path (headline): ``count_pairs`` on the cohort's patient x code state
    table, as distillation calls it (``np.nonzero`` of the dense table, then the kernel);
  * the engine path: ``EngineSource.pair_counts``, the sqlglot-generated SQL run by
    DuckDB on the event table (patients and codes as text, as a warehouse holds them);
  * the kernel alone: the compiled (numba) pair-counting loop over integer-coded events
    (``cooccurrence_events``), sorted by patient and unsorted (counting sort included);
  * DuckDB on integer codes: the same self-join of the distinct (patient, code) table
    over the integer columns ours gets (the same input encoding);
  * DuckDB on text items: ``cooccurrence_duckdb`` (casts codes to VARCHAR);
  * scipy: X.T @ X with X the sparse patient x code indicator matrix (build included);
  * pandas: a self-merge on patient_id then a groupby count, on all patients by default
    (~110M merged rows, about 3.7 GB here); ``--pandas-fraction 0.1`` runs it on a patient
    subsample and scales its time linearly, which flatters pandas.

Peak memory is the growth of the process's peak RSS (VmHWM, reset before each method).
The load average (``uptime``) is printed at the start and the end: on a shared machine
every figure scales with it.

Run: python benchmarks/count_speed.py [--patients 1000000 --codes 500 --events 10000000 --repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import numpy as np
import pandas as pd


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover - not Linux
        pass


def measure(fn, repeat: int):
    """Median and best wall time over ``repeat`` runs, median CPU seconds, peak RSS
    growth (MB)."""
    gc.collect()
    _reset_peak()
    base = _rss_kb("VmRSS")
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        out = None
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    peak_mb = (_rss_kb("VmHWM") - base) / 1024
    return out, statistics.median(walls), min(walls), statistics.median(cpus), peak_mb


def make_events(n_patients: int, n_codes: int, n_events: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, n_codes + 1) ** 1.1  # Zipf-like code frequencies
    code = rng.choice(n_codes, size=n_events, p=w / w.sum()).astype(np.int32)
    patient = np.sort(
        rng.integers(0, n_patients, n_events).astype(np.int32)
    )  # extracts come sorted
    return patient, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--codes", type=int, default=500)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per method (all methods)")
    ap.add_argument("--pandas-fraction", type=float, default=1.0)
    ap.add_argument("--skip-pandas", action="store_true")
    args = ap.parse_args()

    import duckdb
    import numba
    import scipy.sparse as sp

    from kg_editor.discovery.counting import cooccurrence_duckdb, cooccurrence_events, count_pairs
    from kg_editor.engines import DuckDBEngine, EngineSource, Var

    r = args.repeat
    patient, code = make_events(args.patients, args.codes, args.events)
    print(
        f"{args.patients:,} patients x {args.codes} codes x {args.events:,} events; numba threads "
        f"{numba.get_num_threads()}, cores {os.cpu_count()}, {r} runs per method; "
        f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )

    # warm up the compiled kernels (cached on disk after the first run)
    cooccurrence_events(patient[:1000], code[:1000], int(patient[999]) + 1, args.codes)
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(patient.size)
    p_unsorted, c_unsorted = patient[shuffled], code[shuffled]

    results: dict[str, tuple[float, float, float, float]] = {}

    def run(name, fn, reps=r):
        out, med, best, cpu, peak = measure(fn, reps)
        results[name] = (med, best, cpu, peak)
        print(f"  {name}: median {med:.3f} s (best {best:.3f})", flush=True)
        return out

    # the product path: the cohort's state table -> count_pairs (what distillation runs)
    dense = np.zeros((args.patients, args.codes), np.int8)
    dense[patient, code] = 1
    # column by column, as build_cohort makes Cohort.data (each column contiguous)
    cohort_frame = pd.DataFrame({str(i): dense[:, i].copy() for i in range(args.codes)})
    del dense
    product = run("product path: count_pairs(cohort table)", lambda: count_pairs(cohort_frame))
    ours = run(
        "kernel: numba pair loop, sorted events",
        lambda: cooccurrence_events(patient, code, args.patients, args.codes),
    )
    assert np.array_equal(product.matrix, ours), "product path differs from the kernel"
    cohort_frame = product = None  # free the dense table
    ours_u = run(
        "kernel: numba, unsorted (counting sort incl.)",
        lambda: cooccurrence_events(p_unsorted, c_unsorted, args.patients, args.codes),
    )
    assert np.array_equal(ours, ours_u)

    def scipy_xtx():
        x = sp.csr_matrix(
            (np.ones(patient.size, np.int32), (patient, code)), shape=(args.patients, args.codes)
        )
        x.sum_duplicates()
        x.data[:] = 1
        return (x.T @ x).toarray()

    sc = run("scipy X.T @ X", scipy_xtx)
    assert np.array_equal(sc, ours), "scipy counts differ"

    frame = pd.DataFrame({"patient_id": patient, "code": code})
    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")
    con.register("ev_int", frame)

    def duck_int():
        res = con.execute(
            "WITH e AS (SELECT DISTINCT patient_id AS p, code AS i FROM ev_int) "
            "SELECT a.i AS a, b.i AS b, count(*) AS n FROM e a JOIN e b "
            "ON a.p = b.p AND a.i <= b.i GROUP BY a.i, b.i"
        ).fetchnumpy()
        m = np.zeros((args.codes, args.codes), np.int64)
        m[res["a"], res["b"]] = res["n"]
        m[res["b"], res["a"]] = res["n"]
        return m

    dk_int = run("DuckDB self-join, integer codes", duck_int)
    assert np.array_equal(dk_int, ours), "DuckDB (integer) counts differ"
    names_codes = [str(i) for i in range(args.codes)]
    _n, dk = run(
        "DuckDB self-join, text items (cooccurrence_duckdb)",
        lambda: cooccurrence_duckdb(frame, items=names_codes, con=con),
    )
    assert np.array_equal(dk, ours), "DuckDB (text) counts differ"

    text_events = pd.DataFrame(
        {"patient_id": patient.astype(str), "code": code.astype(str)}
    )  # a warehouse's text ids
    src = EngineSource.from_frames(DuckDBEngine(con=con), text_events, name="bench")
    variables = [Var(str(i), ("absent", "present")) for i in range(args.codes)]
    eng = run(
        "engine path: EngineSource.pair_counts (sqlglot SQL, DuckDB)",
        lambda: src.pair_counts(variables, n_patients=args.patients),
    )
    assert np.array_equal(eng.matrix, ours), "engine counts differ"
    text_events = src = None
    con.close()

    frac = args.pandas_fraction
    if not args.skip_pandas:
        cut = int(args.patients * frac)
        sub = frame[frame["patient_id"] < cut].drop_duplicates()

        def pandas_merge():
            m = sub.merge(sub, on="patient_id")
            return m.groupby(["code_x", "code_y"]).size()

        pm = run("pandas self-merge + groupby", pandas_merge)
        ref_sub = cooccurrence_events(
            sub["patient_id"].to_numpy(), sub["code"].to_numpy(), cut, args.codes
        )
        mat = np.zeros((args.codes, args.codes), np.int64)
        mat[pm.index.get_level_values(0), pm.index.get_level_values(1)] = pm.to_numpy()
        assert np.array_equal(mat, ref_sub), "pandas counts differ"
        med, best, cpu, peak = results.pop("pandas self-merge + groupby")
        label = "pandas self-merge + groupby" + (
            f" (x{1 / frac:.0f} from a {frac:.0%} sample)" if frac < 1 else ", all patients"
        )
        results[label] = (med / frac, best / frac, cpu / frac, peak / frac)

    head = results["product path: count_pairs(cohort table)"]
    kern = results["kernel: numba pair loop, sorted events"]
    print(
        "\n| method | median s | best s | vs product path | vs kernel | CPU s | peak MB |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    for name, (med, best, cpu, peak) in results.items():
        print(
            f"| {name} | {med:.3f} | {best:.3f} | {med / head[0]:.2f}x | {med / kern[0]:.1f}x | "
            f"{cpu:.3f} | {peak:,.0f} |"
        )
    print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("All counts equal: yes (every method checked against the kernel)")


if __name__ == "__main__":
    main()
