"""Concept sets and an index date with windows: what applying them inside DuckDB costs.

The events of ``benchmarks/engine_scale.py`` (``--patients`` x ``--codes``, Zipf-like
prevalences, dates over ten years, a target) are written as Parquet. Ten concept sets
merge the 50 most prevalent codes five by five (by exact code, one by pattern), the
index is the first event of the first set, with a two-year look-back and a one-year
outcome window, the age taken at the index. In one run, medians of ``--runs`` each:

* on ``--memory-patients``: ``build_cohort`` in memory (after ``load_source``) and
  ``EngineSource.cohort`` in DuckDB with the same options, checked equal (fingerprint);
* on ``--patients``: ``EngineSource.pattern_cohort`` in DuckDB without and with the
  options (no patient row leaves DuckDB).

Run: ``python benchmarks/engine_concepts.py [--patients 1000000 --memory-patients 100000 --runs 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_scale import make_events, persons_of

warnings.filterwarnings("ignore")


def concept_sets():
    from kg_editor.data.concepts import ConceptSets

    raw: dict = {f"Group {g}": {"codes": [f"C{5 * g + k:03d}" for k in range(5)]} for g in range(9)}
    raw["Group 9"] = {"patterns": ["^C04[5-9]$"]}  # C045 .. C049 by a regular expression
    return ConceptSets.from_dict(raw)


OPTIONS = {"index": "Group 0", "lookback_days": 730, "outcome_days": 365}


def timed(fn, runs: int) -> tuple[float, list[float], object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--memory-patients", type=int, default=100_000)
    ap.add_argument("--codes", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=None, help="folder for the Parquet files (default: a temp)")
    args = ap.parse_args()

    from kg_editor.data.cohort import build_cohort
    from kg_editor.data.sources import load_source
    from kg_editor.engines import EngineSource

    root = Path(args.data or tempfile.mkdtemp(prefix="kg-concepts-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    files = {}
    for n in sorted({args.memory_patients, args.patients}):
        evp, pep = root / f"events_{n}.parquet", root / f"persons_{n}.parquet"
        if not evp.exists():
            make_events(n, args.codes).to_parquet(evp, index=False)
            persons_of(n).to_parquet(pep, index=False)
        files[n] = (evp, pep)
    sets = concept_sets()
    opts = dict(concepts=sets, **OPTIONS)
    print(f"load average at start: {load()}")

    n = args.memory_patients
    evp, pep = files[n]
    src = load_source(str(evp), persons=str(pep))
    print(f"\n{n:,} patients, {len(src.events):,} events")
    mem, mem_t, ref = timed(
        lambda: build_cohort(src, target="TARGET", min_patients=20, **opts), args.runs
    )
    eng = EngineSource.open("duckdb://", str(evp), str(pep))
    duck, duck_t, got = timed(
        lambda: eng.cohort(target="TARGET", min_patients=20, **opts), args.runs
    )
    assert got.fingerprint() == ref.fingerprint(), "engine and in-memory cohorts differ"
    print(
        f"build_cohort in memory (concepts + index + windows): median {mem:.2f} s {mem_t}\n"
        f"EngineSource.cohort in DuckDB, same options: median {duck:.2f} s {duck_t}; "
        f"equal fingerprints ({ref.n_patients:,} patients, {len(ref.codes)} variables)"
    )
    print(f"load average: {load()}")
    src = ref = got = None  # free the in-memory cohort

    n = args.patients
    evp, pep = files[n]
    eng = EngineSource.open("duckdb://", str(evp), str(pep))
    plain, plain_t, pc0 = timed(
        lambda: eng.pattern_cohort(target="TARGET", min_patients=20), args.runs
    )
    full, full_t, pc1 = timed(
        lambda: eng.pattern_cohort(target="TARGET", min_patients=20, **opts), args.runs
    )
    print(
        f"\n{n:,} patients: pattern_cohort in DuckDB without options: median {plain:.2f} s "
        f"{plain_t} ({pc0.n_patients:,} patients)\n"
        f"with concepts + index + windows: median {full:.2f} s {full_t} "
        f"({pc1.n_patients:,} patients, {len(pc1.codes)} variables); ratio {full / plain:.2f}"
    )
    print(f"load average at end: {load()}")


if __name__ == "__main__":
    main()
