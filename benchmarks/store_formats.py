"""Store, diff/merge and format timings, side by side with their references.

Run: python benchmarks/store_formats.py
Prints, for networks bundled with pgmpy:
- save_version with SQLite synchronous=FULL (what the store uses: nothing committed is
  lost on a crash) against synchronous=NORMAL (faster, may lose the last commits on power
  loss), and load (get_version + graph parse);
- diff_graphs and merge_graphs on a graph with 10 edits on each of two branches;
- BIF writing/reading through kg_editor.formats.registry against pgmpy's BIFWriter/BIFReader
  called directly (the adapter's overhead), and the other formats' write+read times.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from kg_editor.adapters.pgmpy import from_pgmpy_model
from kg_editor.formats import read_graph, read_graph_with_model, write_graph
from kg_editor.model.fit import bundled_network
from kg_editor.model.graph import AddEdge, RemoveEdge, ReverseEdge, apply_edit
from kg_editor.versions.diff import diff_graphs, merge_graphs
from kg_editor.versions.store import Store


def timeit(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def random_edits(g, n, seed):
    rng = random.Random(seed)
    nodes = g.nodes
    done = 0
    while done < n:
        u, v = rng.sample(nodes, 2)
        kind = rng.choice([AddEdge, RemoveEdge, ReverseEdge])
        try:
            g = apply_edit(g, kind(u, v) if kind is AddEdge else kind(*rng.choice(g.edges)), None)
            done += 1
        except Exception:
            continue
    return g


def main() -> None:
    print(
        f"{'network':<11}{'nodes':>6}{'edges':>6} | {'save FULL ms':>12}{'NORMAL ms':>10}{'ratio':>7} | "
        f"{'load ms':>8} | {'diff ms':>8}{'merge ms':>9}"
    )
    for name in ("asia", "alarm", "hepar2", "pathfinder"):
        model = bundled_network(name)
        g = from_pgmpy_model(model)
        res = {}
        for sync in ("FULL", "NORMAL"):
            d = Path(tempfile.mkdtemp())
            s = Store(d / "b.sqlite")
            if sync == "NORMAL":
                from sqlalchemy import event

                event.listen(
                    s.engine, "connect", lambda c, _r: c.execute("PRAGMA synchronous=NORMAL")
                )
                s.engine.dispose()
            p = s.ensure_project("bench", "fp")
            res[sync] = timeit(
                lambda s=s, p=p, g=g: s.save_version(
                    p.id, g, author="b", report={"accuracy": {"x": 1.0}}
                ),
                15,
            )
            if sync == "FULL":
                vid = s.list_versions(p.id)[-1].id
                res["load"] = timeit(lambda s=s, vid=vid: s.get_version(vid).graph)
            s.close()
        ours, theirs = random_edits(g, 10, 1), random_edits(g, 10, 2)
        t_diff = timeit(lambda o=ours, t=theirs: diff_graphs(o, t))
        t_merge = timeit(lambda g=g, o=ours, t=theirs: merge_graphs(g, o, t, {}))
        print(
            f"{name:<11}{len(g):>6}{len(g.edges):>6} | {res['FULL']:>12.2f}{res['NORMAL']:>10.2f}"
            f"{res['FULL'] / res['NORMAL']:>7.2f} | {res['load']:>8.2f} | {t_diff:>8.2f}{t_merge:>9.2f}"
        )

    print()
    from pgmpy.readwrite import BIFReader, BIFWriter

    model = bundled_network("alarm")
    g = from_pgmpy_model(model)
    text = write_graph(g, "bif", cpds=model)
    ours_w = timeit(lambda: write_graph(g, "bif", cpds=model), 5)
    pg_w = timeit(lambda: str(BIFWriter(model)), 5)
    ours_r = timeit(lambda: read_graph_with_model(text, "bif"), 5)
    pg_r = timeit(lambda: BIFReader(string=text, include_properties=True).get_model(), 5)
    print(
        f"alarm BIF write: kg-editor {ours_w:.1f} ms, pgmpy {pg_w:.1f} ms, ratio {ours_w / pg_w:.2f}"
    )
    print(
        f"alarm BIF read:  kg-editor {ours_r:.1f} ms, pgmpy {pg_r:.1f} ms, ratio {ours_r / pg_r:.2f}"
    )
    for fmt in ("json", "dagitty", "graphml", "gml", "dot", "csv"):
        t = write_graph(g, fmt)
        tw = timeit(lambda fmt=fmt: write_graph(g, fmt))
        tr = timeit(lambda fmt=fmt, t=t: read_graph(t, fmt))
        print(f"alarm {fmt:<8} write {tw:6.2f} ms  read {tr:6.2f} ms")


if __name__ == "__main__":
    main()
