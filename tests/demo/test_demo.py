"""`ltigate demo` run for real: a browser (httpx with a cookie jar) launches from the demo LMS through the
gateway into the demo app, and the broken launches end on the gateway's error pages.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ltigate.demo.course import UNREGISTERED_DEPLOYMENT
from ltigate.demo.runner import DemoUrls
from tests.demo.browsing import error_code, post_form, read_form, section, start_launch


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
    assert [r.status_code for r in page.history] == [303, 303]
    assert str(page.history[1].url).startswith(f"{urls.app_url}/launch?ticket=")
    assert page.url == f"{urls.app_url}/welcome"
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
    assert "Instructor" not in section(page, "roles")


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

    again = browser.get(page.history[1].url)

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
