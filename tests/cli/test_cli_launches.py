"""`ltigate launches`: the launch log, filtered, and one launch in detail."""

from __future__ import annotations

import json

from ltigate.lti.errors import LtiError
from ltigate.services.gateway import Gateway
from ltigate.services.launch import CookieBinding, LaunchForm
from tests.cli.harness import Cli, failed


def record_failed_launch(cli: Cli, form: LaunchForm) -> str:
    """A launch attempt through the use case, which logs it as failed; returns the launch id."""

    async def attempt(gateway: Gateway) -> str:
        try:
            await gateway.launch.complete(form, CookieBinding(None))
        except LtiError as error:
            assert error.reference is not None
            return error.reference
        raise AssertionError("the launch was expected to fail")

    return cli.gateway(attempt)


def test_an_empty_log(migrated: Cli) -> None:
    assert "No launches recorded yet." in migrated.ok("launches").stdout
    assert json.loads(migrated.ok("launches", "--json").stdout) == []
    assert json.loads(migrated.ok("launches", "--outcome", "failed", "--json").stdout) == []


def test_failed_launches_are_listed_with_their_code_and_filtered(migrated: Cli) -> None:
    cancelled = record_failed_launch(migrated, LaunchForm(id_token=None, state=None, error="access_denied"))
    no_token = record_failed_launch(migrated, LaunchForm(id_token=None, state="s"))

    table = migrated.ok("launches").stdout
    everything = json.loads(migrated.ok("launches", "--json").stdout)
    denied = json.loads(migrated.ok("launches", "--error-code", "platform_error", "--json").stdout)
    succeeded = json.loads(migrated.ok("launches", "--outcome", "succeeded", "--json").stdout)
    limited = json.loads(migrated.ok("launches", "--limit", "1", "--json").stdout)

    assert cancelled in table and no_token in table
    assert "platform_error" in table and "token_malformed" in table
    assert {(r["id"], r["outcome"], r["error_code"]) for r in everything} == {
        (cancelled, "failed", "platform_error"),
        (no_token, "failed", "token_malformed"),
    }
    assert [r["id"] for r in denied] == [cancelled]
    assert succeeded == []
    assert len(limited) == 1
    assert "that match" in migrated.ok("launches", "--outcome", "succeeded").stdout


def test_show_one_launch(migrated: Cli) -> None:
    launch_id = record_failed_launch(migrated, LaunchForm(id_token=None, state=None, error="access_denied"))

    shown = migrated.ok("launches", "show", launch_id).stdout
    assert "Launches" not in shown  # the group's listing does not run before a subcommand
    detail = json.loads(migrated.ok("launches", "show", launch_id, "--json").stdout)

    assert launch_id in shown
    assert "platform_error: the platform answered the login with error 'access_denied'" in shown
    assert (detail["id"], detail["outcome"], detail["error_code"], detail["user"]) == (
        launch_id,
        "failed",
        "platform_error",
        None,
    )


def test_show_an_unknown_launch(migrated: Cli) -> None:
    assert "launch 'nope' does not exist" in failed(migrated("launches", "show", "nope"), "not_found")


def test_a_limit_out_of_range_is_a_usage_error(migrated: Cli) -> None:
    result = migrated("launches", "--limit", "0")

    assert result.exit_code == 2
    assert "--limit" in result.output
