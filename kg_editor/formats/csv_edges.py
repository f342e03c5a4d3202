"""CSV edge list: one row per edge (source, target, labels, provenance, endorsement, evidence)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import networkx as nx

from kg_editor.errors import FormatError
from kg_editor.formats.registry import GraphFormat, register_format
from kg_editor.model.graph import CausalGraph

__all__: list[str] = []

_CSV_COLUMNS = (
    "source",
    "target",
    "source_label",
    "target_label",
    "provenance",
    "endorsed",
    "orientation",
    "evidence",
)
_SOURCE_ALIASES = ("source", "from", "cause", "parent", "src")
_TARGET_ALIASES = ("target", "to", "effect", "child", "dst")


def _write_csv(graph: CausalGraph, _cpds: Any) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_COLUMNS)
    for u, v in graph.edges:
        a = graph.edge_attrs(u, v)
        w.writerow(
            [
                u,
                v,
                graph.label(u),
                graph.label(v),
                a.get("provenance", ""),
                str(bool(a.get("endorsed", False))).lower(),
                a.get("orientation", "") or "",
                json.dumps(a.get("evidence") or {}, default=str) if a.get("evidence") else "",
            ]
        )
    connected = {n for e in graph.edges for n in e}
    for n in graph.nodes:
        if n not in connected:  # isolated variables: a row with an empty target
            w.writerow([n, "", graph.label(n), "", "", "", "", ""])
    return buf.getvalue()


def _read_csv(text: str) -> tuple[CausalGraph, Any]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows and not text.strip():
        raise FormatError("The CSV edge list is empty.")
    header = {h.strip().lower(): h for h in (csv.DictReader(io.StringIO(text)).fieldnames or [])}
    s_col = next((header[a] for a in _SOURCE_ALIASES if a in header), None)
    t_col = next((header[a] for a in _TARGET_ALIASES if a in header), None)
    if s_col is None or t_col is None:
        raise FormatError(
            f"The CSV edge list needs a source and a target column (found: {', '.join(header.values())})."
        )
    g = nx.DiGraph()
    for i, r in enumerate(rows, start=2):
        u = (r.get(s_col) or "").strip()
        v = (r.get(t_col) or "").strip()
        if not u:
            raise FormatError(f"CSV edge list row {i}: the source is empty.")
        if u not in g:
            g.add_node(u, label=(r.get("source_label") or u).strip() or u)
        if not v:
            continue
        if v not in g:
            g.add_node(v, label=(r.get("target_label") or v).strip() or v)
        ev: dict[str, Any] = {}
        if r.get("evidence"):
            try:
                ev = json.loads(r["evidence"])
            except json.JSONDecodeError as exc:
                raise FormatError(
                    f"CSV edge list row {i}: the evidence column is not JSON ({exc})."
                ) from exc
        attrs: dict[str, Any] = {
            "provenance": (r.get("provenance") or "imported").strip() or "imported",
            "endorsed": (r.get("endorsed") or "").strip().lower() in ("true", "1", "yes"),
            "evidence": ev,
            "history": [],
        }
        if r.get("orientation"):
            attrs["orientation"] = r["orientation"]
        if g.has_edge(u, v):
            raise FormatError(f"CSV edge list row {i}: the edge {u} -> {v} is listed twice.")
        g.add_edge(u, v, **attrs)
    return CausalGraph(g), None


register_format(GraphFormat("csv", (".csv",), _read_csv, _write_csv, "CSV edge list"))
