"""A browser for the demo tests: httpx with a cookie jar, plus reading the forms and error codes of pages."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from ltigate.demo.runner import DemoUrls


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.codes: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action")
        if tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""
        self._in_code = values.get("data-testid") == "error-code"

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.codes.append(data.strip())
            self._in_code = False


def read_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    reader = _FormReader()
    reader.feed(page.text)
    assert reader.action, page.text
    return reader.action, reader.fields


def error_code(page: httpx.Response) -> str:
    reader = _FormReader()
    reader.feed(page.text)
    assert reader.codes, page.text
    return reader.codes[0]


def section(page: httpx.Response, testid: str) -> str:
    """The HTML of the `<section data-testid=…>` element of `page`."""
    start = page.text.index(f'data-testid="{testid}"')
    return page.text[start : page.text.index("</section>", start)]


def start_launch(browser: httpx.Client, urls: DemoUrls, user: str, resource: int = 0, **extra: str) -> httpx.Response:
    """Press a Launch button on the LMS page; returns the LMS's auto-posting form page (at /auth)."""
    page = browser.post(f"{urls.lms_url}/launch", data={"user": user, "resource": str(resource), **extra})
    assert page.status_code == 200, page.text
    assert page.url.path == "/auth"
    return page


def post_form(browser: httpx.Client, form_page: httpx.Response) -> httpx.Response:
    """What the auto-post script does: post the id_token and state to the form's action."""
    action, fields = read_form(form_page)
    return browser.post(action, data={"id_token": fields["id_token"], "state": fields["state"]})
