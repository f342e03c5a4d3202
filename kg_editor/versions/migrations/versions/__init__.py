"""Alembic revision scripts of the kg-editor store."""

__all__: list[str] = []
