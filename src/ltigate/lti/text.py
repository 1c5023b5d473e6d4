"""Text every store can keep (RFC 8259 §7, RFC 3629): JSON escapes can carry U+0000, which PostgreSQL text
refuses, and lone surrogates, which UTF-8 cannot encode. No LTI value needs either, so untrusted JSON holding
them is refused where it arrives instead of failing later in a log, a page or a database.
"""

from __future__ import annotations

import re
from typing import Final

# The JSON escapes of NUL and of surrogates: only JSON holding one can parse to text that is not storable.
_SUSPECT_ESCAPE: Final = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def may_hold_unstorable_text(raw: bytes) -> bool:
    """Cheap first look at raw JSON: False means every string it parses to is storable."""
    return b"\x00" in raw or _SUSPECT_ESCAPE.search(raw) is not None


def storable(value: object) -> bool:
    """No string in `value` (a parsed JSON value: keys, items, members at any depth) holds U+0000 or a lone
    surrogate. Iterative, so a value nested as deep as the JSON parser allowed cannot exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not storable_text(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
