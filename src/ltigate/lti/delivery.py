"""What one attempt to deliver a score means: delivered, retry later, or give up (AGS §3.4 status codes,
RFC 9110 §10.2.3 Retry-After; lti-reference §4.4). The worker supplies the clock and the jitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Final, Literal

TRANSPORT_ERRORS: Final = ("timeout", "unreachable", "refused", "too_large")
MIN_RETRY_AFTER: Final = 1.0
_MAX_EXPONENT: Final = 62  # 2**62 times any sane base delay is far past max_delay; keeps floats finite

# Statuses that may succeed unchanged later. 401 reaches the classifier only after the caller renewed the
# token once; a second 401 is most often a platform-side hiccup with key caching, so it is retried too.
_TRANSIENT: Final = frozenset({401, 408, 429})
_HONOURS_RETRY_AFTER: Final = frozenset({429, 503})
_PERMANENT_MEANING: Final = {
    400: "the platform refused the score as malformed or stale",
    403: "the token lacks the score scope or the platform forbids it",
    404: "the line item does not exist",
    405: "the platform does not accept scores at this URL",
    406: "the platform refused the media type",
    409: "the score conflicts with the platform's state",
    410: "the line item is gone",
    412: "a precondition failed",
    413: "the score is too large",
    415: "the platform refused the content type",
    422: "the platform could not process the score",
}

Kind = Literal["delivered", "retry", "give_up"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: base_delay·2^(attempts−1) capped at max_delay, until the job is max_age old."""

    base_delay: float = 5.0
    max_delay: float = 3600.0
    max_age: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.base_delay <= self.max_delay or not self.max_age > 0:
            raise ValueError(f"the retry policy {self} needs 0 < base_delay ≤ max_delay and max_age > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One delivery attempt: the HTTP status (None: no answer) or the transport error, and the job's history.

    `attempts` counts this one; `age` is seconds since the job was created; `jitter` is in [0, 1).
    """

    status: int | None
    transport_error: str | None = None
    retry_after: str | None = None
    attempts: int
    age: float
    now: float
    jitter: float
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Kind
    retry_at: float | None = None
    reason: str | None = None


def classify(attempt: Attempt) -> Decision:
    """Decide what `attempt` means; never raises.

    2xx is delivered. 401, 408, 429, 5xx and transport errors other than `refused` are retried with
    backoff (429 and 503 wait at least their Retry-After, clamped to 1 s..max_delay) until the job is
    max_age old. Other statuses, and `refused` (the destination is not allowed), give up.
    """
    status = attempt.status
    if status is not None and 200 <= status < 300:
        return Decision("delivered")
    what = _describe(attempt)
    if not _transient(attempt):
        return Decision("give_up", reason=f"{what}; giving up{_meaning(status)}")
    policy = attempt.policy
    if attempt.age >= policy.max_age:
        count = f"{attempt.attempts} attempt{'s' if attempt.attempts != 1 else ''}"
        hours = round(attempt.age / 3600, 1)
        return Decision("give_up", reason=f"gave up after {count} over {hours:g} hours; {what}")
    delay, source = _backoff(attempt), ""
    asked = parse_retry_after(attempt.retry_after, attempt.now) if status in _HONOURS_RETRY_AFTER else None
    if asked is not None and min(max(asked, MIN_RETRY_AFTER), policy.max_delay) > delay:
        delay, source = min(max(asked, MIN_RETRY_AFTER), policy.max_delay), " as its Retry-After asks"
    return Decision("retry", retry_at=attempt.now + delay, reason=f"{what}; retrying in {delay:.0f} s{source}")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).

    A date in the past gives 0; an unreadable value gives None. Never raises.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)  # float() of a long digit string is inf, never an error
    try:
        when = parsedate_to_datetime(text)
        # A `-0000` zone gives a naive datetime; HTTP-dates are GMT, and local time must never be consulted.
        seconds = (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    return max(0.0, seconds - now)


def _transient(attempt: Attempt) -> bool:
    if attempt.status is None:
        return attempt.transport_error != "refused"
    return attempt.status in _TRANSIENT or 500 <= attempt.status < 600


def _backoff(attempt: Attempt) -> float:
    policy = attempt.policy
    exponent = min(max(attempt.attempts, 1) - 1, _MAX_EXPONENT)
    delay = min(policy.base_delay * 2.0**exponent, policy.max_delay)
    jitter = attempt.jitter if math.isfinite(attempt.jitter) else 0.5
    return delay * (0.5 + min(max(jitter, 0.0), 1.0) / 2)


def _describe(attempt: Attempt) -> str:
    if attempt.status is not None:
        return f"the platform answered {attempt.status}"
    if attempt.transport_error == "refused":
        return "ltigate refused to send to this destination (refused)"
    return f"no answer from the platform ({attempt.transport_error or 'unknown transport error'})"


def _meaning(status: int | None) -> str:
    if status is None:
        return ""
    if 300 <= status < 400:
        return ": redirects are not followed; the service URL may have moved"
    meaning = _PERMANENT_MEANING.get(status)
    return f": {meaning}" if meaning else ""
