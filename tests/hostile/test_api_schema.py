"""The REST API fuzzed from its own OpenAPI document with schemathesis: whatever is sent, valid or not, the
answer is no 5xx, has a status the document declares, and a body matching the declared schema (the one
error shape included). Run against the served gateway with a real API key, on this module's own database,
so destructive operations (deletes, deactivations) harm nothing else.

Each operation is fuzzed with random path parameters (mostly unknown records), with invalid data (where the
operation takes a body or query parameters), and with the path parameters of records that exist: a platform
(the grades tests' fake LMS) with a successful launch offering grades and rosters, its learner, course and a
queued score.

(schemathesis's own pytest integration does not run under pytest 9, so the test builds one Hypothesis test
per operation from `APIOperation.as_strategy`.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.grades.conftest import registered_lms
from tests.hostile.conftest import Env
from tests.support.fake_lms import launch
from tests.support.platform import Browser

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES = 12


# A 502 is the documented answer when the platform fails a call the request needs (the fake LMS serves no
# line-item containers); every other 5xx is a failure.
CONFIG = """
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "502"]
"""


@pytest.fixture(scope="module")
def api_schema(env: Env) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_str(CONFIG)
    return schemathesis.openapi.from_url(f"{env.gateway.url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def known(env: Env) -> Iterator[dict[str, str]]:
    """Path parameters of records that exist: a launch from an LMS serving grades and rosters (the fake LMS of
    the grades tests), its learner and course, a score queued for it, the platform and its deployment, a
    resource."""
    with (
        registered_lms(env.gateway) as lms,
        httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}, timeout=15) as api,
    ):
        browser = Browser(env.gateway.url)
        try:
            launch_id = launch(browser, lms.lms, "learner-1")
        finally:
            browser.close()
        learner = api.get(f"/api/v1/launches/{launch_id}").json()["user"]["id"]
        job = api.post(
            f"/api/v1/launches/{launch_id}/score",
            json={
                "activityProgress": "Completed",
                "gradingProgress": "FullyGraded",
                "scoreGiven": 1,
                "scoreMaximum": 2,
            },
        )
        assert job.status_code == 202, job.text
        context = api.get("/api/v1/contexts", params={"platform_id": lms.platform_id}).json()[0]
        yield {
            "platform_id": lms.platform_id,
            "deployment_id": lms.lms.deployment_id,
            "slug": "quiz",
            "launch_id": launch_id,
            "learner_id": learner,
            "key": context["key"],
            "job_id": job.json()["id"],
            "url": lms.lms.lineitem_url("1"),
        }


@pytest.fixture
def api(env: Env) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}) as client:
        yield client


def platform_body(n: str, **changes: object) -> dict[str, object]:
    base = f"https://lms-{n}.example.edu"
    body: dict[str, object] = {"name": f"LMS {n}", "issuer": base, "client_id": f"client-{n}"}
    body.update({"auth_url": f"{base}/auth", "token_url": f"{base}/token", "jwks_url": f"{base}/jwks", **changes})
    return body


def invalid(response: httpx.Response, code: str = "invalid_field") -> dict[str, object]:
    assert response.status_code == 422, response.text
    error: dict[str, object] = response.json()["error"]
    assert error["code"] == code
    return error


# --- what the fuzzing found, pinned (NUL: PostgreSQL text refuses it; surrogates: UTF-8 cannot hold them) --


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", "/api/v1/platforms/%00", None, "path"),
        ("DELETE", "/api/v1/resources/a%00b", None, "path"),
        ("GET", "/api/v1/learners?q=%00", None, "query.q"),
        ("GET", "/api/v1/launches?sub=a%00", None, "query.sub"),
        ("POST", "/api/v1/platforms", platform_body("nul", name="a\x00"), "body"),
        ("POST", "/api/v1/platforms", platform_body("sur", deployment_ids=["\udc00"]), "body"),
        ("POST", "/api/v1/resources", {"slug": "s", "title": "t\ud800", "app_url": "https://app.test"}, "body"),
        ("POST", "/api/v1/tickets/redeem", {"ticket": "a.b.c\x00"}, "body"),
    ],
)
def test_text_no_store_can_keep_is_refused(api: httpx.Client, method: str, url: str, body: object, field: str) -> None:
    content = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"} if content else {}

    error = invalid(api.request(method, url, content=content, headers=headers))

    assert error["field"] == field
    assert "NUL character" in str(error["message"])


def test_an_escaped_backslash_before_u0000_is_text(api: httpx.Client) -> None:
    body = {"slug": "backslash", "title": "t", "app_url": "https://app.test", "description": "\\u0000"}

    created = api.post("/api/v1/resources", json=body)

    assert created.status_code == 201, created.text
    assert created.json()["description"] == "\\u0000"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/learners?offset=100000000000000000000",
        "/api/v1/learners?offset=9223372036854775808",
        "/api/v1/platforms/p/seats?offset=100000000000000000000",
        "/api/v1/contexts/k/members?offset=100000000000000000000",
        "/api/v1/launches/l/members?offset=100000000000000000000",
    ],
)
def test_offsets_beyond_what_a_database_integer_holds(api: httpx.Client, url: str) -> None:
    error = invalid(api.get(url), "invalid_request")

    assert error["field"] == "query.offset"


@pytest.mark.parametrize("seats", [10**10, 2**63, 10**20])
def test_seats_beyond_what_a_database_integer_holds(api: httpx.Client, seats: int) -> None:
    created = api.post("/api/v1/platforms", json=platform_body(f"seats-{seats}"))
    assert created.status_code == 201, created.text

    assert invalid(api.post("/api/v1/platforms", json=platform_body(f"s{seats}", seats=seats)), "invalid_request")
    assert invalid(api.patch(f"/api/v1/platforms/{created.json()['id']}", json={"seats": seats}), "invalid_request")
    api.post(f"/api/v1/platforms/{created.json()['id']}/deactivate")


def test_null_on_a_platform_field_that_cannot_be_empty_means_no_change(api: httpx.Client) -> None:
    created = api.post("/api/v1/platforms", json=platform_body("nulls", token_audience="https://aud.test")).json()

    patched = api.patch(
        f"/api/v1/platforms/{created['id']}", json={"issuer": None, "seats": None, "token_audience": None}
    )

    assert patched.status_code == 200, patched.text
    assert (patched.json()["issuer"], patched.json()["seats"]) == (created["issuer"], created["seats"])
    assert patched.json()["token_audience"] is None


def test_null_on_a_resource_field_that_cannot_be_empty_means_no_change(api: httpx.Client) -> None:
    body = {"slug": "nulls", "title": "Nulls", "app_url": "https://app.test", "tag": "t1", "score_maximum": 5}
    assert api.post("/api/v1/resources", json=body).status_code == 201

    patched = api.patch(
        "/api/v1/resources/nulls", json={"title": None, "app_url": None, "description": None, "tag": None}
    )

    assert patched.status_code == 200, patched.text
    assert (patched.json()["title"], patched.json()["app_url"]) == ("Nulls", "https://app.test")
    assert (patched.json()["tag"], patched.json()["score_maximum"]) == (None, 5)


# --- the fuzzing ------------------------------------------------------------------------------------------


def fuzz(operation: schemathesis.APIOperation, session: requests.Session, strategy: object) -> str | None:
    """Run EXAMPLES cases of `strategy` against the gateway; the first failure, shrunk, or None."""

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(session=session, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return None
    except (Exception, BaseExceptionGroup) as exc:  # the failed checks, with the request that caused them
        return str(exc)[:4000]
    return None


def test_the_api_answers_as_its_schema_says(
    api_schema: schemathesis.BaseSchema, env: Env, known: dict[str, str]
) -> None:
    failures: dict[str, str] = {}
    began = time.monotonic()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {env.api_key}"
        for result in api_schema.get_all_operations():
            operation = result.ok()
            names = {p.name for p in operation.path_parameters}
            query = {p.name for p in operation.query}
            runs = {"random": operation.as_strategy(GenerationMode.POSITIVE)}
            if operation.body or query:  # only then is there something to make invalid
                runs["invalid"] = operation.as_strategy(GenerationMode.NEGATIVE)
            if names:
                runs["existing"] = operation.as_strategy(
                    GenerationMode.POSITIVE,
                    path_parameters={name: known[name] for name in names},
                    query={"url": known["url"]} if "url" in query else None,
                )
            for kind, strategy in runs.items():
                failure = fuzz(operation, session, strategy)
                if failure is not None:
                    failures[f"{operation.label} ({kind})"] = failure
    assert not failures, "\n\n".join(f"== {label}\n{failure}" for label, failure in failures.items())
    assert time.monotonic() - began < 150
