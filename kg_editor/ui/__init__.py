"""The web editor (Dash + Cytoscape). Importing :mod:`kg_editor` never imports this.

Use :func:`create_app` (or ``kg-editor serve``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the editor app; see :func:`kg_editor.ui.app.create_app`."""
    from kg_editor.ui.app import create_app as _create

    return _create(*args, **kwargs)
