"""The launch log's outcome and error-code indexes hold failures only: a successful launch writes two
index pages less (bench/README.md).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FAILED_ONLY: dict[str, Any] = {
    "sqlite_where": sa.text("error_code IS NOT NULL"),
    "postgresql_where": sa.text("error_code IS NOT NULL"),
}


def upgrade() -> None:
    op.drop_index(op.f("ix_launches_outcome_created_at"), table_name="launches")
    op.drop_index(op.f("ix_launches_error_code_created_at"), table_name="launches")
    op.create_index("ix_launches_failed_created_at", "launches", ["created_at"], **_FAILED_ONLY)
    op.create_index(op.f("ix_launches_error_code_created_at"), "launches", ["error_code", "created_at"], **_FAILED_ONLY)


def downgrade() -> None:
    op.drop_index(op.f("ix_launches_error_code_created_at"), table_name="launches")
    op.drop_index("ix_launches_failed_created_at", table_name="launches")
    op.create_index(op.f("ix_launches_error_code_created_at"), "launches", ["error_code", "created_at"])
    op.create_index(op.f("ix_launches_outcome_created_at"), "launches", ["outcome", "created_at"])
