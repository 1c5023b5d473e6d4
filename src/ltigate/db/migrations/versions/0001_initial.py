"""The initial schema: platforms, deployments, resources, login states, launches, tool keys, API keys.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("issuer", sa.String(), nullable=False),
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("auth_url", sa.String(), nullable=False),
        sa.Column("token_url", sa.String(), nullable=False),
        sa.Column("jwks_url", sa.String(), nullable=False),
        sa.Column("token_audience", sa.String(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("grade_passback", sa.Boolean(), nullable=False),
        sa.Column("licence_note", sa.Text(), nullable=False),
        sa.Column("deployment_policy", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_platforms_issuer_client_id")),
    )
    op.create_index(op.f("ix_platforms_issuer"), "platforms", ["issuer"])

    op.create_table(
        "deployments",
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("deployment_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_deployments_platform_id_platforms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("platform_id", "deployment_id", name=op.f("pk_deployments")),
    )

    op.create_table(
        "resources",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("app_url", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint("slug", name=op.f("uq_resources_slug")),
    )

    op.create_table(
        "login_states",
        sa.Column("state_hash", sa.String(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=False),
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("target_link_uri", sa.String(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("consumed_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_login_states")),
    )
    op.create_index(op.f("ix_login_states_expires_at"), "login_states", ["expires_at"])

    op.create_table(
        "launches",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("platform_id", sa.String(), nullable=True),
        sa.Column("issuer", sa.String(), nullable=True),
        sa.Column("client_id", sa.String(), nullable=True),
        sa.Column("deployment_id", sa.String(), nullable=True),
        sa.Column("message_type", sa.String(), nullable=True),
        sa.Column("sub", sa.String(), nullable=True),
        sa.Column("user_name", sa.String(), nullable=True),
        sa.Column("context_id", sa.String(), nullable=True),
        sa.Column("resource_link_id", sa.String(), nullable=True),
        sa.Column("resource_slug", sa.String(), nullable=True),
        sa.Column("claims", sa.Text(), nullable=True),
        sa.Column("ticket_jti", sa.String(), nullable=True),
        sa.Column("ticket_redeemed_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_launches")),
    )
    op.create_index(op.f("ix_launches_created_at"), "launches", ["created_at"])
    op.create_index(op.f("ix_launches_outcome_created_at"), "launches", ["outcome", "created_at"])
    op.create_index(op.f("ix_launches_error_code_created_at"), "launches", ["error_code", "created_at"])
    op.create_index(op.f("ix_launches_platform_id_created_at"), "launches", ["platform_id", "created_at"])
    op.create_index(op.f("ix_launches_sub_created_at"), "launches", ["sub", "created_at"])

    op.create_table(
        "tool_keys",
        sa.Column("kid", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("alg", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("activated_at", sa.Double(), nullable=True),
        sa.Column("retire_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_tool_keys")),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_used_at", sa.Double(), nullable=True),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )


def downgrade() -> None:
    for table in ("api_keys", "tool_keys", "launches", "login_states", "resources", "deployments", "platforms"):
        op.drop_table(table)
