"""Alembic migrations of the kg-editor store (run programmatically by :class:`kg_editor.store.Store`)."""

__all__: list[str] = []
