"""kg-editor: correct a causal knowledge graph distilled from EHRs and see what each edit does.

Importing this package never imports Dash.
"""

from __future__ import annotations

from kg_editor.data.cohort import Cohort, Variable, build_cohort
from kg_editor.data.sources import EHRSource, load_source
from kg_editor.errors import (
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
from kg_editor.model.graph import (
    AddEdge,
    CausalGraph,
    Constraints,
    Edit,
    RemoveEdge,
    ReverseEdge,
    apply_edit,
)

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
