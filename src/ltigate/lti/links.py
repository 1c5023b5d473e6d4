"""Web links of service endpoints: the RFC 8288 `Link` header that pages AGS and NRPS containers
(AGS §3.2.2, NRPS §2.4.2; lti-reference §4.4, §5), and query parameters appended to a service URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

MAX_HEADER_CHARS: Final = 64 * 1024
_SEPARATORS: Final = ";,"
_VALUE_ENDS: Final = ";,< \t"  # an unquoted parameter value is an RFC 9110 token


def parse_links(header: str | None, *, base: str | None = None) -> dict[str, str]:
    """Map each relation type to its target URL, from one `Link` header value (RFC 8288 §3).

    Links are comma-separated; commas inside `<...>` belong to the URL. The `rel` value may be quoted or
    a token and may name several relations (`rel="next last"`). Relation types are compared in lower
    case; URLs are returned verbatim (resolved against `base` when one is given). The first link with a
    relation wins, and only the first `rel` of a link counts (RFC 8288 §3.3). Malformed parts are
    skipped; this function never raises.
    """
    if not header:
        return {}
    text = header[:MAX_HEADER_CHARS]
    found: dict[str, str] = {}
    position = 0
    while position < len(text):
        start = text.find("<", position)
        if start < 0:
            break
        end = text.find(">", start + 1)
        if end < 0:
            break
        start = text.rfind("<", start, end)  # `<` cannot occur in a URI: `<<a>` holds the target `a`
        target = text[start + 1 : end].strip()
        rel, position = _read_params(text, end + 1)
        url = _resolve(target, base)
        if url and rel:
            for relation in rel.lower().split():
                found.setdefault(relation, url)
    return found


def parse_link_headers(headers: Mapping[str, str], *, base: str | None = None) -> dict[str, str]:
    """`parse_links` over every `Link` field of `headers`, whatever the case of its name."""
    values = [value for name, value in headers.items() if name.lower() == "link"]
    return parse_links(", ".join(values), base=base)


def append_query(url: str, params: Sequence[tuple[str, str]]) -> str:
    """`url` with `params` appended to its query, keeping the parameters already there (values percent-encoded)."""
    if not params:
        return url
    parts = urlsplit(url)
    added = urlencode(list(params), quote_via=quote)
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


def _resolve(target: str, base: str | None) -> str | None:
    if not target or not base:
        return target or None
    try:
        return urljoin(base, target)
    except ValueError:  # e.g. a broken IPv6 literal
        return None


def _read_params(text: str, position: int) -> tuple[str | None, int]:
    """Read `; name=value` pairs after a link's `>`; return the first `rel` value and where the next link starts."""
    rel: str | None = None
    length = len(text)
    while position < length:
        char = text[position]
        if char == ",":
            return rel, position + 1
        if char != ";":
            position += 1  # stray text between parameters: skip it
            continue
        name_end = position + 1
        while name_end < length and text[name_end] not in "=" + _SEPARATORS:
            name_end += 1
        name = text[position + 1 : name_end].strip().lower()
        value: str | None = None
        position = name_end
        if position < length and text[position] == "=":
            value, position = _read_value(text, position + 1)
        if name == "rel" and rel is None and value is not None:
            rel = value
    return rel, position


def _read_value(text: str, position: int) -> tuple[str, int]:
    length = len(text)
    while position < length and text[position] in " \t":
        position += 1
    if position < length and text[position] == '"':
        chars: list[str] = []
        position += 1
        while position < length and text[position] != '"':
            if text[position] == "\\" and position + 1 < length:
                position += 1
            chars.append(text[position])
            position += 1
        return "".join(chars), position + 1
    end = position
    while end < length and text[end] not in _VALUE_ENDS:
        end += 1
    return text[position:end], end
