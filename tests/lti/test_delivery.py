"""The score delivery classifier: delivered, retry with backoff and Retry-After, or give up
(lti-reference §4.4; RFC 9110 §10.2.3)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltigate.lti.delivery import Attempt, Decision, RetryPolicy, classify, parse_retry_after

NOW = 1_700_000_000.0
DAY = 86_400.0


def attempt(status: int | None, **fields: object) -> Attempt:
    values: dict[str, object] = {"attempts": 1, "age": 0.0, "now": NOW, "jitter": 0.0}
    return Attempt(status=status, **{**values, **fields})


def http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_success_is_delivered(status):
    assert classify(attempt(status)) == Decision("delivered")


def test_success_counts_even_when_the_job_is_old():
    assert classify(attempt(200, age=30 * DAY, attempts=500)).kind == "delivered"


@pytest.mark.parametrize("status", [401, 408, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_retry(status):
    decision = classify(attempt(status))
    assert decision.kind == "retry"
    assert decision.retry_at == NOW + 2.5  # base 5 s × (0.5 + 0/2)
    assert decision.reason == f"the platform answered {status}; retrying in 2 s"


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (400, "the platform refused the score as malformed or stale"),
        (403, "the token lacks the score scope"),
        (404, "the line item does not exist"),
        (409, "conflicts"),
        (422, "the platform could not process the score"),
        (418, None),
        (451, None),
    ],
)
def test_other_client_errors_give_up(status, meaning):
    decision = classify(attempt(status))
    assert decision.kind == "give_up"
    assert decision.retry_at is None
    assert decision.reason is not None
    assert decision.reason.startswith(f"the platform answered {status}; giving up")
    if meaning:
        assert meaning in decision.reason


@pytest.mark.parametrize("status", [100, 301, 302, 307, 308])
def test_informational_and_redirect_statuses_give_up(status):
    decision = classify(attempt(status))
    assert decision.kind == "give_up"
    if status >= 300:
        assert "redirects are not followed" in (decision.reason or "")


@pytest.mark.parametrize("error", ["timeout", "unreachable", "too_large", "something_new", None])
def test_transport_errors_retry(error):
    decision = classify(attempt(None, transport_error=error))
    assert decision.kind == "retry"
    assert f"no answer from the platform ({error or 'unknown transport error'}); retrying" in (decision.reason or "")


def test_refused_destination_gives_up():
    decision = classify(attempt(None, transport_error="refused"))
    assert decision == Decision("give_up", reason="ltigate refused to send to this destination (refused); giving up")


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (8, 640), (10, 2560), (11, 3600), (12, 3600), (500, 3600), (10**9, 3600)],
)
def test_backoff_doubles_up_to_the_cap(attempts, delay):
    lowest = classify(attempt(503, attempts=attempts, jitter=0.0))
    highest = classify(attempt(503, attempts=attempts, jitter=0.999_999))
    assert lowest.retry_at == NOW + delay / 2
    assert highest.retry_at == pytest.approx(NOW + delay, rel=1e-6)


def test_jitter_spreads_within_half_to_full_delay():
    times = [classify(attempt(500, attempts=3, jitter=j)).retry_at for j in (0.0, 0.25, 0.5, 0.75)]
    assert times == [NOW + 10, NOW + 12.5, NOW + 15, NOW + 17.5]


@pytest.mark.parametrize("jitter", [-1.0, 7.0, math.nan, math.inf])
def test_out_of_range_jitter_is_tolerated(jitter):
    decision = classify(attempt(500, attempts=2, jitter=jitter))
    assert NOW + 5 <= (decision.retry_at or 0) <= NOW + 10


def test_custom_policy():
    policy = RetryPolicy(base_delay=1, max_delay=8, max_age=60)
    assert classify(attempt(500, attempts=1, policy=policy)).retry_at == NOW + 0.5
    assert classify(attempt(500, attempts=9, policy=policy)).retry_at == NOW + 4
    assert classify(attempt(500, age=60, attempts=9, policy=policy)).kind == "give_up"


@pytest.mark.parametrize(
    "fields", [{"base_delay": 0}, {"base_delay": -1}, {"base_delay": 10, "max_delay": 5}, {"max_age": 0}]
)
def test_policy_refuses_nonsense(fields):
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(**fields)


# --- Retry-After -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured_when_longer(status):
    decision = classify(attempt(status, retry_after="120"))
    assert decision.retry_at == NOW + 120
    assert decision.reason == f"the platform answered {status}; retrying in 120 s as its Retry-After asks"


def test_retry_after_shorter_than_backoff_is_ignored():
    decision = classify(attempt(503, attempts=6, retry_after="3"))  # backoff 160 s × 0.5
    assert decision.retry_at == NOW + 80
    assert "Retry-After" not in (decision.reason or "")


def test_retry_after_http_date():
    decision = classify(attempt(429, retry_after=http_date(NOW + 900)))
    assert decision.retry_at == NOW + 900


@pytest.mark.parametrize(("value", "delay"), [("999999", 3600), ("9" * 400, 3600), ("0", 2.5), ("1", 2.5)])
def test_retry_after_is_clamped(value, delay):
    assert classify(attempt(503, retry_after=value)).retry_at == NOW + delay


def test_retry_after_at_least_one_second():
    policy = RetryPolicy(base_delay=0.1)
    assert classify(attempt(429, retry_after="0", policy=policy)).retry_at == NOW + 1
    assert classify(attempt(429, retry_after=http_date(NOW - 60), policy=policy)).retry_at == NOW + 1


@pytest.mark.parametrize("status", [500, 502, 504, 408, 401])
def test_retry_after_only_counts_for_429_and_503(status):
    assert classify(attempt(status, retry_after="600")).retry_at == NOW + 2.5


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("١٢", None),  # non-ASCII digits are not delay-seconds
        ("120", 120.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        (http_date(NOW + 3600), 3600.0),
        (http_date(NOW - 3600), 0.0),
        ("Tue, 14 Nov 2023 22:13:20 GMT", 0.0),
        ("Tue, 14 Nov 2023 23:13:20 -0000", 3600.0),  # a naive zone is GMT, never local time
        ("Tue, 14 Nov 2023 23:13:20 +0100", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799.0 - NOW),
        ("Mon, 99 Foo 2023 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_parse_retry_after_huge_number():
    assert parse_retry_after("9" * 5000, NOW) == math.inf


# --- age -------------------------------------------------------------------------------------


def test_gives_up_after_max_age():
    decision = classify(attempt(503, attempts=180, age=7 * DAY))
    assert decision == Decision(
        "give_up", reason="gave up after 180 attempts over 168 hours; the platform answered 503"
    )


def test_keeps_retrying_just_before_max_age():
    assert classify(attempt(503, attempts=180, age=7 * DAY - 1)).kind == "retry"


def test_max_age_message_for_transport_errors():
    decision = classify(attempt(None, transport_error="timeout", attempts=1, age=7.5 * DAY))
    assert decision.reason == "gave up after 1 attempt over 180 hours; no answer from the platform (timeout)"


def test_permanent_errors_give_up_whatever_the_age():
    assert classify(attempt(404, age=30 * DAY)).reason == (
        "the platform answered 404; giving up: the line item does not exist"
    )


# --- properties ------------------------------------------------------------------------------

retry_after = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.floats(min_value=0, max_value=4e9).map(http_date),
)


@settings(max_examples=400, deadline=None)
@given(
    status=st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
    transport_error=st.one_of(st.none(), st.sampled_from(["timeout", "unreachable", "refused", "too_large"])),
    header=retry_after,
    attempts=st.integers(min_value=1, max_value=10**6),
    age=st.floats(min_value=0, max_value=60 * DAY),
    now=st.floats(min_value=0, max_value=4e9),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_classifier_is_total_and_never_schedules_the_past(status, transport_error, header, attempts, age, now, jitter):
    decision = classify(
        Attempt(
            status=status,
            transport_error=transport_error,
            retry_after=header,
            attempts=attempts,
            age=age,
            now=now,
            jitter=jitter,
        )
    )
    assert decision.kind in ("delivered", "retry", "give_up")
    if decision.kind == "retry":
        assert decision.retry_at is not None
        assert now + 1 <= decision.retry_at <= now + 3600
        assert age < 7 * DAY
    else:
        assert decision.retry_at is None
    if decision.kind != "delivered":
        assert decision.reason
    if status is not None and 200 <= status < 300:
        assert decision.kind == "delivered"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0, max_value=1, exclude_max=True))
def test_backoff_never_shrinks(attempts, jitter):
    earlier = classify(attempt(502, attempts=attempts, jitter=jitter)).retry_at
    later = classify(attempt(502, attempts=attempts + 1, jitter=jitter)).retry_at
    assert earlier is not None and later is not None
    assert later >= earlier


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.floats(min_value=-1e10, max_value=1e10))
def test_parse_retry_after_never_raises(value, now):
    seconds = parse_retry_after(value, now)
    assert seconds is None or seconds >= 0
