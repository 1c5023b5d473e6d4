"""`ltigate info`, `migrate`, `serve` before migrating, and invalid settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from ltigate.cli.serve import _loop_factory, server_config
from ltigate.config import SettingsError, load_settings
from tests.cli.harness import Cli, failed


def test_info_builds_the_urls_from_the_base_url_without_a_database(cli: Cli, tmp_path: Path) -> None:
    result = cli.ok("info", "--base-url", "https://tools.example.org/")

    assert "https://tools.example.org/lti/login" in result.stdout
    assert "https://tools.example.org/lti/launch" in result.stdout
    assert "https://tools.example.org/.well-known/jwks.json" in result.stdout
    assert "https://tools.example.org/.well-known/ticket-jwks.json" in result.stdout
    assert str(cli.data_dir) in result.stdout
    assert not (cli.data_dir / "ltigate.db").exists()


def test_info_json(cli: Cli) -> None:
    info = json.loads(cli.ok("info", "--json").stdout)

    assert info == {
        "login_url": "https://lti.example.edu/lti/login",
        "launch_url": "https://lti.example.edu/lti/launch",
        "jwks_url": "https://lti.example.edu/.well-known/jwks.json",
        "ticket_jwks_url": "https://lti.example.edu/.well-known/ticket-jwks.json",
        "deep_linking_url": "https://lti.example.edu/lti/launch",
        "registration_url": "https://lti.example.edu/lti/register",
        "canvas_configuration_url": "https://lti.example.edu/lti/config/canvas.json",
        "base_url": "https://lti.example.edu",
        "data_dir": str(cli.data_dir),
        "database": f"sqlite+aiosqlite:///{cli.data_dir / 'ltigate.db'}",
    }


def test_info_hides_the_database_password(cli: Cli) -> None:
    result = cli.ok("info", "--database-url", "postgresql://ltigate:s3cret@db.internal:5432/ltigate")

    assert "postgresql+asyncpg://ltigate:***@db.internal:5432/ltigate" in result.stdout
    assert "s3cret" not in result.output


def test_flags_override_the_environment(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other"
    info = json.loads(cli.ok("info", "--json", "--data-dir", str(other)).stdout)

    assert info["data_dir"] == str(other)
    assert info["base_url"] == "https://lti.example.edu"


def test_an_invalid_setting_names_its_variable(cli: Cli) -> None:
    line = failed(cli("info", env={"LTIGATE_PORT": "abc"}), "invalid_setting")

    assert "LTIGATE_PORT" in line
    assert "'abc' is not a whole number" in line


def test_an_invalid_base_url_flag_is_one_line(cli: Cli) -> None:
    line = failed(cli("platforms", "list", "--base-url", "http://lti.example.edu"), "invalid_setting")

    assert "LTIGATE_BASE_URL" in line


def test_migrate_prints_the_revision_and_can_run_again(cli: Cli) -> None:
    first = cli.ok("migrate")
    second = cli.ok("migrate")

    assert "is at revision" in first.stdout
    assert first.stdout.split("revision")[-1].strip() != ""
    assert second.stdout == first.stdout
    assert (cli.data_dir / "ltigate.db").exists()


def test_serve_on_an_unmigrated_database_says_to_migrate(cli: Cli) -> None:
    line = failed(cli("serve", "--port", "8765"), "database_not_migrated")

    assert "the database is not migrated: run `ltigate migrate`" in line


def test_worker_and_admin_commands_also_refuse_an_unmigrated_database(cli: Cli) -> None:
    for command in (["worker"], ["platforms", "list"], ["keys", "list"], ["launches"]):
        failed(cli(*command), "database_not_migrated")


def test_serve_validates_its_flags_as_settings(cli: Cli) -> None:
    assert "LTIGATE_PORT" in failed(cli("serve", "--port", "0"), "invalid_setting")
    line = failed(cli("serve", "--forwarded-allow-ips", "proxy.example"), "invalid_setting")
    assert "LTIGATE_TRUSTED_PROXIES" in line


def test_the_default_data_directory_is_not_touched_when_one_is_given(migrated: Cli, tmp_path: Path) -> None:
    failed(migrated("launches", "show", "nope", "--data-dir", str(migrated.data_dir)), "not_found")

    assert not (tmp_path / ".ltigate").exists()


def test_server_config_trusts_the_configured_proxies(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "LTIGATE_DATA_DIR": str(tmp_path),
            "LTIGATE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7",
            "LTIGATE_PORT": "9001",
        }
    )

    config = server_config(FastAPI(), settings, proxy_headers=True)

    assert isinstance(config, uvicorn.Config)
    assert (config.host, config.port, config.proxy_headers, config.access_log) == ("127.0.0.1", 9001, True, False)
    assert config.forwarded_allow_ips == "10.0.0.0/8,192.0.2.7"


def test_server_config_without_proxy_headers(tmp_path: Path) -> None:
    settings = load_settings(env={"LTIGATE_DATA_DIR": str(tmp_path)})

    config = server_config(FastAPI(), settings, proxy_headers=False)

    assert config.proxy_headers is False


def test_the_event_loop_is_the_standard_one_on_sqlite_and_uvloop_on_postgresql(tmp_path: Path) -> None:
    base = {"LTIGATE_DATA_DIR": str(tmp_path)}
    postgres = {**base, "LTIGATE_DATABASE_URL": "postgresql+asyncpg://gate@127.0.0.1:1/ltigate"}
    sqlite_default = load_settings(env=base)
    postgres_default = load_settings(env=postgres)
    sqlite_uvloop = load_settings(env={**base, "LTIGATE_EVENT_LOOP": "uvloop"})
    postgres_asyncio = load_settings(env={**postgres, "LTIGATE_EVENT_LOOP": "asyncio"})

    assert sqlite_default.event_loop == postgres_default.event_loop == "auto"
    assert server_config(FastAPI(), sqlite_default, proxy_headers=False).loop == "asyncio"
    assert _loop_factory(sqlite_default) is None
    assert server_config(FastAPI(), postgres_default, proxy_headers=False).loop == "uvloop"
    assert server_config(FastAPI(), sqlite_uvloop, proxy_headers=False).loop == "uvloop"
    assert server_config(FastAPI(), postgres_asyncio, proxy_headers=False).loop == "asyncio"
    factory = _loop_factory(sqlite_uvloop)
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()


def test_an_unknown_event_loop_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="LTIGATE_EVENT_LOOP"):
        load_settings(env={"LTIGATE_DATA_DIR": str(tmp_path), "LTIGATE_EVENT_LOOP": "trio"})
