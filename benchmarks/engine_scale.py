"""Cohort + first report from an events Parquet file: in memory vs counted inside DuckDB.

Synthetic events (``--patients`` x ``--codes`` with Zipf-like prevalences, a latent risk
shared by the codes and a target that depends on it and on three codes) are written as
Parquet with text patient ids and dates. Then, side by side in one run, with time and peak
memory (growth of the process's peak RSS, DuckDB's memory included) per step:

* today's in-memory path, on ``--memory-patients`` patients (the largest it takes here in
  a few seconds): ``load_source(parquet)`` -> ``build_cohort`` -> ``EditSession`` first
  report;
* the engine path on the same file and on the full file: ``EngineSource.open("duckdb://",
  parquet).pattern_cohort(...)`` (variables, split, subgroups and patterns counted in
  DuckDB; no patient row leaves it) -> ``EditSession`` first report -> 30 edits (report +
  bootstrap CIs) p50/p95;
* ``--spark``: the engine path through Spark local[2] on the smaller file.

The graph is a star of the 5 most prevalent codes into the target plus a chain through
the next 10 (the report, not discovery, is timed here; ``benchmarks/warehouse_scale.py``
times cohort + distillation from the engine + first report at 10M patients).

Run: ``python benchmarks/engine_scale.py [--patients 1000000 --codes 200 --memory-patients 100000]``
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def step(label, fn, rows):
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover
        pass
    base = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = (_rss_kb("VmHWM") - base) / 1024
    rows.append((label, dt, peak))
    print(f"  {label}: {dt:.2f} s, peak +{peak:,.0f} MB", flush=True)
    return out


def make_events(n: int, codes: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.random(n)
    base = 0.5 / np.arange(1, codes + 1) ** 0.8
    pats, cods = [], []
    for j in range(codes):
        p = np.clip(base[j] * (0.4 + 1.2 * risk), 0, 1)
        hit = np.flatnonzero(rng.random(n) < p)
        reps = rng.integers(1, 3, hit.size)  # repeated events of the same code
        pats.append(np.repeat(hit, reps))
        cods.append(np.full(reps.sum(), j, np.int32))
    patient = np.concatenate(pats)
    code = np.concatenate(cods)
    has = {j: np.zeros(n, bool) for j in (0, 1, 2)}
    for j in (0, 1, 2):
        has[j][pats[j]] = True
    logit = -3.0 + 2.5 * risk + 0.8 * has[0] + 0.6 * has[1] + 0.4 * has[2]
    tgt = np.flatnonzero(rng.random(n) < 1 / (1 + np.exp(-logit)))
    patient = np.concatenate([patient, tgt])
    code = np.concatenate([code, np.full(tgt.size, codes, np.int32)])
    order = np.argsort(patient, kind="stable")
    patient, code = patient[order], code[order]
    days = rng.integers(0, 3650, patient.size).astype("timedelta64[D]")
    names = np.array([f"C{j:03d}" for j in range(codes)] + ["TARGET"])
    return pd.DataFrame(
        {
            "patient_id": np.char.add("P", np.char.zfill(patient.astype(str), 8)),
            "code": names[code],
            "date": np.datetime64("2012-01-01") + days,
        }
    )


def persons_of(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    return pd.DataFrame(
        {
            "patient_id": np.char.add("P", np.char.zfill(np.arange(n).astype(str), 8)),
            "sex": rng.choice(np.array(["F", "M"]), n),
            "birth_year": rng.integers(1930, 2000, n),
        }
    )


def graph_for(codes, target):
    from kg_editor.model.graph import CausalGraph

    others = [c for c in codes if c != target]
    edges = [(c, target) for c in others[:5]]
    edges += [(others[5 + i], others[6 + i]) for i in range(min(9, len(others) - 6))]
    return CausalGraph.from_edges(edges, nodes=codes)


def edit_latency(session, target, n_edits=30, seed=0):
    from kg_editor.errors import KGEditorError
    from kg_editor.model.graph import AddEdge, RemoveEdge

    rng = random.Random(seed)
    nodes = sorted(session.graph.nodes)
    lat = []
    while len(lat) < n_edits:
        if rng.random() < 0.5 and session.graph.edges:
            u, v = rng.choice(sorted(session.graph.edges))
            e = RemoveEdge(u, v)
        else:
            u = rng.choice(nodes)
            e = AddEdge(u, target) if rng.random() < 0.5 else AddEdge(*rng.sample(nodes, 2))
        try:
            t0 = time.perf_counter()
            session.apply(e).to_dict()
            lat.append(time.perf_counter() - t0)
        except KGEditorError:
            continue
    ms = np.array(lat) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--codes", type=int, default=200)
    ap.add_argument("--memory-patients", type=int, default=100_000)
    ap.add_argument("--max-variables", type=int, default=60)
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--spark-patients", type=int, default=None, help="default --memory-patients")
    args = ap.parse_args()

    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources import load_source
    from kg_editor.engines import EngineSource, SparkEngine
    from kg_editor.model.session import EditSession

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp = Path(tempfile.mkdtemp(prefix="kg-engine-bench-"))
    files = {}
    for n in sorted({args.memory_patients, args.patients, args.spark_patients or args.patients}):
        t0 = time.perf_counter()
        ev = make_events(n, args.codes)
        ev.to_parquet(tmp / f"events_{n}.parquet", index=False)
        persons_of(n).to_parquet(tmp / f"persons_{n}.parquet", index=False)
        files[n] = (tmp / f"events_{n}.parquet", tmp / f"persons_{n}.parquet", len(ev))
        print(
            f"wrote {n:,} patients x {args.codes} codes: {len(ev):,} events "
            f"({(tmp / f'events_{n}.parquet').stat().st_size / 1e6:.0f} MB Parquet) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        del ev
    rows: list = []
    summary = []
    n = args.memory_patients
    evp, pep, n_ev = files[n]
    print(f"\nin-memory path, {n:,} patients, {n_ev:,} events")
    src = step("load_source(parquet)", lambda: load_source(str(evp), persons=str(pep)), rows)
    cohort = step(
        "build_cohort",
        lambda: build_cohort(src, target="TARGET", max_variables=args.max_variables),
        rows,
    )
    graph = graph_for([c for c in cohort.codes if c not in ("sex", "age_band")], "TARGET")
    s = step("EditSession: fit + first report", lambda: EditSession(cohort, graph), rows)
    p50, p95 = edit_latency(s, "TARGET")
    summary.append(
        (
            "in memory",
            n,
            n_ev,
            sum(r[1] for r in rows[-3:]),
            max(r[2] for r in rows[-3:]),
            p50,
            p95,
            s._train.n_rows,
        )
    )
    src = cohort = s = None  # free the in-memory cohort
    engines = [("DuckDB", lambda: "duckdb://")]
    if args.spark:

        def spark_engine():
            from pyspark.sql import SparkSession

            session = (
                SparkSession.builder.master("local[2]")
                .appName("kg-editor-bench")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.memory", "4g")
                .config("spark.sql.shuffle.partitions", "8")
                .config("spark.sql.session.timeZone", "UTC")
                .getOrCreate()
            )
            return SparkEngine(session=session)

        engines.append(("Spark local[2]", spark_engine))
    for name, make in engines:
        sizes = sorted(files) if name == "DuckDB" else [args.spark_patients or args.memory_patients]
        for n in sizes:
            evp, pep, n_ev = files[n]
            print(f"\nengine path ({name}), {n:,} patients, {n_ev:,} events")
            if name == "DuckDB":
                esrc = EngineSource.open(make(), str(evp))
                con = esrc.engine.con  # type: ignore[attr-defined]
                con.execute(
                    f"CREATE OR REPLACE VIEW persons AS SELECT * FROM read_parquet('{pep}')"
                )
                from kg_editor.engines import PersonsTable

                esrc.persons = PersonsTable("persons")
            else:
                eng = make()
                spark = eng.spark  # type: ignore[attr-defined]
                spark.read.parquet(str(evp)).createOrReplaceTempView("events")
                spark.read.parquet(str(pep)).createOrReplaceTempView("persons")
                esrc = EngineSource.open(eng, "events", "persons")
            pc = step(
                "pattern_cohort (counted in the engine)",
                lambda esrc=esrc: esrc.pattern_cohort(
                    target="TARGET", max_variables=args.max_variables
                ),
                rows,
            )
            g = graph_for(pc.codes, "TARGET")
            s = step("EditSession: fit + first report", lambda pc=pc, g=g: EditSession(pc, g), rows)
            p50, p95 = edit_latency(s, "TARGET")
            summary.append(
                (
                    f"{name} engine",
                    n,
                    n_ev,
                    rows[-2][1] + rows[-1][1],
                    max(rows[-2][2], rows[-1][2]),
                    p50,
                    p95,
                    s._train.n_rows,
                )
            )
            esrc.engine.close()
    print(
        "\n| path | patients | events | cohort + first report (s) | peak MB | edit + CIs p50 / p95 (ms) | distinct train rows |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path, n, n_ev, t, peak, p50, p95, k in summary:
        print(
            f"| {path} | {n:,} | {n_ev:,} | {t:.1f} | {peak:,.0f} | {p50:.1f} / {p95:.1f} | {k:,} |"
        )
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
