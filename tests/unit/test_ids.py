"""Time-ordered record ids (services/ids.py)."""

from __future__ import annotations

import re
import time
import uuid

from ltigate.services.ids import new_id


def test_ids_are_uuid_version_7_in_32_hex_digits() -> None:
    value = new_id()
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    parsed = uuid.UUID(value)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    milliseconds = int(value[:12], 16)
    assert abs(milliseconds - time.time() * 1000) < 5_000


def test_ids_sort_by_creation_time_and_do_not_repeat() -> None:
    earlier = [new_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_id()
    assert all(later > value for value in earlier)
    many = [new_id() for _ in range(50_000)]
    assert len(set(many)) == len(many)
    assert len({value[16:] for value in many}) == len(many)  # the random part differs too
