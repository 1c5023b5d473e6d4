"""The HTTP/1.1 codec without sockets: request bytes, response framing, limits, and properties (any split
of a valid response parses the same; arbitrary bytes raise only the codec's own errors)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltigate.net.http11 import (
    BodyTooLarge,
    ClosedBeforeResponse,
    InvalidRequest,
    ProtocolViolation,
    ResponseParser,
    encode_request,
)


def parse(raw: bytes, method: str = "GET", *, cap: int = 1 << 20, error_cap: int | None = None) -> ResponseParser:
    parser = ResponseParser(method, max_body_bytes=cap, error_body_bytes=error_cap)
    parser.feed(raw)
    return parser


def test_request_has_the_head_then_the_body() -> None:
    raw = encode_request("POST", "/scores?a=1", [("Host", "lms.test"), ("Authorization", "Bearer t")], b"{}")

    assert raw == (
        b"POST /scores?a=1 HTTP/1.1\r\nHost: lms.test\r\nAuthorization: Bearer t\r\nContent-Length: 2\r\n\r\n{}"
    )


def test_bodiless_post_declares_length_zero_and_get_declares_nothing() -> None:
    assert encode_request("POST", "/", [("Host", "h")]).endswith(b"Content-Length: 0\r\n\r\n")
    assert encode_request("GET", "/", [("Host", "h")]) == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [
        ("GET\r\n", "/", [], "is not an HTTP method token"),
        ("GET", "/a b", [], "the request target holds spaces or control characters"),
        ("GET", "/", [("X-A", "1\r\nX-B: 2")], "the value of the header 'X-A' holds a line break"),
        ("GET", "/", [("X-A", "1\nX-B: 2")], "the value of the header 'X-A' holds a line break"),
        ("GET", "/", [("X A", "1")], "the header name 'X A' is not a token"),
        ("GET", "/", [("X-A", "nul\x00")], "holds a line break or control character"),
    ],
)
def test_request_refuses_what_could_split_it(
    method: str, target: str, headers: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        encode_request(method, target, headers)


def test_response_with_length_and_repeated_headers() -> None:
    parser = parse(b"HTTP/1.1 200 OK\r\nLink: <a>\r\nLINK: <b>\r\nContent-Length: 3\r\n\r\nabc")

    assert parser.done and parser.reusable
    assert parser.head is not None
    assert (parser.head.status, parser.head.reason) == (200, "OK")
    assert parser.head.headers == {"link": "<a>, <b>", "content-length": "3"}
    assert parser.body == b"abc"


def test_reason_phrase_may_be_missing() -> None:
    parser = parse(b"HTTP/1.1 204\r\n\r\n")
    assert parser.done and parser.head is not None and parser.head.status == 204


def test_http_1_0_answers_are_not_kept_alive() -> None:
    parser = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert parser.done and not parser.reusable


def test_bytes_after_the_response_make_the_connection_unusable() -> None:
    parser = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n")
    assert parser.done and parser.body == b"x" and not parser.reusable


def test_chunked_with_content_length_is_read_as_chunked_and_not_reused() -> None:
    parser = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
    assert parser.done and parser.body == b"ab" and not parser.reusable


def test_until_close_body_ends_at_eof() -> None:
    parser = parse(b"HTTP/1.1 200 OK\r\n\r\npart")
    assert not parser.done
    parser.feed(b" two")
    parser.feed_eof()
    assert parser.done and parser.body == b"part two" and not parser.reusable


def test_eof_before_any_byte_is_told_apart() -> None:
    parser = ResponseParser("GET", max_body_bytes=10)
    with pytest.raises(ClosedBeforeResponse):
        parser.feed_eof()


def test_chunk_data_longer_than_its_size_is_a_violation() -> None:
    with pytest.raises(ProtocolViolation, match="chunk data runs past its size"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n")


def test_declared_length_over_the_cap() -> None:
    with pytest.raises(BodyTooLarge) as caught:
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", cap=10)
    assert caught.value.reason == "the body declares 11 bytes, over the 10 byte cap"


@pytest.mark.parametrize(
    "framing", [b"Transfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n", b"\r\n" + b"x" * 11]
)
def test_streamed_body_over_the_cap(framing: bytes) -> None:
    with pytest.raises(BodyTooLarge, match="the body exceeds the 10 byte cap"):
        parse(b"HTTP/1.1 200 OK\r\n" + framing, cap=10)


def test_error_body_is_cut_at_its_own_cap_and_the_connection_given_up() -> None:
    parser = parse(b"HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n" + b"e" * 100, cap=10, error_cap=20)
    assert parser.done and parser.truncated and not parser.reusable
    assert parser.body == b"e" * 20


def test_success_body_is_never_cut() -> None:
    with pytest.raises(BodyTooLarge):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", cap=10, error_cap=20)


def test_head_size_limit_applies_before_the_end_of_the_head_arrives() -> None:
    parser = ResponseParser("GET", max_body_bytes=10, max_head_bytes=100)
    parser.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ProtocolViolation, match="the response head exceeds 100 bytes"):
        parser.feed(b"X-Long: " + b"a" * 200)


def test_trailers_are_checked_and_dropped() -> None:
    parser = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n")
    assert parser.done and parser.body == b"a" and parser.reusable
    with pytest.raises(ProtocolViolation, match="malformed header line"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n")


# --- properties ---------------------------------------------------------------------------------------

_names = st.from_regex(r"X-[A-Za-z0-9-]{1,12}", fullmatch=True)
_values = st.from_regex(r"[!-~]([ !-~]{0,30}[!-~])?", fullmatch=True)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, int, dict[str, str], bytes]:
    status = draw(st.sampled_from([200, 201, 202, 400, 401, 404, 429, 500, 503]))
    headers = draw(st.dictionaries(_names, _values, max_size=6))
    body = draw(st.binary(max_size=300))
    head = f"HTTP/1.1 {status} Reason\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if draw(st.booleans()):
        sizes = draw(st.lists(st.integers(1, 50), max_size=10))
        chunks, rest = [], body
        for size in sizes:
            if rest:
                chunks.append(b"%x\r\n%s\r\n" % (len(rest[:size]), rest[:size]))
                rest = rest[size:]
        if rest:
            chunks.append(b"%x\r\n%s\r\n" % (len(rest), rest))
        raw = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"".join(chunks) + b"0\r\n\r\n"
    else:
        raw = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return raw, status, {k.lower(): v for k, v in headers.items()}, body


@given(responses(), st.lists(st.integers(0, 400), max_size=8))
def test_any_split_of_a_valid_response_parses_the_same(
    case: tuple[bytes, int, dict[str, str], bytes], cuts: list[int]
) -> None:
    raw, status, headers, body = case
    parser = ResponseParser("GET", max_body_bytes=1000)
    start = 0
    for cut in sorted(min(cut, len(raw)) for cut in cuts):
        parser.feed(raw[start:cut])
        start = max(start, cut)
    parser.feed(raw[start:])

    assert parser.done and parser.reusable
    assert parser.head is not None and parser.head.status == status
    assert {k: v for k, v in parser.head.headers.items() if k.startswith("x-")} == headers
    assert parser.body == body


@given(st.binary(max_size=500), st.booleans())
def test_arbitrary_bytes_raise_only_the_codecs_errors(garbage: bytes, close: bool) -> None:
    parser = ResponseParser("GET", max_body_bytes=100, max_head_bytes=200)
    try:
        parser.feed(garbage)
        if close:
            parser.feed_eof()
    except (ProtocolViolation, BodyTooLarge):
        return
    if parser.done:
        assert parser.head is not None and len(parser.body) <= 100


@given(st.binary(min_size=1, max_size=200))
def test_bytes_after_a_valid_head_never_escape_the_body_limits(tail: bytes) -> None:
    parser = ResponseParser("GET", max_body_bytes=50)
    try:
        parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + tail)
        parser.feed_eof()
    except (ProtocolViolation, BodyTooLarge):
        return
    assert parser.done and len(parser.body) <= 50
