"""The tutorial notebook runs top to bottom (load, cohort, distil, session, edit, report)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "tutorial.ipynb"


@pytest.mark.slow
@pytest.mark.notebook
def test_tutorial_notebook_executes():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = "\n".join(
        o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "Held-out log-likelihood per patient" in outputs and "95% CI" in outputs
    assert (
        "CycleError - Adding Gastrointestinal hemorrhage -> " in outputs
        and "would create the cycle" in outputs
    )
    assert "history entries" in outputs
    assert "after the merge" in outputs and "'merge', 'split']" in outputs
