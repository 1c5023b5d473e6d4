"""Record ids that grow with time, for the rows written on every launch and score.

A random id (uuid4) lands anywhere in its table's primary-key index, so every insert into a large launch
log or learner table dirties another index page (another page written back to SQLite's WAL and file,
another page in PostgreSQL's buffers and WAL). These ids keep the UUID version 7 layout (RFC 9562): 48 bits
of milliseconds since the epoch, then 74 random bits, 32 hex digits as uuid4().hex gives; inserts go to
the right edge of the index. They are as unguessable as ids need to be here (74 random bits; nothing is
authorised by knowing an id) and reveal their creation time, which the rows store anyway.
"""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A new time-ordered id: 32 lowercase hex digits, sorting (as text) by creation millisecond."""
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    value = (time.time_ns() // 1_000_000) << 80  # 48-bit timestamp
    value |= 0x7 << 76  # version 7
    value |= ((random >> 68) & 0xFFF) << 64  # rand_a: 12 bits
    value |= 0b10 << 62  # RFC 9562 variant
    value |= random & ((1 << 62) - 1)  # rand_b: 62 bits
    return f"{value:032x}"
