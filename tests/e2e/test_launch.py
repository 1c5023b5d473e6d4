"""Complete launches over real HTTP against a served gateway, with a platform written from the specs."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx

from ltigate.services.records import DeploymentPolicy
from tests.e2e.conftest import APP_URL, Env, Registered
from tests.support.platform import INSTRUCTOR, Browser, new_key, raw_token
from tests.support.platform import error_code as code_of

Register = Callable[..., Registered]


def launch(browser: Browser, reg: Registered, resource: str = "quiz", **overrides: object) -> httpx.Response:
    login = browser.login(reg.platform, resource)
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, resource), **overrides)
    return browser.launch(reg.platform.token(claims), login.state)


def login_target(browser: Browser, resource: str) -> str:
    return f"{browser.gateway_url}/lti/launch?resource={resource}"


def ticket_of(response: httpx.Response) -> str:
    assert response.status_code == 303, f"{response.status_code}: {code_of(response)} {response.text[:300]}"
    location = response.headers["location"]
    return parse_qs(urlsplit(location).query)["ticket"][0]


def api(env: Env) -> httpx.Client:
    return httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}, timeout=10)


def test_launch_hands_off_to_the_app_with_a_ticket_redeemable_once(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    response = launch(browser, reg, **{"roles": [INSTRUCTOR, "Learner"], "custom": {"quiz_id": "q1"}})
    assert response.headers["location"].startswith(APP_URL + "?ticket=")
    ticket = ticket_of(response)
    with api(env) as client:
        redeemed = client.post("/api/v1/tickets/redeem", json={"ticket": ticket})
        assert redeemed.status_code == 200, redeemed.text
        launch_view = redeemed.json()
        assert launch_view["outcome"] == "succeeded"
        assert launch_view["user"]["sub"] == "user-1"
        assert launch_view["user"]["name"] == "Ada Learner"
        assert launch_view["user"]["email"] == "ada@example.edu"
        assert launch_view["short_roles"] == ["Instructor", "Learner"]
        assert "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner" in launch_view["roles"]
        assert launch_view["context"] == {
            "id": "ctx-1",
            "label": "C101",
            "title": "Course 101",
            "types": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
        }
        assert launch_view["resource_link"]["id"] == "rl-1"
        assert launch_view["resource"] == "quiz"
        assert launch_view["deployment_id"] == "dep-1"
        assert launch_view["custom"] == {"quiz_id": "q1"}
        assert launch_view["services"] == {"ags": None, "nrps": None, "deep_linking": False}
        again = client.post("/api/v1/tickets/redeem", json={"ticket": ticket})
        assert again.status_code == 401
        assert again.json()["error"]["code"] == "ticket_used"
        shown = client.get(f"/api/v1/launches/{launch_view['id']}")
        assert shown.status_code == 200 and shown.json()["user"]["sub"] == "user-1"


def test_the_auth_request_carries_exactly_the_oidc_parameters(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz", lti_message_hint="hint-7")
    params = login.auth_params
    assert params["scope"] == "openid"
    assert params["response_type"] == "id_token"
    assert params["response_mode"] == "form_post"
    assert params["prompt"] == "none"
    assert params["client_id"] == reg.platform.client_id
    assert params["redirect_uri"] == f"{env.gateway.url}/lti/launch"
    assert params["login_hint"] == "user-1"
    assert params["lti_message_hint"] == "hint-7"
    assert len(login.state) >= 32 and len(login.nonce) >= 32 and login.state != login.nonce
    cookie = next(c for c in browser.http.cookies.jar if c.value == login.state)
    assert cookie.path == "/lti/launch"
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_login_by_get_as_blackboard_sends_it(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz", method="GET")
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz"))
    assert ticket_of(browser.launch(reg.platform.token(claims), login.state))


def test_resource_slug_with_slashes_and_an_app_url_with_a_query(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    response = launch(browser, reg, resource="org/project/device")
    assert response.headers["location"].startswith(APP_URL + "?mode=full&ticket=")


def expect(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, code_of(response)) == (status, code), response.text[:500]


def test_alg_none_is_refused(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz"))
    token = raw_token({"alg": "none", "kid": reg.platform.signing_key.kid}, claims, b"")
    token = token.rstrip(".") + "."
    expect(browser.launch(token + "x", login.state), 400, "algorithm_not_allowed")


def test_hs256_signed_with_the_public_key_is_refused(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz"))
    header = {"alg": "HS256", "kid": reg.platform.signing_key.kid, "typ": "JWT"}
    unsigned = raw_token(header, claims).rsplit(".", 1)[0]
    secret = reg.platform.signing_key.key.as_pem(private=False)
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    import base64

    token = unsigned + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    expect(browser.launch(token, login.state), 400, "algorithm_not_allowed")


def test_unknown_kid_is_refused(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz"))
    response = browser.launch(reg.platform.token(claims, key=new_key()), login.state)
    expect(response, 400, "kid_not_found")


def test_a_signature_by_another_key_under_a_known_kid_is_refused(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz"))
    impostor = new_key()
    from ltigate.lti.keys import SigningKey

    forged = SigningKey(kid=reg.platform.signing_key.kid, alg="RS256", key=impostor.key)
    expect(browser.launch(reg.platform.token(claims, key=forged), login.state), 401, "signature_invalid")


def test_expired_token(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    old = int(time.time()) - 1000
    expect(launch(browser, reg, iat=old, exp=old + 300), 401, "token_expired")


def test_iat_in_the_future_past_the_leeway(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    later = int(time.time()) + 600
    expect(launch(browser, reg, iat=later, exp=later + 300), 401, "token_not_yet_valid")


def test_iat_slightly_ahead_within_the_leeway_is_accepted(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    soon = int(time.time()) + 20
    assert ticket_of(launch(browser, reg, iat=soon, exp=soon + 300))


def test_wrong_audience(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    expect(launch(browser, reg, aud="someone-else"), 401, "audience_mismatch")


def test_azp_mismatch_with_several_audiences(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    expect(launch(browser, reg, aud=[reg.platform.client_id, "other"], azp="other"), 401, "azp_mismatch")


def test_several_audiences_with_matching_azp_are_accepted(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    client_id = reg.platform.client_id
    assert ticket_of(launch(browser, reg, aud=["other", client_id], azp=client_id))


def test_wrong_issuer(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    expect(launch(browser, reg, iss="https://impostor.example"), 400, "unknown_issuer")


def test_missing_deployment_id(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    expect(launch(browser, reg, deployment_id=None), 400, "claim_missing")


def test_unknown_deployment_rejected_by_policy(env: Env, register: Register, browser: Browser) -> None:
    reg = register(DeploymentPolicy.REJECT)
    expect(launch(browser, reg, deployment_id="dep-new"), 403, "unknown_deployment")


def test_unknown_deployment_recorded_as_pending_then_approved(env: Env, register: Register, browser: Browser) -> None:
    reg = register(DeploymentPolicy.PENDING)
    expect(launch(browser, reg, deployment_id="dep-new"), 403, "deployment_pending")
    with api(env) as client:
        shown = client.get(f"/api/v1/platforms/{reg.id}").json()
        assert {"deployment_id": "dep-new", "status": "pending"}.items() <= next(
            d for d in shown["deployments"] if d["deployment_id"] == "dep-new"
        ).items()
        expect(launch(browser, reg, deployment_id="dep-new"), 403, "deployment_pending")
        decided = client.post(
            f"/api/v1/platforms/{reg.id}/deployments", json={"deployment_id": "dep-new", "status": "approved"}
        )
        assert decided.status_code == 200 and decided.json()["status"] == "approved"
    time.sleep(5.2)  # the registration cache of the serving process expires (5 s)
    assert ticket_of(launch(browser, reg, deployment_id="dep-new"))


def test_unknown_deployment_approved_automatically_by_policy(env: Env, register: Register, browser: Browser) -> None:
    reg = register(DeploymentPolicy.APPROVE)
    assert ticket_of(launch(browser, reg, deployment_id="dep-auto"))
    with api(env) as client:
        deployments = client.get(f"/api/v1/platforms/{reg.id}").json()["deployments"]
    assert {d["deployment_id"]: d["status"] for d in deployments} == {"dep-auto": "approved", "dep-1": "approved"}


def test_replayed_launch_is_refused(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")
    token = reg.platform.token(reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz")))
    assert ticket_of(browser.launch(token, login.state))
    expect(browser.launch(token, login.state), 400, "launch_replayed")


def test_state_reused_with_a_new_token_is_refused(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")
    target = login_target(browser, "quiz")
    assert ticket_of(
        browser.launch(reg.platform.token(reg.platform.claims(nonce=login.nonce, target_link_uri=target)), login.state)
    )
    fresh = reg.platform.token(reg.platform.claims(nonce=login.nonce, target_link_uri=target, sub="user-2"))
    expect(browser.launch(fresh, login.state), 400, "launch_replayed")


def test_nonce_of_another_login_is_refused(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    first = browser.login(reg.platform, "quiz")
    second = browser.login(reg.platform, "quiz")
    claims = reg.platform.claims(nonce=first.nonce, target_link_uri=login_target(browser, "quiz"))
    expect(browser.launch(reg.platform.token(claims), second.state), 401, "nonce_mismatch")


def test_missing_state_cookie(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "quiz")
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz"))
    other_browser = Browser(env.gateway.url)
    try:
        response = other_browser.launch(reg.platform.token(claims), login.state)
    finally:
        other_browser.close()
    expect(response, 400, "state_missing")
    assert "third-party cookies" in response.text


def test_bare_launch_url_without_resource(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    login = browser.login(reg.platform, "", target_link_uri=f"{env.gateway.url}/lti/launch")
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=f"{env.gateway.url}/lti/launch")
    response = browser.launch(reg.platform.token(claims), login.state)
    expect(response, 400, "resource_parameter_missing")
    assert "?resource=" in response.text


def test_unknown_resource(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    expect(launch(browser, reg, resource="nope"), 404, "unknown_resource")


def test_jwks_down_with_a_cached_key_keeps_launches_working(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    assert ticket_of(launch(browser, reg))
    reg.platform.jwks_mode = "down"
    for _ in range(3):
        assert ticket_of(launch(browser, reg))
    assert reg.platform.jwks_fetches == 1


def test_jwks_down_without_a_cached_key(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    reg.platform.jwks_mode = "down"
    response = launch(browser, reg)
    expect(response, 502, "jwks_unavailable")
    assert "503" in response.text
    launch(browser, reg)
    assert reg.platform.jwks_fetches == 1  # the cooldown keeps a down platform from being asked per launch


def test_jwks_serving_garbage(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    reg.platform.jwks_mode = "garbage"
    expect(launch(browser, reg), 502, "jwks_invalid")


def test_platform_key_rotation_fetches_the_new_key_once(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    assert ticket_of(launch(browser, reg))
    assert reg.platform.jwks_fetches == 1
    reg.platform.keys.insert(0, new_key())
    time.sleep(1.1)  # past the refetch cooldown (1 s here, 10 s by default)
    for _ in range(4):
        assert ticket_of(launch(browser, reg))
    assert reg.platform.jwks_fetches == 2


def test_failures_are_in_the_launch_log_with_their_codes(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    expect(launch(browser, reg, aud="other"), 401, "audience_mismatch")
    with api(env) as client:
        failed = client.get("/api/v1/launches", params={"outcome": "failed", "platform_id": reg.id}).json()
    assert [(r["error_code"], r["outcome"]) for r in failed] == [("audience_mismatch", "failed")]
    assert "client_id" in failed[0]["error_message"]


def test_login_from_an_unknown_issuer_shows_the_error_page(env: Env, browser: Browser) -> None:
    response = browser.http.post(
        "/lti/login",
        data={
            "iss": "https://unknown.example",
            "login_hint": "u",
            "target_link_uri": f"{env.gateway.url}/lti/launch?resource=quiz",
        },
    )
    expect(response, 400, "unknown_issuer")
    assert "https://unknown.example" in response.text
    assert "Platform ID" in response.text  # the fix names Moodle's field


def test_login_with_missing_parameters(env: Env, browser: Browser) -> None:
    expect(browser.http.post("/lti/login", data={"iss": "https://x.example"}), 400, "login_parameter_missing")


def test_login_for_a_foreign_target(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    response = browser.http.post(
        "/lti/login",
        data={"iss": reg.platform.issuer, "login_hint": "u", "target_link_uri": "https://evil.example/steal"},
    )
    expect(response, 400, "target_link_uri_foreign")


def test_platform_reported_error(env: Env, browser: Browser) -> None:
    response = browser.http.post("/lti/launch", data={"error": "login_required", "state": "s"})
    expect(response, 400, "platform_error")
    assert "login_required" in response.text
