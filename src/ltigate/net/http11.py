"""HTTP/1.1 for one client connection, without I/O (RFC 9112): request bytes out, a response parsed from
bytes fed in pieces. Strict where leniency could mislead framing; every limit is a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

MAX_HEAD_BYTES: Final = 64 * 1024
MAX_HEADERS: Final = 128
_MAX_CHUNK_LINE: Final = 1024
_MAX_LENGTH_DIGITS: Final = 18

_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE: Final = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_STATUS_LINE: Final = re.compile(rb"HTTP/1\.([01]) ([1-5][0-9][0-9])(?: ([\t\x20-\x7e\x80-\xff]*))?")
_HEX: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
_TARGET: Final = re.compile(r"/[\x21-\x7e]*")
_METHOD: Final = re.compile(r"[A-Z]+")
_NO_BODY_STATUSES: Final = (204, 304)


class ProtocolViolation(Exception):
    """The server broke HTTP/1.1; `reason` quotes what it sent (shortened) and what was expected."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ClosedBeforeResponse(ProtocolViolation):
    """The connection ended before a single byte of the response arrived (a keep-alive connection the
    server had closed, or a server that dropped the request)."""

    def __init__(self) -> None:
        super().__init__("the server closed the connection without answering")


class BodyTooLarge(Exception):
    """The body is over the cap: declared so by Content-Length (`declared`) or found so while reading."""

    def __init__(self, cap: int, declared: int | None = None) -> None:
        self.cap, self.declared = cap, declared
        if declared is not None:
            reason = f"the body declares {declared} bytes, over the {cap} byte cap"
        else:
            reason = f"the body exceeds the {cap} byte cap"
        super().__init__(reason)
        self.reason = reason


class InvalidRequest(ValueError):
    """We were asked to send something HTTP/1.1 cannot carry safely (a line break in a header value)."""


def encode_request(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes | None = None) -> bytes:
    """The request head and body. `headers` must include Host; Content-Length is added here (when there
    is a body, or the method carries one) and must not be given. Raises InvalidRequest for a bad method,
    target, header name or value (values are not quoted: they may be credentials)."""
    if not _METHOD.fullmatch(method):
        raise InvalidRequest(f"the method {method[:20]!r} is not an HTTP method token")
    if not _TARGET.fullmatch(target):
        raise InvalidRequest("the request target holds spaces or control characters")
    lines = [f"{method} {target} HTTP/1.1".encode("ascii")]
    for name, value in headers:
        raw_name, raw_value = name.encode("latin-1", "replace"), value.encode("utf-8")
        if not _TOKEN.fullmatch(raw_name):
            raise InvalidRequest(f"the header name {name[:40]!r} is not a token")
        if not _FIELD_VALUE.fullmatch(raw_value):
            raise InvalidRequest(f"the value of the header {name!r} holds a line break or control character")
        lines.append(raw_name + b": " + raw_value.strip(b" \t"))
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d" % len(body or b""))
    lines.append(b"\r\n")
    head = b"\r\n".join(lines)
    return head + body if body else head


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status and headers; names lowercase, repeated fields joined with ', ' (RFC 9110 §5.3)."""

    status: int
    reason: str
    headers: dict[str, str]
    http_minor: int


# Parser states.
_HEAD, _FIXED, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """Parses the response to one request of `method`.

    Feed bytes as they come (`feed`), then `feed_eof` if the peer closes. `done` turns True once the
    response is complete; `head`, `body` and `reusable` (keep-alive may carry the next request) are then
    final. Interim 1xx responses are skipped. The body is framed by Content-Length or chunked coding, or
    runs to the close; HEAD answers and 204/304 have none. A body over `max_body_bytes` raises
    BodyTooLarge as soon as Content-Length or the bytes read show it, except that a non-2xx answer's body
    is cut at `error_body_bytes` when that is set (the answer then completes, `truncated`, not reusable).
    Everything else malformed raises ProtocolViolation; after any error the parser is unusable.
    """

    def __init__(
        self,
        method: str,
        *,
        max_body_bytes: int,
        error_body_bytes: int | None = None,
        max_head_bytes: int = MAX_HEAD_BYTES,
        max_headers: int = MAX_HEADERS,
    ) -> None:
        self._no_body = method == "HEAD"
        self._max_body, self._error_body = max_body_bytes, error_body_bytes
        self._max_head, self._max_headers = max_head_bytes, max_headers
        self._buffer = b""
        self._scanned = 0  # bytes of _buffer already searched for the end of the head
        self._state = _HEAD
        self._remaining = 0  # bytes left in the fixed-length body or the current chunk
        self._cap = max_body_bytes
        self._cut = False  # a non-2xx body cut at error_body_bytes instead of refused
        self._parts: list[bytes] = []
        self._size = 0
        self._trailer_bytes = 0
        self._trailers = 0
        self.started = False
        self.head: ResponseHead | None = None
        self.reusable = False
        self.truncated = False

    @property
    def done(self) -> bool:
        return self._state == _DONE

    @property
    def body(self) -> bytes:
        return b"".join(self._parts)

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.started = True
        if self._state == _DONE:
            self.reusable = False  # bytes nobody asked for: the connection's framing is in doubt
            return
        self._buffer = self._buffer + data if self._buffer else data
        self._advance()

    def feed_eof(self) -> None:
        """The peer closed its side. Completes a body that runs to the close; anything else unfinished is
        a violation (ClosedBeforeResponse when nothing at all had arrived)."""
        self.reusable = False
        if self._state == _DONE:
            return
        if self._state == _UNTIL_CLOSE:
            self._state = _DONE
            return
        if not self.started:
            raise ClosedBeforeResponse()
        where = "in the response head" if self._state == _HEAD else "in the middle of the body"
        raise ProtocolViolation(f"the server closed the connection {where}")

    def _advance(self) -> None:
        while self._buffer and self._state != _DONE:
            state = self._state
            if state == _HEAD:
                if not self._read_head():
                    return
            elif state in (_FIXED, _CHUNK_DATA):
                self._take_body()
            elif state == _UNTIL_CLOSE:
                self._append(self._buffer)
                self._buffer = b""
            elif state == _CHUNK_SIZE:
                if not self._read_chunk_size():
                    return
            elif state == _CHUNK_END:
                if len(self._buffer) < 2:
                    return
                if self._buffer[:2] != b"\r\n":
                    raise ProtocolViolation(f"chunk data runs past its size (found {_show(self._buffer[:10])})")
                self._buffer = self._buffer[2:]
                self._state = _CHUNK_SIZE
            elif not self._read_trailer_line():
                return
        if self._state == _DONE and self._buffer:
            self.reusable = False

    # --- head ---------------------------------------------------------------------------------------

    def _read_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(self._buffer)
            if self._scanned > self._max_head:
                raise ProtocolViolation(f"the response head exceeds {self._max_head} bytes")
            return False
        if end + 4 > self._max_head:
            raise ProtocolViolation(f"the response head exceeds {self._max_head} bytes")
        raw, self._buffer, self._scanned = self._buffer[:end], self._buffer[end + 4 :], 0
        head = _parse_head(raw, self._max_headers)
        if head.status < 200:
            if head.status == 101:
                raise ProtocolViolation("the server switched protocols (101) unasked")
            return True  # interim answer (100 Continue, 103 Early Hints): the real one follows
        self.head = head
        self._frame(head)
        return True

    def _frame(self, head: ResponseHead) -> None:
        headers = head.headers
        keep_alive = head.http_minor == 1 and "close" not in _tokens(headers.get("connection", ""))
        if not 200 <= head.status < 300 and self._error_body is not None:
            self._cap, self._cut = self._error_body, True
        if self._no_body or head.status in _NO_BODY_STATUSES:
            self._finish(keep_alive)
            return
        coding = headers.get("transfer-encoding")
        if coding is not None:
            codings = _tokens(coding)
            if codings != ["chunked"]:
                raise ProtocolViolation(f"unsupported transfer coding {_shorten(coding)!r} (only chunked is)")
            # With both, chunked wins and the connection may not be reused (RFC 9112 §6.3).
            self.reusable = keep_alive and "content-length" not in headers
            self._state = _CHUNK_SIZE
            return
        declared = headers.get("content-length")
        if declared is None:
            self._state = _UNTIL_CLOSE  # the close ends the body, so the connection ends with it
            return
        length = _content_length(declared)
        if length > self._cap:
            if not self._cut:
                raise BodyTooLarge(self._cap, length)
            length, keep_alive = self._cap, False  # an error body, kept short: read the start, then close
            self.truncated = True
        self.reusable = keep_alive
        if length == 0:
            self._state = _DONE
        else:
            self._remaining, self._state = length, _FIXED

    def _finish(self, keep_alive: bool) -> None:
        self.reusable = keep_alive
        self._state = _DONE

    # --- body ---------------------------------------------------------------------------------------

    def _take_body(self) -> None:
        take = self._buffer[: self._remaining]
        self._buffer = self._buffer[len(take) :]
        self._remaining -= len(take)
        self._append(take)
        if self._remaining == 0 and self._state != _DONE:
            self._state = _DONE if self._state == _FIXED else _CHUNK_END

    def _append(self, data: bytes) -> None:
        size = self._size + len(data)
        if size > self._cap:
            if not self._cut:
                raise BodyTooLarge(self._cap)
            data = data[: self._cap - self._size]
            size = self._cap
            self.truncated, self.reusable = True, False
            self._buffer, self._state = b"", _DONE
        self._parts.append(data)
        self._size = size

    def _read_chunk_size(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_CHUNK_LINE:
                raise ProtocolViolation(f"a chunk size line is longer than {_MAX_CHUNK_LINE} bytes")
            return False
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        size_text = line.split(b";", 1)[0].rstrip(b" \t")
        if not _HEX.fullmatch(size_text):
            raise ProtocolViolation(f"malformed chunk size {_show(line)}")
        size = int(size_text, 16)
        if size == 0:
            self._state = _TRAILER
        else:
            self._remaining, self._state = size, _CHUNK_DATA
        return True

    def _read_trailer_line(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) + self._trailer_bytes > self._max_head:
                raise ProtocolViolation(f"the trailer section exceeds {self._max_head} bytes")
            return False
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        if not line:
            self._state = _DONE
            return True
        self._trailers += 1
        self._trailer_bytes += end + 2
        if self._trailers > self._max_headers or self._trailer_bytes > self._max_head:
            raise ProtocolViolation("the trailer section is over the header limits")
        _parse_field(line)  # checked like a header, then dropped: trailers carry nothing we use
        return True


def _parse_head(raw: bytes, max_headers: int) -> ResponseHead:
    lines = raw.split(b"\r\n")
    status_line = _STATUS_LINE.fullmatch(lines[0])
    if status_line is None:
        raise ProtocolViolation(f"malformed status line {_show(lines[0])} (expected 'HTTP/1.1 <3 digits> <reason>')")
    if len(lines) - 1 > max_headers:
        raise ProtocolViolation(f"the response has {len(lines) - 1} header fields, over the limit of {max_headers}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, value = _parse_field(line)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return ResponseHead(
        status=int(status_line[2]),
        reason=(status_line[3] or b"").decode("latin-1"),
        headers=headers,
        http_minor=int(status_line[1]),
    )


def _parse_field(line: bytes) -> tuple[str, str]:
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        if line[:1] in (b" ", b"\t"):
            raise ProtocolViolation(f"folded header line {_show(line)} (obsolete line folding is refused)")
        raise ProtocolViolation(f"malformed header line {_show(line)} (expected 'name: value')")
    value = value.strip(b" \t")
    if not _FIELD_VALUE.fullmatch(value):
        raise ProtocolViolation(f"the header {_show(name)} holds control characters")
    return name.decode("ascii").lower(), value.decode("latin-1")


def _content_length(declared: str) -> int:
    values = {value.strip() for value in declared.split(",")}
    if len(values) != 1:
        raise ProtocolViolation(f"conflicting Content-Length values {_shorten(declared)!r}")
    value = values.pop()
    if not value.isdigit() or not value.isascii() or len(value) > _MAX_LENGTH_DIGITS:
        raise ProtocolViolation(f"malformed Content-Length {_shorten(value)!r}")
    return int(value)


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(data: bytes) -> str:
    """Untrusted bytes for a message: the start, as a Python bytes literal (control characters visible)."""
    return repr(data[:60]) + ("…" if len(data) > 60 else "")
