"""The relational schema (SQLAlchemy Core), the one source the Alembic migrations must equal.

Types are chosen to behave the same on SQLite and PostgreSQL; timestamps are float epoch seconds.
"""

from __future__ import annotations

from typing import Any

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
    false,
    text,
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
    Column("send_deployment_id", Boolean, nullable=False, server_default=false()),
    Column("preserve_manual_grades", Boolean, nullable=False, server_default=false()),
    Column("outcome_rules", Text, nullable=True),  # JSON list of rule objects; NULL: the default rules
    # Rows in `seats` for this platform, changed in the transaction that inserts or deletes them: the cap
    # is checked by the conditional increment (see db/seats.py), atomic on both databases.
    Column("seats_used", Integer, nullable=False, server_default=text("0")),
    # Dynamic Registration (0006): a self-registered platform's launches are refused until it is approved.
    Column("awaiting_approval", Boolean, nullable=False, server_default=false()),
    Column("registered_via", String, nullable=False, server_default="manual"),  # manual | dynamic
    Column("product_family_code", String, nullable=True),
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
    Column("score_maximum", Double, nullable=True),
    # A picker resource receives deep-linking launches and answers with its own catalogue (issue 4).
    Column("picker", Boolean, nullable=False, server_default=false()),
    Column("review_url", String, nullable=True),  # Submission Review; NULL: the app URL with review=1
    Column("custom", Text, nullable=True),  # JSON object of custom parameters for deep-linked items
    Column("tag", String, nullable=True),  # the line item tag for deep-linked graded items
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
    # The frame named by the login's lti_storage_target: state kept in the platform's storage, not a cookie.
    Column("storage_target", String, nullable=True),
    Index(None, "expires_at"),
)

_FAILED_ONLY: dict[str, Any] = {
    "sqlite_where": text("error_code IS NOT NULL"),
    "postgresql_where": text("error_code IS NOT NULL"),
}

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
    Column("learner_id", String, nullable=True),
    Index(None, "created_at"),
    # Failures only (every failure has an error code; a success has none): a successful launch, the bulk of
    # the log, writes two index pages less. Queries for failures say `error_code IS NOT NULL` to use them.
    Index("ix_launches_failed_created_at", "created_at", **_FAILED_ONLY),
    Index(None, "error_code", "created_at", **_FAILED_ONLY),
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

# The grade outbox. No foreign keys: a job is written with the request that submits the score, and the
# log it points into (launches) has none either. The score is JSON text (never changed once written);
# the target is in columns because a delivery attempt fills in the line item it resolved.
score_jobs = Table(
    "score_jobs",
    metadata,
    Column("id", String, primary_key=True),
    Column("launch_id", String, nullable=False),
    Column("platform_id", String, nullable=False),
    Column("user_id", String, nullable=False),
    Column("score", Text, nullable=False),
    Column("target_lineitem_url", String, nullable=True),
    Column("target_lineitems_url", String, nullable=True),
    Column("target_resource_link_id", String, nullable=True),
    Column("target_resource_id", String, nullable=True),
    Column("target_label", String, nullable=True),
    Column("target_score_maximum", Double, nullable=True),
    Column("target_deployment_id", String, nullable=True),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Double, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("delivered_at", Double, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("lease_owner", String, nullable=True),
    Column("lease_until", Double, nullable=True),
    Index(None, "status", "next_attempt_at"),  # the claim: due pending jobs, oldest due first
    Index(None, "launch_id", "created_at"),  # a launch's jobs, newest first
    Index(None, "created_at"),
    Index(None, "platform_id", "created_at"),
    Index(None, "platform_id", "user_id"),  # last_delivered: a user's jobs on a platform
)

# Service access tokens, one per platform and scope set (scope_key: the canonical scope string). The token
# is stored as the services layer gives it (sealed). No foreign key: a cache entry, rewritten as it expires.
service_tokens = Table(
    "service_tokens",
    metadata,
    Column("platform_id", String, primary_key=True),
    Column("scope_key", String, primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("scopes", Text, nullable=False),  # JSON list
    Column("expires_at", Double, nullable=False),
)

# Courses seen in launches; `sync_id` names the roster sync started last (older ones stop writing).
contexts = Table(
    "contexts",
    metadata,
    Column("id", String, primary_key=True),
    Column("platform_id", String, ForeignKey("platforms.id", ondelete="CASCADE"), nullable=False),
    Column("context_id", String, nullable=False),
    Column("title", String, nullable=True),
    Column("label", String, nullable=True),
    Column("memberships_url", String, nullable=True),
    Column("deployment_id", String, nullable=True),  # of the latest launch that named one
    Column("synced_at", Double, nullable=True),
    Column("member_count", Integer, nullable=False),
    Column("sync_id", String, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    UniqueConstraint("platform_id", "context_id"),
    Index(None, "updated_at"),
)

# A context's roster (NRPS memberships); roles are a JSON list of role URIs. `sync_id` marks the sync that
# last wrote the row: rows another sync left behind are removed when a sync completes.
members = Table(
    "members",
    metadata,
    Column("context_key", String, ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String, primary_key=True),
    Column("roles", Text, nullable=False),
    Column("status", String, nullable=False),
    Column("name", String, nullable=True),
    Column("given_name", String, nullable=True),
    Column("family_name", String, nullable=True),
    Column("email", String, nullable=True),
    Column("picture", String, nullable=True),
    Column("lis_person_sourcedid", String, nullable=True),
    Column("lti11_legacy_user_id", String, nullable=True),
    Column("sync_id", String, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index(None, "context_key", "family_name", "name", "user_id"),  # a roster page in display order
)

# --- the console ------------------------------------------------------------------------------------

# Console administrators; `name` is lower-case. The password is an argon2id hash (PHC string).
administrators = Table(
    "administrators",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("password_hash", String, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("disabled_at", Double, nullable=True),
    Column("last_sign_in_at", Double, nullable=True),
    UniqueConstraint("name"),
)

# Console sessions, stored under the SHA-256 of the session id (the cookie's value is never stored).
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String, primary_key=True),
    Column("admin_id", String, ForeignKey("administrators.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_seen_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("client_address", String, nullable=True),
    Index(None, "admin_id"),
    Index(None, "last_seen_at"),
)

# Failed console sign-ins, kept for the lock-out window. No foreign key: unknown names count too.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("client_address", String, nullable=False),
    Column("at", Double, nullable=False),
    Index(None, "name", "at"),
    Index(None, "client_address", "at"),
    Index(None, "at"),
)

# Learner accounts: one per platform and `sub`; `id` is the stable user id handed to the app.
learners = Table(
    "learners",
    metadata,
    Column("id", String, primary_key=True),
    Column("platform_id", String, ForeignKey("platforms.id", ondelete="CASCADE"), nullable=False),
    Column("sub", String, nullable=False),
    Column("email", String, nullable=True),
    Column("given_name", String, nullable=True),
    Column("family_name", String, nullable=True),
    Column("name", String, nullable=True),
    Column("picture", String, nullable=True),
    Column("lti11_user_id", String, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("last_launch_at", Double, nullable=True),
    UniqueConstraint("platform_id", "sub"),
    Index(None, "platform_id", "last_launch_at"),  # a platform's learners, recent first; idle seats
)

# A learner's seat on a platform; the primary key keeps it to one. No cascade from learners: deleting a
# learner who holds a seat must go through a release, which keeps platforms.seats_used exact.
seats = Table(
    "seats",
    metadata,
    Column("platform_id", String, ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True),
    Column("learner_id", String, ForeignKey("learners.id"), primary_key=True),
    Column("allocated_at", Double, nullable=False),
    Index(None, "platform_id", "allocated_at"),
)


# A deep-linking launch waiting for its answer (picker page or the app's API): the request's settings,
# kept until the one response is sent. `token_hash` is the SHA-256 of the picker form's secret.
deep_link_sessions = Table(
    "deep_link_sessions",
    metadata,
    Column("launch_id", String, primary_key=True),
    Column("platform_id", String, nullable=False),
    Column("deployment_id", String, nullable=False),
    Column("resource_slug", String, nullable=True),  # a picker resource the launch went to; NULL: our picker
    Column("settings", Text, nullable=False),  # JSON: the deep_linking_settings claim as received
    Column("token_hash", String, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("answered_at", Double, nullable=True),
    Index(None, "expires_at"),
)


# --- Dynamic Registration (0006) ---------------------------------------------------------------------

# One-time registration links, stored under the SHA-256 of their secret. `used_at` is set when a registration
# claims the link (cleared again if it fails); `platform_id` names the platform it registered.
registration_links = Table(
    "registration_links",
    metadata,
    Column("id", String, primary_key=True),
    Column("secret_hash", String, nullable=False),
    Column("note", String, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("used_at", Double, nullable=True),
    Column("revoked_at", Double, nullable=True),
    Column("platform_id", String, nullable=True),
    UniqueConstraint("secret_hash"),
    Index(None, "created_at"),
)

# Dynamic Registration attempts, failed and successful, for administrators. No foreign keys: the log outlives
# what it names. The configuration URL is kept without its query (it may carry the registration token).
registration_attempts = Table(
    "registration_attempts",
    metadata,
    Column("id", String, primary_key=True),
    Column("created_at", Double, nullable=False),
    Column("outcome", String, nullable=False),
    Column("stage", String, nullable=False),
    Column("error_code", String, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("configuration_url", String, nullable=True),
    Column("issuer", String, nullable=True),
    Column("client_id", String, nullable=True),
    Column("product_family_code", String, nullable=True),
    Column("platform_id", String, nullable=True),
    Column("link_id", String, nullable=True),
    Index(None, "created_at"),
)
