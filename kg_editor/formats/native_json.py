"""The kg-editor JSON graph format (lossless): graph, evidence, provenance and metadata."""

from __future__ import annotations

from typing import Any

from kg_editor.formats.registry import GraphFormat, register_format
from kg_editor.model.graph import CausalGraph

__all__: list[str] = []


def _read_json(text: str) -> tuple[CausalGraph, Any]:
    return CausalGraph.from_json(text), None


def _write_json(graph: CausalGraph, _cpds: Any) -> str:
    return graph.to_json() + "\n"


register_format(
    GraphFormat(
        "json",
        (".json", ".kg.json"),
        _read_json,
        _write_json,
        "kg-editor graph format v1 (lossless)",
    )
)
