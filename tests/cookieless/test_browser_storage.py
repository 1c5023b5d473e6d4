"""The cookie-less launch chain in Debian's Chromium (lti-reference §8.4, docs/decisions/0006): the LMS page at
http://localhost frames ltigate at http://127.0.0.1 (another site) with third-party cookies blocked; the
state survives through the LMS's postMessage storage, a foreign storage is not trusted, and without any
storage the login offers a new window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.cookieless.conftest import ALLOW_THIRD_PARTY_COOKIES, Chain, launch_chromium
from tests.support.storage_lms import TOOL_FRAME

Page = Any  # playwright.sync_api.Page, imported lazily so the module skips cleanly without Playwright
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "cookieless"

# Sets a cookie as a third-party frame would need it (SameSite=None; Secure, allowed on http://127.0.0.1)
# and tells whether the browser kept it.
PROBE = """() => {
  document.cookie = "ltigate_test_probe=1; Path=/; SameSite=None; Secure";
  return document.cookie.split("; ").includes("ltigate_test_probe=1");
}"""


@dataclass
class Traffic:
    requests: list[tuple[str, str]] = field(default_factory=list)  # method and URL without its query
    urls: list[tuple[str, str]] = field(default_factory=list)  # method and full URL
    responses: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)

    def posted(self, url: str) -> bool:
        return ("POST", url) in self.requests

    def full_url(self, method: str, url: str) -> str:
        return next(full for m, full in self.urls if m == method and full.split("?")[0] == url)

    def response(self, url_prefix: str) -> tuple[int, dict[str, str]]:
        return next((status, headers) for url, status, headers in self.responses if url.startswith(url_prefix))


@pytest.fixture
def page(blocking: Any, request: pytest.FixtureRequest) -> Iterator[tuple[Page, Traffic]]:
    page = blocking.new_page()
    traffic = Traffic()
    page.on("request", lambda r: traffic.requests.append((r.method, r.url.split("?")[0])))
    page.on("request", lambda r: traffic.urls.append((r.method, r.url)))
    page.on("response", lambda r: traffic.responses.append((r.url, r.status, r.all_headers())))
    yield page, traffic
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:  # what the browser showed, and where it went
        shot(page, f"failed-{request.node.name}")
        (ARTIFACTS / f"failed-{request.node.name}.txt").write_text("\n".join(f"{m} {u}" for m, u in traffic.urls))
    page.close()


def open_course(page: Page, chain: Chain, storage: str) -> Any:
    page.goto(f"{chain.lms.own}/course?storage={storage}")
    return page.frame_locator(f"iframe[name={TOOL_FRAME}]")


def cookies_work_in_a_gateway_frame(page: Page, chain: Chain) -> bool:
    """Adds a frame on the gateway's origin to the LMS page and probes cookies in it."""
    page.evaluate(
        """(url) => new Promise((done) => {
             const frame = document.createElement("iframe");
             frame.name = "probe"; frame.src = url; frame.onload = () => done();
             document.body.appendChild(frame);
           })""",
        f"{chain.gateway.url}/healthz",
    )
    return bool(page.frame(name="probe").evaluate(PROBE))


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def launch_log(chain: Chain, **query: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=chain.gateway.url, headers={"Authorization": f"Bearer {chain.api_key}"}) as api:
        return list(api.get("/api/v1/launches", params={"platform_id": chain.platform_id, **query}).json())


def test_a_framed_launch_with_third_party_cookies_blocked_succeeds_through_platform_storage(
    chain: Chain, page: tuple[Page, Traffic]
) -> None:
    browser_page, traffic = page
    tool = open_course(browser_page, chain, "good")
    tool.locator("[data-testid=launched]").wait_for()
    shot(browser_page, "01-launched-through-platform-storage")

    # The gateway did send its state cookie with the login page; the browser kept none of it.
    status, headers = traffic.response(f"{chain.gateway.url}/lti/login")
    assert status == 200 and "ltigate_state_" in headers.get("set-cookie", "")
    assert not [c for c in browser_page.context.cookies() if c["name"].startswith("ltigate_state_")]
    assert not cookies_work_in_a_gateway_frame(browser_page, chain)  # third-party cookies really are blocked

    # The chain went login page → LMS auth → launch (check page) → continuation → app.
    assert traffic.posted(f"{chain.lms.own}/auth") is False and ("GET", f"{chain.lms.own}/auth") in traffic.requests
    assert traffic.posted(f"{chain.gateway.url}/lti/launch")
    assert traffic.posted(f"{chain.gateway.url}/lti/launch/continue")
    check_status, check_headers = traffic.response(f"{chain.gateway.url}/lti/launch")
    assert check_status == 200 and f"frame-ancestors 'self' {chain.lms.own}" in check_headers["content-security-policy"]

    # The LMS's storage holds state and nonce under the gateway's origin, as the 1EdTech library keys them.
    stored = browser_page.frame(name="lti_storage").evaluate("() => Object.entries(window.ltiStore)")
    keys = sorted((where.split(" ")[0], where.split(" ")[1][: -len(value)], value) for where, value in stored)
    assert [(origin, prefix) for origin, prefix, _ in keys] == [
        (chain.gateway.url, "lti_nonce_"),
        (chain.gateway.url, "lti_state_"),
    ]
    auth = parse_qs(urlsplit(traffic.full_url("GET", f"{chain.lms.own}/auth")).query)
    assert (keys[0][2], keys[1][2]) == (auth["nonce"][0], auth["state"][0])  # this login's nonce and state

    ticket = chain.lms.launches[-1]
    with httpx.Client(base_url=chain.gateway.url, headers={"Authorization": f"Bearer {chain.api_key}"}) as api:
        view = api.post("/api/v1/tickets/redeem", json={"ticket": ticket}).json()
    assert view["outcome"] == "succeeded" and view["resource"] == "quiz"
    assert view["frame_ancestors"] == f"'self' {chain.lms.own}"


def test_the_org_imsglobal_subjects_work_too(chain: Chain, page: tuple[Page, Traffic]) -> None:
    browser_page, traffic = page
    open_course(browser_page, chain, "prefixed").locator("[data-testid=launched]").wait_for()
    assert traffic.posted(f"{chain.gateway.url}/lti/launch/continue")


def test_a_storage_frame_at_another_origin_is_never_written(chain: Chain, page: tuple[Page, Traffic]) -> None:
    browser_page, traffic = page
    tool = open_course(browser_page, chain, "foreign")
    tool.locator("[data-testid=new-window]").wait_for()
    shot(browser_page, "02-foreign-storage-new-window")
    assert ("GET", f"{chain.lms.own}/auth") not in traffic.requests  # the login never went on
    foreign = browser_page.frame(name="lti_storage")
    assert foreign.url.startswith(chain.lms.other)
    assert foreign.evaluate("() => Object.keys(window.ltiStore)") == []


def test_an_answer_from_another_origin_is_refused_and_logged(chain: Chain, page: tuple[Page, Traffic]) -> None:
    browser_page, traffic = page
    tool = open_course(browser_page, chain, "relay")
    code = tool.locator("[data-testid=error-code]")
    code.wait_for()
    shot(browser_page, "03-answer-from-another-origin")
    assert code.inner_text() == "storage_origin_mismatch"
    assert chain.lms.other in tool.locator("main").inner_text()  # the page names the origin that answered
    assert traffic.posted(f"{chain.gateway.url}/lti/launch/continue")
    latest = launch_log(chain, outcome="failed")[0]
    assert latest["error_code"] == "storage_origin_mismatch" and chain.lms.other in latest["error_message"]


def test_without_platform_storage_the_login_offers_a_new_window(chain: Chain, page: tuple[Page, Traffic]) -> None:
    browser_page, traffic = page
    tool = open_course(browser_page, chain, "none")
    tool.locator("[data-testid=new-window]").wait_for()
    shot(browser_page, "04-no-storage-new-window")
    assert not cookies_work_in_a_gateway_frame(browser_page, chain)
    assert ("GET", f"{chain.lms.own}/auth") not in traffic.requests

    context = browser_page.context
    seen: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    with context.expect_page() as opened:
        tool.locator("[data-testid=reopen]").click()
    window = opened.value
    for _ in range(100):  # until the reopened login reaches the LMS's authorization endpoint
        if any(url.startswith(f"{chain.lms.own}/auth?") for url in seen):
            break
        window.wait_for_timeout(100)
    logins = [url for url in seen if url.startswith(f"{chain.gateway.url}/lti/login?")]
    assert logins, seen
    query = parse_qs(urlsplit(logins[0]).query)
    assert "lti_storage_target" not in query and query["iss"] == [chain.lms.own]
    # A first-party login: the gateway redirects it to the LMS, whose answer is then posted back. On plain
    # http the state cookie is SameSite=Lax, which that cross-site post does not carry, so here the window
    # ends on state_missing; over https the cookie is SameSite=None and the launch completes there.
    assert any(url.startswith(f"{chain.lms.own}/auth?") for url in seen)
    window.locator("[data-testid=error-code]").wait_for()
    assert window.locator("[data-testid=error-code]").inner_text() == "state_missing"
    assert window.evaluate("() => window.opener") is None  # rel=noopener: the new window cannot reach back
    window.close()


def test_a_platform_that_does_not_answer_leads_to_the_new_window_after_a_moment(
    chain: Chain, page: tuple[Page, Traffic]
) -> None:
    browser_page, traffic = page
    open_course(browser_page, chain, "silent").locator("[data-testid=new-window]").wait_for()
    assert ("GET", f"{chain.lms.own}/auth") not in traffic.requests


def test_the_cookie_probe_is_not_vacuous(chain: Chain, playwright: Any, tmp_path: Path) -> None:
    """With third-party cookies allowed, the same frame keeps the probe cookie: the blocked runs above
    really ran without cookies."""
    context = launch_chromium(playwright, tmp_path / "chromium-allowing", ALLOW_THIRD_PARTY_COOKIES)
    try:
        page = context.new_page()
        page.goto(f"{chain.lms.own}/course?storage=none")
        assert cookies_work_in_a_gateway_frame(page, chain)
    finally:
        context.close()
