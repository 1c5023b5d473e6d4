"""`ltigate registration-link`, `ltigate platforms approve-registration` and `ltigate setup-guide`."""

from __future__ import annotations

import json

import pytest

from ltigate.lti.profiles import PROFILES, PlatformValue, ToolValue
from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway, ToolUrls
from ltigate.services.records import Platform, PlatformFields, RegisteredVia
from ltigate.services.registration_links import RegistrationLinkUsed
from ltigate.services.setup_guides import render_markdown, setup_guide
from tests.cli.harness import BASE_URL, Cli, failed


def create_link(cli: Cli, *args: str) -> tuple[str, str]:
    result = cli.ok("registration-link", "create", *args)
    url = next(line for line in result.stdout.splitlines() if line.startswith(BASE_URL))
    link_id = result.stdout.split("Created registration link ")[1].split(",")[0]
    assert "not shown again" in result.stderr
    return link_id, url


def test_create_prints_a_one_time_link_stored_only_as_a_hash(migrated: Cli) -> None:
    link_id, url = create_link(migrated, "--note", "Moodle at Example U", "--expires", "2d")
    secret = url.removeprefix(f"{BASE_URL}/lti/register/")
    assert len(secret) >= 40 and "/" not in secret

    listed = migrated.ok("registration-link", "list").stdout
    [entry] = json.loads(migrated.ok("registration-link", "list", "--json").stdout)

    assert secret not in listed and secret not in json.dumps(entry)
    assert (entry["id"], entry["note"], entry["state"], entry["platform_id"]) == (
        link_id,
        "Moodle at Example U",
        "usable",
        None,
    )
    assert entry["expires_at"] - entry["created_at"] == pytest.approx(2 * 86400)
    assert secret.encode() not in (migrated.data_dir / "ltigate.db").read_bytes()

    async def claim_twice(gateway: Gateway) -> str:
        await gateway.registration_links.claim(secret)
        try:
            await gateway.registration_links.claim(secret)
        except ServiceError as error:
            return error.code
        return "claimed twice"

    assert migrated.gateway(claim_twice) == RegistrationLinkUsed.code
    assert json.loads(migrated.ok("registration-link", "list", "--json").stdout)[0]["state"] == "used"


def test_revoke_and_bad_input(migrated: Cli) -> None:
    link_id, _ = create_link(migrated)

    migrated.ok("registration-link", "revoke", link_id)

    assert json.loads(migrated.ok("registration-link", "list", "--json").stdout)[0]["state"] == "revoked"
    assert "not_found" in failed(migrated("registration-link", "revoke", link_id), "not_found")
    failed(migrated("registration-link", "create", "--expires", "soon"), "invalid_field")
    failed(migrated("registration-link", "create", "--expires", "100d"), "invalid_field")
    assert "No Dynamic Registration attempts" in migrated.ok("registration-link", "attempts").stdout


def test_approve_registration(migrated: Cli) -> None:
    async def register(gateway: Gateway) -> Platform:
        fields = PlatformFields(
            name="Moodle (self)",
            issuer="https://moodle.example.edu",
            client_id="dr-1",
            auth_url="https://moodle.example.edu/mod/lti/auth.php",
            token_url="https://moodle.example.edu/mod/lti/token.php",
            jwks_url="https://moodle.example.edu/mod/lti/certs.php",
        )
        return await gateway.platforms.create(
            fields, awaiting_approval=True, registered_via=RegisteredVia.DYNAMIC, product_family_code="moodle"
        )

    platform = migrated.gateway(register)
    shown = migrated.ok("platforms", "show", platform.id).stdout
    assert "Dynamic Registration (moodle); awaiting approval" in shown
    assert "awaiting approval" in migrated.ok("platforms", "list").stdout

    migrated.ok("platforms", "approve-registration", platform.id)

    after = json.loads(migrated.ok("platforms", "show", platform.id, "--json").stdout)
    assert (after["awaiting_approval"], after["registered_via"], after["product_family_code"]) == (
        False,
        "dynamic",
        "moodle",
    )
    failed(migrated("platforms", "approve-registration", "nope"), "not_found")


@pytest.mark.parametrize("profile", PROFILES, ids=[p.key for p in PROFILES])
def test_setup_guide_names_the_fields_with_this_instances_urls(cli: Cli, profile: object) -> None:
    base = "https://gateway.example.org"

    result = cli.ok("setup-guide", profile.key, "--base-url", base)  # type: ignore[attr-defined]

    text = result.stdout
    assert text == render_markdown(setup_guide(profile, ToolUrls.for_base(base)))  # type: ignore[arg-type]
    assert f"# Registering ltigate in {profile.name}" in text  # type: ignore[attr-defined]
    for value, label in profile.tool_labels.items():  # type: ignore[attr-defined]
        assert label.text in text
        if value is ToolValue.LOGIN_URL:
            assert f"| {label.text}{'' if label.confirmed else ' ⚠'} | `{base}/lti/login` |" in text
        if value is ToolValue.JWKS_URL:
            assert f"`{base}/.well-known/jwks.json`" in text
        if value is ToolValue.REDIRECT_URL:
            assert f"`{base}/lti/launch`" in text
    for value, label in profile.platform_labels.items():  # type: ignore[attr-defined]
        assert f"“{label.text}”" in text, value
    for known in profile.known_values.values():  # type: ignore[attr-defined]
        assert known in text
    if PlatformValue.CLIENT_ID in profile.platform_labels:  # type: ignore[attr-defined]
        assert "Client ID (--client-id)" in text
    assert "https://lti.example.edu" not in text


def test_setup_guide_follows_the_registration_mode_and_refuses_unknown_lms(cli: Cli) -> None:
    opened = cli("setup-guide", "moodle", env={"LTIGATE_DYNAMIC_REGISTRATION": "open"})
    assert opened.exit_code == 0, opened.output
    open_text = opened.stdout
    link_text = cli.ok("setup-guide", "moodle").stdout

    assert f"| `{BASE_URL}/lti/register` |" in open_text
    assert f"`{BASE_URL}/lti/register/<secret>`" in link_text and "registration-link create" in link_text
    failed(cli("setup-guide", "webct"), "unknown_lms")
    failed(cli("setup-guide", "moodle", env={"LTIGATE_DYNAMIC_REGISTRATION": "sometimes"}), "invalid_setting")


def test_settings_are_checked() -> None:
    from ltigate.config import SettingsError, load_settings

    base = {"LTIGATE_DATA_DIR": "/tmp/ltigate-settings-test", "LTIGATE_SECRET_KEY": "A" * 44}
    settings = load_settings(
        env={**base, "LTIGATE_REGISTRATION_ISSUER_HOSTS": "https://blackboard.com=Developer.Blackboard.com"}
    )
    assert settings.dynamic_registration == "link" and settings.registration_approval == "required"
    assert settings.registration_issuer_hosts == (("https://blackboard.com", ("developer.blackboard.com",)),)
    for name, value in (
        ("LTIGATE_REGISTRATION_APPROVAL", "maybe"),
        ("LTIGATE_REGISTRATION_ISSUER_HOSTS", "blackboard.com"),
        ("LTIGATE_REGISTRATION_ISSUER_HOSTS", "http://blackboard.com=x"),
    ):
        with pytest.raises(SettingsError, match=name):
            load_settings(env={**base, name: value})
