"""Whose editing session: an ``owner`` on every live session (the signed-in account or
the name typed in the editor), so a person can list and resume their sessions. Filled
for existing sessions from the author they were opened with. Additive only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("owner", sa.String(200), nullable=True))
    op.create_index("ix_sessions_owner", "sessions", ["project_id", "owner"])
    conn = op.get_bind()
    sessions = sa.table(
        "sessions", sa.column("id", sa.String), sa.column("state", sa.JSON), sa.column("owner")
    )
    for sid, state in conn.execute(sa.select(sessions.c.id, sessions.c.state)).all():
        author = str(((state or {}).get("settings") or {}).get("author") or "").strip()
        if author and author != "anonymous":
            conn.execute(sessions.update().where(sessions.c.id == sid).values(owner=author[:200]))


def downgrade() -> None:
    op.drop_index("ix_sessions_owner", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("owner")
