"""A 2,000-member course roster read over NRPS in pages of 50 with Canvas-style Link headers (rel="current"
first, then "next", "prev", "first", "last"; NRPS §2.4.2, RFC 8288): every page followed and stored, role
filters by short name and full URI, a second sync dropping those who left, and on every page the NRPS media
type in Accept and a bearer token carrying the NRPS scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.grades.conftest import Lms, api_client, browser, registered_lms, seed_resource
from tests.support.fake_lms import launch
from tests.support.gateway import GatewayHarness, database_params, running_gateway

MEMBERS = 2000
PAGE = 50
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def member(n: int) -> dict[str, Any]:
    """Every 20th member teaches (100 in all); the rest learn, every 10th of them with a mentor role too."""
    if n % 20 == 0:
        roles = [INSTRUCTOR]
    elif n % 10 == 5:
        roles = ["Learner", MENTOR]  # a short context role name, as some platforms send
    else:
        roles = [LEARNER]
    return {
        "user_id": f"u{n:04d}",
        "roles": roles,
        "status": "Active",
        "name": f"Person {n:04d}",
        "given_name": "Person",
        "family_name": f"F{n:04d}",
        "email": f"u{n:04d}@example.edu",
    }


@dataclass
class Course:
    gateway: GatewayHarness
    api: httpx.Client
    main: Lms
    launch_id: str


@pytest.fixture(params=database_params())
def course(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Course]:
    with running_gateway(tmp_path, request.param) as gateway:
        seed_resource(gateway)
        with registered_lms(gateway) as main, api_client(gateway, gateway.api_key()) as api:
            main.lms.page_size = PAGE
            main.lms.members = [member(n) for n in range(MEMBERS)]
            b = browser(gateway)
            try:
                launch_id = launch(b, main.lms, "u0001")
            finally:
                b.close()
            yield Course(gateway=gateway, api=api, main=main, launch_id=launch_id)


def read_all(api: httpx.Client, path: str, **params: object) -> list[dict[str, Any]]:
    """Every member the gateway's API lists, 1,000 at a time (its maximum)."""
    found: list[dict[str, Any]] = []
    for offset in range(0, 10_000, 1000):
        answer = api.get(path, params={**params, "limit": 1000, "offset": offset})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found.extend(page)
        if len(page) < 1000:
            return found
    raise AssertionError("more members than expected")


def test_every_page_is_followed_stored_filtered_and_resynced(course: Course) -> None:
    lms = course.main.lms
    members = read_all(course.api, f"/api/v1/launches/{course.launch_id}/members")

    # All 40 pages read once each, in order, each with the NRPS Accept and a token with the NRPS scope.
    assert len(lms.reads) == MEMBERS // PAGE
    pages = [parse_qs(read.query).get("page", ["1"])[0] for read in lms.reads]
    assert pages == [str(n) for n in range(1, MEMBERS // PAGE + 1)]
    assert all(read.path == "/ctx/memberships" and read.status == 200 for read in lms.reads)
    assert {read.accept for read in lms.reads} == {NRPS_MEDIA_TYPE}
    assert all(NRPS_SCOPE in read.scopes for read in lms.reads)
    tokens = {read.token for read in lms.reads}
    assert len(tokens) == 1 and None not in tokens
    (token_request,) = lms.token_requests
    assert token_request.form["scope"] == NRPS_SCOPE and token_request.problems == []

    # All 2,000 stored, in family-name order, fields as the LMS sent them and roles as full URIs; the API's
    # page maximum (1,000) is honoured, not cut short.
    assert len(members) == MEMBERS
    first_page = course.api.get(f"/api/v1/launches/{course.launch_id}/members", params={"limit": 1000}).json()
    assert [m["user_id"] for m in first_page] == [f"u{n:04d}" for n in range(1000)]
    assert [m["user_id"] for m in members] == [f"u{n:04d}" for n in range(MEMBERS)]
    assert members[5]["roles"] == [LEARNER, MENTOR]
    assert members[20]["roles"] == [INSTRUCTOR]
    assert (members[7]["name"], members[7]["email"], members[7]["status"]) == (
        "Person 0007",
        "u0007@example.edu",
        "Active",
    )
    launched = next(m for m in members if m["user_id"] == "u0001")
    assert launched["last_launch_id"] == course.launch_id
    contexts = course.api.get("/api/v1/contexts").json()
    (context,) = [c for c in contexts if c["platform_id"] == course.main.platform_id]
    assert (context["member_count"], context["context_id"], context["has_roster_service"]) == (MEMBERS, "ctx-1", True)

    # Role filters: the short context role name and the full URI select the same 1,900 learners.
    path = f"/api/v1/contexts/{context['key']}/members"
    learners_short = read_all(course.api, path, role="Learner")
    learners_full = read_all(course.api, path, role=LEARNER)
    assert len(learners_short) == MEMBERS - MEMBERS // 20
    assert [m["user_id"] for m in learners_short] == [m["user_id"] for m in learners_full]
    assert all(LEARNER in m["roles"] for m in learners_short)
    instructors = read_all(course.api, path, role="Instructor")
    assert [m["user_id"] for m in instructors] == [f"u{n:04d}" for n in range(0, MEMBERS, 20)]
    assert len(read_all(course.api, path, role="Mentor")) == MEMBERS // 10
    assert read_all(course.api, path, role="Administrator") == []
    assert len(lms.reads) == MEMBERS // PAGE  # reading the stored roster asks the LMS nothing

    # 100 members leave the course; a refresh syncs again and the roster holds the 1,900 left.
    gone = {f"u{n:04d}" for n in range(3, MEMBERS, 20)}
    lms.members = [m for m in lms.members if m["user_id"] not in gone]
    assert len(gone) == 100
    refreshed = course.api.get(f"/api/v1/launches/{course.launch_id}/members", params={"refresh": "true", "limit": 10})
    assert [m["user_id"] for m in refreshed.json()] == [f"u{n:04d}" for n in range(11) if n != 3]
    again = read_all(course.api, f"/api/v1/launches/{course.launch_id}/members")
    assert len(lms.reads) == MEMBERS // PAGE + (MEMBERS - 100 + PAGE - 1) // PAGE
    assert len(again) == MEMBERS - 100
    assert not gone & {m["user_id"] for m in again}
    assert {read.accept for read in lms.reads} == {NRPS_MEDIA_TYPE}
    shown = course.api.get(f"/api/v1/contexts/{context['key']}").json()
    assert shown["member_count"] == MEMBERS - 100
