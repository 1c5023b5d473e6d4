"""The demo LMS's side of Dynamic Registration (lti-reference §7): a button that opens the tool's registration
URL with this LMS's `openid_configuration` and a fresh `registration_token`, the OpenID configuration itself,
and a registration endpoint that checks the token (one use) and the tool's registration, and hands out a
client id and a deployment id. Registrations are kept in memory and listed on the home page.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ltigate.demo.course import LmsConfig
from ltigate.demo.lms_services import AGS_SCOPES
from ltigate.lti import claims as c
from ltigate.lti import nrps

CONFIGURATION_PATH: Final = "/.well-known/openid-configuration"
REGISTRATION_PATH: Final = "/registration"
TOOL_CONFIGURATION: Final = "https://purl.imsglobal.org/spec/lti-tool-configuration"
TOKEN_TTL_SECONDS: Final = 3600.0
MAX_BODY_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class DemoRegistration:
    client_id: str
    deployment_id: str
    client_name: str
    scope: str
    at: float


@dataclass
class RegistrationDesk:
    """`registration_url` is the tool's (ltigate's) Dynamic Registration URL; None hides the button."""

    config: LmsConfig
    registration_url: str | None
    token_url: str
    clock: Callable[[], float] = time.time
    registrations: list[DemoRegistration] = field(default_factory=list)
    _tokens: dict[str, float] = field(default_factory=dict)  # token → expiry

    def configuration(self) -> dict[str, object]:
        issuer = self.config.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": self.token_url,
            "jwks_uri": f"{issuer}/jwks",
            "registration_endpoint": f"{issuer}{REGISTRATION_PATH}",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", *AGS_SCOPES, nrps.SCOPE],
            "claims_supported": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "ltigate-demo",
                "version": "1",
                "messages_supported": [{"type": c.RESOURCE_LINK_REQUEST}, {"type": c.DEEP_LINKING_REQUEST}],
            },
        }

    def routes(self) -> list[Route]:
        async def start(request: Request) -> Response:
            if self.registration_url is None:
                return JSONResponse({"error": "no registration URL configured"}, status_code=404)
            token = secrets.token_urlsafe(24)
            self._tokens[token] = self.clock() + TOKEN_TTL_SECONDS
            params = urlencode(
                {"openid_configuration": self.config.issuer + CONFIGURATION_PATH, "registration_token": token}
            )
            separator = "&" if "?" in self.registration_url else "?"
            return RedirectResponse(f"{self.registration_url}{separator}{params}", status_code=303)

        async def configuration(request: Request) -> Response:
            return JSONResponse(self.configuration())

        async def register(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            expiry = self._tokens.pop(token, None) if scheme.lower() == "bearer" else None
            if expiry is None or expiry < self.clock():
                return _refused("invalid_token", "the registration token is unknown, used or expired", 401)
            body = await request.body()
            try:
                registration = json.loads(body[:MAX_BODY_BYTES])
            except ValueError:
                return _refused("invalid_client_metadata", "the registration is not JSON")
            problem = _check(registration)
            if problem:
                return _refused("invalid_client_metadata", problem)
            number = len(self.registrations) + 1
            entry = DemoRegistration(
                client_id=f"demo-dr-client-{number}",
                deployment_id=f"demo-dr-deployment-{number}",
                client_name=str(registration.get("client_name")),
                scope=str(registration.get("scope", "")),
                at=self.clock(),
            )
            self.registrations.append(entry)
            answer = {
                **registration,
                "client_id": entry.client_id,
                TOOL_CONFIGURATION: {**registration[TOOL_CONFIGURATION], "deployment_id": entry.deployment_id},
            }
            return JSONResponse(answer, status_code=201)

        return [
            Route("/registration/start", start, methods=["POST"]),
            Route(CONFIGURATION_PATH, configuration, methods=["GET"]),
            Route(REGISTRATION_PATH, register, methods=["POST"]),
        ]


def _check(registration: object) -> str | None:
    """What is wrong with a tool's registration (DR §3.3), or None."""
    if not isinstance(registration, dict):
        return "the registration is not a JSON object"
    for name in ("initiate_login_uri", "jwks_uri", "client_name"):
        if not isinstance(registration.get(name), str) or not registration[name]:
            return f"{name} is missing"
    uris = registration.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        return "redirect_uris must be a non-empty list"
    if registration.get("token_endpoint_auth_method") != "private_key_jwt":
        return "token_endpoint_auth_method must be private_key_jwt"
    tool = registration.get(TOOL_CONFIGURATION)
    if not isinstance(tool, dict) or not isinstance(tool.get("target_link_uri"), str):
        return f"{TOOL_CONFIGURATION} with a target_link_uri is required"
    return None


def _refused(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
