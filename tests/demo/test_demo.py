"""`ltigate demo` run for real: a browser (httpx with a cookie jar) launches from the demo LMS through the
gateway into the demo app, and the broken launches end on the gateway's error pages.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ltigate.demo.course import UNREGISTERED_DEPLOYMENT
from ltigate.demo.runner import DemoUrls
from tests.demo.conftest import RunningDemo


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.codes: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action")
        if tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""
        self._in_code = values.get("data-testid") == "error-code"

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.codes.append(data.strip())
            self._in_code = False


def read_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    reader = _FormReader()
    reader.feed(page.text)
    assert reader.action, page.text
    return reader.action, reader.fields


def error_code(page: httpx.Response) -> str:
    reader = _FormReader()
    reader.feed(page.text)
    assert reader.codes, page.text
    return reader.codes[0]


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        yield client


@pytest.fixture
def urls(demo: RunningDemo) -> DemoUrls:
    return demo.urls


def start_launch(browser: httpx.Client, urls: DemoUrls, user: str, resource: int = 0, **extra: str) -> httpx.Response:
    """Press a Launch button on the LMS page; returns the LMS's auto-posting form page (at /auth)."""
    page = browser.post(f"{urls.lms_url}/launch", data={"user": user, "resource": str(resource), **extra})
    assert page.status_code == 200, page.text
    assert page.url.path == "/auth"
    return page


def post_form(browser: httpx.Client, form_page: httpx.Response) -> httpx.Response:
    """What the auto-post script does: post the id_token and state to the form's action."""
    action, fields = read_form(form_page)
    return browser.post(action, data={"id_token": fields["id_token"], "state": fields["state"]})


def test_lms_home_page_offers_users_resources_and_broken_launches(browser: httpx.Client, urls: DemoUrls) -> None:
    page = browser.get(f"{urls.lms_url}/")

    assert page.status_code == 200
    for text in (
        "Demo LMS",
        "Demo Course 101",
        "DEMO-101",
        "Ada Learner",
        "Grace Teacher",
        "Learner",
        "Instructor",
        "Algebra quiz",
        "AI study assistant",
        "Broken launches",
        UNREGISTERED_DEPLOYMENT,
    ):
        assert text in page.text


def test_lms_publishes_its_rs256_key(browser: httpx.Client, urls: DemoUrls) -> None:
    document = browser.get(f"{urls.lms_url}/jwks").json()

    [key] = document["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"] and "d" not in key


def test_student_launch_reaches_the_demo_app(browser: httpx.Client, urls: DemoUrls) -> None:
    form_page = start_launch(browser, urls, "student")
    action, fields = read_form(form_page)
    assert action == urls.launch_url
    assert set(fields) == {"id_token", "state"}

    page = post_form(browser, form_page)

    assert page.status_code == 200, page.text
    assert [r.status_code for r in page.history] == [303]
    assert str(page.url).startswith(f"{urls.app_url}/launch?ticket=")
    for text in (
        "Welcome, Ada Learner",
        "ada.learner@lms.example",
        "demo-user-ada",
        "Learner",
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
        "Demo Course 101",
        "DEMO-101",
        "Algebra quiz",
        "demo/algebra-quiz",
        urls.lms_url,
        "demo-deployment",
        "demo=true",
    ):
        assert text in page.text
    assert "Instructor" not in page.text


def test_instructor_launch_shows_the_instructor_role(browser: httpx.Client, urls: DemoUrls) -> None:
    page = post_form(browser, start_launch(browser, urls, "instructor", resource=1))

    assert page.status_code == 200, page.text
    for text in ("Welcome, Grace Teacher", "Instructor", "AI study assistant", "demo/ai-assistant"):
        assert text in page.text


def test_gateway_sends_a_strict_authentication_request(browser: httpx.Client, urls: DemoUrls) -> None:
    form_page = start_launch(browser, urls, "student")
    lms_redirect, gateway_redirect = form_page.history
    initiation = parse_qs(urlsplit(lms_redirect.headers["location"]).query)
    auth = parse_qs(urlsplit(str(form_page.url)).query, keep_blank_values=True)

    assert (lms_redirect.status_code, gateway_redirect.status_code) == (303, 302)
    assert str(gateway_redirect.url).startswith(urls.login_url)
    assert {name: values for name, values in auth.items() if name not in ("state", "nonce")} == {
        "scope": ["openid"],
        "response_type": ["id_token"],
        "response_mode": ["form_post"],
        "prompt": ["none"],
        "client_id": ["demo-client"],
        "redirect_uri": [urls.launch_url],
        "login_hint": initiation["login_hint"],
        "lti_message_hint": initiation["lti_message_hint"],
    }
    assert initiation["login_hint"] == ["demo-user-ada"]
    assert len(auth["state"][0]) >= 32 and len(auth["nonce"][0]) >= 32
    assert read_form(form_page)[1]["state"] == auth["state"][0]


def test_unregistered_deployment_ends_on_the_gateway_error_page(browser: httpx.Client, urls: DemoUrls) -> None:
    page = post_form(browser, start_launch(browser, urls, "student", deployment="unregistered"))

    assert page.status_code == 403
    assert page.url == urls.launch_url
    assert error_code(page) == "unknown_deployment"
    assert f"deployment_id '{UNREGISTERED_DEPLOYMENT}' is not registered" in html.unescape(page.text)


def test_replaying_the_last_launch_is_refused(browser: httpx.Client, urls: DemoUrls) -> None:
    first_form = start_launch(browser, urls, "student")
    assert post_form(browser, first_form).status_code == 200

    replay_form = browser.post(f"{urls.lms_url}/replay", data={"user": "student"})
    assert read_form(replay_form) == read_form(first_form)
    page = post_form(browser, replay_form)

    assert page.status_code == 400
    assert error_code(page) == "launch_replayed"


def test_failed_launches_are_listed_in_the_launch_log(browser: httpx.Client, urls: DemoUrls) -> None:
    post_form(browser, start_launch(browser, urls, "student", deployment="unregistered"))
    assert post_form(browser, start_launch(browser, urls, "instructor")).status_code == 200
    post_form(browser, browser.post(f"{urls.lms_url}/replay", data={"user": "instructor"}))

    answer = browser.get(
        f"{urls.gateway_url}/api/v1/launches",
        params={"outcome": "failed"},
        headers={"Authorization": f"Bearer {urls.api_key}"},
    )

    assert answer.status_code == 200, answer.text
    failures = answer.json()
    assert {f["outcome"] for f in failures} == {"failed"}
    codes = {f["error_code"] for f in failures}
    assert {"unknown_deployment", "launch_replayed"} <= codes
    unknown = next(f for f in failures if f["error_code"] == "unknown_deployment")
    assert (unknown["issuer"], unknown["deployment_id"]) == (urls.lms_url, UNREGISTERED_DEPLOYMENT)


def test_a_ticket_is_redeemed_once(browser: httpx.Client, urls: DemoUrls) -> None:
    page = post_form(browser, start_launch(browser, urls, "student"))
    assert page.status_code == 200

    again = browser.get(page.url)

    assert again.status_code == 401
    assert error_code(again) == "ticket_used"


def test_demo_app_shows_the_gateway_refusal_of_a_forged_ticket(browser: httpx.Client, urls: DemoUrls) -> None:
    page = browser.get(f"{urls.app_url}/launch", params={"ticket": "not.a.ticket"})

    assert 400 <= page.status_code < 500
    assert error_code(page) not in ("gateway_error", "gateway_unreachable")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "auth_request_invalid"),
        ({"redirect_uri": "https://attacker.example/steal"}, "redirect_uri_not_registered"),
        ({"lti_message_hint": "made-up"}, "unknown_message_hint"),
    ],
)
def test_lms_answers_a_bad_authentication_request_with_an_error_page(
    browser: httpx.Client, urls: DemoUrls, params: dict[str, str], code: str
) -> None:
    good = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": "demo-client",
        "redirect_uri": urls.launch_url,
        "login_hint": "demo-user-ada",
        "state": "s" * 32,
        "nonce": "n" * 32,
        "lti_message_hint": "made-up",
    }
    request = {**good, **params} if params else {"scope": "openid"}

    page = browser.post(f"{urls.lms_url}/auth", data=request)

    assert page.status_code == 400
    assert error_code(page) == code
    assert 'name="id_token"' not in page.text
