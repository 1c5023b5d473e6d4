"""The seams between use cases and adapters: storage, key sets, the clock."""

from __future__ import annotations

import builtins
import enum
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from ltigate.lti.keys import PublicKey
from ltigate.services.records import (
    ApiKey,
    ConsumedState,
    ContextRecord,
    DeepLinkSession,
    DeliveryStatus,
    Deployment,
    DeploymentStatus,
    JobFilter,
    JobResult,
    KeyPurpose,
    KeyState,
    LaunchFilter,
    LaunchRecord,
    Learner,
    LearnerFilter,
    LearnerProfile,
    LearnerVisit,
    LoginState,
    Member,
    Platform,
    PlatformFields,
    RegisteredVia,
    Resource,
    ResourceFields,
    RosterEntry,
    ScoreJob,
    Seat,
    SeatHolder,
    SeatUsage,
    ServiceToken,
    ToolKey,
)

Clock = Callable[[], float]

# One transaction around several stores' writes (db.engine.unit_of_work): all of them are kept, or none.
# The block may await only the stores' own calls and in-memory work: no network, no sleeping.
UnitOfWork = Callable[[], AbstractAsyncContextManager[None]]


class PlatformStore(Protocol):
    async def create(
        self,
        platform_id: str,
        fields: PlatformFields,
        now: float,
        *,
        awaiting_approval: bool = False,
        registered_via: RegisteredVia = RegisteredVia.MANUAL,
        product_family_code: str | None = None,
    ) -> Platform:
        """Raises Conflict when (issuer, client_id) is taken."""

    async def approve(self, platform_id: str, now: float) -> Platform:
        """End the platform's wait for approval (a no-op when it was not waiting). Raises NotFound."""

    async def update(self, platform_id: str, fields: PlatformFields, now: float) -> Platform:
        """Replace the fields; deployment ids in `fields` are added as approved. Raises Conflict, NotFound."""

    async def set_active(self, platform_id: str, active: bool, now: float) -> Platform: ...

    async def get(self, platform_id: str) -> Platform | None: ...

    async def list(self) -> builtins.list[Platform]: ...

    async def find_by_issuer(self, issuer: str) -> builtins.list[Platform]: ...

    async def put_deployment(
        self, platform_id: str, deployment_id: str, status: DeploymentStatus, now: float, *, only_if_new: bool
    ) -> Deployment:
        """Add a deployment (or change its status); with only_if_new an existing one is returned unchanged."""

    async def delete_deployment(self, platform_id: str, deployment_id: str) -> bool: ...


class ResourceStore(Protocol):
    async def create(self, resource_id: str, fields: ResourceFields, now: float) -> Resource:
        """Raises Conflict when the slug is taken."""

    async def update(self, slug: str, fields: ResourceFields, now: float) -> Resource: ...

    async def get(self, slug: str) -> Resource | None: ...

    async def list(self) -> builtins.list[Resource]: ...

    async def delete(self, slug: str) -> bool: ...


class StateStore(Protocol):
    async def put(self, state: LoginState) -> None: ...

    async def consume(self, state_hash: str, now: float) -> ConsumedState | None:
        """Mark the state used, atomically; None when unknown or purged."""

    async def peek(self, state_hash: str) -> ConsumedState | None:
        """The state without using it (first_use: not consumed yet); None when unknown or purged."""

    async def purge(self, now: float, keep_consumed_for: float) -> int:
        """Delete states expired (and consumed ones older than `keep_consumed_for`)."""


class DeepLinkSessionStore(Protocol):
    async def open(self, session: DeepLinkSession) -> None: ...

    async def get(self, launch_id: str) -> DeepLinkSession | None: ...

    async def answer(self, launch_id: str, now: float) -> bool:
        """Mark the session answered, atomically; False when it was answered before or has expired."""

    async def purge(self, now: float, keep_answered_for: float) -> int:
        """Delete expired sessions and answered ones older than `keep_answered_for`."""


class LaunchLog(Protocol):
    async def record(self, launch: LaunchRecord) -> None: ...

    async def get(self, launch_id: str) -> LaunchRecord | None: ...

    async def list(self, query: LaunchFilter) -> builtins.list[LaunchRecord]: ...

    async def redeem_ticket(self, launch_id: str, jti: str, now: float) -> bool:
        """Mark the ticket redeemed; False when the jti does not match or was redeemed before."""


class KeyStore(Protocol):
    async def add(self, key: ToolKey) -> None: ...

    async def list(self, purpose: KeyPurpose) -> builtins.list[ToolKey]: ...

    async def set_state(self, kid: str, state: KeyState, at: float, retire_at: float | None = None) -> None: ...

    async def drop_retired(self, now: float) -> int: ...


class ApiKeyStore(Protocol):
    async def create(self, key: ApiKey, secret_hash: str) -> None: ...

    async def find(self, secret_hash: str) -> ApiKey | None: ...

    async def touch(self, key_id: str, now: float) -> None: ...

    async def list(self) -> builtins.list[ApiKey]: ...

    async def revoke(self, key_id: str, now: float) -> bool: ...


class KeyProvider(Protocol):
    async def key(self, jwks_url: str, kid: str) -> PublicKey:
        """The platform's verification key `kid`; raises KidNotFound, KeySetUnavailable, KeySetInvalid."""


class CacheUnavailable(Exception):
    """A shared cache (Redis) did not answer in time or at all; the caller falls back to what it does without one."""


@dataclass(frozen=True, slots=True)
class SharedKeySet:
    """A platform key set as some process last fetched it. `document` is the last good JWKS (None before the
    first success), `fresh_for` the seconds it stays fresh (0 or less: stale), and `failure_code` /
    `failure` the error of the newest fetch when it failed (`jwks_unavailable` or `jwks_invalid`).
    `version` changes with every fetch, so a process can tell a result it has not seen yet."""

    version: str
    document: bytes | None
    fresh_for: float
    failure_code: str | None = None
    failure: str | None = None


class FetchTurn(enum.Enum):
    MINE = "mine"  # fetch now, then publish
    FETCHING = "fetching"  # another process is fetching: its result will be shared
    COOLING = "cooling"  # another process fetched within the cooldown: its result is shared


class KeySetShare(Protocol):
    """Platform key sets shared by every process, with one fetch turn per URL and cooldown among them all.
    Each method raises CacheUnavailable when the share cannot be reached."""

    async def load(self, jwks_url: str) -> SharedKeySet | None: ...

    async def publish(self, jwks_url: str, document: bytes, fresh_for: float, keep_for: float) -> str:
        """Share a fetched set, kept `keep_for` seconds (past its freshness, to serve while the platform is
        down); returns its version."""

    async def publish_failure(self, jwks_url: str, code: str, message: str, keep_for: float) -> str:
        """Record a failed fetch (the last good document stays) for at least `keep_for` seconds; returns its version."""

    async def claim_fetch(self, jwks_url: str, cooldown: float) -> FetchTurn:
        """MINE for the one caller, among all processes, that may fetch the set now; for `cooldown` seconds
        after that the others get FETCHING until it publishes a result, then COOLING."""


# --- learner accounts and seats ----------------------------------------------------------------


class LearnerStore(Protocol):
    async def visit(self, learner_id: str, platform_id: str, profile: LearnerProfile, now: float) -> LearnerVisit:
        """Find the learner (platform_id, profile.sub) or create them with id `learner_id`, in one statement.

        Details given (not None) that differ replace the stored ones and set updated_at; details absent
        from the launch keep their stored value. last_launch_at becomes `now`. Also says whether the
        learner holds a seat on the platform.
        """

    async def get(self, learner_id: str) -> Learner | None: ...

    async def list(self, query: LearnerFilter) -> builtins.list[Learner]:
        """Most recent launch first; at most `query.limit` (capped at 500) from `query.offset`."""


class SeatStore(Protocol):
    """Seats and the per-platform counter of seats used, kept equal in every transaction."""

    async def allocate(self, platform_id: str, learner_id: str, now: float) -> bool:
        """Give the learner a seat: count it if the platform's cap allows (`seats` 0 or `seats_used < seats`)
        and insert it, in one transaction, atomic across processes. True when the learner holds a seat
        afterwards (also when a concurrent launch of theirs took it first), False when every seat is taken.
        Call only for a learner found without a seat."""

    async def release(self, platform_id: str, learner_id: str) -> bool:
        """Free the learner's seat; False when they hold none."""

    async def release_idle(self, platform_id: str, idle_before: float) -> int:
        """Free the seats whose learner has not launched since `idle_before`; returns how many."""

    async def usage(self, platform_id: str) -> SeatUsage | None:
        """None when the platform does not exist."""

    async def get(self, platform_id: str, learner_id: str) -> Seat | None: ...

    async def list(self, platform_id: str, *, limit: int, offset: int) -> builtins.list[SeatHolder]:
        """Seats with their learners, oldest allocation first; `limit` capped at 500."""


# --- grades and rosters ---------------------------------------------------------------------


class ScoreOutbox(Protocol):
    """Score jobs in the database: written with the request that creates them, claimed atomically."""

    async def enqueue(self, job: ScoreJob) -> None: ...

    async def claim(self, *, owner: str, now: float, lease_seconds: float, limit: int) -> builtins.list[ScoreJob]:
        """Lease up to `limit` due pending jobs (next_attempt_at <= now, no live lease) to `owner`.

        Atomic across processes (FOR UPDATE SKIP LOCKED on PostgreSQL, a conditional update on
        SQLite): a job is never leased to two owners at once. An expired lease can be claimed again.
        """

    async def finish(self, job_id: str, owner: str, result: JobResult, now: float) -> bool:
        """Record an attempt's result and drop the lease; False when `owner` no longer holds it."""

    async def get(self, job_id: str) -> ScoreJob | None: ...

    async def list(self, query: JobFilter) -> builtins.list[ScoreJob]: ...

    async def retry(self, job_id: str, now: float) -> ScoreJob | None:
        """Make a failed or skipped job pending and due now; None when unknown."""

    async def latest_by_launch(self, launch_ids: Sequence[str]) -> dict[str, ScoreJob]: ...

    async def counts(self) -> dict[DeliveryStatus, int]: ...

    async def last_delivered(self, platform_id: str, user_id: str, lineitem_url: str) -> ScoreJob | None:
        """The newest delivered job for this user and line item (to notice grades changed in the LMS)."""


class TokenCache(Protocol):
    """Service access tokens shared by all processes, per platform and scope set."""

    async def get(self, platform_id: str, scope_key: str, now: float) -> ServiceToken | None: ...

    async def put(self, platform_id: str, scope_key: str, token: ServiceToken) -> None: ...


class RosterStore(Protocol):
    async def upsert_context(
        self,
        platform_id: str,
        context_id: str,
        *,
        title: str | None,
        label: str | None,
        memberships_url: str | None,
        now: float,
        deployment_id: str | None = None,
    ) -> ContextRecord: ...

    async def get_context(self, context_key: str) -> ContextRecord | None: ...

    async def find_context(self, platform_id: str, context_id: str) -> ContextRecord | None: ...

    async def list_contexts(self, platform_id: str | None, limit: int) -> builtins.list[ContextRecord]: ...

    async def replace_members(self, context_key: str, pages: AsyncIterator[Sequence[Member]], now: float) -> int:
        """Store the members streamed page by page, then remove those not seen; returns the count."""

    async def members(
        self, context_key: str, *, role: str | None, limit: int, offset: int
    ) -> builtins.list[RosterEntry]:
        """Members with their latest launch in the context and its delivery; `role` matches a full
        role URI or a short context role name."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class HttpTransportError(Exception):
    """No HTTP answer: timeout, connection failure, refused destination or oversize body."""

    kind: str = "unreachable"


class Http(Protocol):
    """The outbound HTTP seam: answers every status; raises HttpTransportError when there is none."""

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        max_body_bytes: int | None = None,
    ) -> HttpResponse: ...
