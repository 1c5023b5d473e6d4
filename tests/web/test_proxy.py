"""Behind a TLS-terminating proxy: URLs come from the public base URL and the state cookie is a
cross-site cookie (SameSite=None; Secure; Partitioned)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields
from tests.support.gateway import running_gateway


def test_https_base_url_behind_a_proxy(tmp_path: Path) -> None:
    base = "https://lti.example.test"
    with running_gateway(tmp_path, LTIGATE_BASE_URL=base, LTIGATE_TRUSTED_PROXIES="127.0.0.1") as gateway:

        async def seed(g: Gateway) -> None:
            await g.platforms.create(
                PlatformFields(
                    name="LMS",
                    issuer="https://lms.example.test",
                    client_id="c1",
                    auth_url="https://lms.example.test/auth",
                    token_url="https://lms.example.test/token",
                    jwks_url="https://lms.example.test/jwks",
                    deployment_ids=("d1",),
                )
            )

        gateway.run(seed)
        response = httpx.post(
            f"{gateway.url}/lti/login",
            data={
                "iss": "https://lms.example.test",
                "login_hint": "u",
                "target_link_uri": f"{base}/lti/launch?resource=x",
            },
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
        )
        assert response.status_code == 302
        redirect = parse_qs(urlsplit(response.headers["location"]).query)
        assert redirect["redirect_uri"] == [f"{base}/lti/launch"]
        cookie = response.headers["set-cookie"].lower()
        assert "samesite=none" in cookie and "secure" in cookie and "partitioned" in cookie and "httponly" in cookie
        assert "path=/lti/launch" in cookie
        tool = httpx.get(f"{gateway.url}/api/v1/tool", headers={"Authorization": f"Bearer {gateway.api_key()}"})
        assert tool.json()["jwks_url"] == f"{base}/.well-known/jwks.json"
