"""The demo app alone, with the gateway replaced by httpx.MockTransport: every failed redemption ends on a
page with an error code, never a 500; the quiz posts its score with the session's CSRF token; the roster
is read page by page.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from ltigate.demo.app import SESSION_COOKIE, create_demo_app

GATEWAY = "http://gateway.test"
API = f"{GATEWAY}/api/v1"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LAUNCH: dict[str, Any] = {
    "id": "launch-1",
    "issuer": "https://lms.test",
    "deployment_id": "d1",
    "resource": "demo/algebra-quiz",
    "user": {"sub": "u1", "name": "Ada Learner", "email": "ada@lms.test"},
    "short_roles": ["Learner"],
    "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    "context": {"id": "c1", "title": "Course", "label": "C-1"},
    "resource_link": {"id": "rl1", "title": "Quiz one"},
    "services": {
        "ags": {"scopes": [SCORE_SCOPE], "lineitem": "https://lms.test/li/1"},
        "nrps": {"context_memberships_url": "https://lms.test/m", "service_versions": ["2.0"]},
        "deep_linking": False,
    },
    "return_url": "javascript:alert(1)",
}


def member(n: int, **extra: object) -> dict[str, object]:
    return {
        "user_id": f"u{n}",
        "status": "Active",
        "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
        "name": f"Student {n}",
        "last_launch_at": None,
        "delivery": None,
        **extra,
    }


class FakeGateway:
    """The gateway's REST API as far as the demo app uses it."""

    def __init__(self, launch: dict[str, Any] | None = None, members: int = 3) -> None:
        self.launch = launch or LAUNCH
        self.members = [member(n) for n in range(1, members + 1)]
        self.members[0].update(last_launch_at=1_700_000_000.0, delivery="delivered")
        self.requests: list[httpx.Request] = []
        self.scores: list[dict[str, Any]] = []
        self.members_status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["authorization"] == "Bearer ltg_key"
        path = request.url.path.removeprefix("/api/v1")
        if (request.method, path) == ("POST", "/tickets/redeem"):
            return httpx.Response(200, json=self.launch)
        if (request.method, path) == ("GET", "/launches/launch-1"):
            return httpx.Response(200, json=self.launch)
        if (request.method, path) == ("GET", "/launches/launch-1/members"):
            if self.members_status != 200:
                return httpx.Response(self.members_status, json={"error": {"code": "conflict", "message": "no NRPS"}})
            offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
            return httpx.Response(200, json=self.members[offset : offset + limit])
        if (request.method, path) == ("GET", "/launches/launch-1/delivery"):
            if not self.scores:
                return httpx.Response(200, json={"launch_id": "launch-1", "status": "none", "delivery": None})
            job = {"status": "delivered", "attempts": 1, "score": self.scores[-1], "last_error": None}
            return httpx.Response(200, json={"launch_id": "launch-1", "status": "delivered", "delivery": job})
        if (request.method, path) == ("POST", "/launches/launch-1/score"):
            self.scores.append(json.loads(request.content))
            return httpx.Response(202, json={"id": "job-1", "status": "pending"})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})

    def paths(self, method: str) -> list[str]:
        return [r.url.path.removeprefix("/api/v1") for r in self.requests if r.method == method]


def client_for(handler: Any) -> TestClient:
    return TestClient(create_demo_app(GATEWAY, "ltg_key", transport=httpx.MockTransport(handler)))


def launched(gateway: FakeGateway) -> tuple[TestClient, httpx.Response]:
    client = client_for(gateway)
    return client, client.get("/launch", params={"ticket": "t.k.n"})


def csrf_of(page: httpx.Response) -> str:
    marker = 'name="csrf" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_redeems_the_ticket_once_and_greets_the_user_on_the_welcome_page() -> None:
    gateway = FakeGateway()
    client = client_for(gateway)

    answer = client.get("/launch", params={"ticket": "t.k.n"}, follow_redirects=False)
    page = client.get(answer.headers["location"])

    assert (answer.status_code, answer.headers["location"]) == (303, "/welcome")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    redeem = gateway.requests[0]
    assert (redeem.method, str(redeem.url)) == ("POST", f"{API}/tickets/redeem")
    assert json.loads(redeem.content) == {"ticket": "t.k.n"}
    assert gateway.paths("POST") == ["/tickets/redeem"]
    assert page.status_code == 200
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
        (httpx.Response(200, json={"no": "id"}), 502, "gateway_error"),
    ],
)
def test_a_refused_redemption_shows_the_code(answer: httpx.Response, status: int, code: str) -> None:
    page = client_for(lambda request: answer).get("/launch", params={"ticket": "t"})

    assert page.status_code == status
    assert f'data-testid="error-code">{code}<' in page.text
    assert SESSION_COOKIE not in page.headers.get("set-cookie", "")


def test_an_unreachable_gateway_is_named() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    page = client_for(refuse).get("/launch", params={"ticket": "t"})

    assert page.status_code == 502
    assert 'data-testid="error-code">gateway_unreachable<' in page.text
    assert GATEWAY in page.text


def test_a_launch_page_without_ticket_explains_how_to_open_the_app() -> None:
    page = client_for(lambda request: httpx.Response(500)).get("/launch")

    assert page.status_code == 400
    assert 'data-testid="error-code">ticket_missing<' in page.text


def test_the_welcome_page_needs_a_session() -> None:
    page = client_for(FakeGateway()).get("/welcome", cookies={SESSION_COOKIE: "made-up"})

    assert page.status_code == 401
    assert 'data-testid="error-code">session_missing<' in page.text


def test_the_quiz_posts_the_score_and_shows_its_delivery() -> None:
    gateway = FakeGateway()
    client, page = launched(gateway)
    assert 'data-testid="quiz"' in page.text and "Score sent" not in page.text

    sent = client.post("/quiz", data={"csrf": csrf_of(page), "q1": "1", "q2": "0", "q3": "1"})

    assert sent.status_code == 200 and sent.url.path == "/welcome"
    assert gateway.scores == [
        {
            "scoreGiven": 2,
            "scoreMaximum": 3,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "comment": "2 of 3 answers right in the demo quiz",
        }
    ]
    assert "Score sent" in sent.text and 'data-testid="sent-score">2 / 3<' in sent.text
    assert 'data-testid="delivery-status">delivered<' in sent.text
    assert 'href="https://lms.test/gradebook"' in sent.text


def test_a_quiz_form_without_the_session_token_is_refused() -> None:
    gateway = FakeGateway()
    client, _ = launched(gateway)

    forged = client.post("/quiz", data={"csrf": "guess", "q1": "1"})
    missing = client.post("/quiz", data={"q1": "1"})

    assert (forged.status_code, missing.status_code) == (403, 403)
    assert 'data-testid="error-code">csrf_failed<' in forged.text
    assert gateway.scores == []


def test_a_refused_score_shows_the_gateway_code() -> None:
    gateway = FakeGateway()

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/score"):
            return httpx.Response(409, json={"error": {"code": "conflict", "message": "grade passback is off"}})
        return gateway(request)

    client = client_for(refuse)
    page = client.get("/launch", params={"ticket": "t.k.n"})
    sent = client.post("/quiz", data={"csrf": csrf_of(page), "q1": "1"})

    assert sent.status_code == 409
    assert 'data-testid="error-code">conflict<' in sent.text and "grade passback is off" in sent.text


def test_the_roster_is_read_page_by_page() -> None:
    gateway = FakeGateway(members=230)

    _, page = launched(gateway)

    assert page.text.count('data-testid="member"') == 230
    offsets = [r.url.params["offset"] for r in gateway.requests if r.url.path.endswith("/members")]
    assert offsets == ["0", "100", "200"]
    first = page.text[page.text.index('data-user="u1"') :]
    first = first[: first.index("</tr>")]
    assert "Student 1" in first and "2023-11-14 22:13 UTC" in first and ">delivered<" in first
    assert "<td>Learner</td>" in first
    assert 'data-user="u1">' in page.text and ">you<" in page.text


def test_a_missing_roster_does_not_break_the_page() -> None:
    gateway = FakeGateway()
    gateway.members_status = 409

    _, page = launched(gateway)

    assert page.status_code == 200
    assert "The roster is not available: conflict: no NRPS" in page.text


@pytest.mark.parametrize(
    "change",
    [{"resource": "demo/ai-assistant"}, {"services": {"ags": {"scopes": []}, "nrps": None, "deep_linking": False}}],
)
def test_no_quiz_without_the_quiz_resource_and_the_score_scope(change: dict[str, object]) -> None:
    _, page = launched(FakeGateway({**LAUNCH, **change}))

    assert page.status_code == 200
    assert 'data-testid="quiz"' not in page.text
