"""Oversize bodies at the LTI endpoints are refused early with 413 and a code: a declared Content-Length above
the cap is answered before any of the body is sent, and a chunked body without a length is cut off once it
passes the cap, long before its end. A raw socket plays the client, so the test controls what is sent when.
"""

from __future__ import annotations

import logging
import re
import select
import time

import pytest

from ltigate.web.forms import MAX_FORM_BYTES
from tests.hostile.conftest import RawClient

PATHS = ["/lti/login", "/lti/launch", "/lti/launch/continue", "/lti/deep-linking/some-launch"]
DECLARED = 10 * 1024 * 1024  # what the client claims it will send, and never does
_CODE = re.compile(rb'data-testid="error-code">([a-z_]+)<')


def head(path: str, *lines: str) -> bytes:
    fields = ["Host: 127.0.0.1", "Content-Type: application/x-www-form-urlencoded", *lines]
    return (f"POST {path} HTTP/1.1\r\n" + "\r\n".join(fields) + "\r\n\r\n").encode()


def status_and_code(answer: bytes) -> tuple[int, str | None]:
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 "), answer[:200]
    code = _CODE.search(answer)
    return int(status_line.split()[1]), code.group(1).decode() if code else None


@pytest.mark.parametrize("path", PATHS)
def test_a_declared_length_above_the_cap_is_answered_before_the_body_is_sent(raw: RawClient, path: str) -> None:
    raw.send(head(path, f"Content-Length: {DECLARED}"))  # headers only: not one byte of the body

    assert status_and_code(raw.answer()) == (413, "form_too_large")


@pytest.mark.parametrize("path", PATHS)
def test_a_declared_length_above_the_cap_with_the_start_of_a_body(raw: RawClient, path: str) -> None:
    raw.send(head(path, f"Content-Length: {DECLARED}") + b"id_token=" + b"a" * 4000)

    answer = raw.answer()

    assert status_and_code(answer) == (413, "form_too_large")
    assert f"at most {MAX_FORM_BYTES}".encode() in answer


@pytest.mark.parametrize("path", PATHS)
def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(raw: RawClient, path: str) -> None:
    raw.send(head(path, "Transfer-Encoding: chunked"))
    chunk = b"a" * 8192
    sent = 0
    while sent < DECLARED:  # never reached: the answer comes first
        raw.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        sent += len(chunk)
        if select.select([raw.sock], [], [], 0.01)[0]:
            break

    assert status_and_code(raw.answer()) == (413, "form_too_large")
    # The gateway read the cap's worth and a little buffering beyond, then answered; the rest never went out.
    assert MAX_FORM_BYTES < sent < MAX_FORM_BYTES + 512 * 1024


@pytest.mark.parametrize("path", PATHS)
def test_a_body_one_byte_over_the_cap(raw: RawClient, path: str) -> None:
    body = b"state=" + b"s" * (MAX_FORM_BYTES + 1 - len(b"state="))
    raw.send(head(path, f"Content-Length: {len(body)}") + body)

    assert status_and_code(raw.answer()) == (413, "form_too_large")


@pytest.mark.parametrize("path", PATHS)
def test_a_body_at_the_cap_is_read(raw: RawClient, path: str) -> None:
    body = b"state=" + b"s" * (MAX_FORM_BYTES - len(b"state="))
    raw.send(head(path, f"Content-Length: {len(body)}") + body)

    status, code = status_and_code(raw.answer())

    assert 400 <= status < 500 and status != 413 and code


@pytest.mark.parametrize("length", ["-1", "1e9", "0x10", "5, 6", "99999999999999999999999"])
def test_a_malformed_content_length_is_refused(raw: RawClient, length: str) -> None:
    raw.send(head("/lti/launch", f"Content-Length: {length}"))

    status, _ = status_and_code(raw.answer())

    assert 400 <= status < 500  # by the HTTP server itself, or by the form reader as oversize


@pytest.mark.parametrize("path", PATHS)
def test_a_client_that_leaves_mid_body_is_not_an_unexpected_error(
    raw: RawClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw.send(head(path, "Content-Length: 5000") + b"state=abc")
    time.sleep(0.1)
    raw.close()
    time.sleep(0.3)

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
