"""The demo app alone, with the gateway replaced by httpx.MockTransport: every failed redemption ends on a
page with an error code, never a 500.
"""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.testclient import TestClient

from ltigate.demo.app import create_demo_app

GATEWAY = "http://gateway.test"


def client_for(handler: httpx.MockTransport) -> TestClient:
    return TestClient(create_demo_app(GATEWAY, "ltg_key", transport=handler), raise_server_exceptions=True)


def test_redeems_the_ticket_with_the_api_key_and_greets_the_user() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "id": "launch-1",
                "issuer": "https://lms.test",
                "deployment_id": "d1",
                "resource": "quiz",
                "user": {"sub": "u1", "name": "Ada Learner", "email": "ada@lms.test"},
                "short_roles": ["Learner"],
                "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
                "context": {"id": "c1", "title": "Course", "label": "C-1"},
                "resource_link": {"id": "rl1", "title": "Quiz one"},
                "services": {
                    "ags": {"scopes": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]},
                    "nrps": None,
                    "deep_linking": False,
                },
                "return_url": "javascript:alert(1)",
            },
        )

    page = client_for(httpx.MockTransport(answer)).get("/launch", params={"ticket": "t.k.n"})

    assert page.status_code == 200
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", f"{GATEWAY}/api/v1/tickets/redeem")
    assert request.headers["authorization"] == "Bearer ltg_key"
    assert json.loads(request.content) == {"ticket": "t.k.n"}
    for text in ("Welcome, Ada Learner", "Quiz one", "C-1", "Assignment and Grade Services (score)", "launch-1"):
        assert text in page.text
    assert "javascript:" not in page.text


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (
            httpx.Response(401, json={"error": {"code": "ticket_used", "message": "redeemed before"}}),
            401,
            "ticket_used",
        ),
        (httpx.Response(500, text="boom"), 502, "gateway_error"),
        (httpx.Response(200, json=["not", "an", "object"]), 502, "gateway_error"),
        (httpx.Response(200, text="<html>"), 502, "gateway_error"),
    ],
)
def test_a_refused_redemption_shows_the_code(answer: httpx.Response, status: int, code: str) -> None:
    page = client_for(httpx.MockTransport(lambda request: answer)).get("/launch", params={"ticket": "t"})

    assert page.status_code == status
    assert f'data-testid="error-code">{code}<' in page.text


def test_an_unreachable_gateway_is_named() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    page = client_for(httpx.MockTransport(refuse)).get("/launch", params={"ticket": "t"})

    assert page.status_code == 502
    assert 'data-testid="error-code">gateway_unreachable<' in page.text
    assert GATEWAY in page.text


def test_a_launch_page_without_ticket_explains_how_to_open_the_app() -> None:
    page = client_for(httpx.MockTransport(lambda request: httpx.Response(500))).get("/launch")

    assert page.status_code == 400
    assert 'data-testid="error-code">ticket_missing<' in page.text
