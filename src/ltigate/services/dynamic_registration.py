"""Dynamic Registration as a use case (lti-reference §7): check who may register (a one-time link, or anyone),
fetch and check the platform's OpenID configuration, show what will be registered, then post the registration
and store the platform with its deployment, waiting for an administrator's approval unless the instance says
otherwise. Every attempt that fails, and every registration, is written to the attempt log.

The confirmation form carries the initiation parameters sealed (AES-GCM under the instance secret, with the
time they were sealed), so the POST needs no server-side session and cannot be altered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final
from urllib.parse import urlsplit

from ltigate.lti import ags
from ltigate.lti.errors import (
    LtiError,
    PlatformConfigurationUnavailable,
    RegistrationDuplicate,
    RegistrationEndpointTimeout,
    RegistrationEndpointUnreachable,
    RegistrationResponseInvalid,
)
from ltigate.lti.profiles import LmsProfile, profile_for
from ltigate.lti.registration import (
    MAX_DOCUMENT_BYTES,
    PlatformConfiguration,
    RegistrationResult,
    RegistrationStart,
    ToolDescription,
    build_registration_request,
    parse_platform_configuration,
    parse_registration_response,
    parse_registration_start,
)
from ltigate.services.errors import Conflict, ServiceError
from ltigate.services.platforms import Platforms
from ltigate.services.ports import Clock, Http, HttpTransportError
from ltigate.services.records import (
    AttemptOutcome,
    DeploymentPolicy,
    Platform,
    PlatformFields,
    RegisteredVia,
    RegistrationAttempt,
    RegistrationLink,
)
from ltigate.services.registration_links import RegistrationLinkRequired, RegistrationLinks
from ltigate.services.registration_ports import RegistrationAttemptLog
from ltigate.services.sealing import Sealer, UnsealError

FORM_PURPOSE: Final = "dynamic-registration-form"
MAX_NAME: Final = 255


class RegistrationMode(str, Enum):
    LINK = "link"  # only with a one-time registration link
    OPEN = "open"  # anyone who has the registration URL
    OFF = "off"


class RegistrationDisabled(ServiceError):
    code = "registration_disabled"
    status = 403


class RegistrationFormInvalid(ServiceError):
    """The confirmation form is altered, from another instance, or older than its lifetime."""

    code = "registration_form_expired"
    status = 400


@dataclass(frozen=True, slots=True)
class RegistrationPolicy:
    mode: RegistrationMode = RegistrationMode.LINK
    approval_required: bool = True
    issuer_hosts: Mapping[str, Sequence[str]] = field(default_factory=dict)
    form_ttl_seconds: float = 3600.0  # Moodle's registration token lives an hour


@dataclass(frozen=True, slots=True)
class RegistrationPlan:
    """What the confirmation page shows: the platform, the LMS profile, and the registration to be sent."""

    configuration: PlatformConfiguration
    profile: LmsProfile
    platform_name: str
    request: Mapping[str, object]
    approval_required: bool
    link: RegistrationLink | None
    form_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CompletedRegistration:
    platform: Platform
    result: RegistrationResult
    profile: LmsProfile
    warnings: tuple[str, ...] = ()


class DynamicRegistration:
    def __init__(
        self,
        *,
        http: Http,
        platforms: Platforms,
        links: RegistrationLinks,
        attempts: RegistrationAttemptLog,
        tool: ToolDescription,
        sealer: Sealer,
        clock: Clock,
        policy: RegistrationPolicy,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._http, self._platforms, self._links, self._attempts = http, platforms, links, attempts
        self.tool, self._sealer, self._clock, self.policy = tool, sealer, clock, policy
        self._on_change = on_change

    async def prepare(self, params: Mapping[str, str], link_secret: str | None) -> RegistrationPlan:
        """Check the caller may register and the platform's configuration; nothing is stored or claimed.

        Raises RegistrationDisabled, the registration link errors, or DynamicRegistrationError subclasses
        (each written to the attempt log).
        """
        trace = _Trace(stage="prepare", configuration_url=params.get("openid_configuration"))
        try:
            self._check_mode(link_secret)
            link = await self._links.check(link_secret) if link_secret else None
            trace.link = link
            start = parse_registration_start(params)
            configuration = trace.configuration = await self._configuration(start)
        except (LtiError, ServiceError) as error:
            await self._record_failure(trace, error)
            raise
        profile = profile_for(configuration.product_family_code)
        sealed = json.dumps(
            {
                "c": start.openid_configuration,
                "t": start.registration_token,
                "l": link_secret,
                "at": self._clock(),
            }
        ).encode()
        return RegistrationPlan(
            configuration=configuration,
            profile=profile,
            platform_name=_platform_name(profile, configuration),
            request=build_registration_request(self.tool, configuration, profile),
            approval_required=self.policy.approval_required,
            link=link,
            form_token=self._sealer.seal(sealed, FORM_PURPOSE).hex(),
        )

    async def register(self, form_token: str | None) -> CompletedRegistration:
        """Register with the platform the confirmation form names: claim the link, fetch and check the
        configuration again, post the registration, and store the platform and its deployment.

        Raises RegistrationFormInvalid, RegistrationDisabled, the registration link errors, RegistrationDuplicate
        or DynamicRegistrationError subclasses; on any failure nothing is stored and the link stays usable.
        """
        trace = _Trace(stage="register")
        link: RegistrationLink | None = None
        try:
            start, link_secret = self._open_form(form_token)
            trace.configuration_url = start.openid_configuration
            self._check_mode(link_secret)
            link = trace.link = await self._links.claim(link_secret) if link_secret else None
            completed = await self._register(start, trace)
        except (LtiError, ServiceError) as error:
            if link is not None:
                await self._links.release(link)
            await self._record_failure(trace, error)
            raise
        if link is not None:
            await self._links.complete(link, completed.platform.id)
        await self._record(trace, AttemptOutcome.SUCCEEDED)
        self._on_change()
        return completed

    async def attempts(self, limit: int = 50) -> list[RegistrationAttempt]:
        return await self._attempts.list(limit)

    async def purge(self, older_than_seconds: float) -> int:
        return await self._attempts.purge(self._clock() - older_than_seconds)

    async def _register(self, start: RegistrationStart, trace: _Trace) -> CompletedRegistration:
        configuration = trace.configuration = await self._configuration(start)
        profile = profile_for(configuration.product_family_code)
        request = build_registration_request(self.tool, configuration, profile)
        result = trace.result = await self._post(configuration, start, request)
        granted_score = result.scopes is None or ags.SCOPE_SCORE in result.scopes
        warnings: list[str] = []
        if not granted_score:
            warnings.append("The platform did not grant the score scope: grade passback is off for this platform.")
        if result.scopes is not None:
            missing = [s for s in str(request["scope"]).split() if s not in result.scopes]
            if missing:
                warnings.append("Not granted: " + ", ".join(missing) + ".")
        fields = PlatformFields(
            name=_platform_name(profile, configuration),
            issuer=configuration.issuer,
            client_id=result.client_id,
            auth_url=configuration.authorization_endpoint,
            token_url=configuration.token_endpoint,
            jwks_url=configuration.jwks_uri,
            deployment_ids=(result.deployment_id,) if result.deployment_id else (),
            grade_passback=granted_score,
            # The platform's administrator chose where the tool is deployed; approving the platform approves them.
            deployment_policy=DeploymentPolicy.APPROVE,
            token_audience=configuration.token_audience,
            send_deployment_id=profile.send_deployment_id,
        )
        try:
            platform = await self._platforms.create(
                fields,
                awaiting_approval=self.policy.approval_required,
                registered_via=RegisteredVia.DYNAMIC,
                product_family_code=configuration.product_family_code,
            )
        except Conflict as conflict:
            raise RegistrationDuplicate(
                f"the platform registered ltigate with client_id '{result.client_id[:100]}', but issuer "
                f"'{configuration.issuer[:200]}' has a platform with that client_id already: {conflict.message}"
            ) from None
        trace.platform = platform
        return CompletedRegistration(platform=platform, result=result, profile=profile, warnings=tuple(warnings))

    def _check_mode(self, link_secret: str | None) -> None:
        if self.policy.mode is RegistrationMode.OFF:
            raise RegistrationDisabled("Dynamic Registration is switched off on this ltigate")
        if self.policy.mode is RegistrationMode.LINK and not link_secret:
            raise RegistrationLinkRequired(
                "this ltigate accepts Dynamic Registration only through a one-time registration link; "
                "ask its administrator for one"
            )

    def _open_form(self, form_token: str | None) -> tuple[RegistrationStart, str | None]:
        try:
            sealed = bytes.fromhex(form_token or "")
            values = json.loads(self._sealer.unseal(sealed, FORM_PURPOSE))
        except (ValueError, UnsealError):
            raise RegistrationFormInvalid(
                "the registration form is not valid here: start the registration again from the LMS"
            ) from None
        if not isinstance(values, dict) or self._clock() - float(values.get("at", 0)) > self.policy.form_ttl_seconds:
            raise RegistrationFormInvalid("the registration form expired: start the registration again from the LMS")
        params = {"openid_configuration": values.get("c") or ""}
        if values.get("t"):
            params["registration_token"] = values["t"]
        link = values.get("l")
        return parse_registration_start(params), link if isinstance(link, str) and link else None

    async def _configuration(self, start: RegistrationStart) -> PlatformConfiguration:
        url = start.openid_configuration
        headers = {"Accept": "application/json"}
        if start.registration_token:
            headers["Authorization"] = f"Bearer {start.registration_token}"
        try:
            response = await self._http.exchange("GET", url, headers=headers, max_body_bytes=MAX_DOCUMENT_BYTES)
        except HttpTransportError as exc:
            raise PlatformConfigurationUnavailable(
                f"the platform's OpenID configuration could not be fetched: {exc}"
            ) from None
        if response.status != 200:
            raise PlatformConfigurationUnavailable(
                f"the platform's OpenID configuration at {without_query(url)} answered HTTP {response.status}; "
                "expected 200 (is the registration token expired?)"
            )
        return parse_platform_configuration(response.body, url, issuer_hosts=self.policy.issuer_hosts)

    async def _post(
        self, configuration: PlatformConfiguration, start: RegistrationStart, request: Mapping[str, object]
    ) -> RegistrationResult:
        endpoint = configuration.registration_endpoint
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if start.registration_token:
            headers["Authorization"] = f"Bearer {start.registration_token}"
        body = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            response = await self._http.exchange(
                "POST", endpoint, headers=headers, body=body, max_body_bytes=MAX_DOCUMENT_BYTES
            )
        except HttpTransportError as exc:
            if exc.kind == "timeout":
                raise RegistrationEndpointTimeout(
                    f"the registration endpoint did not answer in time ({exc}); the LMS may have registered "
                    "ltigate anyway: check its tool list before trying again"
                ) from None
            if exc.kind == "too_large":
                raise RegistrationResponseInvalid(f"the registration response is too large ({exc})") from None
            raise RegistrationEndpointUnreachable(f"the registration endpoint cannot be reached: {exc}") from None
        return parse_registration_response(response.status, response.body)

    async def _record_failure(self, trace: _Trace, error: LtiError | ServiceError) -> None:
        await self._record(trace, AttemptOutcome.FAILED, error)

    async def _record(
        self, trace: _Trace, outcome: AttemptOutcome, error: LtiError | ServiceError | None = None
    ) -> None:
        configuration = trace.configuration
        await self._attempts.record(
            RegistrationAttempt(
                id=uuid.uuid4().hex,
                created_at=self._clock(),
                outcome=outcome,
                stage=trace.stage,
                error_code=error.code if error else None,
                error_message=error.message[:2000] if error else None,
                configuration_url=without_query(trace.configuration_url) if trace.configuration_url else None,
                issuer=configuration.issuer if configuration else None,
                client_id=trace.result.client_id if trace.result else None,
                product_family_code=configuration.product_family_code if configuration else None,
                platform_id=trace.platform.id if trace.platform else None,
                link_id=trace.link.id if trace.link else None,
            )
        )


@dataclass(slots=True)
class _Trace:
    """What is known so far about an attempt, for the attempt log."""

    stage: str
    configuration_url: str | None = None
    link: RegistrationLink | None = None
    configuration: PlatformConfiguration | None = None
    result: RegistrationResult | None = None
    platform: Platform | None = None


def without_query(url: str) -> str:
    """`url` without credentials, query and fragment: those may carry the registration token."""
    try:
        parts = urlsplit(url[:2048])
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?…" if parts.query else "")


def _platform_name(profile: LmsProfile, configuration: PlatformConfiguration) -> str:
    where = configuration.account_name or urlsplit(configuration.issuer).netloc
    return f"{profile.name} ({where})"[:MAX_NAME]
