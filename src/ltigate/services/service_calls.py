"""Authenticated calls to a platform's LTI Advantage services: bearer token, media types, one token
renewal on a 401, and a clear error for answers the caller cannot use.
"""

from __future__ import annotations

from collections.abc import Sequence

from ltigate.services.errors import ServiceError
from ltigate.services.ports import Http, HttpResponse
from ltigate.services.records import Platform
from ltigate.services.service_tokens import ServiceTokens


class PlatformServiceError(ServiceError):
    """The platform's service answered with an error the gateway cannot fix by retrying now."""

    code = "platform_service_error"
    status = 502

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class ServiceCalls:
    def __init__(self, http: Http, tokens: ServiceTokens) -> None:
        self._http, self._tokens = http, tokens

    async def call(
        self,
        platform: Platform,
        deployment_id: str | None,
        scopes: Sequence[str],
        method: str,
        url: str,
        *,
        accept: str | None = None,
        content_type: str | None = None,
        body: bytes | None = None,
        max_body_bytes: int | None = None,
    ) -> HttpResponse:
        """Send one request with a token for `scopes`; on 401 renew the token once and resend.

        Returns the answer whatever its status; raises HttpTransportError, TokenRequestRejected or
        TokenResponseInvalid.
        """
        rejected: str | None = None
        for _ in range(2):
            token = await self._tokens.token(platform, scopes, deployment_id, rejected=rejected)
            headers = {"Authorization": f"Bearer {token}"}
            if accept:
                headers["Accept"] = accept
            if content_type:
                headers["Content-Type"] = content_type
            response = await self._http.exchange(method, url, headers=headers, body=body, max_body_bytes=max_body_bytes)
            if response.status != 401:
                return response
            rejected = token
        return response


def expect_success(response: HttpResponse, what: str) -> HttpResponse:
    """Raise PlatformServiceError quoting the status and the start of the body unless 2xx."""
    if 200 <= response.status < 300:
        return response
    snippet = " ".join(response.body[:300].decode("utf-8", "replace").split())
    raise PlatformServiceError(f"{what} failed: the platform answered {response.status}: {snippet}", response.status)
