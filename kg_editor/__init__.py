"""kg-editor: correct a causal knowledge graph distilled from EHRs and see what each edit does.

Importing this package never imports Dash.
"""

from __future__ import annotations

from .cohort import Cohort, Variable, build_cohort
from .errors import (
    ConstraintError,
    CycleError,
    DataSourceError,
    EdgeError,
    FormatError,
    KGEditorError,
    NotFittedError,
    SchemaError,
    StoreError,
    UnknownVariableError,
)
from .graph import AddEdge, CausalGraph, Constraints, Edit, RemoveEdge, ReverseEdge, apply_edit
from .sources import EHRSource, load_source

__version__ = "0.1.0"

__all__ = [
    "AddEdge",
    "CausalGraph",
    "Cohort",
    "ConstraintError",
    "Constraints",
    "CycleError",
    "DataSourceError",
    "EHRSource",
    "EdgeError",
    "Edit",
    "FormatError",
    "KGEditorError",
    "NotFittedError",
    "RemoveEdge",
    "ReverseEdge",
    "SchemaError",
    "StoreError",
    "UnknownVariableError",
    "Variable",
    "__version__",
    "apply_edit",
    "build_cohort",
    "load_source",
]
