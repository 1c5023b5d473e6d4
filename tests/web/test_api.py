"""The REST API and the public endpoints over real HTTP: platforms, resources, tool URLs, key sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import GatewayHarness, database_params, running_gateway


@pytest.fixture(scope="module", params=database_params())
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayHarness]:
    tmp: Path = tmp_path_factory.mktemp("api")
    with running_gateway(tmp, request.param) as harness:
        yield harness


@pytest.fixture
def api(gateway: GatewayHarness) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {gateway.api_key()}"}, timeout=10
    ) as client:
        yield client


def platform_body(n: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": f"LMS {n}",
        "issuer": f"https://lms-{n}.example.edu",
        "client_id": f"client-{n}",
        "auth_url": f"https://lms-{n}.example.edu/mod/lti/auth.php",
        "token_url": f"https://lms-{n}.example.edu/mod/lti/token.php",
        "jwks_url": f"https://lms-{n}.example.edu/mod/lti/certs.php",
        "deployment_ids": ["1", "2"],
        "seats": 25,
        "licence_note": "<b>contract #12</b> — renews in May",
    }
    body.update(changes)
    return body


def error(response: httpx.Response) -> dict[str, object]:
    payload = response.json()
    assert set(payload) == {"error"}, payload
    return payload["error"]  # type: ignore[no-any-return]


def test_the_api_needs_a_valid_key(gateway: GatewayHarness) -> None:
    with httpx.Client(base_url=gateway.url) as anonymous:
        missing = anonymous.get("/api/v1/platforms")
        wrong = anonymous.get("/api/v1/platforms", headers={"Authorization": "Bearer ltg_x_y"})
    assert missing.status_code == 401 and error(missing)["code"] == "unauthorized"
    assert wrong.status_code == 401 and "unknown or revoked" in str(error(wrong)["message"])


def test_tool_urls_for_lms_administrators(gateway: GatewayHarness, api: httpx.Client) -> None:
    tool = api.get("/api/v1/tool").json()
    assert tool["login_url"] == f"{gateway.url}/lti/login"
    assert tool["launch_url"] == f"{gateway.url}/lti/launch"
    assert tool["redirect_uris"] == [f"{gateway.url}/lti/launch"]
    assert tool["jwks_url"] == f"{gateway.url}/.well-known/jwks.json"
    assert tool["deep_linking_url"] == f"{gateway.url}/lti/launch"
    assert tool["registration_url"] == f"{gateway.url}/lti/register"
    assert tool["canvas_configuration_url"] == f"{gateway.url}/lti/config/canvas.json"


def test_platform_lifecycle(api: httpx.Client) -> None:
    created = api.post("/api/v1/platforms", json=platform_body("a"))
    assert created.status_code == 201, created.text
    platform = created.json()
    assert platform["licence_note"] == "<b>contract #12</b> — renews in May"
    assert platform["deployment_policy"] == "pending" and platform["active"] is True
    assert [(d["deployment_id"], d["status"]) for d in platform["deployments"]] == [
        ("1", "approved"),
        ("2", "approved"),
    ]
    assert any(p["id"] == platform["id"] for p in api.get("/api/v1/platforms").json())

    updated = api.patch(f"/api/v1/platforms/{platform['id']}", json={"seats": 0, "deployment_ids": ["3"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["seats"] == 0
    assert {d["deployment_id"] for d in updated.json()["deployments"]} == {"1", "2", "3"}
    assert updated.json()["name"] == "LMS a"

    off = api.post(f"/api/v1/platforms/{platform['id']}/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    assert api.get(f"/api/v1/platforms/{platform['id']}").json()["active"] is False
    rejected = api.post(
        f"/api/v1/platforms/{platform['id']}/deployments", json={"deployment_id": "2", "status": "rejected"}
    )
    assert rejected.json()["status"] == "rejected"
    removed = api.delete(f"/api/v1/platforms/{platform['id']}/deployments/3")
    assert removed.status_code == 204


def test_duplicate_issuer_and_client_id_is_a_clear_409(api: httpx.Client) -> None:
    assert api.post("/api/v1/platforms", json=platform_body("dup")).status_code == 201
    again = api.post("/api/v1/platforms", json=platform_body("dup", name="Other name"))
    assert again.status_code == 409
    body = error(again)
    assert body["code"] == "conflict"
    assert "https://lms-dup.example.edu" in str(body["message"]) and "client-dup" in str(body["message"])
    other_client = api.post("/api/v1/platforms", json=platform_body("dup", client_id="client-dup-2"))
    assert other_client.status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auth_url", "http://lms.example.edu/auth"),
        ("jwks_url", "not a url"),
        ("token_url", "ftp://lms.example.edu/token"),
        ("issuer", "https://lms.example.edu/?q=1"),
    ],
)
def test_invalid_urls_are_refused_naming_the_field(api: httpx.Client, field: str, value: str) -> None:
    response = api.post("/api/v1/platforms", json=platform_body(f"bad-{field}", **{field: value}))
    assert response.status_code == 422
    body = error(response)
    assert (body["code"], body["field"]) == ("invalid_field", field)
    assert value in str(body["message"])


def test_loopback_http_urls_are_allowed(api: httpx.Client) -> None:
    body = platform_body("loop", auth_url="http://127.0.0.1:8001/auth", jwks_url="http://localhost:8001/jwks")
    assert api.post("/api/v1/platforms", json=body).status_code == 201


def test_malformed_body_gets_the_same_error_shape(api: httpx.Client) -> None:
    response = api.post("/api/v1/platforms", json={"name": "x", "seats": -1})
    assert response.status_code == 422
    assert error(response)["code"] == "invalid_request"
    unknown = api.get("/api/v1/platforms/does-not-exist")
    assert unknown.status_code == 404 and error(unknown)["code"] == "not_found"


def test_resources_with_slashes_in_the_slug(gateway: GatewayHarness, api: httpx.Client) -> None:
    created = api.post(
        "/api/v1/resources",
        json={"slug": "org/project/device", "title": "Device", "app_url": "https://app.example.com/run"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["target_link_uri"] == f"{gateway.url}/lti/launch?resource=org/project/device"
    assert api.get("/api/v1/resources/org/project/device").json()["title"] == "Device"
    patched = api.patch("/api/v1/resources/org/project/device", json={"title": "Device 2"})
    assert patched.json()["title"] == "Device 2" and patched.json()["app_url"] == "https://app.example.com/run"
    duplicate = api.post(
        "/api/v1/resources", json={"slug": "org/project/device", "title": "X", "app_url": "https://a.example"}
    )
    assert duplicate.status_code == 409 and error(duplicate)["code"] == "conflict"
    bad = api.post("/api/v1/resources", json={"slug": "../etc", "title": "X", "app_url": "https://a.example"})
    assert bad.status_code == 422 and error(bad)["field"] == "slug"
    assert api.delete("/api/v1/resources/org/project/device").status_code == 204
    assert api.get("/api/v1/resources/org/project/device").status_code == 404


def test_jwks_publishes_the_active_and_next_keys(gateway: GatewayHarness) -> None:
    response = httpx.get(f"{gateway.url}/.well-known/jwks.json")
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert len(keys) == 2
    for key in keys:
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
        assert "d" not in key and "p" not in key
    tickets = httpx.get(f"{gateway.url}/.well-known/ticket-jwks.json").json()["keys"]
    assert {k["alg"] for k in tickets} == {"ES256"} and all("d" not in k for k in tickets)


def test_openapi_and_docs(gateway: GatewayHarness) -> None:
    schema = httpx.get(f"{gateway.url}/openapi.json").json()
    assert "/api/v1/platforms" in schema["paths"] and "/api/v1/launches/{launch_id}" in schema["paths"]
    assert httpx.get(f"{gateway.url}/docs").status_code == 200


def test_health_and_readiness(gateway: GatewayHarness) -> None:
    assert httpx.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{gateway.url}/readyz").json() == {"status": "ready"}


def test_oversize_login_form_is_refused_early(gateway: GatewayHarness) -> None:
    response = httpx.post(f"{gateway.url}/lti/login", data={"iss": "x" * 200_000})
    assert response.status_code == 413
    assert 'data-testid="error-code">form_too_large<' in response.text


def test_launch_with_another_content_type_is_refused(gateway: GatewayHarness) -> None:
    response = httpx.post(
        f"{gateway.url}/lti/launch", content=b'{"id_token": 1}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("name", "media_type", "needle"),
    [
        ("autopost.js", "text/javascript", "ltigate-autopost"),
        ("platform-storage.js", "text/javascript", "put_data"),
        ("registration.js", "text/javascript", "org.imsglobal.lti.close"),
        ("logo.svg", "image/svg+xml", "<svg"),
    ],
)
def test_page_assets_are_served_from_one_place(
    gateway: GatewayHarness, name: str, media_type: str, needle: str
) -> None:
    response = httpx.get(f"{gateway.url}/lti/assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert needle in response.text


@pytest.mark.parametrize("name", ["nope.js", "..%2Fconsole.css", "console.js", "%2e%2e%2f%2e%2e%2fpyproject.toml"])
def test_only_listed_assets_are_served(gateway: GatewayHarness, name: str) -> None:
    assert httpx.get(f"{gateway.url}/lti/assets/{name}").status_code == 404
