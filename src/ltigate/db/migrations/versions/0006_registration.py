"""Dynamic Registration: platforms that wait for approval and how they were registered, one-time registration
links (stored as hashes), and the registration attempt log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("platforms") as batch:
        batch.add_column(sa.Column("awaiting_approval", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("registered_via", sa.String(), server_default="manual", nullable=False))
        batch.add_column(sa.Column("product_family_code", sa.String(), nullable=True))
    op.create_table(
        "registration_links",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("used_at", sa.Double(), nullable=True),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.Column("platform_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_links")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_registration_links_secret_hash")),
    )
    op.create_index(op.f("ix_registration_links_created_at"), "registration_links", ["created_at"])
    op.create_table(
        "registration_attempts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("configuration_url", sa.String(), nullable=True),
        sa.Column("issuer", sa.String(), nullable=True),
        sa.Column("client_id", sa.String(), nullable=True),
        sa.Column("product_family_code", sa.String(), nullable=True),
        sa.Column("platform_id", sa.String(), nullable=True),
        sa.Column("link_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_attempts")),
    )
    op.create_index(op.f("ix_registration_attempts_created_at"), "registration_attempts", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_registration_attempts_created_at"), table_name="registration_attempts")
    op.drop_table("registration_attempts")
    op.drop_index(op.f("ix_registration_links_created_at"), table_name="registration_links")
    op.drop_table("registration_links")
    with op.batch_alter_table("platforms") as batch:
        batch.drop_column("product_family_code")
        batch.drop_column("registered_via")
        batch.drop_column("awaiting_approval")
