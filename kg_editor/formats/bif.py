"""BIF 0.15 and XMLBIF 0.3, with probability tables, through the pgmpy adapter."""

from __future__ import annotations

from typing import Any

from kg_editor.formats.registry import GraphFormat, register_format
from kg_editor.model.graph import CausalGraph

__all__: list[str] = []


def _read_bif(text: str) -> tuple[CausalGraph, Any]:
    from kg_editor.adapters.pgmpy import read_bif

    return read_bif(text)


def _write_bif(graph: CausalGraph, cpds: Any) -> str:
    from kg_editor.adapters.pgmpy import write_bif

    return write_bif(graph, cpds)


def _read_xmlbif(text: str) -> tuple[CausalGraph, Any]:
    from kg_editor.adapters.pgmpy import read_xmlbif

    return read_xmlbif(text)


def _write_xmlbif(graph: CausalGraph, cpds: Any) -> str:
    from kg_editor.adapters.pgmpy import write_xmlbif

    return write_xmlbif(graph, cpds)


register_format(
    GraphFormat(
        "bif", (".bif",), _read_bif, _write_bif, "Bayesian Interchange Format 0.15 with CPDs", True
    )
)
register_format(
    GraphFormat(
        "xmlbif", (".xmlbif", ".xml"), _read_xmlbif, _write_xmlbif, "XMLBIF 0.3 with CPDs", True
    )
)
