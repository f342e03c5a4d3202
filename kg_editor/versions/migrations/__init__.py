"""Alembic migrations of the kg-editor store (run programmatically by :class:`kg_editor.versions.store.Store`)."""

__all__: list[str] = []
