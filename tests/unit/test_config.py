"""Settings from LTIGATE_* variables, *_FILE secrets and flags; errors name the variable."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from ltigate.config import SettingsError, load_settings


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"LTIGATE_DATA_DIR": str(tmp_path), **{f"LTIGATE_{k}": v for k, v in values.items()}}


def test_defaults_build_everything_from_the_base_url(tmp_path: Path) -> None:
    settings = load_settings(env=env(tmp_path))
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.url("/lti/login") == "http://127.0.0.1:8000/lti/login"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'ltigate.db'}"
    assert settings.allow_private_addresses is True  # loopback development
    assert not settings.secure


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings(env=env(tmp_path))
    second = load_settings(env=env(tmp_path))
    assert first.secret_key == second.secret_key and len(first.secret_key) == 32
    mode = (tmp_path / "secret.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert "secret_key=" not in repr(first) and "database_url=" not in repr(first)


def test_secret_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("a" * 43 + "\n")
    settings = load_settings(env=env(tmp_path, SECRET_KEY_FILE=str(path)))
    assert settings.secret_key == base64.urlsafe_b64decode("a" * 43 + "=")
    assert not (tmp_path / "secret.key").exists()
    assert settings.secret_key_file is None  # the operator's to replace, not ltigate's
    assert load_settings(env=env(tmp_path / "own")).secret_key_file == tmp_path / "own" / "secret.key"


@pytest.mark.parametrize("left", ["secret.key.new", "secret.key.old"])
def test_no_fresh_key_is_made_beside_the_files_of_a_rotation(tmp_path: Path, left: str) -> None:
    (tmp_path / left).write_text("a" * 43 + "\n")
    with pytest.raises(SettingsError, match=f"secret.key is missing but .*{left} exists"):
        load_settings(env=env(tmp_path))
    assert not (tmp_path / "secret.key").exists()


def test_database_url_from_a_file_and_postgres_scheme_normalised(tmp_path: Path) -> None:
    path = tmp_path / "db"
    path.write_text("postgresql://ltigate@db.internal/ltigate")
    settings = load_settings(env=env(tmp_path, DATABASE_URL_FILE=str(path)))
    assert settings.database_url == "postgresql+asyncpg://ltigate@db.internal/ltigate"


def test_flags_override_the_environment(tmp_path: Path) -> None:
    settings = load_settings(env=env(tmp_path, PORT="9000"), port=9100, base_url="https://lti.example.edu/")
    assert settings.port == 9100
    assert settings.base_url == "https://lti.example.edu"
    assert settings.secure and settings.allow_private_addresses is False


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"PORT": "abc"}, "LTIGATE_PORT: 'abc' is not a whole number"),
        ({"BASE_URL": "http://lti.example.edu"}, "LTIGATE_BASE_URL: 'http://lti.example.edu' uses plain http"),
        ({"BASE_URL": "lti.example.edu"}, "LTIGATE_BASE_URL: 'lti.example.edu' is not an absolute http(s) URL"),
        ({"BASE_URL": "https://x.example/?a=1"}, "must not have a query"),
        ({"DATABASE_URL": "mysql://x"}, "LTIGATE_DATABASE_URL: unsupported scheme"),
        ({"SECRET_KEY": "c2hvcnQ"}, "LTIGATE_SECRET_KEY: the secret key has 5 bytes"),
        ({"SECRET_KEY_FILE": "/nonexistent/key"}, "LTIGATE_SECRET_KEY_FILE: cannot read '/nonexistent/key'"),
        ({"TRUSTED_PROXIES": "10.0.0.1,nope"}, "LTIGATE_TRUSTED_PROXIES: 'nope'"),
        ({"ALLOW_PRIVATE_ADDRESSES": "maybe"}, "LTIGATE_ALLOW_PRIVATE_ADDRESSES: 'maybe' is not a boolean"),
        ({"STATE_TTL_SECONDS": "5"}, "LTIGATE_STATE_TTL_SECONDS: 5 is below the minimum 30"),
        ({"LOG_LEVEL": "loud"}, "LTIGATE_LOG_LEVEL: 'loud'"),
    ],
)
def test_invalid_settings_name_the_variable(tmp_path: Path, values: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env=env(tmp_path, **values))
    assert fragment in str(caught.value)
