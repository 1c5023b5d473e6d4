"""Wiring: the one place where adapters are built and handed to the use cases."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.cache.process_metrics import MetricsDirectory
from ltigate.config import Settings
from ltigate.db import engine as db_engine
from ltigate.db.admins import SqlAdminStore, SqlConsoleSessionStore, SqlSignInFailureStore
from ltigate.db.apikeys import SqlApiKeyStore
from ltigate.db.deep_linking import SqlDeepLinkSessionStore
from ltigate.db.keys import SqlKeyStore
from ltigate.db.launches import SqlLaunchLog
from ltigate.db.learners import SqlLearnerStore
from ltigate.db.outbox import SqlScoreOutbox
from ltigate.db.platforms import SqlPlatformStore
from ltigate.db.registration import SqlRegistrationAttemptLog, SqlRegistrationLinkStore
from ltigate.db.resources import SqlResourceStore
from ltigate.db.rosters import SqlRosterStore
from ltigate.db.sealed_values import SqlSealedValueStore
from ltigate.db.seats import SqlSeatStore
from ltigate.db.states import SqlStateStore
from ltigate.db.tokens import SqlTokenCache
from ltigate.lti.delivery import RetryPolicy
from ltigate.lti.jwks import CachePolicy
from ltigate.lti.registration import ToolDescription
from ltigate.net.client import OutboundClient
from ltigate.net.jwks_cache import JwksCache
from ltigate.secret_key_files import DataDirectoryKeyFiles
from ltigate.services.admins import Admins, Passwords
from ltigate.services.api_keys import ApiKeys
from ltigate.services.console_sessions import ConsoleSessions
from ltigate.services.deep_linking import DeepLinking
from ltigate.services.dynamic_registration import DynamicRegistration, RegistrationMode, RegistrationPolicy
from ltigate.services.errors import SecretKeyMismatch
from ltigate.services.gateway import Gateway, ToolUrls
from ltigate.services.grades import Grades
from ltigate.services.launch import LaunchService
from ltigate.services.launches import Launches
from ltigate.services.learners import Learners
from ltigate.services.line_items import LineItems
from ltigate.services.login import GatewayUrls, LoginService
from ltigate.services.metrics import CountedLaunchLog, Metrics, Reading
from ltigate.services.platforms import Platforms
from ltigate.services.ports import KeySetShare, TokenCache
from ltigate.services.registration_links import RegistrationLinks
from ltigate.services.registrations import Registrations
from ltigate.services.resource_cache import ResourceCache
from ltigate.services.resources import Resources
from ltigate.services.rosters import Rosters
from ltigate.services.score_delivery import ScoreDelivery
from ltigate.services.sealing import Sealer
from ltigate.services.seats import Seats
from ltigate.services.secret_rotation import SecretKeyFiles, SecretRotation
from ltigate.services.service_calls import ServiceCalls
from ltigate.services.service_tokens import ServiceTokens
from ltigate.services.tool_keys import ToolKeys
from ltigate.services.wakeup import Wakeup

# Consumed states are kept past their expiry so a replayed launch is named as such, not as "unknown".
KEEP_CONSUMED_SECONDS = 3600.0
KEEP_REGISTRATION_ATTEMPTS_SECONDS = 90 * 24 * 3600.0


async def _nothing_to_close() -> None:
    return None


async def build_gateway(
    settings: Settings,
    *,
    check_schema: bool = True,
    transport: object | None = None,
    metrics_dir: Path | None = None,
) -> Gateway:
    """Connect to the database, check it is migrated, make sure tool keys exist, and assemble the use cases.

    Raises NotMigrated when the schema is behind, StoreUnavailable when the database cannot be reached.
    """
    clock = time.time
    engine = db_engine.create_engine(settings.database_url)
    try:
        if check_schema:
            await db_engine.check_migrated(engine)
        outbound = OutboundClient(
            transport=transport,  # type: ignore[arg-type]
            timeout=settings.outbound_timeout_seconds,
            allow_private_addresses=settings.allow_private_addresses,
        )
    except BaseException:
        await db_engine.dispose(engine)
        raise
    sealer = Sealer(settings.secret_key)
    shared = _shared_caches(settings, sealer, SqlTokenCache(engine))
    jwks = JwksCache(
        outbound,
        policy=CachePolicy(refetch_cooldown=settings.jwks_refetch_cooldown_seconds),
        share=shared.key_sets,
        share_wait=settings.outbound_timeout_seconds + 1,
    )
    platform_store = SqlPlatformStore(engine)
    state_store = SqlStateStore(engine)
    metrics = Metrics(MetricsDirectory(metrics_dir) if metrics_dir is not None else None)
    launch_log = CountedLaunchLog(SqlLaunchLog(engine), metrics)
    resource_store = ResourceCache(SqlResourceStore(engine), clock)  # looked up on every launch
    registrations = Registrations(platform_store, clock)
    tool_keys = ToolKeys(SqlKeyStore(engine), sealer, clock, settings.key_overlap_hours * 3600)
    outbox = SqlScoreOutbox(engine)
    wakeup = Wakeup()
    service_tokens = ServiceTokens(outbound, shared.tokens, tool_keys, sealer, clock)
    calls = ServiceCalls(outbound, service_tokens)
    line_items = LineItems(calls)
    rosters = Rosters(SqlRosterStore(engine), platform_store, calls, clock)
    launches = Launches(launch_log, tool_keys, settings.base_url, clock)
    learners = Learners(SqlLearnerStore(engine))
    seats = Seats(SqlSeatStore(engine), clock)
    score_delivery = ScoreDelivery(
        platform_store,
        calls,
        line_items,
        outbox,
        clock,
        RetryPolicy(base_delay=settings.retry_base_seconds, max_age=settings.retry_max_age_seconds),
        random.random,
    )
    console_session_store = SqlConsoleSessionStore(engine)
    admins = Admins(SqlAdminStore(engine), console_session_store, Passwords(), clock)
    console_sessions = ConsoleSessions(
        admins, console_session_store, SqlSignInFailureStore(engine), settings.secret_key, clock
    )
    tool_urls = ToolUrls.from_settings(settings)
    urls = GatewayUrls(origin=settings.origin, launch_url=tool_urls.launch_url)
    await _ensure_tool_keys(tool_keys, engine, settings)
    deep_linking = DeepLinking(
        store=SqlDeepLinkSessionStore(engine),
        platforms=platform_store,
        resources=resource_store,
        tool_keys=tool_keys,
        launch_url=tool_urls.launch_url,
        clock=clock,
        ttl=settings.deep_linking_ttl_seconds,
    )

    platforms = Platforms(platform_store, clock)
    registration_links = RegistrationLinks(SqlRegistrationLinkStore(engine), clock, tool_urls.registration_url)
    dynamic_registration = DynamicRegistration(
        http=outbound,
        platforms=platforms,
        links=registration_links,
        attempts=SqlRegistrationAttemptLog(engine),
        tool=ToolDescription(
            client_name=settings.tool_name,
            login_url=tool_urls.login_url,
            launch_url=tool_urls.launch_url,
            jwks_url=tool_urls.jwks_url,
            logo_url=settings.url("/lti/assets/logo.svg"),
            description=f"{settings.tool_name}: LTI 1.3 resources, grades and rosters through ltigate",
        ),
        sealer=sealer,
        clock=clock,
        policy=RegistrationPolicy(
            mode=RegistrationMode(settings.dynamic_registration),
            approval_required=settings.registration_approval == "required",
            issuer_hosts=dict(settings.registration_issuer_hosts),
        ),
        on_change=registrations.invalidate,
    )

    async def counted() -> list[Reading]:
        return [
            Reading("ltigate_jwks_fetches_total", "Platform key set fetches", "counter", (((), jwks.fetches),)),
            Reading("ltigate_jwks_fetch_failures_total", "Failed key set fetches", "counter", (((), jwks.failures),)),
            Reading("ltigate_jwks_cache_hits_total", "Keys found in a fresh cached set", "counter", (((), jwks.hits),)),
            Reading(
                "ltigate_jwks_shared_sets_total",
                "Key sets taken from another process through Redis",
                "counter",
                (((), jwks.shared),),
            ),
            Reading(
                "ltigate_token_requests_total",
                "Service token requests sent to platforms",
                "counter",
                (((), service_tokens.requests),),
            ),
        ]

    async def outbox_gauge() -> list[Reading]:
        counts = await outbox.counts()
        return [
            Reading(
                "ltigate_score_jobs",
                "Score jobs in the outbox by status (all processes)",
                "gauge",
                tuple(((("status", status.value),), float(n)) for status, n in sorted(counts.items())),
            )
        ]

    async def shared_counted() -> list[Reading]:
        return shared.readings()

    metrics.add_reader(counted)
    metrics.add_reader(outbox_gauge, scrape_only=True)  # the database's figure: the same for every process
    metrics.add_reader(shared_counted)

    async def maintain() -> int:
        removed = await state_store.purge(clock(), KEEP_CONSUMED_SECONDS)
        removed += await deep_linking.purge(KEEP_CONSUMED_SECONDS)
        removed += await console_sessions.purge()
        removed += await dynamic_registration.purge(KEEP_REGISTRATION_ATTEMPTS_SECONDS)
        await tool_keys.reload()
        return removed

    async def close() -> None:
        await outbound.aclose()
        await shared.aclose()
        await db_engine.dispose(engine)

    async def check_ready() -> None:
        await db_engine.ping(engine)

    return Gateway(
        settings=settings,
        urls=tool_urls,
        platforms=platforms,
        resources=Resources(resource_store, clock),
        api_keys=ApiKeys(SqlApiKeyStore(engine), clock),
        registrations=registrations,
        login=LoginService(registrations, state_store, launch_log, urls, clock, settings.state_ttl_seconds),
        launch=LaunchService(
            registrations=registrations,
            keys=jwks,
            states=state_store,
            resources=resource_store,
            log=launch_log,
            tool_keys=tool_keys,
            urls=urls,
            issuer=settings.base_url,
            clock=clock,
            leeway=settings.leeway_seconds,
            ticket_ttl=settings.ticket_ttl_seconds,
            learners=learners,
            seats=seats,
            deep_linking=deep_linking,
            unit_of_work=partial(db_engine.unit_of_work, engine),
            after_success=rosters.note_launch,
        ),
        launches=launches,
        deep_linking=deep_linking,
        learners=learners,
        seats=seats,
        tool_keys=tool_keys,
        grades=Grades(launches, platform_store, resource_store, outbox, clock, wakeup),
        rosters=rosters,
        line_items=line_items,
        service_tokens=service_tokens,
        outbox=outbox,
        outbox_wakeup=wakeup,
        score_delivery=score_delivery,
        admins=admins,
        console_sessions=console_sessions,
        clock=clock,
        metrics=metrics,
        check_ready=check_ready,
        maintain=maintain,
        close=close,
        registration_links=registration_links,
        dynamic_registration=dynamic_registration,
    )


@dataclass(frozen=True, slots=True)
class _SharedCaches:
    """Where the short-lived caches live: Redis when LTIGATE_REDIS_URL is set, else each process keeps its
    key sets and the database the service tokens."""

    tokens: TokenCache
    key_sets: KeySetShare | None = None
    fallbacks: Callable[[], dict[str, int]] | None = None
    aclose: Callable[[], Awaitable[None]] = field(default=_nothing_to_close)

    def readings(self) -> list[Reading]:
        if self.fallbacks is None:
            return []
        counts = self.fallbacks()
        samples = tuple(((("cache", cache),), float(counts.get(cache, 0))) for cache in ("jwks", "tokens"))
        return [
            Reading(
                "ltigate_redis_fallbacks_total",
                "Redis calls that failed and were answered without Redis",
                "counter",
                samples,
            )
        ]


def _shared_caches(settings: Settings, sealer: Sealer, database_tokens: TokenCache) -> _SharedCaches:
    if settings.redis_url is None:
        return _SharedCaches(tokens=database_tokens)
    # Imported here: the redis package is an optional extra (config checks it is installed).
    from ltigate.cache.connection import RedisConnection
    from ltigate.cache.key_sets import RedisKeySets
    from ltigate.cache.tokens import RedisTokenCache

    redis = RedisConnection(
        settings.redis_url, prefix=settings.redis_key_prefix, timeout=settings.redis_timeout_seconds, sealer=sealer
    )
    return _SharedCaches(
        tokens=RedisTokenCache(redis, database_tokens, wait=settings.outbound_timeout_seconds + 1),
        key_sets=RedisKeySets(redis),
        fallbacks=lambda: redis.fallbacks,
        aclose=redis.aclose,
    )


async def _ensure_tool_keys(tool_keys: ToolKeys, engine: AsyncEngine, settings: Settings) -> None:
    """Make sure the tool keys exist and open. Keys that do not open with the configured secret key stop the
    start with the reason the key files in the data directory tell (an interrupted `ltigate rotate-secret`)."""
    rotation = SecretRotation(
        SqlSealedValueStore(engine), DataDirectoryKeyFiles.for_settings(settings), settings.secret_key
    )
    try:
        await tool_keys.ensure()
    except SecretKeyMismatch as mismatch:
        explained = await rotation.explain(mismatch)
        await db_engine.dispose(engine)
        raise explained from None
    if (warning := rotation.leftover()) is not None:
        logging.getLogger("ltigate").warning(warning)


@asynccontextmanager
async def secret_rotation(
    settings: Settings, *, key_files: SecretKeyFiles | None = None
) -> AsyncIterator[SecretRotation]:
    """The secret key rotation over the configured database (checked to be migrated) and the data
    directory's key files; the connections are closed at the end. Raises NotMigrated, StoreUnavailable."""
    engine = db_engine.create_engine(settings.database_url)
    try:
        await db_engine.check_migrated(engine)
        files = key_files or DataDirectoryKeyFiles.for_settings(settings)
        yield SecretRotation(SqlSealedValueStore(engine), files, settings.secret_key)
    finally:
        await db_engine.dispose(engine)


def migrate(settings: Settings) -> str:
    """Bring the database schema to the newest revision; returns that revision."""
    from ltigate.db.migrate import head_revision, upgrade

    upgrade(settings.database_url)
    return head_revision()
