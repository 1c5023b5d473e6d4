"""The relational schema (SQLAlchemy Core), the one source the Alembic migrations must equal.

Types are chosen to behave the same on SQLite and PostgreSQL; timestamps are float epoch seconds.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

platforms = Table(
    "platforms",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("issuer", String, nullable=False),
    Column("client_id", String, nullable=False),
    Column("auth_url", String, nullable=False),
    Column("token_url", String, nullable=False),
    Column("jwks_url", String, nullable=False),
    Column("token_audience", String, nullable=True),
    Column("seats", Integer, nullable=False),
    Column("grade_passback", Boolean, nullable=False),
    Column("licence_note", Text, nullable=False),
    Column("deployment_policy", String, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    UniqueConstraint("issuer", "client_id"),
    Index(None, "issuer"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("platform_id", String, ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True),
    Column("deployment_id", String, primary_key=True),
    Column("status", String, nullable=False),
    Column("created_at", Double, nullable=False),
)

resources = Table(
    "resources",
    metadata,
    Column("id", String, primary_key=True),
    Column("slug", String, nullable=False),
    Column("title", String, nullable=False),
    Column("description", Text, nullable=False),
    Column("app_url", String, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    UniqueConstraint("slug"),
)

# No foreign key to platforms: a login state lives minutes, and the insert is on the hot path.
login_states = Table(
    "login_states",
    metadata,
    Column("state_hash", String, primary_key=True),
    Column("nonce", String, nullable=False),
    Column("platform_id", String, nullable=False),
    Column("target_link_uri", String, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("consumed_at", Double, nullable=True),
    Index(None, "expires_at"),
)

# No foreign keys: the log keeps failed attempts from unknown platforms, and outlives what it names.
launches = Table(
    "launches",
    metadata,
    Column("id", String, primary_key=True),
    Column("created_at", Double, nullable=False),
    Column("outcome", String, nullable=False),
    Column("error_code", String, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("platform_id", String, nullable=True),
    Column("issuer", String, nullable=True),
    Column("client_id", String, nullable=True),
    Column("deployment_id", String, nullable=True),
    Column("message_type", String, nullable=True),
    Column("sub", String, nullable=True),
    Column("user_name", String, nullable=True),
    Column("context_id", String, nullable=True),
    Column("resource_link_id", String, nullable=True),
    Column("resource_slug", String, nullable=True),
    Column("claims", Text, nullable=True),
    Column("ticket_jti", String, nullable=True),
    Column("ticket_redeemed_at", Double, nullable=True),
    Index(None, "created_at"),
    Index(None, "outcome", "created_at"),
    Index(None, "error_code", "created_at"),
    Index(None, "platform_id", "created_at"),
    Index(None, "sub", "created_at"),
)

tool_keys = Table(
    "tool_keys",
    metadata,
    Column("kid", String, primary_key=True),
    Column("purpose", String, nullable=False),
    Column("alg", String, nullable=False),
    Column("state", String, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("sealed_private_key", LargeBinary, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("activated_at", Double, nullable=True),
    Column("retire_at", Double, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("prefix", String, nullable=False),
    Column("secret_hash", String, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_used_at", Double, nullable=True),
    Column("revoked_at", Double, nullable=True),
    UniqueConstraint("secret_hash"),
)
