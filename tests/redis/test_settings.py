"""LTIGATE_REDIS_URL and its companions: validated at start-up, errors name the variable and never quote a
password; unset, nothing about the gateway changes. (No Redis server needed.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ltigate.bootstrap import build_gateway, migrate
from ltigate.config import SettingsError, load_settings


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"LTIGATE_DATA_DIR": str(tmp_path), **{f"LTIGATE_{k}": v for k, v in values.items()}}


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://:s3cret@redis.internal:6380/2",
        "rediss://user:s3cret@redis.example.net:6380",
        "redis://redis.internal",
        "unix:///run/redis/redis.sock?db=1",
    ],
)
def test_redis_urls_accepted(tmp_path: Path, url: str) -> None:
    settings = load_settings(env=env(tmp_path, REDIS_URL=url))
    assert settings.redis_url == url
    assert "s3cret" not in repr(settings) and "redis_url=" not in repr(settings)


def test_without_redis_url_there_is_no_redis(tmp_path: Path) -> None:
    settings = load_settings(env=env(tmp_path))
    assert (settings.redis_url, settings.redis_key_prefix, settings.redis_timeout_seconds) == (None, "ltigate:", 1.0)


def test_redis_url_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "redis-url"
    path.write_text("rediss://:s3cret@redis.example.net:6380/1\n")
    settings = load_settings(env=env(tmp_path, REDIS_URL_FILE=str(path)))
    assert settings.redis_url == "rediss://:s3cret@redis.example.net:6380/1"


def test_a_missing_redis_url_file_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env=env(tmp_path, REDIS_URL_FILE=str(tmp_path / "missing")))
    assert str(raised.value).startswith(f"LTIGATE_REDIS_URL_FILE: cannot read '{tmp_path / 'missing'}'")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://:s3cret@redis.internal:6379",
            "unsupported URL 'http://redis.internal'; use redis://, rediss:// or unix://",
        ),
        ("127.0.0.1:6379", "the URL has no scheme; use redis://host:6379/0, rediss:// or unix://"),
        ("redis://:s3cret@:6379/0", "'redis:///0' names no host (redis://host:6379/0)"),
        ("redis://:s3cret@redis.internal:99999", "'redis://redis.internal' has an invalid port"),
        (
            "redis://:s3cret@redis.internal/cache",
            "'redis://redis.internal/cache' has a path that is not a database number",
        ),
        ("unix://redis.sock", "'unix://redis.sock' names no socket path (unix:///run/redis.sock)"),
    ],
)
def test_invalid_redis_urls_stop_start_up_naming_the_variable(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env=env(tmp_path, REDIS_URL=url))
    assert str(raised.value).startswith(f"LTIGATE_REDIS_URL: {message}")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REDIS_KEY_PREFIX", "ltigate prod", "LTIGATE_REDIS_KEY_PREFIX: 'ltigate prod' must be 1–64 of"),
        ("REDIS_KEY_PREFIX", "x" * 65, "LTIGATE_REDIS_KEY_PREFIX: '" + "x" * 65 + "' must be 1–64 of"),
        ("REDIS_TIMEOUT_SECONDS", "0", "LTIGATE_REDIS_TIMEOUT_SECONDS: 0 must be between 0.05 and 30"),
        ("REDIS_TIMEOUT_SECONDS", "soon", "LTIGATE_REDIS_TIMEOUT_SECONDS: 'soon' is not a number"),
    ],
)
def test_invalid_companions_stop_start_up(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env=env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0", **{name: value}))
    assert str(raised.value).startswith(message)


def test_without_redis_the_gateway_keeps_tokens_in_the_database_and_key_sets_in_memory(tmp_path: Path) -> None:
    settings = load_settings(env=env(tmp_path))
    migrate(settings)

    async def inspect() -> str:
        gateway = await build_gateway(settings)
        try:
            return await gateway.metrics.render()
        finally:
            await gateway.close()

    metrics = asyncio.run(inspect())
    assert "ltigate_redis_fallbacks_total" not in metrics
    assert "ltigate_jwks_shared_sets_total 0\n" in metrics
