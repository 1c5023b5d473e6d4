"""Complete a launch (lti-reference §2.7, design.md "Launch"): verify the id_token signature first,
then consume the state, check nonce, claims, deployment and resource, find or create the learner and
check their seat, log the attempt, and hand the launch to the app with a ticket. Every attempt, good or
bad, is written to the launch log.

Everything a launch writes after its signature verified (the state consumed, a new deployment, the learner,
the seat, the course, the deep-linking session, the launch log row) is one unit of work: kept together, or
not at all (a crash or a database failure half-way leaves no half-recorded launch). The key set is fetched
before the unit begins, so the unit never waits for the network.

The state is bound to the browser by a cookie or, where the browser sends none, by the platform's
postMessage storage (§8.4): then the first answer is a `StorageCheck` (read the values back in the
browser), and the launch completes when ltigate's check page posts what it read (docs/decisions/0006).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ltigate.lti.errors import (
    DeploymentPending,
    DeploymentRejected,
    LaunchReplayed,
    LtiError,
    PlatformReportedError,
    StateExpired,
    StateMismatch,
    StateMissing,
    StateUnknown,
    StorageCheckForeign,
    TokenMalformed,
    UnknownDeployment,
    UnknownResource,
)
from ltigate.lti.launch import (
    check_nonce,
    check_target_link_uri,
    read_optional_resource_slug,
    read_resource_slug,
    read_unverified_launch,
    verify_id_token,
)
from ltigate.lti.message import LtiMessage, parse_message
from ltigate.lti.platform_storage import StorageReport, check_storage_report, storage_origin
from ltigate.lti.ticket import issue_ticket
from ltigate.services.deep_linking import DeepLinking, OpenedSession
from ltigate.services.digest import secret_digest
from ltigate.services.ids import new_id
from ltigate.services.learners import Learners
from ltigate.services.login import GatewayUrls
from ltigate.services.ports import Clock, KeyProvider, LaunchLog, ResourceStore, StateStore, UnitOfWork
from ltigate.services.records import (
    ConsumedState,
    DeploymentPolicy,
    DeploymentStatus,
    KeyPurpose,
    LaunchOutcome,
    LaunchRecord,
    LoginState,
    Platform,
    PlatformFields,
    Resource,
)
from ltigate.services.registrations import Registrations
from ltigate.services.seats import Seats
from ltigate.services.tool_keys import ToolKeys


@dataclass(frozen=True, slots=True)
class LaunchForm:
    """The authentication response as posted by the browser (OIDC Core §3.1.2.5/§3.1.2.6)."""

    id_token: str | None
    state: str | None
    error: str | None = None
    error_description: str | None = None


@dataclass(frozen=True, slots=True)
class CookieBinding:
    """The launch as the browser posted it: `state` is the value of its state cookie, None when it sent none."""

    state: str | None


@dataclass(frozen=True, slots=True)
class StorageBinding:
    """The launch as ltigate's check page posts it again, with what it read from the platform's storage.

    `same_origin`: the request came from a page of ltigate's own origin (the Origin header, or
    Sec-Fetch-Site: same-origin), so no other site made the browser send it.
    """

    report: StorageReport
    same_origin: bool


BrowserBinding = CookieBinding | StorageBinding


@dataclass(frozen=True, slots=True)
class StorageCheck:
    """A launch whose token verified but whose browser sent no state cookie, while its login put state and
    nonce into the platform's storage: the browser must read them back (`lti.get_data` to `storage_origin`,
    from `storage_target`) and post the launch again with what it read. Nothing is consumed yet."""

    id_token: str
    state: str
    nonce: str
    storage_target: str
    storage_origin: str
    platform: Platform


@dataclass(frozen=True, slots=True)
class CompletedLaunch:
    """A verified launch: the browser goes to `redirect_url`, or, for a deep-linking request that
    ltigate answers itself, is shown the picker of `picker` (and `redirect_url` is empty)."""

    launch_id: str
    redirect_url: str
    resource: Resource | None
    message: LtiMessage
    platform: Platform
    picker: OpenedSession | None = None


@dataclass(frozen=True, slots=True)
class _Verified:
    """A launch whose token's signature and claims verified; nothing stored was read or written yet."""

    id_token: str
    state: str
    platform: Platform
    claims: dict[str, object]
    now: float


@dataclass(slots=True)
class _Trace:
    """What is known so far about an attempt, for the launch log."""

    platform: Platform | None = None
    issuer: str | None = None
    message: LtiMessage | None = None
    slug: str | None = None
    claims: dict[str, object] | None = field(default=None, repr=False)
    learner_id: str | None = None


class LaunchService:
    def __init__(
        self,
        *,
        registrations: Registrations,
        keys: KeyProvider,
        states: StateStore,
        resources: ResourceStore,
        log: LaunchLog,
        tool_keys: ToolKeys,
        urls: GatewayUrls,
        issuer: str,
        clock: Clock,
        leeway: int,
        ticket_ttl: int,
        learners: Learners,
        seats: Seats,
        deep_linking: DeepLinking,
        unit_of_work: UnitOfWork,
        after_success: Callable[[Platform, LtiMessage], Awaitable[None]] | None = None,
    ) -> None:
        self._after_success, self._deep_linking, self._unit_of_work = after_success, deep_linking, unit_of_work
        self._learners, self._seats = learners, seats
        self._registrations, self._keys, self._states, self._resources = registrations, keys, states, resources
        self._log, self._tool_keys, self._urls, self._issuer = log, tool_keys, urls, issuer
        self._clock, self._leeway, self._ticket_ttl = clock, leeway, ticket_ttl

    async def complete(self, form: LaunchForm, binding: BrowserBinding) -> CompletedLaunch | StorageCheck:
        """Raises an LtiError subclass (with `reference` set to the launch log id) when the launch fails.

        A StorageCheck is not an attempt of its own and is not logged; the post that follows it is.
        """
        launch_id = new_id()
        trace = _Trace()
        try:
            verified = await self._verify(form, binding, trace)
        except LtiError as error:
            await self._log.record(_failure(launch_id, self._clock(), error, trace))
            error.reference = launch_id
            raise
        failure: LtiError | None = None
        async with self._unit_of_work():
            try:
                return await self._admit_launch(launch_id, form, binding, verified, trace)
            except LtiError as error:
                # Kept with what the attempt wrote before it failed (the state it consumed stays consumed).
                await self._log.record(_failure(launch_id, self._clock(), error, trace))
                error.reference = launch_id
                failure = error
        assert failure is not None  # the block returned otherwise
        raise failure

    async def _verify(self, form: LaunchForm, binding: BrowserBinding, trace: _Trace) -> _Verified:
        """The form's checks and the token's signature and claims: reads only (and the key-set fetch)."""
        if form.error:
            detail = f": {form.error_description[:300]}" if form.error_description else ""
            raise PlatformReportedError(f"the platform answered the login with error '{form.error[:60]}'{detail}")
        if not form.id_token:
            raise TokenMalformed("the launch request has no id_token")
        if not form.state:
            raise StateMissing("the launch request has no state parameter")
        if isinstance(binding, CookieBinding) and binding.state is not None:
            _check_cookie(form.state, binding.state)

        unverified = read_unverified_launch(form.id_token)
        trace.issuer = unverified.issuer
        platform = await self._registrations.for_launch(unverified.issuer, unverified.audiences)
        trace.platform = platform
        key = await self._keys.key(platform.fields.jwks_url, unverified.header.kid)
        now = self._clock()
        claims = verify_id_token(
            unverified,
            key,
            issuer=platform.fields.issuer,
            client_id=platform.fields.client_id,
            now=now,
            leeway=self._leeway,
        )
        trace.claims = claims
        return _Verified(form.id_token, form.state, platform, claims, now)

    async def _admit_launch(
        self, launch_id: str, form: LaunchForm, binding: BrowserBinding, verified: _Verified, trace: _Trace
    ) -> CompletedLaunch | StorageCheck:
        """Everything after the signature: only now may the attempt touch stored state."""
        platform, claims, now = verified.platform, verified.claims, verified.now
        check = await self._check_browser_binding(verified.id_token, verified.state, binding, claims, platform, now)
        if check is not None:
            return check
        state = await self._consume_state(verified.state, platform, now)
        check_nonce(claims, state.nonce)
        message = parse_message(claims, platform.fields.client_id)
        trace.message = message
        check_target_link_uri(message.target_link_uri, state.target_link_uri)
        await self._check_deployment(platform, message.deployment_id)
        resource = await self._route(message, trace)
        learner_id = await self._admit(platform, message, now, trace)

        if message.is_deep_linking:
            # Deep linking to the bare launch URL, or to a resource that is not a picker: ltigate's picker.
            picker_resource = resource if resource is not None and resource.fields.picker else None
            opened = await self._deep_linking.open(launch_id, platform, message, picker_resource)
            if picker_resource is None:
                await self._log.record(_success(launch_id, now, platform, message, None, claims, None, learner_id))
                return CompletedLaunch(launch_id, "", None, message, platform, picker=opened)
        assert resource is not None
        jti = secrets.token_urlsafe(16)
        ticket = issue_ticket(
            issuer=self._issuer,
            audience=_origin(resource.fields.app_url),
            launch_id=launch_id,
            jti=jti,
            summary=_summary(message, resource, learner_id),
            now=int(now),
            ttl=self._ticket_ttl,
            key=self._tool_keys.signing_key(KeyPurpose.TICKET),
        )
        await self._log.record(_success(launch_id, now, platform, message, resource, claims, jti, learner_id))
        if self._after_success is not None:
            await self._after_success(platform, message)
        return CompletedLaunch(
            launch_id=launch_id,
            redirect_url=_with_query(_destination(message, resource), f"ticket={ticket}"),
            resource=resource,
            message=message,
            platform=platform,
        )

    async def _route(self, message: LtiMessage, trace: _Trace) -> Resource | None:
        """The resource the target link URI names. A deep-linking request may name none (the bare launch
        URL): it gets ltigate's picker."""
        if message.is_deep_linking:
            trace.slug = read_optional_resource_slug(message.target_link_uri, self._urls.launch_url)
            if trace.slug is None:
                return None
        else:
            trace.slug = read_resource_slug(message.target_link_uri, self._urls.launch_url)
        resource = await self._resources.get(trace.slug)
        if resource is None:
            raise UnknownResource(f"resource '{trace.slug[:200]}' does not exist; create it or fix the link's URL")
        return resource

    async def _admit(self, platform: Platform, message: LtiMessage, now: float, trace: _Trace) -> str | None:
        """Find or create the learner and check their seat; the learner id, None for an anonymous launch
        (no account, and no seat: there is no one to hold it). Raises SeatsExhausted."""
        visit = await self._learners.visit(platform, message, now)
        if visit is None:
            return None
        trace.learner_id = visit.learner.id
        await self._seats.admit(platform, visit, message.roles, now)
        return visit.learner.id

    async def _consume_state(self, state_value: str, platform: Platform, now: float) -> LoginState:
        return _usable(await self._states.consume(secret_digest(state_value), now), platform, now)

    async def _check_browser_binding(
        self,
        id_token: str,
        state_value: str,
        binding: BrowserBinding,
        claims: dict[str, object],
        platform: Platform,
        now: float,
    ) -> StorageCheck | None:
        """After the signature: None when the binding holds (a matching cookie, compared before the token was
        read, or a good report from ltigate's check page); a StorageCheck when the browser sent no cookie but
        the login used the platform's storage. Reads the state without consuming it.

        Raises StateMissing (no cookie, and no platform storage at login), the state errors of an unusable
        state, NonceMismatch, StorageCheckForeign, and the storage errors of `check_storage_report`.
        """
        if isinstance(binding, CookieBinding) and binding.state is not None:
            return None
        state = _usable(await self._states.peek(secret_digest(state_value)), platform, now)
        if state.storage_target is None:
            if isinstance(binding, StorageBinding):
                raise StateMissing("this login kept its state in a cookie, not in the platform's storage")
            raise StateMissing(
                "the browser did not send the login cookie; it may block third-party cookies in this frame"
            )
        check_nonce(claims, state.nonce)
        if isinstance(binding, CookieBinding):
            return StorageCheck(
                id_token=id_token,
                state=state_value,
                nonce=state.nonce,
                storage_target=state.storage_target,
                storage_origin=storage_origin(platform.fields.auth_url),
                platform=platform,
            )
        if not binding.same_origin:
            raise StorageCheckForeign("the storage check was not posted by a page of this gateway")
        check_storage_report(binding.report, state=state_value, nonce=state.nonce)
        return None

    async def _check_deployment(self, platform: Platform, deployment_id: str) -> None:
        deployment = platform.deployment(deployment_id)
        fields: PlatformFields = platform.fields
        if deployment is not None:
            if deployment.status is DeploymentStatus.APPROVED:
                return
            if deployment.status is DeploymentStatus.PENDING:
                raise DeploymentPending(
                    f"deployment_id '{deployment_id}' of platform '{fields.name}' awaits an administrator's approval"
                )
            raise DeploymentRejected(f"deployment_id '{deployment_id}' of platform '{fields.name}' was rejected")
        policy = fields.deployment_policy
        if policy is DeploymentPolicy.REJECT:
            raise UnknownDeployment(f"deployment_id '{deployment_id}' is not registered for issuer '{fields.issuer}'")
        status = DeploymentStatus.APPROVED if policy is DeploymentPolicy.APPROVE else DeploymentStatus.PENDING
        stored = await self._registrations.record_deployment(platform, deployment_id, status, self._clock())
        if stored.status is DeploymentStatus.APPROVED:
            return
        raise DeploymentPending(
            f"deployment_id '{deployment_id}' is new on platform '{fields.name}' and was recorded for an "
            "administrator's approval"
        )


def _check_cookie(state: str, cookie_state: str) -> None:
    if not hmac.compare_digest(cookie_state.encode(), state.encode()):
        raise StateMismatch("the state does not match the one stored in this browser")


def _usable(found: ConsumedState | None, platform: Platform, now: float) -> LoginState:
    """The state of a launch, if it may be used: known, unused, of this platform, not expired."""
    if found is None:
        raise StateUnknown("the login state is unknown or was purged; start the launch again from the LMS")
    if not found.first_use:
        raise LaunchReplayed("this launch was already used; each launch can be opened once")
    if found.state.platform_id != platform.id:
        raise StateMismatch("the login state was issued for another platform than the one that signed the token")
    if found.state.expires_at <= now:
        raise StateExpired("the login took too long and its state expired; start the launch again from the LMS")
    return found.state


def _summary(message: LtiMessage, resource: Resource, learner_id: str | None) -> dict[str, object]:
    """The ticket's launch claim: enough for the app to route the browser before it asks for the rest."""
    summary: dict[str, object] = {
        "resource": resource.fields.slug,
        "sub": message.user.sub,
        "user_id": learner_id,
        "roles": list(message.short_roles),
        "message_type": message.message_type,
    }
    if message.for_user is not None:
        summary["for_user"] = message.for_user.user_id
    return summary


def _destination(message: LtiMessage, resource: Resource) -> str:
    """Where the app receives the launch: a submission review opens the review URL, else the app URL
    with review=1; every other launch opens the app URL."""
    fields = resource.fields
    if message.is_submission_review:
        return fields.review_url or _with_query(fields.app_url, "review=1")
    return fields.app_url


def _with_query(url: str, parameter: str) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{parameter}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _failure(launch_id: str, now: float, error: LtiError, trace: _Trace) -> LaunchRecord:
    message = trace.message
    return LaunchRecord(
        id=launch_id,
        created_at=now,
        outcome=LaunchOutcome.FAILED,
        error_code=error.code,
        error_message=error.message[:2000],
        platform_id=trace.platform.id if trace.platform else None,
        issuer=(trace.issuer or "")[:300] or None,
        client_id=trace.platform.fields.client_id if trace.platform else None,
        deployment_id=message.deployment_id if message else _text(trace.claims, "deployment_id"),
        message_type=message.message_type if message else None,
        sub=message.user.sub if message else _text(trace.claims, "sub"),
        user_name=message.user.name if message else None,
        context_id=message.context.id if message and message.context else None,
        resource_link_id=message.resource_link.id if message and message.resource_link else None,
        resource_slug=trace.slug,
        claims=trace.claims,
        learner_id=trace.learner_id,
    )


def _text(claims: dict[str, object] | None, name: str) -> str | None:
    if not claims:
        return None
    key = name if name in ("sub",) else "https://purl.imsglobal.org/spec/lti/claim/" + name
    value = claims.get(key)
    return value[:255] if isinstance(value, str) else None


def _success(
    launch_id: str,
    now: float,
    platform: Platform,
    message: LtiMessage,
    resource: Resource | None,
    claims: dict[str, object],
    jti: str | None,
    learner_id: str | None,
) -> LaunchRecord:
    return LaunchRecord(
        id=launch_id,
        created_at=now,
        outcome=LaunchOutcome.SUCCEEDED,
        platform_id=platform.id,
        issuer=platform.fields.issuer,
        client_id=platform.fields.client_id,
        deployment_id=message.deployment_id,
        message_type=message.message_type,
        sub=message.user.sub,
        user_name=message.user.name,
        context_id=message.context.id if message.context else None,
        resource_link_id=message.resource_link.id if message.resource_link else None,
        resource_slug=resource.fields.slug if resource else None,
        claims=claims,
        ticket_jti=jti,
        learner_id=learner_id,
    )
