"""Access tokens for LTI Advantage services (Security Framework §4.1; lti-reference §3): requested with
a signed client assertion, cached per (platform, scope set) in memory and in the database shared by all
processes, refreshed shortly before expiry, and requested once when several callers need one at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import quote

import anyio

from ltigate.lti.service_token import build_client_assertion, parse_token_response, scope_key, token_request_form
from ltigate.services.ports import Clock, Http, TokenCache
from ltigate.services.records import KeyPurpose, Platform, ServiceToken
from ltigate.services.sealing import Sealer, UnsealError
from ltigate.services.tool_keys import ToolKeys

FORM = "application/x-www-form-urlencoded"
# Tokens are renewed this long before they expire, so a request never leaves with a dying token.
EXPIRY_SKEW_SECONDS = 60.0
MAX_MEMORY_TOKENS = 10_000
SEAL_PURPOSE = "service-token"  # cached tokens are sealed at rest for this purpose, as hex text


class ServiceTokens:
    def __init__(self, http: Http, cache: TokenCache, tool_keys: ToolKeys, sealer: Sealer, clock: Clock) -> None:
        self._http, self._cache, self._tool_keys, self._sealer, self._clock = http, cache, tool_keys, sealer, clock
        self._memory: dict[tuple[str, str], ServiceToken] = {}
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        self.requests = 0  # token requests sent to platforms, for metrics and benchmarks

    async def token(
        self, platform: Platform, scopes: Sequence[str], deployment_id: str | None, *, rejected: str | None = None
    ) -> str:
        """A valid access token for `scopes`. `rejected` is a token the platform just refused (a 401): it is
        never returned again, and a new one is requested unless another caller (in this process or another)
        renewed it meanwhile, so many requests meeting one revoked token renew it once, not once each.

        Raises TokenRequestRejected / TokenResponseInvalid (lti.errors) or HttpTransportError.
        """
        key = (platform.id, scope_key(scopes))
        if (cached := self._usable(self._memory.get(key), rejected)) is not None:
            return cached.access_token
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            if (cached := self._usable(self._memory.get(key), rejected)) is not None:
                return cached.access_token
            stored = await self._cache.get(platform.id, key[1], self._clock() + EXPIRY_SKEW_SECONDS)
            token = self._usable(self._unseal(stored), rejected)
            if token is None:
                token = await self._request(platform, scopes, deployment_id)
            if len(self._memory) >= MAX_MEMORY_TOKENS:
                self._memory.clear()
            self._memory[key] = token
            return token.access_token

    def _usable(self, token: ServiceToken | None, rejected: str | None) -> ServiceToken | None:
        token = self._fresh(token)
        return None if token is None or token.access_token == rejected else token

    def _fresh(self, token: ServiceToken | None) -> ServiceToken | None:
        if token is None or token.expires_at - EXPIRY_SKEW_SECONDS <= self._clock():
            return None
        return token

    def _unseal(self, stored: ServiceToken | None) -> ServiceToken | None:
        """The cached token opened; None (a miss: a new one is requested and replaces it) when there is none
        or it does not open, as when a process still on the old secret key cached it after a rotation."""
        if stored is None:
            return None
        try:
            plain = self._sealer.unseal(bytes.fromhex(stored.access_token), SEAL_PURPOSE).decode()
        except (ValueError, UnsealError):
            return None
        return ServiceToken(access_token=plain, scopes=stored.scopes, expires_at=stored.expires_at)

    async def _request(self, platform: Platform, scopes: Sequence[str], deployment_id: str | None) -> ServiceToken:
        fields = platform.fields
        now = self._clock()
        assertion = build_client_assertion(
            client_id=fields.client_id,
            audience=fields.token_audience or fields.token_url,
            key=self._tool_keys.signing_key(KeyPurpose.LTI),
            now=int(now),
            jti=uuid.uuid4().hex,
            deployment_id=deployment_id if fields.send_deployment_id else None,
        )
        body = "&".join(f"{k}={_quote(v)}" for k, v in token_request_form(assertion, scopes).items()).encode()
        self.requests += 1
        response = await self._http.exchange(
            "POST", fields.token_url, headers={"Content-Type": FORM, "Accept": "application/json"}, body=body
        )
        granted = parse_token_response(response.status, response.body, requested=scopes, now=now)
        token = ServiceToken(access_token=granted.access_token, scopes=granted.scopes, expires_at=granted.expires_at)
        sealed = self._sealer.seal(token.access_token.encode(), SEAL_PURPOSE).hex()
        await self._cache.put(
            platform.id,
            scope_key(scopes),
            ServiceToken(access_token=sealed, scopes=token.scopes, expires_at=token.expires_at),
        )
        return token


def _quote(value: str) -> str:
    return quote(value, safe="")
