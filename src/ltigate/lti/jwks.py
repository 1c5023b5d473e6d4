"""Key set caching policy (Security Framework §6.3; lti-reference §10): how long a fetched platform
key set stays fresh, from its `Cache-Control` header, clamped to bounds chosen by the operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_MAX_AGE: Final = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)
_NO_STORE: Final = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Bounds for key set freshness and the pause between refetches on an unknown `kid`."""

    min_ttl: float = 60.0
    default_ttl: float = 600.0
    max_ttl: float = 86400.0
    refetch_cooldown: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_ttl <= self.default_ttl <= self.max_ttl or self.refetch_cooldown < 0:
            raise ValueError("CachePolicy needs 0 <= min_ttl <= default_ttl <= max_ttl and refetch_cooldown >= 0")


def fresh_for(cache_control: str | None, policy: CachePolicy) -> float:
    """Seconds a key set stays fresh: `max-age` clamped to the policy bounds, the default without one.

    `no-store`/`no-cache` give the minimum: keys are still cached briefly, because refetching a key set
    on every launch would let a slow platform stall every launch.
    """
    if not cache_control:
        return policy.default_ttl
    if _NO_STORE.search(cache_control):
        return policy.min_ttl
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return policy.default_ttl
    return min(max(float(match.group(1)), policy.min_ttl), policy.max_ttl)
