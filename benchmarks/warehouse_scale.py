"""Warehouse scale: cohort + distill + first report through DuckDB on 10M patients.

The data (``benchmarks/warehouse_data.py``): 10M synthetic patients x 200 codes (+ a
target), about 100M events, as chunked Parquet in ``/work/bench-data/warehouse``
(written once, reused). Side by side in one run, each path timed with the growth of the
process's peak RSS over the whole path (DuckDB's memory included: it runs in-process):

* **engine path** (DuckDB, ``memory_limit`` ``--duckdb-memory``, ``threads`` 2,
  spilling to ``/work/bench-data/duckdb-tmp``): ``EngineSource.open(duckdb, parquet
  glob).pattern_cohort(target, max_variables=all, dates=True)`` (variables, stratified
  split, subgroups, weighted patterns packed into integer words, and the training
  patients' precedence counts, all counted inside DuckDB) -> ``Distiller().fit`` on the
  weighted patterns -> ``EditSession`` first report (bootstrap CIs included) -> 30 edits,
  each edit -> report + CIs, p50/p95;
* **in-memory path** (today's): ``load_source(parquet)`` -> ``build_cohort`` ->
  ``Distiller().fit`` -> ``EditSession`` first report, on ``--memory-patients`` (the
  largest the distiller's own 2 GB memory budget accepts at 200 dated variables), beside
  the engine path on the same file;
* ``--spark``: the engine path through Spark local[2] on ``--spark-patients`` beside
  DuckDB on the same file.

Run: ``python benchmarks/warehouse_scale.py [--sizes 10000000 --memory-patients 200000 --spark]``
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_scale import edit_latency
from warehouse_data import DATA_ROOT, dataset

warnings.filterwarnings("ignore")


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> float:
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover
        pass
    return _rss_mb("VmRSS")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_path(name, steps):
    """Run ``steps`` (label, fn(previous) -> value) in order; time each, peak over all."""
    base = _reset_peak()
    out, times = None, {}
    t_all = time.perf_counter()
    for label, fn in steps:
        t0 = time.perf_counter()
        out = fn(out)
        times[label] = time.perf_counter() - t0
        print(f"    {label}: {times[label]:.1f} s (load {load()})", flush=True)
    total = time.perf_counter() - t_all
    peak = _rss_mb("VmHWM") - base
    print(f"  {name}: {total:.1f} s, peak +{peak:,.0f} MB", flush=True)
    return out, times, total, peak


def duckdb_source(data: Path, memory: str, parts: str = "*"):
    import duckdb

    from kg_editor.engines import DuckDBEngine, EngineSource, PersonsTable

    tmp = DATA_ROOT.parent / "duckdb-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": memory,
            "threads": 2,
            "temp_directory": str(tmp),
            "preserve_insertion_order": False,
        }
    )
    src = EngineSource.open(DuckDBEngine(con=con), str(data / "events" / f"{parts}.parquet"))
    con.execute(
        "CREATE VIEW persons AS SELECT * FROM "
        f"read_parquet('{data / 'persons' / f'{parts}.parquet'}')"
    )
    src.persons = PersonsTable("persons")
    return src


def spark_source(data: Path, parts: str):
    from pyspark.sql import SparkSession

    from kg_editor.engines import EngineSource, SparkEngine

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("kg-editor-warehouse")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.read.parquet(str(data / "events" / f"{parts}.parquet")).createOrReplaceTempView("events")
    spark.read.parquet(str(data / "persons" / f"{parts}.parquet")).createOrReplaceTempView(
        "persons"
    )
    return EngineSource.open(SparkEngine(session=spark), "events", "persons")


#: ``--distill-only``: the engine path stops after the distillation (no session).
DISTILL_ONLY = False
#: ``--memory-budget``: the engine path's ``Distiller(memory_budget_mb=...)`` (0: none).
BUDGET: float | None = 2048.0


def engine_steps(make_source, max_variables: int):
    from kg_editor.discovery.distill import Distiller
    from kg_editor.model.session import EditSession

    state = {}

    def cohort(_):
        state["src"] = make_source()
        return state["src"].pattern_cohort(target="TARGET", max_variables=max_variables, dates=True)

    def distill(pc):
        state["pc"] = pc
        state["distiller"] = Distiller(memory_budget_mb=BUDGET).fit(pc)
        return state["distiller"].graph_

    def report(graph):
        s = EditSession(state["pc"], graph)
        s.report.to_dict()
        return s

    steps = [("cohort (in the engine)", cohort), ("distill", distill), ("first report", report)]
    return state, steps[:2] if DISTILL_ONLY else steps


def memory_steps(events: Path, persons: Path, max_variables: int):
    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources import load_source
    from kg_editor.discovery.distill import Distiller
    from kg_editor.model.session import EditSession

    state = {}

    def cohort(_):
        src = load_source(str(events), persons=str(persons))
        return build_cohort(src, target="TARGET", max_variables=max_variables)

    def distill(c):
        state["cohort"] = c
        state["distiller"] = Distiller().fit(c)
        return state["distiller"].graph_

    def report(graph):
        s = EditSession(state["cohort"], graph)
        s.report.to_dict()
        return s

    return state, [("load + cohort", cohort), ("distill", distill), ("first report", report)]


def describe(session, distiller) -> str:
    rep = distiller.report_
    out = (
        f"{rep['variables']} variables, {rep['edges']} edges from {rep['candidates']} candidates, "
        f"distil {rep['timings']['total_s']:.1f} s"
    )
    if hasattr(session, "_train"):
        out += (
            f"; {session._train.n_rows:,} distinct training rows for {session._train.n:,} patients"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    ap.add_argument("--runs", type=int, default=1, help="runs of the largest engine size")
    ap.add_argument("--memory-patients", type=int, default=200_000)
    ap.add_argument("--max-variables", type=int, default=201)
    ap.add_argument("--duckdb-memory", default="2GB")
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--spark-patients", type=int, default=1_000_000)
    ap.add_argument(
        "--distill-only", action="store_true", help="engine path: cohort + distill, no report"
    )
    ap.add_argument(
        "--memory-budget", type=float, default=2048.0, help="engine Distiller budget, MB (0: none)"
    )
    args = ap.parse_args()
    global DISTILL_ONLY, BUDGET
    DISTILL_ONLY = args.distill_only
    BUDGET = args.memory_budget or None

    print(f"load average at start: {load()}")
    big = dataset(10_000_000)
    small = dataset(args.memory_patients)
    rows = []

    if args.memory_patients:
        n = args.memory_patients
        ev, pe = small / "events" / "part-000.parquet", small / "persons" / "part-000.parquet"
        print(f"\nin-memory path, {n:,} patients")
        st, steps = memory_steps(ev, pe, args.max_variables)
        s, times, total, peak = run_path("in memory", steps)
        print("   ", describe(s, st["distiller"]))
        rows.append(("in memory", n, times, total, peak, None))
        del s, st
        print(f"\nDuckDB engine path, {n:,} patients (the same file)")
        st, steps = engine_steps(
            lambda: duckdb_source(small, args.duckdb_memory, "part-000"), args.max_variables
        )
        s, times, total, peak = run_path("DuckDB", steps)
        print("   ", describe(s, st["distiller"]))
        rows.append(("DuckDB engine", n, times, total, peak, None))
        st["src"].engine.close()
        del s, st

    if args.spark:
        n = args.spark_patients
        parts = "part-000" if n == 1_000_000 else "*"
        for name, make in (
            ("DuckDB engine", lambda: duckdb_source(big, args.duckdb_memory, parts)),
            ("Spark local[2] engine", lambda: spark_source(big, parts)),
        ):
            print(f"\n{name}, {n:,} patients")
            st, steps = engine_steps(make, args.max_variables)
            s, times, total, peak = run_path(name, steps)
            print("   ", describe(s, st["distiller"]))
            rows.append((name, n, times, total, peak, None))
            if name.startswith("DuckDB"):
                st["src"].engine.close()
            del s, st

    for n in args.sizes:
        parts = "*" if n == 10_000_000 else f"part-{0:03d}" if n == 1_000_000 else None
        if parts is None:
            raise SystemExit("--sizes takes 1000000 or 10000000 (parts of the 10M set)")
        runs = args.runs if n == max(args.sizes) else 1
        for r in range(runs):
            print(f"\nDuckDB engine path, {n:,} patients, run {r + 1}/{runs}")
            st, steps = engine_steps(
                lambda parts=parts: duckdb_source(big, args.duckdb_memory, parts),
                args.max_variables,
            )
            s, times, total, peak = run_path("DuckDB", steps)
            print("   ", describe(s, st["distiller"]))
            lat = None
            if r == runs - 1 and args.edits and not DISTILL_ONLY:
                lat = edit_latency(s, "TARGET", n_edits=args.edits)
                print(f"    edit -> report + CIs p50 / p95: {lat[0]:.1f} / {lat[1]:.1f} ms")
            rows.append(("DuckDB engine", n, times, total, peak, lat))
            st["src"].engine.close()
            del s, st

    print(
        "\n| path | patients | cohort (s) | distill (s) | first report (s) | total (s) | peak MB | edit p50 / p95 (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, times, total, peak, lat in rows:
        t = [*times.values(), float("nan")]
        e = f"{lat[0]:.1f} / {lat[1]:.1f}" if lat else ""
        print(
            f"| {name} | {n:,} | {t[0]:.1f} | {t[1]:.1f} | {t[2]:.1f} | {total:.1f} | {peak:,.0f} | {e} |"
        )
    print(f"\nload average at end: {load()}")


if __name__ == "__main__":
    main()
