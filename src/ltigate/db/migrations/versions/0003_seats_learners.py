"""Learner accounts and seats: learners, seats, the platforms' seats_used counter, launches.learner_id.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No seats exist yet, so every platform's counter starts at 0.
    with op.batch_alter_table("platforms") as batch:
        batch.add_column(sa.Column("seats_used", sa.Integer(), server_default=sa.text("0"), nullable=False))
    with op.batch_alter_table("launches") as batch:
        batch.add_column(sa.Column("learner_id", sa.String(), nullable=True))

    op.create_table(
        "learners",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("sub", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("given_name", sa.String(), nullable=True),
        sa.Column("family_name", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("picture", sa.String(), nullable=True),
        sa.Column("lti11_user_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("last_launch_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_learners_platform_id_platforms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learners")),
        sa.UniqueConstraint("platform_id", "sub", name=op.f("uq_learners_platform_id_sub")),
    )
    op.create_index(op.f("ix_learners_platform_id_last_launch_at"), "learners", ["platform_id", "last_launch_at"])

    op.create_table(
        "seats",
        sa.Column("platform_id", sa.String(), nullable=False),
        sa.Column("learner_id", sa.String(), nullable=False),
        sa.Column("allocated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_seats_platform_id_platforms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], name=op.f("fk_seats_learner_id_learners")),
        sa.PrimaryKeyConstraint("platform_id", "learner_id", name=op.f("pk_seats")),
    )
    op.create_index(op.f("ix_seats_platform_id_allocated_at"), "seats", ["platform_id", "allocated_at"])


def downgrade() -> None:
    op.drop_table("seats")
    op.drop_table("learners")
    with op.batch_alter_table("launches") as batch:
        batch.drop_column("learner_id")
    with op.batch_alter_table("platforms") as batch:
        batch.drop_column("seats_used")
