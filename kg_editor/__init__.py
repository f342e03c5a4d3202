"""kg-editor: correct a causal knowledge graph distilled from EHRs and see what each edit does.

Importing this package never imports Dash, and imports pandas, networkx and the rest only
when one of the names below is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Public names -> the module that defines them. They are imported on first use, so
# ``import kg_editor`` (and ``kg-editor --version``) does not load pandas or networkx.
_LAZY = {
    **dict.fromkeys(("Cohort", "Variable", "build_cohort"), "kg_editor.data.cohort"),
    **dict.fromkeys(("EHRSource", "load_source"), "kg_editor.data.sources"),
    **dict.fromkeys(
        (
            "ConstraintError",
            "CycleError",
            "DataSourceError",
            "EdgeError",
            "FormatError",
            "KGEditorError",
            "NotFittedError",
            "SchemaError",
            "StoreError",
            "UnknownVariableError",
        ),
        "kg_editor.errors",
    ),
    **dict.fromkeys(
        (
            "AddEdge",
            "CausalGraph",
            "Constraints",
            "Edit",
            "RemoveEdge",
            "ReverseEdge",
            "apply_edit",
        ),
        "kg_editor.model.graph",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kg_editor' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
