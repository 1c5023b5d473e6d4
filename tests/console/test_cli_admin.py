"""`ltigate admin create/list/disable/enable/reset-password`: passwords prompted or read from a file, never
printed; accounts made here sign in through the use case."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ltigate.cli.main import build_app
from ltigate.services.console_sessions import SignedIn, SignInRefused
from ltigate.services.gateway import Gateway
from tests.cli.harness import BASE_URL, Cli, failed

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _no_ltigate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("LTIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli(data_dir=tmp_path / "data")
    cli.ok("migrate")
    return cli


def password_file(tmp_path: Path, password: str = PASSWORD) -> str:
    path = tmp_path / "password.txt"
    path.write_text(password + "\n")
    return str(path)


def sign_in(cli: Cli, name: str, password: str) -> SignedIn:
    async def work(gateway: Gateway) -> SignedIn:
        return await gateway.console_sessions.sign_in(name, password, "192.0.2.1")

    return cli.gateway(work)


def test_create_from_a_password_file_then_sign_in(cli: Cli, tmp_path: Path) -> None:
    result = cli.ok("admin", "create", "Ada", "--password-file", password_file(tmp_path))

    assert f"Created administrator ada; sign in at {BASE_URL}/console" in result.stdout
    assert PASSWORD not in result.output
    assert sign_in(cli, "ada", PASSWORD).admin.name == "ada"


def test_create_prompts_twice_without_echo(cli: Cli) -> None:
    variables = {"LTIGATE_DATA_DIR": str(cli.data_dir), "LTIGATE_BASE_URL": BASE_URL}
    result = CliRunner().invoke(
        build_app(), ["admin", "create", "grace"], input=f"{PASSWORD}\n{PASSWORD}\n", env=variables
    )

    assert result.exit_code == 0, result.output
    assert "Password (at least 12 characters)" in result.output
    assert PASSWORD not in result.output
    assert sign_in(cli, "grace", PASSWORD).admin.name == "grace"


def test_a_weak_password_or_a_taken_name_is_one_error_line(cli: Cli, tmp_path: Path) -> None:
    weak = failed(cli("admin", "create", "ada", "--password-file", password_file(tmp_path, "short")), "invalid_field")
    cli.ok("admin", "create", "ada", "--password-file", password_file(tmp_path))
    taken = failed(cli("admin", "create", "ADA", "--password-file", password_file(tmp_path)), "conflict")
    missing = failed(cli("admin", "create", "bob", "--password-file", str(tmp_path / "nope")), "invalid_field")

    assert weak == "error invalid_field (password): the password has 5 characters; use at least 12"
    assert taken == "error conflict (name): an administrator named 'ada' exists already"
    assert "cannot read the password file" in missing


def test_list_disable_enable_and_reset_password(cli: Cli, tmp_path: Path) -> None:
    cli.ok("admin", "create", "ada", "--password-file", password_file(tmp_path))
    session = sign_in(cli, "ada", PASSWORD)

    disabled = cli.ok("admin", "disable", "ada")
    [listed] = json.loads(cli.ok("admin", "list", "--json").stdout)
    table = cli.ok("admin", "list").stdout

    assert "their sessions are ended" in disabled.stdout
    assert listed["name"] == "ada" and listed["active"] is False and "password" not in json.dumps(listed)
    assert "disabled" in table and "$argon2" not in table

    async def resume(gateway: Gateway) -> object:
        return await gateway.console_sessions.resume(session.session_id)

    assert cli.gateway(resume) is None
    with pytest.raises(SignInRefused):
        sign_in(cli, "ada", PASSWORD)
    cli.ok("admin", "enable", "ada")
    cli.ok("admin", "reset-password", "ada", "--password-file", password_file(tmp_path, "another good passphrase"))
    with pytest.raises(SignInRefused):
        sign_in(cli, "ada", PASSWORD)
    assert sign_in(cli, "ada", "another good passphrase").admin.name == "ada"
    assert failed(cli("admin", "disable", "nobody"), "not_found").endswith("administrator 'nobody' does not exist")


def test_empty_list(cli: Cli) -> None:
    assert "No administrators. Create one with `ltigate admin create NAME`." in cli.ok("admin", "list").stdout
