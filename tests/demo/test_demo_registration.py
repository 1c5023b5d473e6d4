"""The demo LMS's Dynamic Registration button, end to end: the LMS opens ltigate's registration URL (a one-time
link made at start), ltigate fetches the LMS's configuration and registers, and the LMS shows the client id."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx

from ltigate.demo.runner import DemoUrls
from tests.demo.browsing import error_code


def test_dynamic_registration_from_the_demo_lms(urls: DemoUrls) -> None:
    with httpx.Client(timeout=15) as browser:
        home = browser.get(f"{urls.lms_url}/")
        assert 'data-testid="register-tool"' in home.text

        started = browser.post(f"{urls.lms_url}/registration/start")
        assert started.status_code == 303
        target = started.headers["location"]
        assert target.startswith(f"{urls.gateway_url}/lti/register/")
        query = parse_qs(urlsplit(target).query)
        assert query["openid_configuration"] == [f"{urls.lms_url}/.well-known/openid-configuration"]
        assert query["registration_token"][0]

        confirmation = browser.get(target)
        assert confirmation.status_code == 200, confirmation.text[:500]
        assert urls.lms_url in confirmation.text
        token = re.search(r'name="registration" value="([0-9a-f]+)"', confirmation.text)
        assert token
        done = browser.post(f"{urls.gateway_url}/lti/register", data={"registration": token.group(1)})
        assert done.status_code == 200, done.text[:500]
        assert "demo-dr-client-1" in done.text and "demo-dr-deployment-1" in done.text
        assert 'id="lti-close-now"' in done.text

        home = browser.get(f"{urls.lms_url}/")
        assert 'data-testid="registered-client-id">demo-dr-client-1<' in home.text

        # The button's link was made for one registration: a second one is refused, and names why.
        again = browser.get(browser.post(f"{urls.lms_url}/registration/start").headers["location"])
        assert (again.status_code, error_code(again)) == (410, "registration_link_used")


def test_the_demo_lms_refuses_a_registration_without_its_token(urls: DemoUrls) -> None:
    refused = httpx.post(f"{urls.lms_url}/registration", json={"client_name": "x"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
