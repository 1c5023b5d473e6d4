"""The console's Dynamic Registration: registration links made and revoked, the attempt log with cause and fix,
the per-LMS setup guides, and approving a platform that registered itself."""

from __future__ import annotations

import re

import httpx
import pytest

from ltigate.lti.profiles import PROFILES
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, RegisteredVia
from tests.console.conftest import ConsoleEnv, form_token


def test_registration_page_makes_and_revokes_one_time_links(
    console_env: ConsoleEnv, admin_client: httpx.Client
) -> None:
    page = admin_client.get("/console/registration")
    assert page.status_code == 200
    assert f"{console_env.url}/lti/register/&lt;secret&gt;" in page.text
    assert f'value="{console_env.url}/lti/config/canvas.json"' in page.text
    assert "wait for your approval" in page.text

    made = admin_client.post(
        "/console/registration/links", data={"csrf": form_token(page.text), "note": "Moodle U", "expires": "86400"}
    )

    assert made.status_code == 200
    match = re.search(rf'value="({re.escape(console_env.url)}/lti/register/[A-Za-z0-9_-]+)"', made.text)
    assert match, made.text[:2000]
    url = match.group(1)
    row = re.search(r'<tr data-link="([0-9a-f]+)">(.*?)</tr>', made.text, re.S)
    assert row and "Moodle U" in row.group(2) and "usable" in row.group(2)
    again = admin_client.get("/console/registration")
    assert url not in again.text  # shown once

    revoked = admin_client.post(
        f"/console/registration/links/{row.group(1)}/revoke", data={"csrf": form_token(again.text)}
    )

    assert revoked.status_code == 303
    after = admin_client.get(revoked.headers["location"])
    assert "The registration link is revoked" in after.text
    assert "revoked" in re.search(rf'<tr data-link="{row.group(1)}">(.*?)</tr>', after.text, re.S).group(1)  # type: ignore[union-attr]
    with httpx.Client() as outsider:
        refused = outsider.get(url, params={"openid_configuration": "https://lms.example.edu/config"})
    assert 'data-testid="error-code">registration_link_revoked<' in refused.text

    bad = admin_client.post(
        "/console/registration/links", data={"csrf": form_token(after.text), "note": "", "expires": "5"}
    )
    assert bad.status_code == 422 and 'data-testid="link-error"' in bad.text


def test_failed_attempts_are_listed_with_their_code_and_fix(
    console_env: ConsoleEnv, admin_client: httpx.Client
) -> None:
    with httpx.Client(base_url=console_env.url) as lms_frame:
        lms_frame.get("/lti/register", params={"openid_configuration": "https://lms.example.edu/config"})

    page = admin_client.get("/console/registration")

    table = re.search(r'data-testid="registration-attempts">(.*?)</table>', page.text, re.S)
    assert table, page.text[:3000]
    assert "registration_link_required" in table.group(1)
    assert "ltigate registration-link create" in table.group(1)  # the fix, next to the cause


@pytest.mark.parametrize("key", [p.key for p in PROFILES])
def test_every_lms_has_a_guide_with_this_instances_urls(
    console_env: ConsoleEnv, admin_client: httpx.Client, key: str
) -> None:
    index = admin_client.get("/console/registration")
    assert f'href="/console/registration/guides/{key}"' in index.text

    guide = admin_client.get(f"/console/registration/guides/{key}")

    assert guide.status_code == 200
    assert f"<code>{console_env.url}/lti/login</code>" in guide.text
    assert f"<code>{console_env.url}/.well-known/jwks.json</code>" in guide.text
    assert f"ltigate setup-guide {key}" in guide.text
    assert guide.headers["content-security-policy"].startswith("default-src 'none'")


def test_unknown_guide_is_not_found(admin_client: httpx.Client) -> None:
    assert admin_client.get("/console/registration/guides/webct").status_code == 404


def test_a_self_registered_platform_is_approved_from_the_console(
    console_env: ConsoleEnv, admin_client: httpx.Client
) -> None:
    async def register(gateway: Gateway) -> str:
        fields = PlatformFields(
            name="Canvas (Test University)",
            issuer="https://canvas.example.edu",
            client_id="10000000000042",
            auth_url="https://canvas.example.edu/api/lti/authorize_redirect",
            token_url="https://canvas.example.edu/login/oauth2/token",
            jwks_url="https://canvas.example.edu/api/lti/security/jwks",
        )
        platform = await gateway.platforms.create(
            fields, awaiting_approval=True, registered_via=RegisteredVia.DYNAMIC, product_family_code="canvas"
        )
        return platform.id

    platform_id = console_env.seed(register)
    listing = admin_client.get("/console/platforms")
    row = re.search(r"<tr>(?:(?!</tr>).)*Canvas \(Test University\)(?:(?!</tr>).)*</tr>", listing.text, re.S)
    assert row and "awaiting approval" in row.group(0)
    page = admin_client.get(f"/console/platforms/{platform_id}")
    assert 'data-testid="approval"' in page.text and "platform_pending_approval" in page.text

    approved = admin_client.post(f"/console/platforms/{platform_id}/approve", data={"csrf": form_token(page.text)})

    assert approved.status_code == 303
    after = admin_client.get(approved.headers["location"])
    assert "The platform is approved" in after.text
    assert 'data-testid="approval"' not in after.text
    forged = admin_client.post(f"/console/platforms/{platform_id}/approve", data={"csrf": "0" * 64})
    assert forged.status_code == 403
