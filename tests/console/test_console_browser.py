"""The console in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium) against a served
gateway. Each test signs in afresh and makes its own data; screenshots of the main pages go to
artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ltigate.services.gateway import Gateway
from ltigate.services.records import KeyPurpose, KeyState, LaunchFilter, LaunchOutcome, ResourceFields
from tests.console.conftest import ADMIN, APP_URL, PASSWORD, ConsoleEnv, LaunchingPlatform, failed_job
from tests.support.platform import error_code

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
Page = Any  # playwright.sync_api.Page, imported lazily so the module skips cleanly without Playwright


@pytest.fixture(scope="module")
def chromium(console_env: ConsoleEnv) -> Iterator[Any]:
    """Started after the gateway: Playwright keeps an event loop running in this thread, where the gateway's
    set-up (migrations) could no longer run its own."""
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


def open_context(chromium: Any, console_env: ConsoleEnv, **options: Any) -> Any:
    context = chromium.new_context(base_url=console_env.url, viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(10_000)
    return context


def sign_in(page: Page) -> None:
    page.goto("/console/sign-in")
    page.fill("#name", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console$"))


@pytest.fixture
def page(chromium: Any, console_env: ConsoleEnv) -> Iterator[Page]:
    context = open_context(chromium, console_env)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_env.url)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page)
    yield page
    context.close()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def ensure_resource(env: ConsoleEnv, slug: str, **fields: object) -> None:
    async def create(gateway: Gateway) -> None:
        if not any(r.fields.slug == slug for r in await gateway.resources.list()):
            values = {"title": slug.title(), "app_url": APP_URL, **fields}
            await gateway.resources.create(ResourceFields(slug=slug, **values))  # type: ignore[arg-type]

    env.seed(create)


def notice(page: Page) -> str:
    return str(page.inner_text("[data-testid=notice]"))


def test_sign_in_shows_errors_and_signs_out(chromium: Any, console_env: ConsoleEnv) -> None:
    context = open_context(chromium, console_env)
    page = context.new_page()
    try:
        page.goto("/console/platforms")
        assert page.url.endswith("/console/sign-in?next=%2Fconsole%2Fplatforms")
        shot(page, "01-sign-in")
        page.fill("#name", ADMIN)
        page.fill("#password", "not the password")
        page.click("button[type=submit]")
        assert page.inner_text("[data-testid=sign-in-message]") == "The name or password is wrong."
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/console/platforms$"))  # back where the administrator wanted to go
        page.goto("/console")
        shot(page, "02-overview")
        page.click("text=Sign out")
        page.wait_for_url(re.compile(r"/console/sign-in\?notice=signed_out$"))
        assert notice(page) == "You are signed out."
    finally:
        context.close()


def test_add_a_platform_with_a_bad_url_and_a_duplicate(page: Page) -> None:
    page.click("nav >> text=Platforms")
    page.click("text=Add a platform")
    fields = {
        "#f-name": "Moodle (production)",
        "#f-issuer": "https://moodle.example.edu",
        "#f-client_id": "AbC123",
        "#f-auth_url": "http://moodle.example.edu/mod/lti/auth.php",  # plain http off loopback
        "#f-token_url": "https://moodle.example.edu/mod/lti/token.php",
        "#f-jwks_url": "https://moodle.example.edu/mod/lti/certs.php",
        "#f-deployment_ids": "1",
        "#f-seats": "25",
        "#f-licence_note": "Contract 2025-114, renews in May",
    }
    for selector, value in fields.items():
        page.fill(selector, value)
    assert "Platform ID" in page.inner_text("#h-issuer")  # the LMS's own names are given under each field
    assert "Application ID" in page.inner_text("#h-client_id")
    page.click("button:has-text('Add platform')")

    error = page.inner_text("[data-testid=error-auth_url]")
    assert "auth_url 'http://moodle.example.edu/mod/lti/auth.php' must use https" in error
    assert page.get_attribute("#f-auth_url", "aria-invalid") == "true"
    assert page.input_value("#f-client_id") == "AbC123"  # what was entered is kept
    shot(page, "03-platform-form-errors")
    page.fill("#f-auth_url", "https://moodle.example.edu/mod/lti/auth.php")
    page.click("button:has-text('Add platform')")
    assert "The platform is registered" in notice(page)
    assert page.inner_text("h1") == "Moodle (production)"
    assert page.locator("[data-deployment='1']").inner_text().count("approved") == 1

    page.goto("/console/platforms/new")
    for selector, value in {**fields, "#f-name": "Moodle again", "#f-auth_url": fields["#f-token_url"]}.items():
        page.fill(selector, value)
    page.click("button:has-text('Add platform')")
    duplicate = page.inner_text("[data-testid=error-client_id]")
    assert "a platform with issuer 'https://moodle.example.edu' and client_id 'AbC123' exists already" in duplicate

    page.goto("/console/platforms")
    row = page.locator("tr", has_text="Moodle (production)")
    assert row.locator("[data-testid=seats-used]").inner_text() == "0 of 25"
    assert row.locator("[data-testid=seats-remaining]").inner_text() == "25"
    shot(page, "04-platforms")


def test_approve_a_pending_deployment(
    page: Page, console_env: ConsoleEnv, launching_platform: Callable[..., LaunchingPlatform]
) -> None:
    ensure_resource(console_env, "quiz")
    lms = launching_platform("Canvas (test)")
    first = lms.launch(console_env.url, "quiz", deployment_id="dep-new")
    assert error_code(first) == "deployment_pending"

    page.goto("/console")
    page.click("text=Platforms")
    page.click("text=Canvas (test)")
    row = page.locator("[data-deployment='dep-new']")
    assert "pending" in row.inner_text()
    shot(page, "05-platform-pending-deployment")
    row.locator("button:has-text('Approve')").click()

    assert notice(page) == "The deployment is approved: its launches are accepted."
    assert "approved" in page.locator("[data-deployment='dep-new']").inner_text()
    assert lms.launch(console_env.url, "quiz", deployment_id="dep-new").status_code == 303


def test_create_a_resource_and_copy_its_target_link_uri(page: Page, console_env: ConsoleEnv) -> None:
    page.click("nav >> text=Resources")
    page.click("text=Add a resource")
    page.fill("#f-slug", "org/course/quiz-7")
    page.fill("#f-title", "Quiz 7")
    page.fill("#f-app_url", "https://app.example.com/quiz")
    page.fill("#f-score_maximum", "10")
    page.click("button:has-text('Add resource')")

    expected = f"{console_env.url}/lti/launch?resource=org/course/quiz-7"
    assert "The resource is created" in notice(page)
    assert page.input_value("#picked-uri") == expected  # the picker shows the new resource
    page.click("button[data-copy='picked-uri']")
    page.wait_for_selector("button[data-copy='picked-uri'].done")
    assert page.evaluate("navigator.clipboard.readText()") == expected
    row = page.locator("tr[data-slug='org/course/quiz-7']")
    assert row.locator("input.copy-value").input_value() == expected
    assert "out of 10" in row.inner_text()
    shot(page, "06-resources")


def test_find_a_failed_launch_and_read_its_cause(
    page: Page, console_env: ConsoleEnv, launching_platform: Callable[..., LaunchingPlatform]
) -> None:
    lms = launching_platform("Brightspace")
    failed = lms.launch(console_env.url, "no-such-resource")
    assert error_code(failed) == "unknown_resource"

    page.click("nav >> text=Launches")
    page.select_option("#q-outcome", "failed")
    page.fill("#q-error", "unknown_resource")
    page.select_option("#q-platform", label="Brightspace")
    page.click("button:has-text('Filter')")
    rows = page.locator("table[data-testid=launches] tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("[data-testid=launch-error-code]").inner_text() == "unknown_resource"
    shot(page, "07-launches")
    rows.first.locator("text=Details").click()

    assert "resource 'no-such-resource' does not exist" in page.inner_text("[data-testid=launch-cause-message]")
    assert page.inner_text("[data-testid=launch-fix]").startswith("Create the resource with this slug")
    assert "deployment_id" in page.inner_text("table[data-testid=claims]")
    shot(page, "08-launch-failed")


def test_retry_a_failed_delivery(
    page: Page, console_env: ConsoleEnv, launching_platform: Callable[..., LaunchingPlatform]
) -> None:
    ensure_resource(console_env, "quiz")
    lms = launching_platform("Moodle (grades)")
    assert lms.launch(console_env.url, "quiz").status_code == 303

    async def fail_a_delivery(gateway: Gateway) -> str:
        [launch] = await gateway.launches.list(
            LaunchFilter(platform_id=lms.id, outcome=LaunchOutcome.SUCCEEDED, limit=1)
        )
        job = failed_job(launch.id, lms.id, "the platform refused the score: 400 line item is closed")
        await gateway.outbox.enqueue(job)
        return job.id

    job_id = console_env.seed(fail_a_delivery)
    page.click("nav >> text=Deliveries")
    row = page.locator(f"tr[data-job='{job_id}']")
    assert "400 line item is closed" in row.locator("[data-testid=delivery-reason]").inner_text()
    assert "failed" in row.locator("[data-testid=delivery-status]").inner_text()
    shot(page, "09-deliveries")
    row.locator("button:has-text('Retry')").click()

    assert notice(page) == "The delivery is queued again and will be attempted at once."
    assert page.locator(f"tr[data-job='{job_id}'] [data-testid=delivery-status]").inner_text() == "pending"


def test_rotate_the_lti_keys(page: Page, console_env: ConsoleEnv) -> None:
    page.click("nav >> text=Keys")
    table = page.locator("table[data-testid=keys-lti]")
    before_active = table.locator("tr[data-state=active]").get_attribute("data-kid")
    before_next = table.locator("tr[data-state=next]").get_attribute("data-kid")
    shot(page, "10-keys")
    page.click("[data-testid=rotate-lti]")  # the confirm dialog is accepted

    assert notice(page) == "The keys are rotated."
    assert table.locator("tr[data-state=active]").get_attribute("data-kid") == before_next
    assert table.locator(f"tr[data-kid='{before_active}']").get_attribute("data-state") == "retired"

    async def states(gateway: Gateway) -> dict[str, KeyState]:
        return {k.kid: k.state for k in await gateway.tool_keys.stored() if k.purpose is KeyPurpose.LTI}

    stored = console_env.seed(states)
    assert stored[str(before_next)] is KeyState.ACTIVE and stored[str(before_active)] is KeyState.RETIRED


def test_create_an_api_key_shown_once_and_revoke_it(page: Page, console_env: ConsoleEnv) -> None:
    page.click("nav >> text=API keys")
    page.fill("#key-name", "catalogue sync")
    page.click("button:has-text('Create key')")
    secret = page.input_value("#issued-key")
    assert secret.startswith("ltg_")
    shot(page, "11-api-key-created")
    with httpx.Client(base_url=console_env.url, headers={"Authorization": f"Bearer {secret}"}) as api:
        assert api.get("/api/v1/tool").status_code == 200

        page.goto("/console/api-keys")
        assert secret not in page.content()
        row = page.locator("tr", has_text="catalogue sync")
        row.locator("button:has-text('Revoke')").click()
        assert "The API key is revoked" in notice(page)
        assert "revoked" in page.locator("tr", has_text="catalogue sync").inner_text()
        assert api.get("/api/v1/tool").status_code == 401


def test_release_a_seat(
    page: Page, console_env: ConsoleEnv, launching_platform: Callable[..., LaunchingPlatform]
) -> None:
    ensure_resource(console_env, "quiz")
    lms = launching_platform("Sakai", seats=2)
    assert lms.launch(console_env.url, "quiz").status_code == 303  # a learner takes a seat

    page.click("nav >> text=Seats")
    page.locator("tr", has_text="Sakai").locator("text=Seat holders").click()
    holders = page.locator("table[data-testid=seat-holders] tbody tr")
    assert holders.count() == 1 and "Ada Learner" in holders.first.inner_text()
    shot(page, "12-seats")
    holders.first.locator("button:has-text('Release seat')").click()

    assert "The seat is released" in notice(page)
    assert page.locator("table[data-testid=seat-holders]").count() == 0
    assert "0 used of 2" in page.inner_text("[data-testid=seat-summary]")


def test_registration_rosters_and_small_screens(
    page: Page, console_env: ConsoleEnv, launching_platform: Callable[..., LaunchingPlatform]
) -> None:
    ensure_resource(console_env, "quiz")
    lms = launching_platform("Open edX")
    assert lms.launch(console_env.url, "quiz").status_code == 303

    page.click("nav >> text=Tool registration")
    page.click("button[data-copy='url-login']")
    assert page.evaluate("navigator.clipboard.readText()") == f"{console_env.url}/lti/login"
    assert page.input_value("#url-jwks") == f"{console_env.url}/.well-known/jwks.json"
    shot(page, "13-registration")
    page.click("nav >> text=Rosters")
    page.locator("table[data-testid=contexts] tr", has_text="Open edX").locator("a").first.click()
    assert "Course 101" in page.inner_text("h1")
    shot(page, "14-roster")
    page.goto("/console")
    shot(page, "17-overview-with-data")

    page.set_viewport_size({"width": 390, "height": 844})
    phone_pages = (
        ("/console/platforms", "15-mobile-platforms"),
        ("/console/launches", "16-mobile-launches"),
        ("/console/platforms/new", "18-mobile-platform-form"),
        ("/console/resources", "19-mobile-resources"),
    )
    for path, name in phone_pages:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px): {wide_elements(page)}"
        shot(page, name)


def wide_elements(page: Page) -> list[str]:
    """Elements sticking out to the right of the viewport, outside scrolling containers (tables, navigation)."""
    script = """() => Array.from(document.querySelectorAll('body *'))
        .filter(e => !(e.parentElement && e.parentElement.closest('.table-wrap, nav'))
            && e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)"""
    return list(page.evaluate(script))


def test_every_action_works_without_javascript(chromium: Any, console_env: ConsoleEnv) -> None:
    context = open_context(chromium, console_env, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page)
        page.goto("/console/resources/new")
        page.fill("#f-slug", "nojs/quiz")
        page.fill("#f-title", "No-JS quiz")
        page.fill("#f-app_url", "https://app.example.com/nojs")
        page.click("button:has-text('Add resource')")
        assert page.is_hidden("button[data-copy='picked-uri']")  # copy buttons need scripts: hidden
        assert page.input_value("#picked-uri").endswith("/lti/launch?resource=nojs/quiz")
        page.select_option("#picker-resource", "nojs/quiz")
        page.click("button:has-text('Show its link')")
        assert page.input_value("#picked-uri").endswith("/lti/launch?resource=nojs/quiz")
        page.goto("/console/keys")
        page.click("[data-testid=rotate-ticket]")  # no confirm dialog without scripts: it posts at once
        assert notice(page) == "The keys are rotated."
    finally:
        context.close()
