"""Grades and rosters: platform and resource grading fields, the score outbox, service tokens, contexts, members.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding columns needs no table copy on SQLite: batch mode alters in place when it can.
    with op.batch_alter_table("platforms") as batch:
        batch.add_column(sa.Column("send_deployment_id", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("preserve_manual_grades", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("outcome_rules", sa.Text(), nullable=True))
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("score_maximum", sa.Double(), nullable=True))

    op.create_table(
        "score_jobs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("launch_id", sa.String(), nullable=False),
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("score", sa.Text(), nullable=False),
        sa.Column("target_lineitem_url", sa.String(), nullable=True),
        sa.Column("target_lineitems_url", sa.String(), nullable=True),
        sa.Column("target_resource_link_id", sa.String(), nullable=True),
        sa.Column("target_resource_id", sa.String(), nullable=True),
        sa.Column("target_label", sa.String(), nullable=True),
        sa.Column("target_score_maximum", sa.Double(), nullable=True),
        sa.Column("target_deployment_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_until", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_jobs")),
    )
    op.create_index(op.f("ix_score_jobs_status_next_attempt_at"), "score_jobs", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_score_jobs_launch_id_created_at"), "score_jobs", ["launch_id", "created_at"])
    op.create_index(op.f("ix_score_jobs_created_at"), "score_jobs", ["created_at"])
    op.create_index(op.f("ix_score_jobs_platform_id_created_at"), "score_jobs", ["platform_id", "created_at"])
    op.create_index(op.f("ix_score_jobs_platform_id_user_id"), "score_jobs", ["platform_id", "user_id"])

    op.create_table(
        "service_tokens",
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("scope_key", sa.String(), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("platform_id", "scope_key", name=op.f("pk_service_tokens")),
    )

    op.create_table(
        "contexts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("context_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("memberships_url", sa.String(), nullable=True),
        sa.Column("deployment_id", sa.String(), nullable=True),
        sa.Column("synced_at", sa.Double(), nullable=True),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("sync_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_contexts_platform_id_platforms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contexts")),
        sa.UniqueConstraint("platform_id", "context_id", name=op.f("uq_contexts_platform_id_context_id")),
    )
    op.create_index(op.f("ix_contexts_updated_at"), "contexts", ["updated_at"])

    op.create_table(
        "members",
        sa.Column("context_key", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("given_name", sa.String(), nullable=True),
        sa.Column("family_name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("picture", sa.String(), nullable=True),
        sa.Column("lis_person_sourcedid", sa.String(), nullable=True),
        sa.Column("lti11_legacy_user_id", sa.String(), nullable=True),
        sa.Column("sync_id", sa.String(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_key"], ["contexts.id"], name=op.f("fk_members_context_key_contexts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("context_key", "user_id", name=op.f("pk_members")),
    )
    op.create_index(
        op.f("ix_members_context_key_family_name_name_user_id"),
        "members",
        ["context_key", "family_name", "name", "user_id"],
    )


def downgrade() -> None:
    for table in ("members", "contexts", "service_tokens", "score_jobs"):
        op.drop_table(table)
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("score_maximum")
    with op.batch_alter_table("platforms") as batch:
        batch.drop_column("outcome_rules")
        batch.drop_column("preserve_manual_grades")
        batch.drop_column("send_deployment_id")
