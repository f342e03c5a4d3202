"""Execute notebooks/compare_versions.ipynb against a real store file and check what it
left in the store."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kg_editor.versions.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.notebook
def test_compare_versions_notebook_runs(tmp_path, monkeypatch):
    db = tmp_path / "nb.sqlite"
    monkeypatch.setenv("KG_EDITOR_NOTEBOOK_STORE", str(db))
    nb = nbformat.read(ROOT / "notebooks" / "compare_versions.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "1 edge added, 1 removed, 0 reversed" in outputs
    assert "saved" in outputs
    with Store(db) as store:
        project = store.get_project("asia-notebook")
        versions = store.list_versions(project.id)
        assert [v.author for v in versions] == ["distiller", "dr_a"]
        a, b = versions
        assert b.parent_id == a.id and len(b.edits) == 2
        assert (
            b.report["accuracy"]["loglik_per_patient"] < a.report["accuracy"]["loglik_per_patient"]
        )
        assert [e.action for e in store.audit(project.id)] == ["save", "edit", "edit", "save"]
