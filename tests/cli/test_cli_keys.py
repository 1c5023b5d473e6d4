"""`ltigate keys`: one active and one published `next` key per purpose; rotation keeps the old key published."""

from __future__ import annotations

import json

from ltigate.services.gateway import Gateway
from ltigate.services.records import KeyPurpose
from tests.cli.harness import Cli


def keys(cli: Cli) -> list[dict[str, object]]:
    return list(json.loads(cli.ok("keys", "list", "--json").stdout))


def published(cli: Cli, purpose: KeyPurpose) -> list[str]:
    async def kids(gateway: Gateway) -> list[str]:
        return [jwk["kid"] for jwk in gateway.tool_keys.published(purpose)]

    return cli.gateway(kids)


def test_first_start_makes_an_active_and_a_next_key_per_purpose(migrated: Cli) -> None:
    found = keys(migrated)

    assert sorted((k["purpose"], k["alg"], k["state"]) for k in found) == [
        ("lti", "RS256", "active"),
        ("lti", "RS256", "next"),
        ("ticket", "ES256", "active"),
        ("ticket", "ES256", "next"),
    ]
    table = migrated.ok("keys", "list").stdout
    assert all(str(k["kid"]) in table for k in found)
    assert keys(migrated) == found  # listing again generates nothing


def test_rotate_activates_the_next_key_and_keeps_the_old_one_published(migrated: Cli) -> None:
    before = {(k["purpose"], k["state"]): str(k["kid"]) for k in keys(migrated)}

    result = migrated.ok("keys", "rotate")

    old, promoted = before[("lti", "active")], before[("lti", "next")]
    assert f"Activated lti key {promoted}" in result.stdout
    assert f"Retired {old}" in result.stdout
    after = {str(k["kid"]): k for k in keys(migrated)}
    assert after[promoted]["state"] == "active"
    assert after[old]["state"] == "retired"
    assert after[old]["retire_at"] is not None
    fresh = [kid for kid, k in after.items() if k["purpose"] == "lti" and k["state"] == "next"]
    assert len(fresh) == 1
    assert fresh[0] in result.stdout
    assert {old, promoted, fresh[0]} <= set(published(migrated, KeyPurpose.LTI))
    # the ticket keys are untouched
    assert after[before[("ticket", "active")]]["state"] == "active"


def test_rotate_ticket_keys(migrated: Cli) -> None:
    before = {(k["purpose"], k["state"]): str(k["kid"]) for k in keys(migrated)}

    migrated.ok("keys", "rotate", "--purpose", "ticket")

    after = {str(k["kid"]): k["state"] for k in keys(migrated)}
    assert after[before[("ticket", "next")]] == "active"
    assert after[before[("ticket", "active")]] == "retired"
    assert after[before[("lti", "active")]] == "active"
    assert before[("ticket", "active")] in published(migrated, KeyPurpose.TICKET)


def test_an_unknown_purpose_is_a_usage_error(migrated: Cli) -> None:
    result = migrated("keys", "rotate", "--purpose", "tls")

    assert result.exit_code == 2
    assert "tls" in result.output
