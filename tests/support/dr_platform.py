"""A fake LMS for Dynamic Registration tests, written from LTI DR 1.0 and the LMSs' documentation (not from
ltigate's code): it serves an OpenID configuration and a registration endpoint, records what the tool sent,
and misbehaves on command. Its key set is a ScriptedPlatform's, so a registered tool can be launched.

Styles: "moodle" (messages_supported as plain strings, deployment_id in the answer, configuration readable
without the token) and "canvas" (placements announced per message, a bare-host authorization_server, the
token required for the configuration and the registration, no deployment_id in the answer).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ltigate.lti.keys import key_set_document
from tests.support.platform import ScriptedPlatform

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
REGISTRATION_MODES = ("ok", "400", "500", "garbage", "slow", "no_client_id")
_numbers = itertools.count(1)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


@dataclass
class DrPlatform:
    style: str = "moodle"  # moodle | canvas
    token: str = "reg-token-123"
    issuer: str = ""  # default: the server's URL
    registration_mode: str = "ok"
    registration_endpoint: str = ""  # default: the server's /register
    granted_scope: str | None = None  # what the answer says was granted; default: what was asked
    fixed_client_id: str | None = None  # every registration gets this client_id (a duplicate)
    url: str = ""
    platform: ScriptedPlatform = field(default_factory=ScriptedPlatform)
    requests: list[Received] = field(default_factory=list)
    client_ids: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def configuration_url(self) -> str:
        return f"{self.url}/openid-configuration"

    @property
    def the_issuer(self) -> str:
        return self.issuer or self.url

    def registrations(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def configuration(self) -> dict[str, Any]:
        base = self.url
        document: dict[str, Any] = {
            "issuer": self.the_issuer,
            "authorization_endpoint": f"{base}/auth",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "registration_endpoint": self.registration_endpoint or f"{base}/register",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [
                "openid",
                AGS + "lineitem",
                AGS + "lineitem.readonly",
                AGS + "result.readonly",
                AGS + "score",
                NRPS_SCOPE,
            ],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
        }
        if self.style == "canvas":
            document["authorization_server"] = "canvas.instructure.com"
            document["claims_supported"] = ["sub", "iss", "name", "given_name", "family_name", "email", "locale"]
            document["scopes_supported"].append("https://canvas.instructure.com/lti/public_jwk/scope/update")
            document[PLATFORM_CONFIGURATION] = {
                "product_family_code": "canvas",
                "version": "vCloud",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest", "placements": ["account_navigation", "course_navigation"]},
                    {
                        "type": "LtiDeepLinkingRequest",
                        "placements": [
                            "assignment_selection",
                            "link_selection",
                            "editor_button",
                            "homework_submission",
                        ],
                    },
                ],
                "variables": ["ResourceLink.id"],
                "https://canvas.instructure.com/lti/account_name": "Test University",
            }
        else:
            document[PLATFORM_CONFIGURATION] = {
                "product_family_code": "moodle",
                "version": "4.0dev (Build: 20201028)",
                "messages_supported": ["LtiResourceLink", "LtiDeepLinkingRequest"],
                "variables": ["Context.id.history"],
            }
        return document

    def app(self) -> Starlette:
        def record(request: Request, body: Any = None) -> None:
            with self._lock:
                self.requests.append(Received(request.method, request.url.path, dict(request.headers), body))

        def authorised(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {self.token}"

        async def configuration(request: Request) -> Response:
            record(request)
            if self.style == "canvas" and not authorised(request):
                return JSONResponse({"errors": [{"message": "Unauthorized"}]}, status_code=401)
            return JSONResponse(self.configuration())

        async def register(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            record(request, body)
            if not authorised(request):
                return JSONResponse({"error": "invalid_token", "error_description": "bad token"}, status_code=401)
            mode = self.registration_mode
            if mode == "400":
                return JSONResponse(
                    {"error": "invalid_redirect_uri", "error_description": "redirect_uris must be https"},
                    status_code=400,
                )
            if mode == "500":
                return Response("Internal Server Error", status_code=500, media_type="text/plain")
            if mode == "garbage":
                return Response("<html>Welcome to the LMS</html>", status_code=201, media_type="text/html")
            if mode == "slow":
                await anyio.sleep(4)
            if mode == "no_client_id":
                return JSONResponse({"client_name": "ltigate"}, status_code=201)
            number = next(_numbers)
            client_id = self.fixed_client_id or f"{self.style}-client-{number}"
            with self._lock:
                self.client_ids.append(client_id)
            answer = dict(body) if isinstance(body, dict) else {}
            answer["client_id"] = client_id
            if self.granted_scope is not None:
                answer["scope"] = self.granted_scope
            tool = dict(answer.get(TOOL_CONFIGURATION) or {})
            if self.style == "moodle":
                answer["application_type"] = ["web"]  # Moodle echoes it as an array
                tool["deployment_id"] = str(100 + number)  # Moodle: the tool type id
            answer[TOOL_CONFIGURATION] = tool
            return JSONResponse(answer, status_code=201 if self.style == "moodle" else 200)

        async def jwks(request: Request) -> Response:
            return JSONResponse(key_set_document([k.public_jwk() for k in self.platform.keys]))

        return Starlette(
            routes=[
                Route("/openid-configuration", configuration, methods=["GET"]),
                Route("/register", register, methods=["POST"]),
                Route("/jwks", jwks, methods=["GET"]),
            ]
        )
