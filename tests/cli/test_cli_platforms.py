"""`ltigate platforms`: add, list, show, update, (de)activate, deployments; validation and conflicts."""

from __future__ import annotations

import json

from tests.cli.harness import Cli, failed

CANVAS = [
    "--name", "Canvas (production)",
    "--issuer", "https://canvas.instructure.com",
    "--client-id", "10000000000042",
    "--auth-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "--token-url", "https://sso.canvaslms.com/login/oauth2/token",
    "--jwks-url", "https://sso.canvaslms.com/api/lti/security/jwks",
]  # fmt: skip


def add(cli: Cli, *extra: str) -> dict[str, object]:
    cli.ok("platforms", "add", *CANVAS, *extra)
    platforms = json.loads(cli.ok("platforms", "list", "--json").stdout)
    return dict(platforms[-1])


def test_add_then_list_and_show(migrated: Cli) -> None:
    result = migrated.ok(
        "platforms", "add", *CANVAS, "--deployment-id", "1:abc", "--deployment-id", "2:def", "--seats", "25",
        "--no-grade-passback", "--licence-note", "contract 2024-17", "--unknown-deployments", "reject",
    )  # fmt: skip

    assert "Added platform" in result.stdout
    [platform] = json.loads(migrated.ok("platforms", "list", "--json").stdout)
    assert platform["name"] == "Canvas (production)"
    assert platform["issuer"] == "https://canvas.instructure.com"
    assert platform["client_id"] == "10000000000042"
    assert [(d["deployment_id"], d["status"]) for d in platform["deployments"]] == [
        ("1:abc", "approved"),
        ("2:def", "approved"),
    ]
    assert (platform["seats"], platform["grade_passback"], platform["licence_note"]) == (25, False, "contract 2024-17")
    assert (platform["deployment_policy"], platform["active"], platform["token_audience"]) == ("reject", True, None)

    table = migrated.ok("platforms", "list").stdout
    assert platform["id"] in table
    assert "https://canvas.instructure.com" in table

    shown = migrated.ok("platforms", "show", str(platform["id"])).stdout
    assert "https://sso.canvaslms.com/api/lti/security/jwks" in shown
    assert "1:abc (approved), 2:def (approved)" in shown
    assert json.loads(migrated.ok("platforms", "show", str(platform["id"]), "--json").stdout) == platform


def test_update_changes_only_the_given_fields(migrated: Cli) -> None:
    platform = add(migrated, "--deployment-id", "1", "--seats", "10", "--token-audience", "https://aud.example")

    migrated.ok(
        "platforms", "update", str(platform["id"]), "--name", "Canvas (test)", "--deployment-id", "2",
        "--no-grade-passback", "--token-audience", "",
    )  # fmt: skip

    updated = json.loads(migrated.ok("platforms", "show", str(platform["id"]), "--json").stdout)
    assert updated["name"] == "Canvas (test)"
    assert updated["grade_passback"] is False
    assert updated["token_audience"] is None
    assert [d["deployment_id"] for d in updated["deployments"]] == ["1", "2"]
    for unchanged in ("issuer", "client_id", "auth_url", "token_url", "jwks_url", "seats", "deployment_policy"):
        assert updated[unchanged] == platform[unchanged], unchanged


def test_deactivate_and_activate(migrated: Cli) -> None:
    platform_id = str(add(migrated)["id"])

    assert "Deactivated platform" in migrated.ok("platforms", "deactivate", platform_id).stdout
    assert json.loads(migrated.ok("platforms", "show", platform_id, "--json").stdout)["active"] is False
    assert "no (launches are refused)" in migrated.ok("platforms", "show", platform_id).stdout

    migrated.ok("platforms", "activate", platform_id)
    assert json.loads(migrated.ok("platforms", "show", platform_id, "--json").stdout)["active"] is True


def test_approve_and_reject_deployments(migrated: Cli) -> None:
    platform_id = str(add(migrated)["id"])

    assert "is approved" in migrated.ok("platforms", "approve", platform_id, "7").stdout
    assert "is rejected" in migrated.ok("platforms", "reject", platform_id, "7").stdout

    platform = json.loads(migrated.ok("platforms", "show", platform_id, "--json").stdout)
    assert [(d["deployment_id"], d["status"]) for d in platform["deployments"]] == [("7", "rejected")]
    line = failed(migrated("platforms", "reject", platform_id, "8"), "not_found")
    assert "deployment '8'" in line


def test_the_same_issuer_and_client_id_twice_is_a_conflict(migrated: Cli) -> None:
    add(migrated)

    line = failed(migrated("platforms", "add", *CANVAS), "conflict")

    assert "https://canvas.instructure.com" in line
    assert len(json.loads(migrated.ok("platforms", "list", "--json").stdout)) == 1


def test_plain_http_names_the_field(migrated: Cli) -> None:
    options = [*CANVAS[:6], "--auth-url", "http://example.com", *CANVAS[8:]]

    line = failed(migrated("platforms", "add", *options), "invalid_field")

    assert "(auth_url)" in line
    assert "'http://example.com' must use https" in line


def test_an_invalid_update_keeps_the_platform(migrated: Cli) -> None:
    platform = add(migrated)

    line = failed(migrated("platforms", "update", str(platform["id"]), "--jwks-url", "not a url"), "invalid_field")

    assert "(jwks_url)" in line
    assert json.loads(migrated.ok("platforms", "show", str(platform["id"]), "--json").stdout) == platform


def test_unknown_platform(migrated: Cli) -> None:
    for command in (["show", "nope"], ["update", "nope", "--seats", "3"], ["deactivate", "nope"]):
        line = failed(migrated("platforms", *command), "not_found")
        assert "platform 'nope' does not exist" in line


def test_a_required_option_missing_is_a_usage_error(migrated: Cli) -> None:
    result = migrated("platforms", "add", "--name", "x")

    assert result.exit_code == 2
    assert "--issuer" in result.output


def test_empty_list(migrated: Cli) -> None:
    assert "No platforms" in migrated.ok("platforms", "list").stdout
    assert json.loads(migrated.ok("platforms", "list", "--json").stdout) == []
