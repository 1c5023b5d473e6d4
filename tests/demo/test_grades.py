"""`ltigate demo` run for real, grades and rosters: a student launches the quiz, answers it, and the score
travels app → gateway API → outbox worker → demo LMS token endpoint and AGS scores endpoint into the LMS
gradebook; the app's roster comes from the LMS's NRPS endpoint, page by page, through the gateway.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from ltigate.demo.course import MEMBERS
from ltigate.demo.runner import DemoUrls
from ltigate.lti import ags, nrps
from tests.demo.browsing import error_code, post_form, read_form, section, start_launch

STUDENT = "demo-user-ada"
QUIZ_ITEM = 1  # the quiz link's line item, the first the demo LMS creates
WAIT_SECONDS = 10.0
RIGHT = {"q1": "1", "q2": "0", "q3": "2"}


def launch(browser: httpx.Client, urls: DemoUrls, user: str = "student", resource: int = 0) -> httpx.Response:
    page = post_form(browser, start_launch(browser, urls, user, resource=resource))
    assert page.status_code == 200, page.text
    assert page.url == f"{urls.app_url}/welcome"
    return page


def csrf(page: httpx.Response) -> str:
    return read_form(page)[1]["csrf"]


def grade_cell(browser: httpx.Client, urls: DemoUrls, sub: str, item: int) -> str:
    page = browser.get(f"{urls.lms_url}/gradebook")
    assert page.status_code == 200
    start = page.text.index(f'data-testid="grade-{sub}-{item}"')
    return page.text[start : page.text.index("</td>", start)]


def wait_for_grade(browser: httpx.Client, urls: DemoUrls, sub: str, item: int, text: str) -> str:
    """The gradebook cell once it shows `text`, polling for at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    cell = grade_cell(browser, urls, sub, item)
    while text not in cell and time.monotonic() < deadline:
        time.sleep(0.2)
        cell = grade_cell(browser, urls, sub, item)
    return cell


def service_requests(browser: httpx.Client, urls: DemoUrls) -> list[dict[str, Any]]:
    answer = browser.get(f"{urls.lms_url}/service-requests")
    assert answer.status_code == 200
    return list(answer.json())


def test_a_quiz_submission_reaches_the_lms_gradebook(browser: httpx.Client, urls: DemoUrls) -> None:
    page = launch(browser, urls)
    quiz = section(page, "quiz")
    assert "Solve 2x + 3 = 11." in quiz and "Score sent" not in quiz
    started = time.time()

    sent = browser.post(f"{urls.app_url}/quiz", data={"csrf": csrf(page), **RIGHT, "q3": "0"})

    assert sent.status_code == 200, sent.text
    assert sent.url == f"{urls.app_url}/welcome"
    shown = section(sent, "quiz")
    assert "Score sent" in shown and 'data-testid="sent-score">2 / 3<' in shown
    assert f'href="{urls.lms_url}/gradebook"' in shown

    cell = wait_for_grade(browser, urls, STUDENT, QUIZ_ITEM, "2 / 3")
    assert 'data-testid="score">2 / 3<' in cell, cell
    assert "2 of 3 answers right" in cell and "Completed · FullyGraded" in cell

    log = service_requests(browser, urls)
    [token] = [e for e in log if e["path"] == "/token" and ags.SCOPE_SCORE in e.get("scope_granted", [])]
    assert (token["method"], token["status"], token["assertion_ok"]) == ("POST", 200, True)
    assert token["checks"] == ["signature", "iss=sub=client_id", "aud", "exp", "jti present", "jti not replayed"]
    assert token["content_type"] == "application/x-www-form-urlencoded"
    assert log.index(token) < next(i for i, e in enumerate(log) if e["path"].endswith("/scores"))
    [score] = [e for e in log if e["path"] == f"/courses/demo-course-101/lineitems/{QUIZ_ITEM}/scores"]
    assert (score["method"], score["status"]) == ("POST", 204)
    assert score["content_type"].split(";")[0] == ags.SCORE
    body = score["body"]
    assert {k: v for k, v in body.items() if k != "timestamp"} == {
        "userId": STUDENT,
        "scoreGiven": 2,
        "scoreMaximum": 3,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "comment": "2 of 3 answers right in the demo quiz",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", body["timestamp"]), body["timestamp"]
    assert body["timestamp"] in cell
    assert abs(ags_epoch(body["timestamp"]) - started) < 60

    again = browser.get(f"{urls.app_url}/welcome")
    assert 'data-testid="delivery-status">delivered<' in section(again, "quiz")


def ags_epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp).timestamp()


def test_a_second_submission_replaces_the_grade(browser: httpx.Client, urls: DemoUrls) -> None:
    page = launch(browser, urls)
    browser.post(f"{urls.app_url}/quiz", data={"csrf": csrf(page), "q1": "0", "q2": "1", "q3": "0"})
    assert "0 / 3" in wait_for_grade(browser, urls, STUDENT, QUIZ_ITEM, "0 / 3")

    sent = browser.post(f"{urls.app_url}/quiz", data={"csrf": csrf(page), **RIGHT})

    assert 'data-testid="sent-score">3 / 3<' in section(sent, "quiz")
    assert 'data-testid="score">3 / 3<' in wait_for_grade(browser, urls, STUDENT, QUIZ_ITEM, "3 / 3")
    posts = [e for e in service_requests(browser, urls) if e["path"].endswith(f"/lineitems/{QUIZ_ITEM}/scores")]
    stamps = [e["body"]["timestamp"] for e in posts]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert {e["status"] for e in posts} == {204}


def test_the_roster_lists_every_member_across_pages(browser: httpx.Client, urls: DemoUrls) -> None:
    launch(browser, urls)  # Ada has launched the quiz: the roster shows when
    page = launch(browser, urls, "instructor", resource=1)

    roster = section(page, "roster")
    listed = re.findall(r'data-testid="member" data-user="([^"]+)"', roster)
    assert sorted(listed) == sorted(m.sub for m in MEMBERS) and len(listed) == 22
    assert "Barbara Liskov" in roster and "Grace Teacher" in roster and "Instructor" in roster
    ada = roster[roster.index('data-user="demo-user-ada"') :]
    ada = ada[: ada.index("</tr>")]
    assert "UTC" in ada  # her last launch

    pages = [e for e in service_requests(browser, urls) if e["path"].startswith("/courses/demo-course-101/memberships")]
    assert len(pages) >= 3 and {e["status"] for e in pages} == {200}
    assert {e["accept"] for e in pages} == {nrps.MEDIA_TYPE}
    assert [e["members"] for e in pages[:3]] == [10, 10, 2]
    assert "page=2" in pages[1]["path"] and "page=3" in pages[2]["path"]


def test_the_roster_shows_the_grade_status(browser: httpx.Client, urls: DemoUrls) -> None:
    page = launch(browser, urls)
    browser.post(f"{urls.app_url}/quiz", data={"csrf": csrf(page), **RIGHT})
    wait_for_grade(browser, urls, STUDENT, QUIZ_ITEM, "3 / 3")

    roster = section(browser.get(f"{urls.app_url}/welcome"), "roster")

    ada = roster[roster.index('data-user="demo-user-ada"') :]
    assert 'data-testid="member-grade">delivered<' in ada[: ada.index("</tr>")]


def test_the_quiz_form_needs_the_session_token(browser: httpx.Client, urls: DemoUrls) -> None:
    page = launch(browser, urls)
    before = len(service_requests(browser, urls))

    forged = browser.post(f"{urls.app_url}/quiz", data={"csrf": "guessed", **RIGHT})
    with httpx.Client(timeout=10) as stranger:
        no_session = stranger.post(f"{urls.app_url}/quiz", data={"csrf": csrf(page), **RIGHT})

    assert (forged.status_code, error_code(forged)) == (403, "csrf_failed")
    assert (no_session.status_code, error_code(no_session)) == (401, "session_missing")
    time.sleep(0.5)
    assert not [e for e in service_requests(browser, urls)[before:] if e["path"].endswith("/scores")]


def test_the_other_resource_has_no_quiz(browser: httpx.Client, urls: DemoUrls) -> None:
    page = launch(browser, urls, resource=1)

    assert 'data-testid="quiz"' not in page.text
    assert 'data-testid="roster"' in page.text
