"""Synthetic warehouse-sized events as chunked Parquet (written once, reused).

``/work/bench-data/warehouse/n{N}/events/part-XXX.parquet`` and ``persons/part-XXX.parquet``,
one part per ``--chunk`` patients (default 1M), written with pyarrow without any pandas
object column: integer patient ids (as an OMOP ``person_id``), a dictionary-encoded code
(200 codes ``C000``..``C199`` plus ``TARGET``) and a ``date``. Each code has a Zipf-like
prevalence raised by a latent risk, 1-3 events per code present (about 10 events per
patient, so 10M patients give about 100M events); the target depends on the risk and on
``C000``-``C002``. Part ``k`` holds patients ``k * chunk ..`` and is generated from its own
seed, so the first part of the 10M set is also a 1M set.

Run: ``python benchmarks/warehouse_data.py --patients 10000000`` (prints the path).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["DATA_ROOT", "dataset", "write_part"]

DATA_ROOT = Path("/work/bench-data/warehouse")
CODES = 200


def write_part(out: Path, part: int, start: int, n: int, codes: int = CODES, seed: int = 0) -> int:
    """Write patients ``start .. start + n - 1`` as events/persons part ``part``; returns
    the number of events."""
    rng = np.random.default_rng([seed, part])
    risk = rng.random(n)
    base = 0.5 / np.arange(1, codes + 1) ** 0.8
    pats, cods, has = [], [], {}
    for j in range(codes):
        p = np.clip(base[j] * (0.4 + 1.2 * risk), 0, 1)
        hit = np.flatnonzero(rng.random(n) < p).astype(np.int32)
        if j < 3:
            has[j] = np.zeros(n, bool)
            has[j][hit] = True
        reps = rng.integers(1, 4, hit.size)
        pats.append(np.repeat(hit, reps))
        cods.append(np.full(int(reps.sum()), j, np.int16))
    logit = -3.0 + 2.5 * risk + 0.8 * has[0] + 0.6 * has[1] + 0.4 * has[2]
    tgt = np.flatnonzero(rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    pats.append(tgt)
    cods.append(np.full(tgt.size, codes, np.int16))
    patient = np.concatenate(pats)
    code = np.concatenate(cods)
    del pats, cods
    order = np.argsort(patient, kind="stable")
    patient, code = patient[order], code[order]
    days = rng.integers(0, 3650, patient.size).astype(np.int32) + int(
        np.datetime64("2012-01-01", "D").astype(np.int64)
    )
    names = pa.array([f"C{j:03d}" for j in range(codes)] + ["TARGET"])
    table = pa.table(
        {
            "patient_id": pa.array(patient.astype(np.int64) + start),
            "code": pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int32)), names),
            "date": pa.array(days, type=pa.int32()).cast(pa.date32()),
        }
    )
    (out / "events").mkdir(parents=True, exist_ok=True)
    (out / "persons").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / "events" / f"part-{part:03d}.parquet", row_group_size=1 << 20)
    persons = pa.table(
        {
            "patient_id": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "sex": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 2, n).astype(np.int32)), pa.array(["F", "M"])
            ),
            "birth_year": pa.array(rng.integers(1930, 2000, n).astype(np.int64)),
        }
    )
    pq.write_table(persons, out / "persons" / f"part-{part:03d}.parquet")
    return int(patient.size)


def dataset(patients: int, chunk: int = 1_000_000, root: Path = DATA_ROOT) -> Path:
    """The directory of the ``patients`` set, written part by part when missing (a part
    is written to a temporary name first, so an interrupted run is resumed)."""
    out = root / f"n{patients}"
    parts = (patients + chunk - 1) // chunk
    for k in range(parts):
        if (out / "persons" / f"part-{k:03d}.parquet").exists():
            continue
        t0 = time.perf_counter()
        n = min(chunk, patients - k * chunk)
        events = write_part(out, k, k * chunk, n)
        print(
            f"  part {k + 1}/{parts}: {n:,} patients, {events:,} events "
            f"in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    args = ap.parse_args()
    print(dataset(args.patients, args.chunk))


if __name__ == "__main__":
    main()
