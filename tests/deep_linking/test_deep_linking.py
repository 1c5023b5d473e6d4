"""Deep Linking and Submission Review end to end over real HTTP: a platform written from the specs sends
the requests; every claim of the signed LtiDeepLinkingResponse is checked against the gateway's JWKS."""

from __future__ import annotations

import html
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ltigate.lti.jws import read_unverified_header, verify_signature
from ltigate.lti.keys import parse_key_set
from ltigate.lti.ticket import LAUNCH_CLAIM
from tests.deep_linking.conftest import APP_URL, REVIEW_URL, Env, Registered
from tests.support.platform import INSTRUCTOR, Browser, error_code

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
RETURN_URL = "https://lms.example.edu/courses/7/deep_links?return=1"
DATA = {"context": "c-7", "nested": ["opaque", 1]}


def settings(**overrides: object) -> dict[str, object]:
    value: dict[str, object] = {
        "deep_link_return_url": RETURN_URL,
        "accept_types": ["ltiResourceLink", "link"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_multiple": True,
        "accept_lineitem": True,
        "auto_create": False,
        "title": "Week 3",
        "data": DATA,
    }
    for name, v in overrides.items():
        if v is None:
            value.pop(name, None)
        else:
            value[name] = v
    return value


def dl_launch(
    browser: Browser, reg: Registered, target: str = "", dl_settings: dict[str, object] | None = None, **claims: object
) -> httpx.Response:
    """A verified LtiDeepLinkingRequest to `target` (default: the bare launch URL)."""
    target = target or f"{browser.gateway_url}/lti/launch"
    login = browser.login(reg.platform, "", target_link_uri=target)
    values: dict[str, Any] = {
        "message_type": "LtiDeepLinkingRequest",
        "resource_link": None,
        "roles": [INSTRUCTOR],
        DL + "deep_linking_settings": settings() if dl_settings is None else dl_settings,
        **claims,
    }
    token = reg.platform.token(reg.platform.claims(nonce=login.nonce, target_link_uri=target, **values))
    return browser.launch(token, login.state)


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    return action, {m[0]: html.unescape(m[1]) for m in re.findall(r'name="(\w+)" value="([^"]*)"', page)}


def picker_action(page: str) -> tuple[str, str]:
    """The picker form's URL and secret."""
    action = re.search(r'<form method="post" action="(/lti/deep-linking/[0-9a-f]+)"', page)
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert action and token, page[:800]
    return action.group(1), html.unescape(token.group(1))


def submit(browser: Browser, page: str, action: str, resources: list[str] = (), **extra: str) -> httpx.Response:  # type: ignore[assignment]
    url, token = picker_action(page)
    fields: dict[str, object] = {"token": token, "action": action, "resource": list(resources), **extra}
    return browser.http.post(url, data=fields)


def returned_jwt(env: Env, response: httpx.Response) -> tuple[dict[str, object], dict[str, object]]:
    """The auto-posting page's JWT, verified with the gateway's published key set: (header, claims)."""
    assert response.status_code == 200, f"{error_code(response)}: {response.text[:500]}"
    action, fields = form_fields(response.text)
    assert action == RETURN_URL
    assert list(fields) == ["JWT"]
    assert '<script src="' in response.text and "/lti/assets/autopost.js" in response.text
    keys = parse_key_set(httpx.get(f"{env.gateway.url}/.well-known/jwks.json").content)
    header = read_unverified_header(fields["JWT"])
    key = keys.find(header.kid)
    assert key is not None, "the response is signed with a key the gateway does not publish"
    claims = verify_signature(fields["JWT"], key, header)
    return {"alg": header.alg, "kid": header.kid}, claims


def check_envelope(claims: dict[str, object], reg: Registered) -> None:
    now = time.time()
    assert claims["iss"] == reg.platform.client_id
    assert claims["aud"] == reg.platform.issuer
    assert "azp" not in claims
    assert isinstance(claims["iat"], int) and abs(claims["iat"] - now) < 60
    assert isinstance(claims["exp"], int) and 60 <= claims["exp"] - claims["iat"] <= 900
    assert isinstance(claims["nonce"], str) and len(claims["nonce"]) >= 16
    assert claims[LTI + "deployment_id"] == reg.platform.deployment_id
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims[DL + "data"] == DATA


def test_picker_lists_searches_and_returns_the_signed_items(env: Env, registered: Registered, browser: Browser) -> None:
    page = dl_launch(browser, registered)
    assert page.status_code == 200, f"{error_code(page)} {page.text[:400]}"
    policy = page.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {registered.url}" in policy
    assert page.headers["cache-control"] == "no-store"
    for slug in ("algebra/quiz-1", "reading", "catalogue"):
        assert f'data-testid="pick-{slug}"' in page.text
    assert 'type="checkbox"' in page.text  # accept_multiple
    assert "Three questions on linear equations" in page.text

    found = submit(browser, page.text, "search", q="ALGEBRA")
    assert 'data-testid="pick-algebra/quiz-1"' in found.text
    assert 'data-testid="pick-reading"' not in found.text
    assert "1 of 3 shown" in found.text
    nothing = submit(browser, page.text, "search", q="no such thing")
    assert 'data-testid="no-results"' in nothing.text

    header, claims = returned_jwt(env, submit(browser, page.text, "select", ["algebra/quiz-1", "reading"]))
    assert header["alg"] == "RS256" and header["kid"]
    check_envelope(claims, registered)
    gateway = env.gateway.url
    assert claims[DL + "content_items"] == [
        {
            "type": "ltiResourceLink",
            "url": f"{gateway}/lti/launch?resource=algebra/quiz-1",
            "title": "Algebra quiz",
            "text": "Three questions on linear equations",
            "custom": {"quiz": "q1"},
            "lineItem": {"scoreMaximum": 3.0, "label": "Algebra quiz", "resourceId": "algebra/quiz-1", "tag": "quiz"},
        },
        {"type": "ltiResourceLink", "url": f"{gateway}/lti/launch?resource=reading", "title": "Reading list"},
    ]
    assert claims[DL + "msg"] == "Added Algebra quiz, Reading list"
    assert claims[DL + "log"] == "ltigate: 2 item(s) added"
    assert DL + "errormsg" not in claims

    again = submit(browser, page.text, "select", ["reading"])
    assert (again.status_code, error_code(again)) == (409, "deep_linking_answered")


def test_the_launch_log_records_the_deep_linking_request(env: Env, registered: Registered, browser: Browser) -> None:
    page = dl_launch(browser, registered)
    launch_id = picker_action(page.text)[0].rsplit("/", 1)[1]
    with httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}) as api:
        view = api.get(f"/api/v1/launches/{launch_id}").json()
    assert view["outcome"] == "succeeded"
    assert view["message_type"] == "LtiDeepLinkingRequest"
    assert view["resource"] is None
    assert view["deep_linking"]["accept_types"] == ["ltiResourceLink", "link"]
    assert view["services"]["deep_linking"] is True


@pytest.mark.parametrize(
    ("action", "resources", "msg", "log"),
    [
        ("cancel", ["reading"], "Cancelled; nothing was added.", "ltigate: the picker was cancelled"),
        ("select", [], "Nothing was selected, so nothing was added.", "ltigate: submitted with no selection"),
    ],
    ids=["cancel", "nothing selected"],
)
def test_cancel_and_empty_selection_still_answer_the_platform(
    env: Env, registered: Registered, browser: Browser, action: str, resources: list[str], msg: str, log: str
) -> None:
    page = dl_launch(browser, registered)
    _, claims = returned_jwt(env, submit(browser, page.text, action, resources))
    check_envelope(claims, registered)
    assert claims[DL + "content_items"] == []
    assert (claims[DL + "msg"], claims[DL + "log"]) == (msg, log)


def test_one_item_only_without_accept_multiple(env: Env, registered: Registered, browser: Browser) -> None:
    page = dl_launch(browser, registered, dl_settings=settings(accept_multiple=False))
    assert 'type="radio"' in page.text and 'type="checkbox"' not in page.text
    two = submit(browser, page.text, "select", ["reading", "catalogue"])
    assert (two.status_code, error_code(two)) == (422, "content_item_not_accepted")
    _, claims = returned_jwt(env, submit(browser, page.text, "select", ["reading"]))
    assert [item["url"] for item in claims[DL + "content_items"]] == [  # type: ignore[union-attr]
        f"{env.gateway.url}/lti/launch?resource=reading"
    ]


def test_no_line_item_unless_the_platform_accepts_them(env: Env, registered: Registered, browser: Browser) -> None:
    for accept in (False, None):
        page = dl_launch(browser, registered, dl_settings=settings(accept_lineitem=accept))
        _, claims = returned_jwt(env, submit(browser, page.text, "select", ["algebra/quiz-1"]))
        (item,) = claims[DL + "content_items"]  # type: ignore[misc]
        assert "lineItem" not in item


def test_window_hint_only_when_the_platform_does_not_frame(env: Env, registered: Registered, browser: Browser) -> None:
    page = dl_launch(browser, registered, dl_settings=settings(accept_presentation_document_targets=["window"]))
    _, claims = returned_jwt(env, submit(browser, page.text, "select", ["reading"]))
    assert claims[DL + "content_items"][0]["window"] == {"targetName": "_blank"}  # type: ignore[index]
    page = dl_launch(browser, registered, dl_settings=settings(accept_presentation_document_targets=["iframe"]))
    _, claims = returned_jwt(env, submit(browser, page.text, "select", ["reading"]))
    assert "window" not in claims[DL + "content_items"][0]  # type: ignore[index]


def test_platform_accepting_no_resource_links_gets_an_error_answer(
    env: Env, registered: Registered, browser: Browser
) -> None:
    page = dl_launch(browser, registered, dl_settings=settings(accept_types=["file", "html"], data=None))
    assert 'data-testid="nothing-accepted"' in page.text
    assert 'data-testid="pick-' not in page.text
    _, claims = returned_jwt(env, submit(browser, page.text, "error"))
    assert claims[DL + "content_items"] == []
    assert "resource links" in str(claims[DL + "errormsg"])
    assert claims[DL + "errorlog"] == "ltigate: accept_types has no ltiResourceLink"
    assert DL + "data" not in claims  # no data in the request: none in the response


def test_a_wrong_picker_secret_is_refused_and_changes_nothing(
    env: Env, registered: Registered, browser: Browser
) -> None:
    page = dl_launch(browser, registered)
    url, _ = picker_action(page.text)
    forged = browser.http.post(url, data={"token": "x" * 43, "action": "select", "resource": "reading"})
    assert (forged.status_code, error_code(forged)) == (403, "deep_linking_token_invalid")
    unknown = browser.http.post("/lti/deep-linking/" + "0" * 32, data={"token": "x", "action": "select"})
    assert (unknown.status_code, error_code(unknown)) == (404, "deep_linking_unknown")
    _, claims = returned_jwt(env, submit(browser, page.text, "select", ["reading"]))
    assert len(claims[DL + "content_items"]) == 1  # type: ignore[arg-type]


def test_a_resource_deleted_meanwhile_is_a_clear_error(env: Env, registered: Registered, browser: Browser) -> None:
    page = dl_launch(browser, registered)
    response = submit(browser, page.text, "select", ["no/such/resource"])
    assert (response.status_code, error_code(response)) == (422, "content_item_invalid")


@pytest.mark.parametrize(
    ("dl_settings", "code"),
    [
        (settings(deep_link_return_url=None), "claim_missing"),
        (settings(deep_link_return_url="javascript:alert(1)"), "token_malformed"),
        (settings(accept_types="ltiResourceLink"), "token_malformed"),
    ],
    ids=["no return URL", "script return URL", "accept_types not an array"],
)
def test_bad_deep_linking_settings_are_refused(
    env: Env, registered: Registered, browser: Browser, dl_settings: dict[str, object], code: str
) -> None:
    response = dl_launch(browser, registered, dl_settings=dl_settings)
    assert (response.status_code, error_code(response)) == (400, code)


def test_deep_linking_request_without_settings_is_refused(env: Env, registered: Registered, browser: Browser) -> None:
    response = dl_launch(browser, registered, **{DL + "deep_linking_settings": None})
    assert (response.status_code, error_code(response)) == (400, "claim_missing")


# --- the app's own catalogue -------------------------------------------------------------------------


def api(env: Env) -> httpx.Client:
    return httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}, timeout=10)


def handed_off(env: Env, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 303, f"{error_code(response)}: {response.text[:400]}"
    ticket = parse_qs(urlsplit(response.headers["location"]).query)["ticket"][0]
    with api(env) as client:
        redeemed = client.post("/api/v1/tickets/redeem", json={"ticket": ticket})
    assert redeemed.status_code == 200, redeemed.text
    return redeemed.json()  # type: ignore[no-any-return]


def test_a_picker_resource_gets_the_launch_and_answers_through_the_api(
    env: Env, registered: Registered, browser: Browser
) -> None:
    target = f"{env.gateway.url}/lti/launch?resource=catalogue"
    response = dl_launch(browser, registered, target=target)
    assert response.headers["location"].startswith(APP_URL + "?ticket=")
    view = handed_off(env, response)
    assert view["message_type"] == "LtiDeepLinkingRequest"
    assert view["resource"] == "catalogue"
    assert view["deep_linking"] == {
        "accept_types": ["ltiResourceLink", "link"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_media_types": None,
        "accept_multiple": True,
        "accept_lineitem": True,
        "auto_create": False,
        "title": "Week 3",
        "text": None,
    }
    items = [
        {"resource": "algebra/quiz-1", "title": "Quiz for week 3", "custom": {"week": "3"}},
        {"type": "ltiResourceLink", "title": "Chapter 3", "custom": {"chapter": "3"}},
        {"type": "link", "url": "https://example.org/notes", "title": "Notes"},
    ]
    with api(env) as client:
        answer = client.post(
            f"/api/v1/launches/{view['id']}/deep-linking-response",
            json={"items": items, "msg": "Three items added", "log": "app: week 3"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["return_url"] == RETURN_URL
        page = httpx.Response(200, text=body["html"])
        _, claims = returned_jwt(env, page)
        assert form_fields(body["html"])[1]["JWT"] == body["jwt"]
        check_envelope(claims, registered)
        assert (
            claims[DL + "content_items"]
            == body["items"]
            == [
                {
                    "type": "ltiResourceLink",
                    "url": f"{env.gateway.url}/lti/launch?resource=algebra/quiz-1",
                    "title": "Quiz for week 3",
                    "text": "Three questions on linear equations",
                    "custom": {"quiz": "q1", "week": "3"},
                    "lineItem": {
                        "scoreMaximum": 3.0,
                        "label": "Algebra quiz",
                        "resourceId": "algebra/quiz-1",
                        "tag": "quiz",
                    },
                },
                {
                    "type": "ltiResourceLink",
                    "title": "Chapter 3",
                    "custom": {"chapter": "3"},
                    "url": f"{env.gateway.url}/lti/launch?resource=catalogue",
                },
                {"type": "link", "url": "https://example.org/notes", "title": "Notes"},
            ]
        )
        assert (claims[DL + "msg"], claims[DL + "log"]) == ("Three items added", "app: week 3")

        again = client.post(f"/api/v1/launches/{view['id']}/deep-linking-response", json={"items": []})
        assert (again.status_code, again.json()["error"]["code"]) == (409, "deep_linking_answered")


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([{"type": "file", "url": "https://example.org/a.pdf"}], "content_item_not_accepted"),
        ([{"type": "link", "url": "https://x.org", "embed": {"html": "<b>"}}], "content_item_not_accepted"),
        ([{"type": "ltiResourceLink", "url": "https://elsewhere.example.com/launch"}], "content_item_invalid"),
        ([{"resource": "no/such/thing"}], "content_item_invalid"),
        ([{"type": "link"}], "content_item_invalid"),
        ([{"type": "ltiResourceLink", "lineItem": {"scoreMaximum": 0}}], "content_item_invalid"),
        ([{"type": "link", "url": "javascript:alert(1)"}], "content_item_invalid"),
        (["not an object"], "invalid_request"),
    ],
    ids=[
        "type not accepted",
        "target not accepted",
        "foreign URL",
        "unknown resource",
        "link without url",
        "scoreMaximum 0",
        "script URL",
        "not an object",
    ],
)
def test_app_items_the_platform_would_refuse_are_refused_and_the_request_stays_open(
    env: Env, registered: Registered, browser: Browser, items: list[object], code: str
) -> None:
    view = handed_off(env, dl_launch(browser, registered, target=f"{env.gateway.url}/lti/launch?resource=catalogue"))
    with api(env) as client:
        url = f"/api/v1/launches/{view['id']}/deep-linking-response"
        refused = client.post(url, json={"items": items})
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, code), refused.text
        assert client.post(url, json={"items": [], "errormsg": "nothing fits"}).status_code == 200


def test_deep_linking_response_for_an_ordinary_launch_is_refused(
    env: Env, registered: Registered, browser: Browser
) -> None:
    login = browser.login(registered.platform, "reading")
    claims = registered.platform.claims(
        nonce=login.nonce, target_link_uri=f"{env.gateway.url}/lti/launch?resource=reading"
    )
    view = handed_off(env, browser.launch(registered.platform.token(claims), login.state))
    with api(env) as client:
        refused = client.post(f"/api/v1/launches/{view['id']}/deep-linking-response", json={"items": []})
        unauthenticated = httpx.post(f"{env.gateway.url}/api/v1/launches/{view['id']}/deep-linking-response", json={})
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "deep_linking_unknown")
    assert unauthenticated.status_code == 401


# --- submission review -------------------------------------------------------------------------------


def review_launch(browser: Browser, reg: Registered, resource: str, **claims: object) -> httpx.Response:
    target = f"{browser.gateway_url}/lti/launch?resource={resource}"
    login = browser.login(reg.platform, resource)
    values: dict[str, Any] = {
        "message_type": "LtiSubmissionReviewRequest",
        "roles": [INSTRUCTOR],
        LTI + "for_user": {"user_id": "learner-9", "name": "Lin Learner", "email": "lin@example.edu"},
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
            "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
            "lineitem": "https://lms.example.edu/lineitems/3",
        },
        **claims,
    }
    token = reg.platform.token(reg.platform.claims(nonce=login.nonce, target_link_uri=target, **values))
    return browser.launch(token, login.state)


def test_submission_review_opens_the_review_url_with_for_user(
    env: Env, registered: Registered, browser: Browser
) -> None:
    response = review_launch(browser, registered, "algebra/quiz-1")
    assert response.status_code == 303
    assert response.headers["location"].startswith(REVIEW_URL + "&ticket=")
    ticket = parse_qs(urlsplit(response.headers["location"]).query)["ticket"][0]
    summary = read_unverified_claims_of(ticket)[LAUNCH_CLAIM]
    assert summary["message_type"] == "LtiSubmissionReviewRequest"
    assert summary["for_user"] == "learner-9"
    view = handed_off(env, response)
    assert view["message_type"] == "LtiSubmissionReviewRequest"
    assert view["for_user"] == {
        "user_id": "learner-9",
        "name": "Lin Learner",
        "given_name": None,
        "family_name": None,
        "email": "lin@example.edu",
        "person_sourcedid": None,
        "roles": [],
    }


def test_submission_review_without_a_review_url_opens_the_app_with_the_review_flag(
    env: Env, registered: Registered, browser: Browser
) -> None:
    response = review_launch(browser, registered, "reading")
    assert response.status_code == 303
    assert response.headers["location"].startswith(APP_URL + "?mode=read&review=1&ticket=")


def test_submission_review_without_for_user_is_refused(env: Env, registered: Registered, browser: Browser) -> None:
    response = review_launch(browser, registered, "reading", **{LTI + "for_user": None})
    assert (response.status_code, error_code(response)) == (400, "claim_missing")


def read_unverified_claims_of(token: str) -> dict[str, Any]:
    from ltigate.lti.jws import read_unverified_claims

    return read_unverified_claims(token)
