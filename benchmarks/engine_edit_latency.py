"""Edit -> report + bootstrap CIs on a DuckDB pattern session, at 1M patients by default.

The edit part of ``benchmarks/engine_scale.py`` alone (its events, graph and 30 edits),
with the Parquet files kept in ``--data`` between runs so that two versions of kg-editor
can be timed side by side on the same data: run it once per version, alternating, e.g.
``PYTHONPATH=/path/to/other/checkout python benchmarks/engine_edit_latency.py``.

Run: ``python benchmarks/engine_edit_latency.py [--patients 1000000] [--data /work/bench-data/edit-cost]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--codes", type=int, default=200)
    ap.add_argument("--max-variables", type=int, default=60)
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--data", default="/work/bench-data/edit-cost")
    args = ap.parse_args()

    import engine_scale as es

    import kg_editor
    from kg_editor.engines import EngineSource, PersonsTable
    from kg_editor.model.session import EditSession

    d = Path(args.data)
    d.mkdir(parents=True, exist_ok=True)
    evp = d / f"events_{args.patients}_{args.codes}.parquet"
    pep = d / f"persons_{args.patients}.parquet"
    if not evp.exists():
        es.make_events(args.patients, args.codes).to_parquet(evp, index=False)
    if not pep.exists():
        es.persons_of(args.patients).to_parquet(pep, index=False)
    print(f"kg_editor from {Path(kg_editor.__file__).parent}")
    load0 = os.getloadavg()[0]
    esrc = EngineSource.open("duckdb://", str(evp))
    esrc.engine.con.execute(  # type: ignore[attr-defined]
        f"CREATE OR REPLACE VIEW persons AS SELECT * FROM read_parquet('{pep}')"
    )
    esrc.persons = PersonsTable("persons")
    t0 = time.perf_counter()
    pc = esrc.pattern_cohort(target="TARGET", max_variables=args.max_variables)
    t1 = time.perf_counter()
    session = EditSession(pc, es.graph_for(pc.codes, "TARGET"))
    t2 = time.perf_counter()
    p50, p95 = es.edit_latency(session, "TARGET", n_edits=args.edits)
    print(
        f"{args.patients:,} patients: cohort {t1 - t0:.1f} s, open {t2 - t1:.1f} s; "
        f"{session._train.n_rows:,} / {session._test.n_rows:,} distinct train / held-out rows; "
        f"{args.edits} edits + CIs p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
        f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    esrc.engine.close()


if __name__ == "__main__":
    main()
