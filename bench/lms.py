"""The platform side of the bench: one LMS with a real RSA-2048 key, its key set served over HTTP from
inside the generator's event loop, and LtiResourceLinkRequest id_tokens signed per launch.

Written for the bench (it must not import tests/); the claims are those of tests/support/platform.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ltigate.lti.platform import LaunchUser, build_resource_link_claims

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
TOKEN_TTL = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class Lms:
    """A platform registration as the LMS sees it; `jwks_url` is set once the key set is served."""

    issuer: str = "https://lms.bench.test"
    client_id: str = "bench-client"
    deployment_id: str = "dep-1"
    kid: str = "bench-key-1"
    private_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    base_url: str = ""

    def __post_init__(self) -> None:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        self._header = _b64(json.dumps(header, separators=(",", ":")).encode())

    def key_set(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        jwk = {"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig"}
        jwk.update(n=_uint(numbers.n), e=_uint(numbers.e))
        return json.dumps({"keys": [jwk]}).encode()

    def claims(self, *, nonce: str, target_link_uri: str, user: int) -> dict[str, object]:
        """A valid LtiResourceLinkRequest for bench user number `user`."""
        person = LaunchUser(
            sub=f"user-{user}",
            name="Ada Learner",
            given_name="Ada",
            family_name="Learner",
            email=f"user-{user}@example.edu",
            roles=(LEARNER,),
        )
        return build_resource_link_claims(
            issuer=self.issuer,
            client_id=self.client_id,
            deployment_id=self.deployment_id,
            nonce=nonce,
            now=int(time.time()),
            ttl=TOKEN_TTL,
            user=person,
            target_link_uri=target_link_uri,
            resource_link_id="rl-1",
            resource_link_title="Quiz 1",
            context_id="ctx-1",
            context_label="C101",
            context_title="Course 101",
        )

    def token(self, claims: dict[str, object]) -> str:
        """A compact RS256 JWS, signed with `cryptography` directly (joserfc adds ~90 µs per token)."""
        signing_input = f"{self._header}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        signature = self.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


class KeySetServer:
    """Serves the LMS key set at `/jwks` over plain HTTP/1.1 (the gateway fetches it once and caches it)."""

    def __init__(self, lms: Lms) -> None:
        self._body = lms.key_set()
        self._server: asyncio.Server | None = None
        self.fetches = 0

    async def start(self, host: str = "127.0.0.1") -> str:
        self._server = await asyncio.start_server(self._answer, host, 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://{host}:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if path == b"/jwks":
                    self.fetches += 1
                    status, body, kind = b"200 OK", self._body, b"application/json"
                else:
                    status, body, kind = b"404 Not Found", b"not found", b"text/plain"
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: " + kind + b"\r\nCache-Control: max-age=300\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
