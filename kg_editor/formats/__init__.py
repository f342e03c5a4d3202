"""Graph file formats: one registry (:mod:`kg_editor.formats.registry`), one module per format.

Importing this package registers the built-in formats: ``json`` (ours, lossless),
``bif`` and ``xmlbif`` (with probability tables), ``dagitty``, ``graphml``, ``gml``,
``dot`` and ``csv``. A new format calls :func:`register_format`, as the built-ins do.
"""

from __future__ import annotations

# The built-in formats register themselves on import, through the same hook as any other.
from kg_editor.formats import bif, csv_edges, dagitty, dot, graphml, native_json
from kg_editor.formats.dagitty import DAGITTY_ROLES
from kg_editor.formats.registry import (
    GraphFormat,
    align_to_cohort,
    check_against_cohort,
    format_for_path,
    get_format,
    list_formats,
    read_graph,
    read_graph_with_model,
    register_format,
    write_graph,
)

__all__ = [
    "DAGITTY_ROLES",
    "GraphFormat",
    "align_to_cohort",
    "bif",
    "check_against_cohort",
    "csv_edges",
    "dagitty",
    "dot",
    "format_for_path",
    "get_format",
    "graphml",
    "list_formats",
    "native_json",
    "read_graph",
    "read_graph_with_model",
    "register_format",
    "write_graph",
]
