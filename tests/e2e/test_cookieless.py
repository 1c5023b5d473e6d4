"""Cookie-less launches over real HTTP (lti-reference §8.4, docs/decisions/0006): the login page that puts
state and nonce into the platform's storage, the check page a launch without cookie gets, the continuation
with what the browser read back, every refusal with its code in the launch log, and frame-ancestors."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.conftest import APP_URL, Env, Registered
from tests.support.platform import Browser, error_code, new_key

Register = Callable[..., Registered]
STORAGE_FRAME = "lti_storage"
_ATTRIBUTE = re.compile(r'\bdata-([a-z-]+)="([^"]*)"')
_INPUT = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
_LINK = re.compile(r'<a id="(ltigate-[a-z-]+)" href="([^"]*)"')


@dataclass
class Page:
    response: httpx.Response

    @property
    def data(self) -> dict[str, str]:
        start = self.response.text.index('id="ltigate-storage"')
        tag = self.response.text[start : self.response.text.index(">", start)]
        return {name: html.unescape(value) for name, value in _ATTRIBUTE.findall(tag)}

    @property
    def inputs(self) -> dict[str, str]:
        return {name: html.unescape(value) for name, value in _INPUT.findall(self.response.text)}

    @property
    def links(self) -> dict[str, str]:
        return {name: html.unescape(value) for name, value in _LINK.findall(self.response.text)}

    @property
    def policy(self) -> dict[str, str]:
        directives = (d.strip().split(" ", 1) for d in self.response.headers["content-security-policy"].split(";"))
        return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@dataclass
class StorageLogin:
    state: str
    nonce: str
    page: Page


def storage_login(browser: Browser, reg: Registered, resource: str = "quiz", **extra: str) -> StorageLogin:
    params = {
        "iss": reg.platform.issuer,
        "login_hint": "user-1",
        "target_link_uri": f"{browser.gateway_url}/lti/launch?resource={resource}",
        "client_id": reg.platform.client_id,
        "lti_deployment_id": reg.platform.deployment_id,
        "lti_storage_target": STORAGE_FRAME,
        **extra,
    }
    response = browser.http.post("/lti/login", data=params)
    assert response.status_code == 200, f"{response.status_code} {error_code(response)}"
    page = Page(response)
    return StorageLogin(state=page.data["state"], nonce=page.data["nonce"], page=page)


def token_for(browser: Browser, reg: Registered, login: StorageLogin, **overrides: object) -> str:
    target = f"{browser.gateway_url}/lti/launch?resource=quiz"
    return reg.platform.token(reg.platform.claims(nonce=login.nonce, target_link_uri=target, **overrides))


@pytest.fixture
def framed(env: Env) -> Iterator[httpx.Client]:
    """The frame the platform posts the launch into, where the login's cookie never arrived."""
    with httpx.Client(base_url=env.gateway.url, timeout=10) as client:
        yield client


def own_page(env: Env, **extra: str) -> dict[str, str]:
    return {"Origin": env.gateway.url, **extra}


def continue_launch(
    client: httpx.Client, token: str, state: str, report: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return client.post("/lti/launch/continue", data={"id_token": token, "state": state, **report}, headers=headers)


def good_report(login: StorageLogin) -> dict[str, str]:
    return {"storage_state": login.state, "storage_nonce": login.nonce}


def expect(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, error_code(response)) == (status, code), response.text[:400]


def failed_codes(env: Env, reg: Registered) -> list[str]:
    with httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}) as api:
        rows = api.get("/api/v1/launches", params={"outcome": "failed", "platform_id": reg.id}).json()
    return sorted(row["error_code"] for row in rows)


# --- login ------------------------------------------------------------------------------------------------


def test_a_login_with_a_storage_target_answers_a_page_that_stores_state_and_nonce(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    login = storage_login(browser, reg)
    data = login.page.data
    assert data["step"] == "login"
    assert data["frame"] == STORAGE_FRAME
    assert data["origin"] == reg.url  # the origin of the platform's OIDC authorization endpoint
    assert data["state-key"] == f"lti_state_{login.state}"
    assert data["nonce-key"] == f"lti_nonce_{login.nonce}"
    assert data["cookie"] == "; Path=/lti/login; SameSite=Lax"  # plain http: the state cookie's attributes
    onward = urlsplit(login.page.links["ltigate-continue"])
    assert f"{onward.scheme}://{onward.netloc}{onward.path}" == f"{reg.url}/auth"
    query = {k: v[0] for k, v in parse_qs(onward.query).items()}
    assert (query["state"], query["nonce"], query["login_hint"]) == (login.state, login.nonce, "user-1")
    # The partitioned state cookie is set as well: where cookies work, they bind the launch.
    assert any(c.value == login.state for c in browser.http.cookies.jar)


def test_the_login_page_runs_no_inline_script_and_only_the_platform_may_frame_it(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    page = storage_login(browser, reg).page
    scripts = re.findall(r"<script[^>]*>", page.response.text)
    assert scripts == [f'<script src="{env.gateway.url}/lti/assets/platform-storage.js?v={scripts[0].split("?v=")[1]}']
    assert "</script>" in page.response.text and "<script>" not in page.response.text
    policy = page.policy
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == f"'self' {reg.url}"  # issuer and auth URL share the origin here
    assert page.response.headers["cache-control"] == "no-store"
    script = browser.http.get(scripts[0].split('"')[1])
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert "capabilities" in script.text and "put_data" in script.text and "get_data" in script.text


def test_the_new_window_link_reopens_the_same_login_on_this_gateway_only(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    hostile_hint = '"><script>alert(1)</script>'
    login = storage_login(browser, reg, login_hint=hostile_hint, lti_message_hint="m-7")
    assert "<script>alert(1)" not in login.page.response.text
    reopen = urlsplit(login.page.links["ltigate-reopen"])
    assert f"{reopen.scheme}://{reopen.netloc}{reopen.path}" == f"{env.gateway.url}/lti/login"
    params = {k: v[0] for k, v in parse_qs(reopen.query).items()}
    assert params == {
        "iss": reg.platform.issuer,
        "login_hint": hostile_hint,
        "target_link_uri": f"{env.gateway.url}/lti/launch?resource=quiz",
        "client_id": reg.platform.client_id,
        "lti_deployment_id": reg.platform.deployment_id,
        "lti_message_hint": "m-7",
    }  # no lti_storage_target: the new window has no platform frame
    assert 'target="_blank" rel="noopener noreferrer"' in login.page.response.text
    # Reopened, it is an ordinary login: a redirect to the registered authorization endpoint, nowhere else.
    again = browser.http.get("/lti/login", params=params)
    assert again.status_code == 302 and again.headers["location"].startswith(f"{reg.url}/auth?")


def test_a_foreign_target_is_refused_before_any_page(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    response = browser.http.post(
        "/lti/login",
        data={
            "iss": reg.platform.issuer,
            "login_hint": "u",
            "target_link_uri": "https://evil.example/steal",
            "lti_storage_target": STORAGE_FRAME,
        },
    )
    expect(response, 400, "target_link_uri_foreign")
    assert "ltigate-reopen" not in response.text
    assert Page(response).policy["frame-ancestors"] == f"'self' {reg.url}"


def test_a_login_inside_a_frame_checks_cookies_first_and_a_top_level_one_redirects(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    params = {
        "iss": reg.platform.issuer,
        "login_hint": "user-1",
        "target_link_uri": f"{env.gateway.url}/lti/launch?resource=quiz",
        "client_id": reg.platform.client_id,
    }
    framed_login = browser.http.post("/lti/login", data=params, headers={"Sec-Fetch-Dest": "iframe"})
    assert framed_login.status_code == 200
    assert Page(framed_login).data["frame"] == ""  # no platform storage offered: cookies or a new window
    top_level = browser.http.post("/lti/login", data=params, headers={"Sec-Fetch-Dest": "document"})
    assert top_level.status_code == 302


def test_an_unknown_platform_may_not_frame_the_login_error(env: Env, browser: Browser) -> None:
    response = browser.http.post(
        "/lti/login",
        data={"iss": "https://unknown.example", "login_hint": "u", "target_link_uri": f"{env.gateway.url}/lti/launch"},
    )
    expect(response, 400, "unknown_issuer")
    assert Page(response).policy["frame-ancestors"] == "'none'"


# --- launch without a cookie ------------------------------------------------------------------------------


def test_a_launch_without_cookie_reads_the_storage_back_and_completes_once(
    env: Env, register: Register, browser: Browser, framed: httpx.Client
) -> None:
    reg = register()
    login = storage_login(browser, reg)
    token = token_for(browser, reg, login)
    check = Page(framed.post("/lti/launch", data={"id_token": token, "state": login.state}))
    assert check.response.status_code == 200, check.response.text[:300]
    assert check.data["step"] == "launch"
    assert (check.data["state"], check.data["nonce"]) == (login.state, login.nonce)
    assert (check.data["frame"], check.data["origin"]) == (STORAGE_FRAME, reg.url)
    assert check.inputs["id_token"] == token and check.inputs["state"] == login.state
    assert f'action="{env.gateway.url}/lti/launch/continue"' in check.response.text
    assert check.policy["frame-ancestors"] == f"'self' {reg.url}"
    assert "form-action" not in check.policy  # the continuation redirects to the app's origin
    # Nothing is consumed yet: the same post gets the same page.
    assert framed.post("/lti/launch", data={"id_token": token, "state": login.state}).status_code == 200

    done = continue_launch(framed, token, login.state, good_report(login), own_page(env))
    assert done.status_code == 303, done.text[:300]
    assert done.headers["location"].startswith(APP_URL + "?ticket=")
    ticket = parse_qs(urlsplit(done.headers["location"]).query)["ticket"][0]
    with httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}) as api:
        view = api.post("/api/v1/tickets/redeem", json={"ticket": ticket}).json()
    assert view["outcome"] == "succeeded" and view["user"]["sub"] == "user-1"
    assert view["frame_ancestors"] == f"'self' {reg.url}"

    replayed = continue_launch(framed, token, login.state, good_report(login), own_page(env))
    expect(replayed, 400, "launch_replayed")
    expect(framed.post("/lti/launch", data={"id_token": token, "state": login.state}), 400, "launch_replayed")
    assert failed_codes(env, reg) == ["launch_replayed", "launch_replayed"]


def test_a_same_origin_fetch_without_origin_header_is_accepted(
    env: Env, register: Register, browser: Browser, framed: httpx.Client
) -> None:
    reg = register()
    login = storage_login(browser, reg)
    token = token_for(browser, reg, login)
    done = continue_launch(framed, token, login.state, good_report(login), {"Sec-Fetch-Site": "same-origin"})
    assert done.status_code == 303, error_code(done)


@pytest.mark.parametrize(
    ("report", "headers", "code"),
    [
        ({"storage_failure": "origin", "storage_detail": "https://evil.example"}, None, "storage_origin_mismatch"),
        ({"storage_failure": "missing", "storage_detail": "no value for the state"}, None, "storage_value_missing"),
        ({"storage_failure": "unavailable", "storage_detail": "lti.get_data: no answer"}, None, "storage_unavailable"),
        ({"storage_failure": "gremlins"}, None, "storage_unavailable"),
        ({}, None, "storage_value_missing"),
        ({"storage_state": "another-state", "storage_nonce": "{nonce}"}, None, "storage_mismatch"),
        ({"storage_state": "{state}", "storage_nonce": "another-nonce"}, None, "storage_mismatch"),
        (
            {"storage_state": "{state}", "storage_nonce": "{nonce}"},
            {"Origin": "https://evil.example"},
            "storage_check_foreign",
        ),
        ({"storage_state": "{state}", "storage_nonce": "{nonce}"}, {}, "storage_check_foreign"),
        (
            {"storage_state": "{state}", "storage_nonce": "{nonce}"},
            {"Sec-Fetch-Site": "cross-site"},
            "storage_check_foreign",
        ),
    ],
    ids=[
        "answer-from-another-origin",
        "value-missing",
        "no-answer",
        "unknown-failure",
        "nothing-read",
        "state-differs",
        "nonce-differs",
        "posted-by-another-site",
        "no-origin",
        "cross-site-fetch",
    ],
)
def test_each_refusal_has_its_code_is_logged_and_leaves_the_state_unused(
    env: Env,
    register: Register,
    browser: Browser,
    framed: httpx.Client,
    report: dict[str, str],
    headers: dict[str, str] | None,
    code: str,
) -> None:
    reg = register()
    login = storage_login(browser, reg)
    token = token_for(browser, reg, login)
    filled = {k: v.format(state=login.state, nonce=login.nonce) for k, v in report.items()}
    refused = continue_launch(framed, token, login.state, filled, own_page(env) if headers is None else headers)
    expect(refused, 403, code)
    assert "The launch failed" not in refused.text  # each code has its own advice
    assert Page(refused).policy["frame-ancestors"] == f"'self' {reg.url}"
    assert failed_codes(env, reg) == [code]
    # Refusals consume nothing: the browser that holds the values can still complete the launch.
    assert continue_launch(framed, token, login.state, good_report(login), own_page(env)).status_code == 303


def test_the_signature_is_verified_before_the_state_is_read(
    env: Env, register: Register, browser: Browser, framed: httpx.Client
) -> None:
    reg = register()
    login = storage_login(browser, reg)
    forged = (
        token_for(browser, reg, login).rsplit(".", 1)[0] + "." + token_for(browser, reg, login, sub="x").split(".")[2]
    )
    expect(framed.post("/lti/launch", data={"id_token": forged, "state": login.state}), 401, "signature_invalid")
    expect(continue_launch(framed, forged, login.state, good_report(login), own_page(env)), 401, "signature_invalid")
    other_key = reg.platform.token(
        reg.platform.claims(nonce=login.nonce, target_link_uri=f"{env.gateway.url}/lti/launch?resource=quiz"),
        key=new_key(),
    )
    expect(continue_launch(framed, other_key, login.state, good_report(login), own_page(env)), 400, "kid_not_found")
    token = token_for(browser, reg, login)
    assert continue_launch(framed, token, login.state, good_report(login), own_page(env)).status_code == 303


def test_a_token_with_another_logins_nonce_gets_no_check_page(
    env: Env, register: Register, browser: Browser, framed: httpx.Client
) -> None:
    reg = register()
    first, second = storage_login(browser, reg), storage_login(browser, reg)
    token = token_for(browser, reg, first)
    expect(framed.post("/lti/launch", data={"id_token": token, "state": second.state}), 401, "nonce_mismatch")
    report = {"storage_state": second.state, "storage_nonce": first.nonce}
    expect(continue_launch(framed, token, second.state, report, own_page(env)), 401, "nonce_mismatch")


def test_a_state_of_another_platform_is_refused(
    env: Env, register: Register, browser: Browser, framed: httpx.Client
) -> None:
    ours, theirs = register(), register()
    login = storage_login(browser, theirs)
    target = f"{env.gateway.url}/lti/launch?resource=quiz"
    token = ours.platform.token(ours.platform.claims(nonce=login.nonce, target_link_uri=target))
    expect(framed.post("/lti/launch", data={"id_token": token, "state": login.state}), 400, "state_mismatch")


def test_the_continuation_cannot_complete_a_login_that_used_a_cookie(
    env: Env, register: Register, browser: Browser, framed: httpx.Client
) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")  # no storage target: the state is bound by the cookie alone
    target = f"{env.gateway.url}/lti/launch?resource=quiz"
    token = reg.platform.token(reg.platform.claims(nonce=login.nonce, target_link_uri=target))
    report = {"storage_state": login.state, "storage_nonce": login.nonce}
    refused = continue_launch(framed, token, login.state, report, own_page(env))
    expect(refused, 400, "state_missing")
    assert Page(refused).policy["frame-ancestors"] == f"'self' {reg.url}"
    assert browser.launch(token, login.state).status_code == 303  # the browser with the cookie still can


def test_a_launch_with_the_cookie_skips_the_storage_check(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = storage_login(browser, reg)
    response = browser.launch(token_for(browser, reg, login), login.state)
    assert response.status_code == 303 and response.headers["location"].startswith(APP_URL)


def test_launch_errors_of_unknown_platforms_may_not_be_framed(env: Env, framed: httpx.Client) -> None:
    response = framed.post("/lti/launch", data={"id_token": "not.a.token", "state": "s"})
    expect(response, 400, "token_malformed")
    assert Page(response).policy["frame-ancestors"] == "'none'"
