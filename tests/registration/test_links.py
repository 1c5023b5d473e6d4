"""One-time registration links: required by default, used once, refused when expired, revoked or unknown;
and the sealed confirmation form, which cannot be altered."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import httpx

from ltigate.db import engine as db_engine
from ltigate.db.registration import SqlRegistrationLinkStore
from ltigate.services.digest import secret_digest
from ltigate.services.gateway import Gateway
from ltigate.services.records import RegistrationLink
from tests.registration.conftest import (
    attempts,
    confirm,
    new_link,
    open_registration,
    platforms_of,
    register,
    start_url,
)
from tests.support.dr_platform import DrPlatform
from tests.support.gateway import GatewayHarness
from tests.support.platform import error_code

Lms = Callable[..., DrPlatform]


def test_without_a_link_registration_is_refused_before_the_lms_is_contacted(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    moodle = lms(style="moodle")

    page = browser.get(start_url(moodle))

    assert page.status_code == 403
    assert error_code(page) == "registration_link_required"
    assert "ltigate registration-link create" in page.text
    assert moodle.requests == []
    assert attempts(gateway)[0].error_code == "registration_link_required"


def test_a_link_registers_once(gateway: GatewayHarness, lms: Lms, browser: httpx.Client) -> None:
    link = new_link(gateway)
    first, second = lms(style="moodle"), lms(style="moodle")
    # Two confirmation pages opened with the same link: only the first registration may use it.
    confirmation = open_registration(browser, first, link)
    stale = open_registration(browser, second, link)
    register_done = confirm(browser, confirmation)
    assert register_done.status_code == 200

    again = browser.get(start_url(second, link))
    late = confirm(browser, stale)

    assert (again.status_code, error_code(again)) == (410, "registration_link_used")
    assert (late.status_code, error_code(late)) == (410, "registration_link_used")
    assert second.registrations() == []
    assert platforms_of(gateway, second.url) == []

    async def read(g: Gateway) -> list[RegistrationLink]:
        return await g.registration_links.list()

    [platform] = platforms_of(gateway, first.url)
    [used] = [entry for entry in gateway.run(read) if entry.platform_id == platform.id]
    assert used.note == "test" and used.used_at is not None and used.state(time.time()) == "used"


def test_expired_revoked_and_unknown_links_are_refused(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    moodle = lms(style="moodle")
    expired = secrets.token_urlsafe(32)

    async def plant() -> None:  # a link that expired a minute ago, written as the store would
        engine = db_engine.create_engine(gateway.settings.database_url)
        try:
            link = RegistrationLink(id="expired01", note="", created_at=time.time() - 120, expires_at=time.time() - 60)
            await SqlRegistrationLinkStore(engine).create(link, secret_digest(expired))
        finally:
            await db_engine.dispose(engine)

    asyncio.run(plant())
    revoked = new_link(gateway)

    async def revoke(g: Gateway) -> None:
        [link] = [entry for entry in await g.registration_links.list() if entry.used_at is None][:1]
        await g.registration_links.revoke(link.id)

    gateway.run(revoke)

    for link, status, code in (
        (expired, 410, "registration_link_expired"),
        (revoked, 410, "registration_link_revoked"),
        ("not-a-link", 404, "registration_link_unknown"),
    ):
        page = browser.get(start_url(moodle, link))
        assert (page.status_code, error_code(page)) == (status, code), link
    assert moodle.requests == []


def test_an_altered_or_foreign_confirmation_form_is_refused(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    moodle = lms(style="moodle")
    confirmation = open_registration(browser, moodle, new_link(gateway))
    altered = confirmation.form_token[:-2] + ("00" if not confirmation.form_token.endswith("00") else "11")

    for token in (altered, "", "zz"):
        page = browser.post("/lti/register", data={"registration": token})
        assert (page.status_code, error_code(page)) == (400, "registration_form_expired")
    assert moodle.registrations() == []


def test_opening_the_registration_url_by_hand_explains_what_is_missing(
    gateway: GatewayHarness, browser: httpx.Client
) -> None:
    page = browser.get(f"/lti/register/{new_link(gateway)}")

    assert (page.status_code, error_code(page)) == (400, "registration_start_invalid")
    assert "openid_configuration" in page.text


def test_canvas_json_configuration(gateway: GatewayHarness, browser: httpx.Client) -> None:
    response = browser.get("/lti/config/canvas.json")

    assert response.status_code == 200
    base = gateway.url
    launch, logo = f"{base}/lti/launch", f"{base}/lti/assets/logo.svg"
    placements = [
        {
            "placement": name,
            "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": launch,
            "text": "ltigate",
            "icon_url": logo,
        }
        for name in ("link_selection", "assignment_selection", "editor_button")
    ]
    assert response.json() == {
        "title": "ltigate",
        "description": "ltigate: LTI 1.3 resources, grades and rosters through ltigate",
        "oidc_initiation_url": f"{base}/lti/login",
        "target_link_uri": launch,
        "public_jwk_url": f"{base}/.well-known/jwks.json",
        "scopes": [
            "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
            "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
            "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
            "https://purl.imsglobal.org/spec/lti-ags/scope/score",
            "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
        ],
        "extensions": [
            {
                "domain": base.split("://", 1)[1],
                "platform": "canvas.instructure.com",
                "privacy_level": "public",
                "settings": {"text": "ltigate", "placements": placements, "icon_url": logo},
            }
        ],
    }


def test_a_used_link_shows_who_used_it_only_to_administrators(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    moodle = lms(style="moodle")
    link = new_link(gateway)
    register(browser, moodle, link)

    page = browser.get(start_url(moodle, link))

    assert error_code(page) == "registration_link_used"
    [platform] = platforms_of(gateway, moodle.url)
    assert platform.id not in page.text  # the refusal does not tell a stranger which platform it registered
