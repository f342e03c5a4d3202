"""The layout rules, checked by walking every module's imports (no module is imported).

* pgmpy is imported by one module, the adapter;
* no module under ``kg_editor/ui`` builds a cohort, a distiller or a store itself (they
  call the workspace), and neither do the CLI commands;
* the core never imports Dash.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kg_editor"

#: Modules (and the names in them) that build the pipeline's objects.
BUILDERS = {
    "kg_editor.data.cohort": {"build_cohort"},
    "kg_editor.data.sources": {"load_source"},
    "kg_editor.data.sources.base": {"load_source"},
    "kg_editor.discovery.distill": {"Distiller"},
    "kg_editor.versions.store": {"Store"},
}
#: Constructors the shells leave to the workspace (sessions included).
CONSTRUCTORS = {"build_cohort", "load_source", "Distiller", "Store", "EditSession"}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _imports(path: Path) -> list[tuple[str, set[str]]]:
    """``(module, names)`` of every import statement in the file, wherever it is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, set[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, set()) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, {a.name for a in node.names}))
    return found


def test_the_walk_sees_the_whole_package():
    names = {m for m, _ in _modules()}
    assert {"kg_editor.workspace", "kg_editor.ui.app", "kg_editor.adapters.pgmpy"} <= names
    assert len(names) > 60


def test_pgmpy_is_imported_by_the_adapter_alone():
    importers = {
        module
        for module, path in _modules()
        for imported, _ in _imports(path)
        if imported == "pgmpy" or imported.startswith("pgmpy.")
    }
    assert importers == {"kg_editor.adapters.pgmpy"}


@pytest.mark.parametrize("shell", ["kg_editor.ui", "kg_editor.commands"])
def test_shells_build_nothing_themselves(shell):
    offenders = []
    for module, path in _modules():
        if not (module == shell or module.startswith(shell + ".")):
            continue
        for imported, names in _imports(path):
            bad = BUILDERS.get(imported)
            if bad is None:
                continue
            if not names or names & bad:
                offenders.append(f"{module} imports {sorted(names & bad) or imported}")
    assert offenders == [], "the UI and the CLI call kg_editor.workspace instead: " + "; ".join(
        offenders
    )


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func  # bare names: the shells import no builder module to call through
            if isinstance(f, ast.Name):
                out.add(f.id)
    return out


@pytest.mark.parametrize("shell", ["kg_editor.ui", "kg_editor.commands"])
def test_shells_construct_no_pipeline_object(shell):
    offenders = {
        module: sorted(_calls(path) & CONSTRUCTORS)
        for module, path in _modules()
        if (module == shell or module.startswith(shell + ".")) and _calls(path) & CONSTRUCTORS
    }
    assert offenders == {}


def test_the_core_never_imports_dash():
    shells = ("kg_editor.ui", "kg_editor.commands", "kg_editor.cli")
    offenders = [
        module
        for module, path in _modules()
        if not module.startswith(shells)
        for imported, _ in _imports(path)
        if imported.split(".")[0] in ("dash", "dash_cytoscape", "flask")
    ]
    assert offenders == []


def test_the_walk_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f():\n    from pgmpy.models import DiscreteBayesianNetwork\n"
        "    from kg_editor.versions.store import Store\n"
    )
    found = dict(_imports(bad))
    assert "pgmpy.models" in found and found["kg_editor.versions.store"] == {"Store"}
    bad.write_text("def g(url):\n    return Store(url), Distiller().fit(c), dcc.Store(id=1)\n")
    assert _calls(bad) & CONSTRUCTORS == {"Store", "Distiller"}


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["export", "--help"]])
def test_cli_start_up_imports_no_heavy_library(argv):
    """``kg-editor --version`` / ``--help`` stay fast: no command module imports pandas,
    numpy, networkx, pgmpy or Dash at import time (see benchmarks/cli_startup.py)."""
    import os
    import subprocess
    import sys

    heavy = ("pandas", "numpy", "networkx", "pgmpy", "dash", "sqlalchemy", "numba", "scipy")
    code = (
        "import sys\nfrom kg_editor.cli import main\ntry:\n    main(sys.argv[1:])\n"
        "except SystemExit:\n    pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)\n"
    )
    # this checkout's package, whichever one the environment has installed
    path = os.pathsep.join(p for p in (str(PACKAGE.parent), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr
