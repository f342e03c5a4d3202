"""Version numbers are unique within a project (guards concurrent writers on PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_versions_project_seq", "versions", ["project_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_versions_project_seq", table_name="versions")
