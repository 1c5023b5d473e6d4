"""Key set freshness from `Cache-Control` (Security Framework §6.3; lti-reference §10)."""

from __future__ import annotations

import pytest

from ltigate.lti.jwks import CachePolicy, fresh_for

POLICY = CachePolicy(min_ttl=60.0, default_ttl=600.0, max_ttl=86400.0, refetch_cooldown=30.0)


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("max-age=300", 300.0),
        ("public, max-age=3600", 3600.0),
        ("private,max-age=120,must-revalidate", 120.0),
        ("MAX-AGE=900", 900.0),
        ('max-age="240"', 240.0),
        ("max-age = 180", 180.0),
    ],
)
def test_max_age_within_bounds(cache_control, seconds):
    assert fresh_for(cache_control, POLICY) == seconds


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("max-age=0", 60.0),
        ("max-age=59", 60.0),
        ("max-age=60", 60.0),
        ("max-age=86400", 86400.0),
        ("max-age=86401", 86400.0),
        ("max-age=9999999999", 86400.0),
    ],
)
def test_max_age_is_clamped(cache_control, seconds):
    assert fresh_for(cache_control, POLICY) == seconds


@pytest.mark.parametrize(
    "cache_control", ["no-store", "no-cache", "private, no-store", "no-cache, max-age=3600", "max-age=3600, no-store"]
)
def test_no_store_gives_the_minimum(cache_control):
    assert fresh_for(cache_control, POLICY) == 60.0


@pytest.mark.parametrize("cache_control", [None, "", "public", "must-revalidate", "max-age=abc", "max-age=-5"])
def test_missing_or_unreadable_max_age_gives_the_default(cache_control):
    assert fresh_for(cache_control, POLICY) == 600.0


def test_max_age_name_must_stand_alone():
    # `x-max-age` is another directive, not max-age.
    assert fresh_for("x-max-age=5", POLICY) == 600.0


def test_policy_bounds_are_honoured():
    tight = CachePolicy(min_ttl=10.0, default_ttl=20.0, max_ttl=30.0)

    assert (fresh_for(None, tight), fresh_for("max-age=1", tight), fresh_for("max-age=99", tight)) == (20.0, 10.0, 30.0)
    assert fresh_for("no-store", tight) == 10.0


def test_default_policy():
    policy = CachePolicy()

    assert (policy.min_ttl, policy.default_ttl, policy.max_ttl, policy.refetch_cooldown) == (60.0, 600.0, 86400.0, 30.0)
