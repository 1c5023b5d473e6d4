"""Deep linking and cookie-less launches: picker/review/custom/tag on resources, deep-link sessions,
and the platform-storage frame of a login state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("picker", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("review_url", sa.String(), nullable=True))
        batch.add_column(sa.Column("custom", sa.Text(), nullable=True))
        batch.add_column(sa.Column("tag", sa.String(), nullable=True))
    with op.batch_alter_table("login_states") as batch:
        batch.add_column(sa.Column("storage_target", sa.String(), nullable=True))
    op.create_table(
        "deep_link_sessions",
        sa.Column("launch_id", sa.String(), nullable=False),
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("deployment_id", sa.String(), nullable=False),
        sa.Column("resource_slug", sa.String(), nullable=True),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("answered_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("launch_id", name=op.f("pk_deep_link_sessions")),
    )
    op.create_index(op.f("ix_deep_link_sessions_expires_at"), "deep_link_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_deep_link_sessions_expires_at"), table_name="deep_link_sessions")
    op.drop_table("deep_link_sessions")
    with op.batch_alter_table("login_states") as batch:
        batch.drop_column("storage_target")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("tag")
        batch.drop_column("custom")
        batch.drop_column("review_url")
        batch.drop_column("picker")
