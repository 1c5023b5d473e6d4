"""The demo LMS's token endpoint, AGS and NRPS alone: the tool's key set is served by httpx.MockTransport
and the LMS by Starlette's TestClient, so every check can be driven with hand-made assertions.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from starlette.testclient import TestClient

from ltigate.demo.course import COURSE_ID, MEMBERS, LmsConfig, LmsResource
from ltigate.demo.lms import create_lms, resource_link_id
from ltigate.demo.lms_services import LmsServices
from ltigate.lti import ags, nrps
from ltigate.lti.jws import sign
from ltigate.lti.keys import SigningKey, key_set_document, thumbprint
from ltigate.lti.links import parse_link_headers
from ltigate.lti.service_token import CLIENT_ASSERTION_TYPE, build_client_assertion

LMS = "http://lms.test"
TOKEN_URL = f"{LMS}/token"
CLIENT_ID = "demo-client"
QUIZ = LmsResource("Quiz", "http://tool.test/launch/quiz", score_maximum=3)
OTHER = LmsResource("Notes", "http://tool.test/launch/notes")
LINEITEMS = f"{LMS}/courses/{COURSE_ID}/lineitems"
QUIZ_ITEM = f"{LINEITEMS}/1"
MEMBERSHIPS = f"{LMS}/courses/{COURSE_ID}/memberships"
STUDENT = "demo-user-ada"
ALL_SCOPES = (ags.SCOPE_LINEITEM, ags.SCOPE_RESULT_READONLY, ags.SCOPE_SCORE, nrps.SCOPE)


def new_key() -> SigningKey:
    key = RSAKey.generate_key(2048)
    return SigningKey(kid=thumbprint(key), alg="RS256", key=key)


TOOL_KEY = new_key()
OTHER_KEY = new_key()


class Lms:
    def __init__(self) -> None:
        self.jwks_fetches = 0
        config = LmsConfig(
            issuer=LMS,
            client_id=CLIENT_ID,
            deployment_id="dep-1",
            tool_login_url="http://tool.test/login",
            redirect_uris=("http://tool.test/launch",),
            resources=(QUIZ, OTHER),
            tool_jwks_url="http://tool.test/.well-known/jwks.json",
        )
        app = create_lms(config, transport=httpx.MockTransport(self._jwks))
        self.services: LmsServices = app.state.services
        self.client = TestClient(app, base_url=LMS)

    def _jwks(self, request: httpx.Request) -> httpx.Response:
        self.jwks_fetches += 1
        assert str(request.url) == "http://tool.test/.well-known/jwks.json"
        return httpx.Response(200, json=key_set_document([TOOL_KEY.public_jwk()]))

    def request_token(self, assertion: str, scope: str = " ".join(ALL_SCOPES), **changes: str) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": scope,
            **changes,
        }
        return self.client.post("/token", data=form)

    def token(self, *scopes: str) -> str:
        answer = self.request_token(assertion(), " ".join(scopes or ALL_SCOPES))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def last(self, path: str) -> dict[str, Any]:
        return next(e.as_json() for e in reversed(self.services.log.entries()) if e.path.startswith(path))


def assertion(*, key: SigningKey = TOOL_KEY, ttl: int = 300, now: int | None = None, **claims: str) -> str:
    """A client assertion as the gateway builds it, with `claims` (iss, sub, aud, jti) replaced."""
    if set(claims) <= {"aud", "jti"} and claims.get("jti") != "":
        return build_client_assertion(
            client_id=CLIENT_ID,
            audience=claims.get("aud", TOKEN_URL),
            key=key,
            now=now if now is not None else int(time.time()),
            jti=claims.get("jti", uuid.uuid4().hex),
            ttl=ttl,
        )
    issued = int(time.time())
    payload = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_URL, "iat": issued, "exp": issued + ttl}
    return sign({**payload, "jti": uuid.uuid4().hex, **claims}, key)


@pytest.fixture
def lms() -> Iterator[Lms]:
    lms = Lms()
    with lms.client:
        yield lms


def score(
    user_id: str = STUDENT, timestamp: str = "2026-01-02T03:04:05.678+00:00", **changes: object
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "userId": user_id,
        "timestamp": timestamp,
        "scoreGiven": 2,
        "scoreMaximum": 3,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "comment": "2 of 3",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def post_score(lms: Lms, token: str, body: dict[str, Any], media: str = ags.SCORE) -> httpx.Response:
    return lms.client.post(
        f"{QUIZ_ITEM}/scores",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": media},
    )


# --- token endpoint -------------------------------------------------------------------------------


def test_a_valid_assertion_gets_a_bearer_token_for_the_allowed_scopes(lms: Lms) -> None:
    scopes = f"{ags.SCOPE_SCORE} {nrps.SCOPE} https://example.test/scope/other"

    answer = lms.request_token(assertion(), scopes)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert body["scope"] == f"{ags.SCOPE_SCORE} {nrps.SCOPE}"
    assert answer.headers["cache-control"] == "no-store"
    entry = lms.last("/token")
    assert entry["assertion_ok"] is True
    assert entry["checks"] == ["signature", "iss=sub=client_id", "aud", "exp", "jti present", "jti not replayed"]
    assert "client_assertion" not in str(entry) and body["access_token"] not in str(entry)


def test_a_replayed_assertion_jti_is_refused(lms: Lms) -> None:
    signed = assertion(jti="jti-once")
    assert lms.request_token(signed).status_code == 200

    again = lms.request_token(signed)
    other_assertion_same_jti = lms.request_token(assertion(jti="jti-once"))

    for answer in (again, other_assertion_same_jti):
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"
        assert "'jti-once' was used before" in answer.json()["error_description"]
    assert lms.last("/token")["status"] == 401


@pytest.mark.parametrize(
    "aud",
    [f"{TOKEN_URL}/", f"{LMS}", "http://elsewhere.test/token", "https://lms.test/token"],
)
def test_an_assertion_for_another_audience_is_refused(lms: Lms, aud: str) -> None:
    answer = lms.request_token(assertion(aud=aud))

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert f"aud is {aud!r}; it must be {TOKEN_URL!r}" in answer.json()["error_description"]


def test_the_refused_audience_does_not_burn_the_jti(lms: Lms) -> None:
    assert lms.request_token(assertion(aud="http://elsewhere.test/token", jti="j-1")).status_code == 401

    assert lms.request_token(assertion(jti="j-1")).status_code == 200


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"iss": "someone-else"}, "iss is 'someone-else'"),
        ({"sub": "someone-else"}, "sub is 'someone-else'"),
        ({"jti": ""}, "jti is ''"),
    ],
)
def test_assertion_claims_are_checked(lms: Lms, claims: dict[str, str], words: str) -> None:
    answer = lms.request_token(assertion(**claims))

    assert answer.status_code == 401
    assert words in answer.json()["error_description"]


def test_an_expired_assertion_is_refused(lms: Lms) -> None:
    answer = lms.request_token(assertion(now=int(time.time()) - 400, ttl=300))

    assert answer.status_code == 401
    assert "expired" in answer.json()["error_description"]


def test_an_assertion_signed_with_an_unknown_key_is_refused_after_a_fresh_key_set(lms: Lms) -> None:
    assert lms.request_token(assertion()).status_code == 200
    fetches = lms.jwks_fetches
    time.sleep(1.1)  # the LMS re-fetches the tool's key set at most once a second

    answer = lms.request_token(assertion(key=OTHER_KEY))

    assert answer.status_code == 401
    assert "does not hold" in answer.json()["error_description"]
    assert lms.jwks_fetches == fetches + 1


def test_a_forged_signature_is_refused(lms: Lms) -> None:
    forged = SigningKey(kid=TOOL_KEY.kid, alg="RS256", key=OTHER_KEY.key)

    answer = lms.request_token(assertion(key=forged))

    assert answer.status_code == 401
    assert "signature" in answer.json()["error_description"]


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"client_assertion_type": "urn:other"}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_scope"),
        ({"scope": "https://example.test/scope/other"}, 400, "invalid_scope"),
    ],
)
def test_malformed_token_requests_get_rfc6749_errors(
    lms: Lms, changes: dict[str, str], status: int, error: str
) -> None:
    answer = lms.request_token(assertion(), **changes)

    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


def test_a_token_request_must_be_a_form(lms: Lms) -> None:
    answer = lms.client.post(
        "/token",
        json={"grant_type": "client_credentials", "client_assertion_type": CLIENT_ASSERTION_TYPE},
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert "application/x-www-form-urlencoded" in answer.json()["error_description"]


# --- scores and results ---------------------------------------------------------------------------


def test_a_score_reaches_the_gradebook_and_the_results(lms: Lms) -> None:
    token = lms.token()

    answer = post_score(lms, token, score())

    assert answer.status_code == 204, answer.text
    entry = lms.last(f"/courses/{COURSE_ID}/lineitems/1/scores")
    assert entry["content_type"] == ags.SCORE and entry["body"] == score()
    results = lms.client.get(
        f"{QUIZ_ITEM}/results",
        params={"user_id": STUDENT},
        headers={"Authorization": f"Bearer {token}", "Accept": ags.RESULT_CONTAINER},
    )
    assert results.status_code == 200
    assert results.headers["content-type"].startswith(ags.RESULT_CONTAINER)
    assert results.json() == [
        {
            "id": f"{QUIZ_ITEM}/results/{STUDENT}",
            "scoreOf": QUIZ_ITEM,
            "userId": STUDENT,
            "resultScore": 2,
            "resultMaximum": 3,
            "comment": "2 of 3",
        }
    ]
    page = lms.client.get("/gradebook")
    assert 'data-testid="score">2 / 3<' in page.text and "2026-01-02T03:04:05.678+00:00" in page.text


def test_a_score_not_newer_than_the_last_is_refused(lms: Lms) -> None:
    token = lms.token()
    assert post_score(lms, token, score(timestamp="2026-01-02T03:04:05.678+00:00")).status_code == 204

    same = post_score(lms, token, score(timestamp="2026-01-02T03:04:05.678+00:00", scoreGiven=3))
    older = post_score(lms, token, score(timestamp="2026-01-02T04:04:05.600+01:00", scoreGiven=3))
    newer = post_score(lms, token, score(timestamp="2026-01-02T03:04:05.679+00:00", scoreGiven=1))

    assert (same.status_code, older.status_code, newer.status_code) == (400, 400, 204)
    assert "is not after" in same.json()["error_description"]
    assert lms.services.gradebook.results(1)[0].score_given == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (score(user_id="nobody"), "not a member"),
        (score(userId=None, user_id=""), "userId"),
        (score(timestamp="2026-01-02T03:04:05+00:00"), "sub-second"),
        (score(timestamp="2026-01-02T03:04:05.123"), "time zone"),
        (score(activityProgress="Done"), "activityProgress"),
        (score(gradingProgress="Graded"), "gradingProgress"),
        (score(scoreMaximum=None), "without scoreMaximum"),
        (score(scoreGiven=-1), "scoreGiven"),
        (score(scoreMaximum=0), "scoreMaximum"),
    ],
)
def test_invalid_scores_are_refused(lms: Lms, body: dict[str, Any], words: str) -> None:
    answer = post_score(lms, lms.token(), body)

    assert answer.status_code == 400
    assert words in answer.json()["error_description"]


def test_a_score_needs_its_media_type_a_token_and_the_score_scope(lms: Lms) -> None:
    assert post_score(lms, lms.token(), score(), media="application/json").status_code == 415
    assert post_score(lms, "made-up", score()).status_code == 401
    refused = post_score(lms, lms.token(nrps.SCOPE), score())
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    unauthenticated = lms.client.post(f"{QUIZ_ITEM}/scores", json=score())
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    assert lms.services.gradebook.results(1) == []


# --- line items -----------------------------------------------------------------------------------


def test_the_graded_link_has_its_own_line_item(lms: Lms) -> None:
    answer = lms.client.get(QUIZ_ITEM, headers={"Authorization": f"Bearer {lms.token()}", "Accept": ags.LINEITEM})

    assert answer.status_code == 200
    assert answer.json() == {
        "id": QUIZ_ITEM,
        "label": "Quiz",
        "scoreMaximum": 3,
        "resourceLinkId": resource_link_id(QUIZ),
    }


def test_line_items_are_created_filtered_paged_updated_and_deleted(lms: Lms) -> None:
    headers = {"Authorization": f"Bearer {lms.token()}"}
    created = []
    for n in range(12):
        item = {"label": f"Task {n}", "scoreMaximum": 10, "resourceId": f"task-{n % 2}", "tag": "t"}
        answer = lms.client.post(LINEITEMS, json=item, headers={**headers, "Content-Type": ags.LINEITEM})
        assert answer.status_code == 201, answer.text
        created.append(answer.json()["id"])
    assert created[0] == f"{LINEITEMS}/2"

    seen, url, pages = [], LINEITEMS + "?tag=t", 0
    while url and pages < 5:
        page = lms.client.get(url, headers={**headers, "Accept": ags.LINEITEM_CONTAINER})
        assert page.status_code == 200 and page.headers["content-type"].startswith(ags.LINEITEM_CONTAINER)
        seen += [item["id"] for item in page.json()]
        url, pages = parse_link_headers(page.headers).get("next"), pages + 1
    assert seen == created and pages == 2

    odd = lms.client.get(LINEITEMS, params={"resource_id": "task-1", "limit": "100"}, headers=headers).json()
    assert [i["label"] for i in odd] == [f"Task {n}" for n in range(1, 12, 2)]
    by_link = lms.client.get(LINEITEMS, params={"resource_link_id": resource_link_id(QUIZ)}, headers=headers)
    assert [i["id"] for i in by_link.json()] == [QUIZ_ITEM]

    put = lms.client.put(
        created[0],
        json={"label": "Renamed", "scoreMaximum": 20, "resourceLinkId": "changed"},
        headers={**headers, "Content-Type": ags.LINEITEM},
    )
    assert put.status_code == 200 and put.json()["label"] == "Renamed" and "resourceLinkId" not in put.json()
    assert lms.client.delete(created[0], headers=headers).status_code == 204
    assert lms.client.get(created[0], headers=headers).status_code == 404
    assert lms.client.delete(QUIZ_ITEM, headers=headers).status_code == 403


@pytest.mark.parametrize(
    ("item", "status"),
    [
        ({"label": " ", "scoreMaximum": 1}, 400),
        ({"label": "x", "scoreMaximum": 0}, 400),
        ({"label": "x", "scoreMaximum": 1, "resourceLinkId": "not-a-link"}, 404),
    ],
)
def test_bad_line_items_are_refused(lms: Lms, item: dict[str, object], status: int) -> None:
    answer = lms.client.post(
        LINEITEMS, json=item, headers={"Authorization": f"Bearer {lms.token()}", "Content-Type": ags.LINEITEM}
    )

    assert answer.status_code == status


def test_reading_line_items_needs_a_line_item_scope(lms: Lms) -> None:
    answer = lms.client.get(LINEITEMS, headers={"Authorization": f"Bearer {lms.token(ags.SCOPE_SCORE)}"})

    assert answer.status_code == 403


# --- memberships ----------------------------------------------------------------------------------


def test_the_roster_pages_through_every_member(lms: Lms) -> None:
    headers = {"Authorization": f"Bearer {lms.token(nrps.SCOPE)}", "Accept": nrps.MEDIA_TYPE}
    url: str | None = MEMBERSHIPS
    ids: list[str] = []
    pages = 0
    while url and pages < 10:
        answer = lms.client.get(url, headers=headers)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(nrps.MEDIA_TYPE)
        page = nrps.parse_membership_page(answer.content)
        assert page.context is not None and page.context.id == COURSE_ID
        ids += [m.user_id for m in page.members]
        url, pages = nrps.next_page(answer.headers), pages + 1

    assert ids == [m.sub for m in MEMBERS] and len(ids) == 22
    assert pages == 3


def test_the_roster_filters_by_role_and_takes_a_limit(lms: Lms) -> None:
    headers = {"Authorization": f"Bearer {lms.token(nrps.SCOPE)}"}

    instructors = lms.client.get(MEMBERSHIPS, params={"role": "Instructor"}, headers=headers).json()["members"]
    learners = lms.client.get(
        MEMBERSHIPS,
        params={"role": "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner", "limit": "50"},
        headers=headers,
    )

    assert [m["name"] for m in instructors] == ["Grace Teacher"]
    assert len(learners.json()["members"]) == 21 and "link" not in learners.headers


def test_the_roster_needs_the_nrps_scope_and_an_acceptable_media_type(lms: Lms) -> None:
    wrong_scope = lms.client.get(MEMBERSHIPS, headers={"Authorization": f"Bearer {lms.token(ags.SCOPE_SCORE)}"})
    wrong_accept = lms.client.get(
        MEMBERSHIPS, headers={"Authorization": f"Bearer {lms.token(nrps.SCOPE)}", "Accept": "text/html"}
    )
    wrong_course = lms.client.get(
        f"{LMS}/courses/other/memberships", headers={"Authorization": f"Bearer {lms.token(nrps.SCOPE)}"}
    )

    assert (wrong_scope.status_code, wrong_accept.status_code, wrong_course.status_code) == (403, 406, 404)
    logged = [e.status for e in lms.services.log.entries() if "/memberships" in e.path]
    assert logged == [403, 406, 404]


@pytest.mark.parametrize(("url", "status"), [(f"{MEMBERSHIPS}?limit=²", 400), (f"{MEMBERSHIPS}?page=0", 400),
                                             (f"{MEMBERSHIPS}?limit=101", 400), (f"{LINEITEMS}/²", 404),
                                             (f"{LINEITEMS}/99", 404)])  # fmt: skip
def test_odd_numbers_in_urls_are_client_errors(lms: Lms, url: str, status: int) -> None:
    answer = lms.client.get(url, headers={"Authorization": f"Bearer {lms.token()}"})

    assert answer.status_code == status
    assert answer.json()["error_description"]
