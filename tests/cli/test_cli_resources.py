"""`ltigate resources`: slugs with '/', target link URIs, update and delete."""

from __future__ import annotations

import json

from tests.cli.harness import BASE_URL, Cli, failed

DEVICE_URI = f"{BASE_URL}/lti/launch?resource=org/project/device"


def test_add_shows_the_target_link_uri(migrated: Cli) -> None:
    result = migrated.ok(
        "resources", "add", "org/project/device", "--title", "Device", "--app-url", "https://app.example.org/device"
    )

    assert "Added resource org/project/device" in result.stdout
    assert DEVICE_URI in result.stdout


def test_list_and_show(migrated: Cli) -> None:
    migrated.ok("resources", "add", "org/project/device", "--title", "Device", "--app-url", "https://app.example.org/d")
    migrated.ok("resources", "add", "quiz-1", "--title", "Quiz", "--app-url", "https://app.example.org/q")

    table = migrated.ok("resources", "list").stdout
    listed = json.loads(migrated.ok("resources", "list", "--json").stdout)
    shown = json.loads(migrated.ok("resources", "show", "org/project/device", "--json").stdout)

    assert DEVICE_URI in table
    assert f"{BASE_URL}/lti/launch?resource=quiz-1" in table
    assert {r["slug"]: r["target_link_uri"] for r in listed} == {
        "org/project/device": DEVICE_URI,
        "quiz-1": f"{BASE_URL}/lti/launch?resource=quiz-1",
    }
    assert shown == next(r for r in listed if r["slug"] == "org/project/device")
    assert DEVICE_URI in migrated.ok("resources", "show", "org/project/device").stdout


def test_update_keeps_what_is_not_given(migrated: Cli) -> None:
    migrated.ok(
        "resources", "add", "quiz-1", "--title", "Quiz", "--app-url", "https://app.example.org/q",
        "--description", "Ten questions",
    )  # fmt: skip

    migrated.ok("resources", "update", "quiz-1", "--title", "Quiz one")

    resource = json.loads(migrated.ok("resources", "show", "quiz-1", "--json").stdout)
    assert (resource["title"], resource["app_url"], resource["description"]) == (
        "Quiz one",
        "https://app.example.org/q",
        "Ten questions",
    )


def test_delete(migrated: Cli) -> None:
    migrated.ok("resources", "add", "quiz-1", "--title", "Quiz", "--app-url", "https://app.example.org/q")

    assert "Deleted resource quiz-1" in migrated.ok("resources", "delete", "quiz-1").stdout

    assert "resource 'quiz-1' does not exist" in failed(migrated("resources", "show", "quiz-1"), "not_found")
    assert json.loads(migrated.ok("resources", "list", "--json").stdout) == []


def test_a_bad_slug_and_a_duplicate(migrated: Cli) -> None:
    line = failed(
        migrated("resources", "add", "a//b", "--title", "X", "--app-url", "https://a.example"), "invalid_field"
    )
    assert "(slug)" in line

    migrated.ok("resources", "add", "quiz-1", "--title", "Quiz", "--app-url", "https://app.example.org/q")
    failed(
        migrated("resources", "add", "quiz-1", "--title", "Quiz", "--app-url", "https://app.example.org/q"), "conflict"
    )


def test_plain_http_app_url_names_the_field(migrated: Cli) -> None:
    line = failed(migrated("resources", "add", "q", "--title", "Q", "--app-url", "http://example.com"), "invalid_field")

    assert "(app_url)" in line
