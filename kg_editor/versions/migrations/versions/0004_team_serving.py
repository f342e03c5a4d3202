"""Serving a team: local accounts, sign-in and rate-limit events, server settings, a
revision on every live session (no lost updates), reviewers' votes on edges and
proposals waiting for a reviewer on a protected branch. Additive only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "auth_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_auth_events_kind_key", "auth_events", ["kind", "key", "created"])
    op.create_table(
        "server_settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("round", sa.String(64), nullable=False, server_default=""),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("vote", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "uq_votes_edge_reviewer",
        "votes",
        ["project_id", "round", "source", "target", "reviewer"],
        unique=True,
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(32), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("version_id", sa.String(32), sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(64)),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("merged_id", sa.String(32)),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_proposals_project", "proposals", ["project_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_proposals_project", table_name="proposals")
    op.drop_table("proposals")
    op.drop_index("uq_votes_edge_reviewer", table_name="votes")
    op.drop_table("votes")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("revision")
    op.drop_table("server_settings")
    op.drop_index("ix_auth_events_kind_key", table_name="auth_events")
    op.drop_table("auth_events")
    op.drop_table("accounts")
