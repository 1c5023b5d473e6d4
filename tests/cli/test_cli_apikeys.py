"""`ltigate apikey`: the secret is printed once; lists show the prefix only."""

from __future__ import annotations

import json

from ltigate.services.gateway import Gateway
from tests.cli.harness import Cli, failed


def create(cli: Cli, name: str) -> tuple[str, str]:
    result = cli.ok("apikey", "create", name)
    secret = next(line for line in result.stdout.splitlines() if line.startswith("ltg_"))
    key_id = result.stdout.split("Created API key ")[1].split()[0]
    assert "not shown again" in result.stderr
    return key_id, secret


def test_create_prints_a_working_secret_once_and_lists_show_the_prefix(migrated: Cli) -> None:
    key_id, secret = create(migrated, "catalogue sync")
    prefix = secret.split("_")[1]

    listed = migrated.ok("apikey", "list").stdout
    keys = json.loads(migrated.ok("apikey", "list", "--json").stdout)

    assert secret not in listed
    assert secret not in json.dumps(keys)
    assert f"ltg_{prefix}_" in listed
    assert "catalogue sync" in listed
    assert [(k["id"], k["name"], k["prefix"], k["revoked_at"]) for k in keys] == [
        (key_id, "catalogue sync", prefix, None)
    ]

    async def authenticate(gateway: Gateway) -> str:
        return (await gateway.api_keys.authenticate(secret)).id

    assert migrated.gateway(authenticate) == key_id


def test_revoke(migrated: Cli) -> None:
    key_id, _ = create(migrated, "old")

    result = migrated.ok("apikey", "revoke", key_id)

    assert f"Revoked API key {key_id}" in result.stdout
    [key] = json.loads(migrated.ok("apikey", "list", "--json").stdout)
    assert key["revoked_at"] is not None


def test_revoking_an_unknown_key_is_not_found(migrated: Cli) -> None:
    line = failed(migrated("apikey", "revoke", "0123456789abcdef"), "not_found")

    assert "API key '0123456789abcdef' does not exist" in line


def test_an_empty_name_is_refused(migrated: Cli) -> None:
    line = failed(migrated("apikey", "create", "  "), "invalid_field")

    assert "(name)" in line


def test_empty_list(migrated: Cli) -> None:
    assert "No API keys" in migrated.ok("apikey", "list").stdout
