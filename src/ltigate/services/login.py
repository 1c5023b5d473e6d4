"""Begin an OIDC login (lti-reference §1.1–1.2): find the registration, store a one-time state with
its nonce (and, when the platform offers it, the frame of its postMessage storage, §8), and build the
authentication request the browser is redirected to.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from ltigate.lti.errors import LtiError
from ltigate.lti.login import LoginInitiation, build_auth_request_url, parse_login_initiation
from ltigate.services.digest import secret_digest
from ltigate.services.ids import new_id
from ltigate.services.ports import Clock, LaunchLog, StateStore
from ltigate.services.records import LaunchOutcome, LaunchRecord, LoginState, Platform
from ltigate.services.registrations import Registrations


@dataclass(frozen=True, slots=True)
class LoginRedirect:
    """Where the browser goes next, and what binds the login to it: the state (cookie) and, when the
    initiation named a storage frame, state and nonce put into the platform's storage by the browser."""

    url: str
    state: str
    max_age: int
    nonce: str
    platform: Platform
    initiation: LoginInitiation


@dataclass(frozen=True, slots=True)
class GatewayUrls:
    origin: str
    launch_url: str


class LoginService:
    def __init__(
        self,
        registrations: Registrations,
        states: StateStore,
        log: LaunchLog,
        urls: GatewayUrls,
        clock: Clock,
        state_ttl: int,
    ) -> None:
        self._registrations, self._states, self._log = registrations, states, log
        self._urls, self._clock, self._ttl = urls, clock, state_ttl

    async def begin(self, params: Mapping[str, str]) -> LoginRedirect:
        """Raises LoginError or RegistrationError subclasses; failures are written to the launch log."""
        try:
            initiation = parse_login_initiation(params, self._urls.origin)
            platform = await self._registrations.for_login(initiation.issuer, initiation.client_id)
        except LtiError as error:
            await self._record_failure(error, params)
            raise
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        await self._states.put(
            LoginState(
                state_hash=secret_digest(state),
                nonce=nonce,
                platform_id=platform.id,
                target_link_uri=initiation.target_link_uri,
                expires_at=self._clock() + self._ttl,
                storage_target=initiation.storage_target,
            )
        )
        url = build_auth_request_url(
            platform.fields.auth_url,
            client_id=platform.fields.client_id,
            redirect_uri=self._urls.launch_url,
            initiation=initiation,
            state=state,
            nonce=nonce,
        )
        return LoginRedirect(
            url=url, state=state, max_age=self._ttl, nonce=nonce, platform=platform, initiation=initiation
        )

    async def _record_failure(self, error: LtiError, params: Mapping[str, str]) -> None:
        record = LaunchRecord(
            id=new_id(),
            created_at=self._clock(),
            outcome=LaunchOutcome.FAILED,
            error_code=error.code,
            error_message=error.message,
            issuer=(params.get("iss") or "")[:300] or None,
            client_id=(params.get("client_id") or "")[:255] or None,
            deployment_id=(params.get("lti_deployment_id") or "")[:255] or None,
            message_type="login",
        )
        await self._log.record(record)
        error.reference = record.id
