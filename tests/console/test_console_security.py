"""The console's defences over real HTTP: sign-in required, hardened cookies and headers, form tokens on every
POST, a new session id at each sign-in, sign-out, lock-out, and no secret on any page.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select

from ltigate.db.engine import create_engine, dispose, transaction
from ltigate.db.schema import administrators, api_keys, console_sessions, launches, service_tokens, tool_keys
from ltigate.services.gateway import Gateway
from ltigate.services.records import ResourceFields
from ltigate.services.sealing import Sealer
from tests.console.conftest import (
    ADMIN,
    APP_URL,
    PASSWORD,
    ConsoleEnv,
    LaunchingPlatform,
    create_admin,
    failed_job,
    form_token,
    sign_in,
)
from tests.support.gateway import GatewayHarness, running_gateway

SESSION = "ltigate_console"


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def test_pages_need_a_signed_in_administrator(console_env: ConsoleEnv) -> None:
    with httpx.Client(base_url=console_env.url) as anonymous:
        page = anonymous.get("/console/launches?outcome=failed")
        post = anonymous.post("/console/api-keys", data={"name": "x", "csrf": "0" * 64})
        wrong_cookie = anonymous.get("/console", cookies={SESSION: "made-up"})

    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?next=%2Fconsole%2Flaunches%3Foutcome%3Dfailed"
    assert post.status_code == 303 and post.headers["location"].startswith("/console/sign-in")
    assert wrong_cookie.status_code == 303


def test_sign_in_sets_an_http_only_same_site_cookie_and_pages_carry_strict_headers(console_env: ConsoleEnv) -> None:
    with httpx.Client(base_url=console_env.url) as client:
        signed_in = sign_in(client)
        page = client.get("/console/platforms")

    cookie = set_cookies(signed_in)[SESSION]
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console"
    assert "; HttpOnly" in cookie and "; SameSite=Lax" in cookie and "; Path=/console" in cookie
    assert "Secure" not in cookie  # the base URL is plain http on loopback
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_cookies_are_secure_when_the_base_url_is_https(tmp_path: Path) -> None:
    with (
        running_gateway(tmp_path, LTIGATE_BASE_URL="https://lti.example.edu") as harness,
        httpx.Client(base_url=harness.url) as client,
    ):
        form = client.get("/console/sign-in")

    assert "; Secure" in set_cookies(form)["ltigate_console_signin"]


def test_a_post_without_the_form_token_or_with_a_wrong_one_is_refused(
    console_env: ConsoleEnv, admin_client: httpx.Client
) -> None:
    with httpx.Client(base_url=console_env.url) as other:
        sign_in(other)
        other_token = form_token(other.get("/console/api-keys").text)
    own_token = form_token(admin_client.get("/console/api-keys").text)

    missing = admin_client.post("/console/api-keys", data={"name": "csrf-missing"})
    wrong = admin_client.post("/console/api-keys", data={"name": "csrf-wrong", "csrf": "0" * 64})
    foreign = admin_client.post("/console/api-keys", data={"name": "csrf-foreign", "csrf": other_token})
    rotate = admin_client.post("/console/keys/rotate", data={"purpose": "lti", "csrf": own_token[:-1] + "x"})
    good = admin_client.post("/console/api-keys", data={"name": "csrf-good", "csrf": own_token})

    for refused in (missing, wrong, foreign, rotate):
        assert refused.status_code == 403
        assert 'data-testid="error-code">csrf_failed<' in refused.text
    assert good.status_code == 201

    async def names(gateway: Gateway) -> set[str]:
        return {k.name for k in await gateway.api_keys.list()}

    made = console_env.seed(names)
    assert "csrf-good" in made
    assert not made & {"csrf-missing", "csrf-wrong", "csrf-foreign"}


def test_the_sign_in_form_needs_its_token_too(console_env: ConsoleEnv) -> None:
    with httpx.Client(base_url=console_env.url) as client:
        client.get("/console/sign-in")
        refused = client.post("/console/sign-in", data={"name": ADMIN, "password": PASSWORD})

    assert refused.status_code == 403
    assert SESSION not in set_cookies(refused)
    assert "expired or came from another site" in refused.text


def test_signing_in_issues_a_new_session_id_and_never_adopts_a_planted_one(console_env: ConsoleEnv) -> None:
    planted = "attacker-chosen-session-id-0123456789abcdef"
    with httpx.Client(base_url=console_env.url) as client:
        client.cookies.set(SESSION, planted, domain="127.0.0.1", path="/console")
        token = form_token(client.get("/console/sign-in").text)
        fields = {"csrf": token, "name": ADMIN, "password": PASSWORD}
        first = client.post("/console/sign-in", data=fields)
        first_id = client.cookies.get(SESSION)
        second = client.post("/console/sign-in", data=fields)  # signing in again, e.g. from a second tab
        second_id = client.cookies.get(SESSION)

    assert first.status_code == second.status_code == 303
    assert first_id and second_id and len({planted, first_id, second_id}) == 3
    with httpx.Client(base_url=console_env.url) as replay:
        assert replay.get("/console", cookies={SESSION: planted}).status_code == 303
        assert replay.get("/console", cookies={SESSION: first_id}).status_code == 303  # ended by the new sign-in
        assert replay.get("/console", cookies={SESSION: second_id}).status_code == 200


def test_sign_out_ends_the_session(console_env: ConsoleEnv, admin_client: httpx.Client) -> None:
    session_id = admin_client.cookies.get(SESSION)
    token = form_token(admin_client.get("/console").text)

    out = admin_client.post("/console/sign-out", data={"csrf": token})

    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in?notice=signed_out"
    assert "Max-Age=0" in set_cookies(out)[SESSION]
    with httpx.Client(base_url=console_env.url) as replay:
        assert replay.get("/console", cookies={SESSION: session_id}).status_code == 303


def test_wrong_passwords_lock_sign_in_for_the_account_and_the_address(tmp_path: Path) -> None:
    with running_gateway(tmp_path) as harness:
        create_admin(harness)
        create_admin(harness, "grace", PASSWORD)
        with httpx.Client(base_url=harness.url) as client:
            attempts = [sign_in(client, ADMIN, "wrong password!") for _ in range(5)]
            right_password = sign_in(client, ADMIN, PASSWORD)
            other_account = sign_in(client, "grace", PASSWORD)

    assert [a.status_code for a in attempts] == [401, 401, 401, 401, 429]
    assert "The name or password is wrong." in attempts[0].text
    assert "2 more failed attempts lock sign-in for 15 minutes" in attempts[2].text
    assert "1 more failed attempt lock" in attempts[3].text
    for locked in (attempts[4], right_password, other_account):  # the address is locked for every account
        assert locked.status_code == 429
        assert "Too many failed sign-ins for this account or from this address" in locked.text
        assert "sign-in is locked for 15 more minutes" in locked.text
        assert SESSION not in set_cookies(locked)


# --- no secret reaches a page ------------------------------------------------------------------------


def crawl(client: httpx.Client, start: list[str], limit: int = 150) -> dict[str, str]:
    """GET every console page reachable by links from `start`; returns HTML by path."""
    pages: dict[str, str] = {}
    queue = list(start)
    while queue and len(pages) < limit:
        path = queue.pop(0)
        if path in pages:
            continue
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        pages[path] = response.text
        for href in re.findall(r'href="([^"#]+)"', response.text):
            target = urljoin(path, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.path.startswith("/console") and not parts.path.startswith("/console/static") and not parts.netloc:
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return pages


async def stored_secrets(harness: GatewayHarness) -> list[str]:
    """Every secret value in the database, in the forms a page could show it."""
    engine = create_engine(harness.settings.database_url)
    sealer = Sealer(harness.settings.secret_key)
    found: list[str] = [base64.urlsafe_b64encode(harness.settings.secret_key).decode().rstrip("=")]
    try:
        async with transaction(engine) as connection:
            found += [r.secret_hash for r in (await connection.execute(select(api_keys.c.secret_hash))).all()]
            found += [r.password_hash for r in (await connection.execute(select(administrators.c.password_hash)))]
            found += [r.id_hash for r in (await connection.execute(select(console_sessions.c.id_hash)))]
            found += [r.ticket_jti for r in (await connection.execute(select(launches.c.ticket_jti))) if r.ticket_jti]
            found += [r.access_token for r in (await connection.execute(select(service_tokens.c.access_token)))]
            for row in (await connection.execute(select(tool_keys.c.kid, tool_keys.c.sealed_private_key))).all():
                sealed = bytes(row.sealed_private_key)
                found += [sealed.hex(), base64.b64encode(sealed).decode()[:40]]
                pem = sealer.unseal(sealed, f"tool-key:{row.kid}").decode()
                body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
                found += [line for line in body[1:-1]]  # full 64-character lines of the private key
    finally:
        await dispose(engine)
    return found


@pytest.fixture
def seeded(
    console_env: ConsoleEnv, launching_platform: Callable[..., LaunchingPlatform]
) -> Iterator[tuple[str, list[str]]]:
    """A platform with a good and a failed launch, a failed delivery and an API key; returns (launch id,
    values that must never be shown: the API key's secret and the handoff ticket)."""
    lms = launching_platform("Secrets LMS")

    async def resources(gateway: Gateway) -> str:
        if not any(r.fields.slug == "secrets-quiz" for r in await gateway.resources.list()):
            await gateway.resources.create(ResourceFields(slug="secrets-quiz", title="Quiz", app_url=APP_URL))
        return (await gateway.api_keys.create("secret scan")).secret

    api_secret = console_env.seed(resources)
    good = lms.launch(console_env.url, "secrets-quiz", custom={"api_secret": "custom-secret-value"})
    assert good.status_code == 303, good.text
    ticket = parse_qs(urlsplit(good.headers["location"]).query)["ticket"][0]
    lms.launch(console_env.url, "secrets-quiz", **{"deployment_id": "dep-unknown"})

    async def job(gateway: Gateway) -> str:
        from ltigate.services.records import LaunchFilter, LaunchOutcome

        [launch] = await gateway.launches.list(
            LaunchFilter(platform_id=lms.id, outcome=LaunchOutcome.SUCCEEDED, limit=1)
        )
        await gateway.outbox.enqueue(failed_job(launch.id, lms.id))
        return launch.id

    launch_id = console_env.seed(job)
    yield launch_id, [api_secret, ticket, "custom-secret-value"]


def test_no_page_shows_a_private_key_api_key_hash_session_id_or_token(
    console_env: ConsoleEnv, admin_client: httpx.Client, seeded: tuple[str, list[str]]
) -> None:
    launch_id, shown_once = seeded
    session_id = admin_client.cookies.get(SESSION)
    assert session_id

    pages = crawl(admin_client, ["/console", f"/console/launches/{launch_id}", "/console/keys", "/console/api-keys"])
    secrets = [*console_env.seed(stored_secrets), *shown_once, session_id]
    secrets.append(hashlib.sha256(session_id.encode()).hexdigest())

    assert len(pages) > 15, sorted(pages)
    assert {"/console/platforms", "/console/resources", "/console/deliveries", "/console/rosters"} <= set(pages)
    assert any(p.startswith("/console/rosters/") for p in pages)
    for path, html in pages.items():
        assert "PRIVATE KEY" not in html, path
        for secret in secrets:
            assert secret not in html, f"{path} shows a secret ({secret[:6]}…)"
    claims = pages[f"/console/launches/{launch_id}"]
    assert "api_secret" in claims and "(hidden)" in claims
