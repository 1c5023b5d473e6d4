"""The delivery settings: retry base delay, retry maximum age, outbox lease (LTIGATE_* variables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltigate.config import SettingsError, load_settings


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"LTIGATE_DATA_DIR": str(tmp_path), **{f"LTIGATE_{k}": v for k, v in values.items()}}


def test_defaults_retry_from_5_s_for_a_week_with_a_two_minute_lease(tmp_path: Path) -> None:
    settings = load_settings(env=env(tmp_path))
    assert settings.retry_base_seconds == 5.0
    assert settings.retry_max_age_seconds == 7 * 24 * 3600.0
    assert settings.outbox_lease_seconds == 120.0


def test_fractions_are_accepted(tmp_path: Path) -> None:
    settings = load_settings(
        env=env(tmp_path, RETRY_BASE_SECONDS="0.25", RETRY_MAX_AGE_SECONDS="90.5", OUTBOX_LEASE_SECONDS="2.5")
    )
    assert (settings.retry_base_seconds, settings.retry_max_age_seconds, settings.outbox_lease_seconds) == (
        0.25,
        90.5,
        2.5,
    )


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"RETRY_BASE_SECONDS": "soon"}, "LTIGATE_RETRY_BASE_SECONDS: 'soon' is not a number"),
        ({"RETRY_BASE_SECONDS": "0"}, "LTIGATE_RETRY_BASE_SECONDS: 0 must be between 0.1 and 3600"),
        ({"RETRY_BASE_SECONDS": "7200"}, "LTIGATE_RETRY_BASE_SECONDS: 7200 must be between 0.1 and 3600"),
        ({"RETRY_BASE_SECONDS": "nan"}, "LTIGATE_RETRY_BASE_SECONDS: nan must be between"),
        ({"RETRY_MAX_AGE_SECONDS": "0.5"}, "LTIGATE_RETRY_MAX_AGE_SECONDS: 0.5 must be at least 1"),
        ({"RETRY_MAX_AGE_SECONDS": "inf"}, "LTIGATE_RETRY_MAX_AGE_SECONDS: inf must be at least 1"),
        ({"OUTBOX_LEASE_SECONDS": "-3"}, "LTIGATE_OUTBOX_LEASE_SECONDS: -3 must be at least 1"),
    ],
)
def test_invalid_values_name_the_variable(tmp_path: Path, values: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env=env(tmp_path, **values))
    assert fragment in str(caught.value)
