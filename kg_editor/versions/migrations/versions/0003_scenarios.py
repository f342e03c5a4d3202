"""Teaching scenarios: named findings with a question, saved with the graph they were
written for (project, editing session, graph version and a key of its edges).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("version_id", sa.String(32), nullable=True),
        sa.Column("graph_key", sa.String(64), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_scenarios_project", "scenarios", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_scenarios_project", table_name="scenarios")
    op.drop_table("scenarios")
