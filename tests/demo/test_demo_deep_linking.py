"""Deep linking in `ltigate demo`: the instructor adds content from the demo LMS, picks it in ltigate's
picker, the LMS checks the signed response and links the items, and the new link launches."""

from __future__ import annotations

import html
import re

import httpx

from ltigate.demo.runner import DemoUrls
from tests.demo.browsing import error_code, post_form, read_form


def picker_page(browser: httpx.Client, urls: DemoUrls) -> httpx.Response:
    form_page = browser.post(f"{urls.lms_url}/deep-link", data={"user": "instructor"})
    assert form_page.status_code == 200 and form_page.url.path == "/auth", form_page.text[:300]
    page = post_form(browser, form_page)
    assert page.status_code == 200, page.text[:500]
    return page


def choose(browser: httpx.Client, urls: DemoUrls, page: httpx.Response, action: str, *slugs: str) -> httpx.Response:
    url = re.search(r'action="(/lti/deep-linking/[0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    token = html.unescape(re.search(r'name="token" value="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    answer = browser.post(f"{urls.gateway_url}{url}", data={"token": token, "action": action, "resource": list(slugs)})
    assert answer.status_code == 200, answer.text[:500]
    return answer


def test_lms_offers_deep_linking_to_the_instructor_only(browser: httpx.Client, urls: DemoUrls) -> None:
    home = browser.get(f"{urls.lms_url}/").text
    assert home.count('data-testid="deep-link"') == 1
    student = browser.post(f"{urls.lms_url}/deep-link", data={"user": "nobody"})
    assert student.status_code == 400


def test_instructor_adds_a_graded_resource_by_deep_linking_and_launches_it(
    browser: httpx.Client, urls: DemoUrls
) -> None:
    page = picker_page(browser, urls)
    assert "Add content to" in page.text and "Add to Demo Course 101" in page.text
    slug = re.search(r'data-testid="pick-([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = choose(browser, urls, page, "select", slug)
    action, fields = read_form(answer)
    assert action == f"{urls.lms_url}/deep-link-return" and set(fields) == {"JWT"}

    added = browser.post(action, data=fields)
    assert added.status_code == 200, added.text[:500]
    assert "Added to the course" in added.text
    assert f"{urls.launch_url}?resource={slug}" in added.text
    home = browser.get(f"{urls.lms_url}/")
    index = home.text.count('name="resource" value=') // 2 - 1  # the new link is the last of each user's list
    launched = post_form(
        browser, browser.post(f"{urls.lms_url}/launch", data={"user": "student", "resource": str(index)})
    )
    assert launched.status_code == 200 and str(launched.url).startswith(urls.app_url), launched.text[:300]

    replayed = browser.post(action, data=fields)  # the same response again: its data was used up
    assert (replayed.status_code, error_code(replayed)) == (400, "deep_linking_response_invalid")


def test_the_lms_refuses_a_forged_deep_linking_response(browser: httpx.Client, urls: DemoUrls) -> None:
    answer = choose(browser, urls, picker_page(browser, urls), "cancel")
    action, fields = read_form(answer)
    head, body, _signature = fields["JWT"].split(".")
    forged = browser.post(action, data={"JWT": f"{head}.{body}.AAAA"})
    assert (forged.status_code, error_code(forged)) == (400, "deep_linking_response_invalid")
    cancelled = browser.post(action, data=fields)
    assert cancelled.status_code == 200 and "Nothing added" in cancelled.text
    assert "Cancelled; nothing was added." in cancelled.text
