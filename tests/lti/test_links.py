"""RFC 8288 `Link` headers as AGS and NRPS platforms send them, and query parameters appended to service
URLs (lti-reference §4.4, §5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltigate.lti.links import append_query, parse_link_headers, parse_links

CANVAS = (
    '<https://canvas.test/api/lti/courses/1/names_and_roles?page=1&per_page=10>; rel="current",'
    '<https://canvas.test/api/lti/courses/1/names_and_roles?page=2&per_page=10>; rel="next",'
    '<https://canvas.test/api/lti/courses/1/names_and_roles?page=1&per_page=10>; rel="first",'
    '<https://canvas.test/api/lti/courses/1/names_and_roles?page=3&per_page=10>; rel="last"'
)


def test_canvas_style_header():
    assert parse_links(CANVAS) == {
        "current": "https://canvas.test/api/lti/courses/1/names_and_roles?page=1&per_page=10",
        "next": "https://canvas.test/api/lti/courses/1/names_and_roles?page=2&per_page=10",
        "first": "https://canvas.test/api/lti/courses/1/names_and_roles?page=1&per_page=10",
        "last": "https://canvas.test/api/lti/courses/1/names_and_roles?page=3&per_page=10",
    }


@pytest.mark.parametrize(
    ("header", "links"),
    [
        ("<https://lms.test/m?p=2>; rel=next", {"next": "https://lms.test/m?p=2"}),
        ('<https://lms.test/m?p=2>;rel="next"', {"next": "https://lms.test/m?p=2"}),
        ('<https://lms.test/m?p=2> ; rel = "next"', {"next": "https://lms.test/m?p=2"}),
        (
            '<https://lms.test/m?p=9>; rel="next last"',
            {"next": "https://lms.test/m?p=9", "last": "https://lms.test/m?p=9"},
        ),
        ('<https://lms.test/a,b?x=1,2>; rel="next"', {"next": "https://lms.test/a,b?x=1,2"}),
        (
            '<https://LMS.test/Members?Page=2&Token=AbC>; rel="NEXT"',
            {"next": "https://LMS.test/Members?Page=2&Token=AbC"},
        ),
        ('<https://lms.test/1>; rel="next", <https://lms.test/2>; rel="next"', {"next": "https://lms.test/1"}),
        ('<https://lms.test/1>; rel="next"; rel="prev"', {"next": "https://lms.test/1"}),
        ('<https://lms.test/1>; title="a, <b>; rel=prev"; rel="next"', {"next": "https://lms.test/1"}),
        ('<https://lms.test/1>; title="say \\"hi\\""; rel=next', {"next": "https://lms.test/1"}),
        ('<https://lms.test/1>; type="application/json"; rel="next"', {"next": "https://lms.test/1"}),
        (
            '<https://lms.test/diff?since=5>; rel="differences", <https://lms.test/m?p=2>; rel="next"',
            {"differences": "https://lms.test/diff?since=5", "next": "https://lms.test/m?p=2"},
        ),
        (
            "<https://lms.test/1>; rel=http://example.com/rel/custom",
            {"http://example.com/rel/custom": "https://lms.test/1"},
        ),
    ],
)
def test_link_forms(header, links):
    assert parse_links(header) == links


@pytest.mark.parametrize(
    ("header", "links"),
    [
        (None, {}),
        ("", {}),
        ("   ", {}),
        ("garbage", {}),
        ("https://lms.test/m?p=2; rel=next", {}),  # no angle brackets
        ("<https://lms.test/m?p=2>", {}),  # no rel
        ("<https://lms.test/m?p=2>; rel", {}),
        ("<https://lms.test/m?p=2>; rel=", {}),
        ('<https://lms.test/m?p=2>; rel=""', {}),
        ("<>; rel=next", {}),
        ("<https://lms.test/m?p=2; rel=next", {}),  # unterminated URL
        ('<https://lms.test/m?p=2>; rel="next', {"next": "https://lms.test/m?p=2"}),  # unterminated quote
        (";;;,,,<<>>;rel=next", {}),
        ('junk, <https://lms.test/2>; rel="next"', {"next": "https://lms.test/2"}),
        (
            '<https://lms.test/1>; rel="prev" junk, <https://lms.test/2>; rel="next"',
            {"prev": "https://lms.test/1", "next": "https://lms.test/2"},
        ),
    ],
)
def test_malformed_headers_never_raise(header, links):
    assert parse_links(header) == links


def test_relative_targets_resolve_against_a_base():
    header = '</api/m?page=2>; rel="next", <https://other.test/x>; rel="last"'
    assert parse_links(header) == {"next": "/api/m?page=2", "last": "https://other.test/x"}
    assert parse_links(header, base="https://lms.test/api/m?page=1") == {
        "next": "https://lms.test/api/m?page=2",
        "last": "https://other.test/x",
    }
    assert parse_links("<x>; rel=next", base="http://[broken") == {}


@pytest.mark.parametrize("name", ["Link", "link", "LINK"])
def test_headers_mapping_any_case(name):
    assert parse_link_headers({"Content-Type": "application/json", name: CANVAS})["next"].endswith("page=2&per_page=10")


def test_headers_mapping_without_link():
    assert parse_link_headers({"content-type": "application/json"}) == {}


def test_headers_mapping_joins_repeated_fields():
    headers = [("link", '<https://lms.test/2>; rel="next"'), ("Link", '<https://lms.test/9>; rel="last"')]

    class Repeated(dict):  # a multi-valued mapping as some HTTP libraries expose it
        def items(self):
            return headers

    assert parse_link_headers(Repeated()) == {"next": "https://lms.test/2", "last": "https://lms.test/9"}


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        ("https://lms.test/m", [("limit", "5")], "https://lms.test/m?limit=5"),
        ("https://lms.test/m?a=1", [("limit", "5")], "https://lms.test/m?a=1&limit=5"),
        ("https://lms.test/m?a=1#top", [("b", "2")], "https://lms.test/m?a=1&b=2#top"),
        ("https://lms.test/m?a=1", [], "https://lms.test/m?a=1"),
        ("https://lms.test/m", [("q", "a b&c=d/é")], "https://lms.test/m?q=a%20b%26c%3Dd%2F%C3%A9"),
    ],
)
def test_append_query(url, params, expected):
    assert append_query(url, params) == expected


# --- properties ------------------------------------------------------------------------------

SETTINGS = settings(max_examples=200, deadline=None)
url_chars = st.text(alphabet=st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)), min_size=1)
relations = st.lists(
    st.sampled_from(["next", "prev", "first", "last", "current", "differences"]), min_size=1, max_size=3
)


@SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text):
    links = parse_links(text)
    assert all(isinstance(rel, str) and isinstance(url, str) and url for rel, url in links.items())


@SETTINGS
@given(st.text(alphabet='<>;,="\\ relnxt/:?&', max_size=120))
def test_link_syntax_soup_never_raises(text):
    parse_links(text)
    parse_links(text, base="https://lms.test/a/b")


@SETTINGS
@given(st.lists(st.tuples(url_chars.map(str.strip).filter(bool), relations), min_size=1, max_size=5))
def test_built_headers_parse_back(entries):
    header = ", ".join(f'<{url}>; rel="{" ".join(rels)}"' for url, rels in entries)
    expected: dict[str, str] = {}
    for url, rels in entries:
        for rel in rels:
            expected.setdefault(rel, url)
    assert parse_links(header) == expected


def test_unquoted_rel_stops_at_whitespace():
    assert parse_links("<https://lms.test/1>; rel=next <https://lms.test/2>; rel=last") == {
        "next": "https://lms.test/1"
    }
