"""Console pages over HTTP, as a browser without scripts uses them: forms round-trip every platform setting,
errors are pages (never JSON), sign-in returns only to console pages, and nothing is inline (the CSP)."""

from __future__ import annotations

import re
from importlib import resources

import httpx

from ltigate.services.gateway import Gateway
from ltigate.services.records import OutcomeRule, Platform, PlatformFields
from tests.console.conftest import ADMIN, PASSWORD, ConsoleEnv, form_token


def make_platform(env: ConsoleEnv, n: str) -> Platform:
    fields = PlatformFields(
        name=f"LMS {n}",
        issuer=f"https://lms-{n}.example.edu",
        client_id=f"client-{n}",
        auth_url=f"https://lms-{n}.example.edu/auth",
        token_url=f"https://lms-{n}.example.edu/token",
        jwks_url=f"https://lms-{n}.example.edu/jwks",
        outcome_rules=(OutcomeRule("completed", "Completed", "FullyGraded", 5.0, 5.0),),
    )

    async def create(gateway: Gateway) -> Platform:
        return await gateway.platforms.create(fields)

    return env.seed(create)


def stored(env: ConsoleEnv, platform_id: str) -> Platform:
    async def get(gateway: Gateway) -> Platform:
        return await gateway.platforms.get(platform_id)

    return env.seed(get)


def test_the_platform_form_round_trips_every_setting(console_env: ConsoleEnv, admin_client: httpx.Client) -> None:
    platform = make_platform(console_env, "edit")
    page = admin_client.get(f"/console/platforms/{platform.id}")
    fields = {
        "csrf": form_token(page.text),
        "name": "LMS edited",
        "issuer": platform.fields.issuer,
        "client_id": platform.fields.client_id,
        "auth_url": platform.fields.auth_url,
        "token_url": platform.fields.token_url,
        "jwks_url": platform.fields.jwks_url,
        "token_audience": "https://api.brightspace.com/auth/token",
        "deployment_ids": "d-1\r\nd-2, d-3",
        "deployment_policy": "reject",
        "seats": "40",
        "preserve_manual_grades": "1",
        "send_deployment_id": "1",
        "licence_note": "Contract <b>42</b>\r\nrenews in May",
    }  # grade_passback unchecked: a browser sends nothing for it

    saved = admin_client.post(f"/console/platforms/{platform.id}", data=fields)

    assert saved.status_code == 303
    assert saved.headers["location"] == f"/console/platforms/{platform.id}?notice=platform_saved"
    after = stored(console_env, platform.id).fields
    assert after.name == "LMS edited" and after.seats == 40 and after.deployment_policy.value == "reject"
    assert (after.grade_passback, after.preserve_manual_grades, after.send_deployment_id) == (False, True, True)
    assert after.token_audience == "https://api.brightspace.com/auth/token"
    assert after.licence_note == "Contract <b>42</b>\nrenews in May"
    assert after.outcome_rules == platform.fields.outcome_rules  # not on the form: kept
    assert {d.deployment_id for d in stored(console_env, platform.id).deployments} == {"d-1", "d-2", "d-3"}
    shown = admin_client.get(saved.headers["location"]).text
    assert "Contract &lt;b&gt;42&lt;/b&gt;" in shown and "<b>42</b>" not in shown  # escaped, never markup
    assert "The platform is saved." in shown


def test_a_bad_seat_count_is_shown_next_to_the_field(console_env: ConsoleEnv, admin_client: httpx.Client) -> None:
    page = admin_client.get("/console/platforms/new")
    form = {"csrf": form_token(page.text), "name": "x", "issuer": "https://x.example.edu", "seats": "ten"}

    refused = admin_client.post("/console/platforms", data=form)

    assert refused.status_code == 422
    assert re.search(r'data-testid="error-seats">seats &#39;ten&#39; is not a whole number', refused.text)
    assert 'value="https://x.example.edu"' in refused.text


def test_errors_are_pages_with_their_code(console_env: ConsoleEnv, admin_client: httpx.Client) -> None:
    token = form_token(admin_client.get("/console").text)
    missing_platform = admin_client.get("/console/platforms/nope")
    unknown_page = admin_client.get("/console/no/such/page")
    bad_decision = admin_client.post(
        f"/console/platforms/{make_platform(console_env, 'decide').id}/deployments",
        data={"csrf": token, "deployment_id": "x", "decision": "maybe"},
    )
    retry_unknown = admin_client.post("/console/deliveries/0123/retry", data={"csrf": token})

    for response, status, code in (
        (missing_platform, 404, "not_found"),
        (unknown_page, 404, "not_found"),
        (bad_decision, 422, "invalid_field"),
        (retry_unknown, 404, "not_found"),
    ):
        assert response.status_code == status
        assert response.headers["content-type"].startswith("text/html")
        assert f'data-testid="error-code">{code}<' in response.text
    assert "Platform &#39;nope&#39; does not exist" in missing_platform.text


def test_sign_in_returns_only_to_console_pages(console_env: ConsoleEnv) -> None:
    for wanted, landing in (
        ("/console/keys", "/console/keys"),
        ("//evil.example/console", "/console"),
        ("https://evil.example/console", "/console"),
        ("/console\\@evil.example", "/console"),
    ):
        with httpx.Client(base_url=console_env.url) as client:
            token = form_token(client.get("/console/sign-in").text)
            response = client.post(
                "/console/sign-in", data={"csrf": token, "name": ADMIN, "password": PASSWORD, "next": wanted}
            )
        assert response.headers["location"] == landing, wanted


def test_templates_have_no_inline_script_or_style_and_static_files_are_served(console_env: ConsoleEnv) -> None:
    folder = resources.files("ltigate.web").joinpath("templates", "console")
    for template in folder.iterdir():
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert " style=" not in text and "<style" not in text and "javascript:" not in text, template.name
    with httpx.Client(base_url=console_env.url) as client:
        css = client.get("/console/static/console.css")
        js = client.get("/console/static/console.js")
        other = client.get("/console/static/../app.py")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200 and "clipboard" in js.text
    assert other.status_code == 404
