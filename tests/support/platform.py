"""A scriptable LTI platform for tests, written from the specs: real RS256 keys, a JWKS endpoint over
HTTP that can be made slow, down or wrong, and id_tokens built with any claim or header tampered.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ltigate.lti.jws import sign
from ltigate.lti.keys import SigningKey, key_set_document, thumbprint
from ltigate.lti.platform import LaunchUser, build_resource_link_claims

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def new_key() -> SigningKey:
    key = RSAKey.generate_key(2048)
    return SigningKey(kid=thumbprint(key), alg="RS256", key=key)


@dataclass
class ScriptedPlatform:
    issuer: str = ""
    client_id: str = "client-1"
    deployment_id: str = "dep-1"
    keys: list[SigningKey] = field(default_factory=lambda: [new_key()])
    jwks_mode: str = "ok"  # ok | down | garbage | slow
    jwks_fetches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def signing_key(self) -> SigningKey:
        return self.keys[0]

    def app(self) -> Starlette:
        async def jwks(request: Request) -> Response:
            with self._lock:
                self.jwks_fetches += 1
            if self.jwks_mode == "down":
                return Response("unavailable", status_code=503)
            if self.jwks_mode == "garbage":
                return Response("<html>not a key set</html>", media_type="text/html")
            if self.jwks_mode == "slow":
                await anyio.sleep(8)
            return JSONResponse(
                key_set_document([k.public_jwk() for k in self.keys]), headers={"Cache-Control": "max-age=300"}
            )

        return Starlette(routes=[Route("/jwks", jwks)])

    def platform_fields(self, base: str, **overrides: object) -> dict[str, object]:
        fields: dict[str, object] = {
            "name": "Test LMS",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_url": f"{base}/auth",
            "token_url": f"{base}/token",
            "jwks_url": f"{base}/jwks",
            "deployment_ids": (self.deployment_id,),
        }
        fields.update(overrides)
        return fields

    def claims(
        self, *, nonce: str, target_link_uri: str, now: int | None = None, **overrides: object
    ) -> dict[str, object]:
        """Valid LtiResourceLinkRequest claims; overrides replace (or with value None remove) claims."""
        user = LaunchUser(
            sub="user-1",
            name="Ada Learner",
            given_name="Ada",
            family_name="Learner",
            email="ada@example.edu",
            roles=(LEARNER,),
        )
        claims = build_resource_link_claims(
            issuer=self.issuer,
            client_id=self.client_id,
            deployment_id=self.deployment_id,
            nonce=nonce,
            now=now if now is not None else int(time.time()),
            ttl=300,
            user=user,
            target_link_uri=target_link_uri,
            resource_link_id="rl-1",
            resource_link_title="Quiz 1",
            context_id="ctx-1",
            context_label="C101",
            context_title="Course 101",
        )
        for name, value in overrides.items():
            name = name if name.startswith(("https://", "http://")) or name in _PLAIN else _claim(name)
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def token(self, claims: Mapping[str, object], key: SigningKey | None = None) -> str:
        return sign(claims, key or self.signing_key)


_PLAIN = {"iss", "aud", "sub", "exp", "iat", "nbf", "nonce", "azp", "name", "email", "given_name", "family_name"}


def _claim(short: str) -> str:
    return "https://purl.imsglobal.org/spec/lti/claim/" + short


def raw_token(header: Mapping[str, object], payload: Mapping[str, object], signature: bytes = b"sig") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join((part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature)))


@dataclass
class Login:
    state: str
    nonce: str
    auth_params: dict[str, str]


class Browser:
    """Plays the user's browser against the gateway: keeps cookies, never follows redirects itself."""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.http = httpx.Client(base_url=gateway_url, timeout=10)

    def close(self) -> None:
        self.http.close()

    def login(self, platform: ScriptedPlatform, resource: str, *, method: str = "POST", **extra: str) -> Login:
        params = {
            "iss": platform.issuer,
            "login_hint": "user-1",
            "target_link_uri": f"{self.gateway_url}/lti/launch?resource={resource}",
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
            **extra,
        }
        if method == "GET":
            response = self.http.get("/lti/login", params=params)
        else:
            response = self.http.post("/lti/login", data=params)
        assert response.status_code == 302, f"login failed: {response.status_code} {error_code(response)}"
        query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
        return Login(state=query["state"], nonce=query["nonce"], auth_params=query)

    def launch(self, id_token: str, state: str) -> httpx.Response:
        return self.http.post("/lti/launch", data={"id_token": id_token, "state": state})


_CODE = re.compile(r'data-testid="error-code">([a-z_]+)<')


def error_code(response: httpx.Response) -> str | None:
    match = _CODE.search(response.text)
    return match.group(1) if match else None
