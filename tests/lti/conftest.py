"""Fixtures for the protocol core tests: real keys, builders for claims and tokens, and the tool's checks.

Every fixture is session-scoped so that Hypothesis tests can use them; the builders are pure functions.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

try:
    import ltigate  # noqa: F401
except ModuleNotFoundError:  # the package is not installed into the venv yet: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from ltigate.lti import claims as c
from ltigate.lti.errors import KidNotFound
from ltigate.lti.jws import sign
from ltigate.lti.keys import KeySet, SigningKey, parse_key_set
from ltigate.lti.launch import read_unverified_launch, verify_id_token
from ltigate.lti.message import LtiMessage, parse_message

NOW = 1_700_000_100
ISSUER = "https://lms.example.edu"
CLIENT_ID = "tool-client-1"
LAUNCH_URL = "https://tool.example.com/lti/launch"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"

ClaimsBuilder = Callable[..., dict[str, Any]]
TokenForger = Callable[..., str]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@pytest.fixture(scope="session")
def rs_key() -> SigningKey:
    """The platform's RS256 signing key, published under kid 'k1'."""
    return SigningKey(kid="k1", alg="RS256", key=RSAKey.generate_key(2048))


@pytest.fixture(scope="session")
def rs_key_other() -> SigningKey:
    """Another RS256 key, published under the same kid 'k1' (an attacker's or a rotated key)."""
    return SigningKey(kid="k1", alg="RS256", key=RSAKey.generate_key(2048))


@pytest.fixture(scope="session")
def es_key() -> SigningKey:
    """The gateway's ES256 ticket key."""
    return SigningKey(kid="t1", alg="ES256", key=ECKey.generate_key("P-256"))


@pytest.fixture(scope="session")
def platform_keys(rs_key: SigningKey) -> KeySet:
    return parse_key_set({"keys": [rs_key.public_jwk()]})


@pytest.fixture(scope="session")
def make_claims() -> ClaimsBuilder:
    """Build an LtiResourceLinkRequest payload like lti-reference Appendix A.1.

    Positional names are removed, keyword overrides replace claims; short names map to LTI claim URIs:
    `make_claims("version", roles=["Instructor"])`. Test modules repeat the constants they assert on.
    """
    short_names = {
        "message_type": c.MESSAGE_TYPE,
        "version": c.VERSION,
        "deployment_id": c.DEPLOYMENT_ID,
        "target_link_uri": c.TARGET_LINK_URI,
        "resource_link": c.RESOURCE_LINK,
        "roles": c.ROLES,
        "context": c.CONTEXT,
        "custom": c.CUSTOM,
    }

    def build(*drop: str, **overrides: object) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "u-123",
            "iat": NOW - 100,
            "exp": NOW + 200,
            "nonce": "n-9f2c",
            c.MESSAGE_TYPE: c.RESOURCE_LINK_REQUEST,
            c.VERSION: c.LTI_VERSION,
            c.DEPLOYMENT_ID: "dep-1",
            c.TARGET_LINK_URI: LAUNCH_URL,
            c.RESOURCE_LINK: {"id": "rl-42"},
            c.ROLES: [LEARNER],
        }
        for name in drop:
            del claims[short_names.get(name, name)]
        for name, value in overrides.items():
            claims[short_names.get(name, name)] = value
        return claims

    return build


@pytest.fixture(scope="session")
def sign_claims(rs_key: SigningKey) -> Callable[..., str]:
    """Sign a payload with the platform key (or another SigningKey)."""

    def run(claims: Mapping[str, object], key: SigningKey | None = None) -> str:
        return sign(claims, key or rs_key)

    return run


@pytest.fixture(scope="session")
def forge() -> TokenForger:
    """Assemble a compact token by hand: header and payload as dicts (or raw bytes), signature as bytes."""

    def build(header: object, payload: object, signature: bytes = b"sig") -> str:
        head = b64url(header) if isinstance(header, bytes) else b64url_json(header)
        body = b64url(payload) if isinstance(payload, bytes) else b64url_json(payload)
        return f"{head}.{body}.{b64url(signature)}"

    return build


@pytest.fixture(scope="session")
def verify(platform_keys: KeySet) -> Callable[..., dict[str, object]]:
    """Run a token through the tool's checks as the web layer does: header, key lookup, signature, claims."""

    def run(
        token: str,
        keys: KeySet | None = None,
        *,
        issuer: str = ISSUER,
        client_id: str = CLIENT_ID,
        now: float = NOW,
        leeway: float = 5,
    ) -> dict[str, object]:
        launch = read_unverified_launch(token)
        key = (keys or platform_keys).find(launch.header.kid)
        if key is None:  # the caller's job; the cert suite's "Incorrect KID" ends here
            raise KidNotFound(f"kid '{launch.header.kid}' is not in the platform's key set")
        return verify_id_token(launch, key, issuer=issuer, client_id=client_id, now=now, leeway=leeway)

    return run


@pytest.fixture(scope="session")
def launch(verify: Callable[..., dict[str, object]]) -> Callable[..., LtiMessage]:
    """Verify a token and parse it into an LtiMessage."""

    def run(token: str, **options: Any) -> LtiMessage:
        return parse_message(verify(token, **options), options.get("client_id", CLIENT_ID))

    return run
