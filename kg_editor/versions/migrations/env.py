"""Alembic environment: runs on the connection :class:`kg_editor.versions.store.Store` passes in.

Never configures logging (the application owns it). Importing this file outside an
alembic run (e.g. ``pytest --doctest-modules``) does nothing.
"""

from __future__ import annotations

from alembic import context

__all__: list[str] = []


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
        from sqlalchemy import create_engine

        url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///store.sqlite"
        with create_engine(url).begin() as conn:
            context.configure(connection=conn, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if getattr(context, "config", None) is not None:  # set only while alembic runs this file
    _run()
