"""`ltigate rotate-secret`: every sealed value re-encrypted in one transaction, the key file swapped with the
old key kept, refusals that change nothing, a swap interrupted at the rename finished by running it again,
and never a key or a token in the output."""

from __future__ import annotations

import asyncio
import base64
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import Result

from ltigate.bootstrap import secret_rotation
from ltigate.config import load_settings
from ltigate.db.engine import create_engine, dispose
from ltigate.db.keys import SqlKeyStore
from ltigate.db.sealed_values import SqlSealedValueStore
from ltigate.db.tokens import SqlTokenCache
from ltigate.lti.jws import read_unverified_header, sign, verify_signature
from ltigate.lti.keys import SigningKey, parse_key_set
from ltigate.secret_key_files import DataDirectoryKeyFiles
from ltigate.services.errors import SecretKeyFileError, SecretKeyMismatch, SecretRotationUnfinished
from ltigate.services.gateway import Gateway
from ltigate.services.records import KeyPurpose, KeyState, ServiceToken, ToolKey
from ltigate.services.sealing import Sealer, UnsealError
from ltigate.services.secret_rotation import SealedKind, SealedValue
from ltigate.services.service_tokens import SEAL_PURPOSE
from tests.cli.harness import BASE_URL, Cli, failed

T = TypeVar("T")
TOKEN = "platform-issued-access-token-7f3a"
SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@dataclass(frozen=True)
class Signing:
    kid: str
    private_pem: bytes
    published: tuple[str, ...]
    ticket_published: tuple[str, ...]
    jwks: list[dict[str, object]]


def signing(cli: Cli, **extra: str) -> Signing:
    """What a gateway started on this data directory signs with and publishes."""

    async def read(gateway: Gateway) -> Signing:
        key = gateway.tool_keys.signing_key(KeyPurpose.LTI)
        published = gateway.tool_keys.published(KeyPurpose.LTI)
        return Signing(
            kid=key.kid,
            private_pem=key.private_pem(),
            published=tuple(sorted(str(jwk["kid"]) for jwk in published)),
            ticket_published=tuple(sorted(str(jwk["kid"]) for jwk in gateway.tool_keys.published(KeyPurpose.TICKET))),
            jwks=[dict(jwk) for jwk in published],
        )

    return cli.gateway(read, **extra)


def database_url(cli: Cli) -> str:
    return f"sqlite+aiosqlite:///{cli.data_dir / 'ltigate.db'}"


def stored(cli: Cli) -> list[SealedValue]:
    async def read() -> list[SealedValue]:
        engine = create_engine(database_url(cli))
        try:
            return await SqlSealedValueStore(engine).list()
        finally:
            await dispose(engine)

    return asyncio.run(read())


def cache_token(cli: Cli, key: bytes, platform_id: str = "p1") -> None:
    """A service token cached as ServiceTokens caches one: sealed, as hex text."""

    async def put() -> None:
        engine = create_engine(database_url(cli))
        try:
            sealed = Sealer(key).seal(TOKEN.encode(), SEAL_PURPOSE).hex()
            await SqlTokenCache(engine).put(platform_id, SCOPE, ServiceToken(sealed, (SCOPE,), 4_000_000_000.0))
        finally:
            await dispose(engine)

    asyncio.run(put())


def opens(key: bytes, value: SealedValue) -> bytes | None:
    try:
        return Sealer(key).unseal(value.sealed, value.purpose)
    except UnsealError:
        return None


def key_text(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def key_file(path: Path) -> bytes:
    raw = path.read_text().strip()
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def assert_no_secrets(result: Result, *keys: bytes) -> None:
    """Neither key (padded or not) nor the plaintext token appears in anything the command printed."""
    printed = result.stdout + result.stderr
    for key in keys:
        assert key_text(key).rstrip("=") not in printed
        assert key.hex() not in printed
    assert TOKEN not in printed


def files_in(cli: Cli) -> set[str]:
    return {path.name for path in cli.data_dir.iterdir() if path.name.startswith("secret")}


@pytest.fixture
def started(migrated: Cli) -> Cli:
    """A migrated data directory whose gateway has started once (tool keys made) and cached a service token."""
    migrated.ok("keys", "list")
    cache_token(migrated, key_file(migrated.data_dir / "secret.key"))
    return migrated


def test_rotation_re_encrypts_everything_and_keeps_the_same_signing_keys(started: Cli) -> None:
    old_key = key_file(started.data_dir / "secret.key")
    before, values_before = signing(started), stored(started)
    assert {v.kind for v in values_before} == {SealedKind.TOOL_KEY, SealedKind.SERVICE_TOKEN}

    result = started.ok("rotate-secret")

    assert "Re-encrypted 4 tool keys and 1 service token with the new secret key" in result.stdout
    new_key = key_file(started.data_dir / "secret.key")
    assert new_key != old_key and len(new_key) == 32
    assert key_file(started.data_dir / "secret.key.old") == old_key
    for name in ("secret.key", "secret.key.old"):
        assert stat.S_IMODE((started.data_dir / name).stat().st_mode) == 0o600
    assert files_in(started) == {"secret.key", "secret.key.old"}  # no pending or temporary file left
    assert "secret.key.old" in result.stdout and "Start (or restart) every `ltigate serve`" in result.stdout
    assert_no_secrets(result, old_key, new_key)

    values_after = stored(started)
    assert [(v.kind, v.ref) for v in values_after] == [(v.kind, v.ref) for v in values_before]
    for old, new in zip(values_before, values_after, strict=True):
        assert new.sealed != old.sealed  # every value rewritten
        assert opens(old_key, new) is None  # the old key opens none of them
        assert opens(new_key, new) == opens(old_key, old)  # and the new key gives the same plaintext
    (token,) = [v for v in values_after if v.kind is SealedKind.SERVICE_TOKEN]
    assert opens(new_key, token) == TOKEN.encode()

    after = signing(started)
    assert (after.kid, after.private_pem) == (before.kid, before.private_pem)
    assert (after.published, after.ticket_published) == (before.published, before.ticket_published)
    with_key = parse_key_set({"keys": before.jwks})
    token_signed = sign({"iss": BASE_URL, "aud": "check"}, started.gateway(_signing_key))
    header = read_unverified_header(token_signed)
    public = with_key.find(header.kid)
    assert public is not None and verify_signature(token_signed, public, header)["aud"] == "check"


async def _signing_key(gateway: Gateway) -> SigningKey:
    return gateway.tool_keys.signing_key(KeyPurpose.LTI)


def test_dry_run_counts_and_changes_nothing(started: Cli) -> None:
    key_before = (started.data_dir / "secret.key").read_bytes()
    values_before = stored(started)

    result = started.ok("rotate-secret", "--dry-run")

    assert "Would re-encrypt 4 tool keys and 1 service token" in result.stdout
    assert "Dry run: nothing was changed." in result.stdout
    assert (started.data_dir / "secret.key").read_bytes() == key_before
    assert files_in(started) == {"secret.key"}
    assert stored(started) == values_before
    assert_no_secrets(result, key_file(started.data_dir / "secret.key"))


def test_a_wrong_current_key_is_refused_before_anything_is_written(started: Cli) -> None:
    values_before = stored(started)
    wrong = secrets.token_bytes(32)

    for arguments in (["rotate-secret"], ["rotate-secret", "--dry-run"]):
        result = started(*arguments, env={"LTIGATE_SECRET_KEY": key_text(wrong)})
        line = failed(result, "secret_key_mismatch")
        assert "none of the 4 tool keys in the database opens with the current secret key" in line
        assert "nothing was changed" in line
        assert_no_secrets(result, wrong, key_file(started.data_dir / "secret.key"))

    assert stored(started) == values_before
    assert files_in(started) == {"secret.key"}


def test_a_new_key_equal_to_the_current_one_is_refused(started: Cli, tmp_path: Path) -> None:
    same = tmp_path / "same.key"
    same.write_text((started.data_dir / "secret.key").read_text().strip().rstrip("="))  # unpadded: still the same

    line = failed(started("rotate-secret", "--new-key-file", str(same)), "secret_key_unchanged")

    assert "the new secret key is the one in use" in line
    assert files_in(started) == {"secret.key"}


def test_the_new_key_can_be_given_in_a_file(started: Cli, tmp_path: Path) -> None:
    given = secrets.token_bytes(48)
    path = tmp_path / "given.key"
    path.write_text(key_text(given) + "\n")

    result = started.ok("rotate-secret", "--new-key-file", str(path))

    assert key_file(started.data_dir / "secret.key") == given
    assert path.read_text() == key_text(given) + "\n"  # the operator's file is left as it was
    assert_no_secrets(result, given)
    assert signing(started).kid


def test_an_invalid_new_key_file_is_refused(started: Cli, tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text(key_text(b"x" * 16))

    line = failed(started("rotate-secret", "--new-key-file", str(short)), "invalid_secret_key")
    assert "16 bytes; at least 32" in line
    missing = failed(started("rotate-secret", "--new-key-file", str(tmp_path / "nope")), "invalid_secret_key")
    assert "cannot read" in missing
    assert files_in(started) == {"secret.key"}


def test_an_unmigrated_or_unreachable_database_is_refused(cli: Cli) -> None:
    assert "run `ltigate migrate`" in failed(cli("rotate-secret"), "database_not_migrated")
    unreachable = cli("rotate-secret", env={"LTIGATE_DATABASE_URL": "postgresql://gate:pw@127.0.0.1:1/ltigate"})
    failed(unreachable, "database_unavailable")
    assert files_in(cli) == {"secret.key"}


def test_the_old_key_kept_from_the_last_rotation_must_be_moved_away_first(started: Cli) -> None:
    started.ok("rotate-secret")
    values = stored(started)

    line = failed(started("rotate-secret"), "secret_key_file_error")

    assert "secret.key.old is still kept from an earlier rotation" in line
    assert stored(started) == values
    (started.data_dir / "secret.key.old").unlink()
    started.ok("rotate-secret")


def test_a_key_from_the_environment_is_written_for_the_operator(started: Cli, tmp_path: Path) -> None:
    external = tmp_path / "mounted.key"
    external.write_text((started.data_dir / "secret.key").read_text())
    (started.data_dir / "secret.key").unlink()
    before = signing(started, LTIGATE_SECRET_KEY_FILE=str(external))

    result = started("rotate-secret", env={"LTIGATE_SECRET_KEY_FILE": str(external)})

    assert result.exit_code == 0, result.output

    pending = started.data_dir / "secret.key.new"
    assert files_in(started) == {"secret.key.new"}
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    assert f"LTIGATE_SECRET_KEY_FILE={pending}" in result.stdout
    assert_no_secrets(result, key_file(external), key_file(pending))
    # Servers still on the old key do not start, and say why.
    with pytest.raises(SecretRotationUnfinished, match="configure it as LTIGATE_SECRET_KEY_FILE"):
        signing(started, LTIGATE_SECRET_KEY_FILE=str(external))
    after = signing(started, LTIGATE_SECRET_KEY_FILE=str(pending))
    assert (after.kid, after.private_pem, after.published) == (before.kid, before.private_pem, before.published)
    again = started("rotate-secret", env={"LTIGATE_SECRET_KEY_FILE": str(external)})
    assert "is sealed with the key in" in failed(again, "secret_rotation_unfinished")


class RenameFails(DataDirectoryKeyFiles):
    """The key files with the last step, the rename of secret.key.new over secret.key, failing as a full disk
    or a crash at that moment would leave it."""

    def install_pending(self) -> None:
        raise SecretKeyFileError(f"{self.key_path}: simulated failure at the rename")


def rotate_with(cli: Cli, files: type[DataDirectoryKeyFiles]) -> None:
    settings = load_settings(env=cli.env())

    async def run() -> None:
        async with secret_rotation(settings, key_files=files(settings.data_dir, managed=True)) as rotation:
            await rotation.rotate()

    asyncio.run(run())


def test_a_failure_at_the_rename_loses_nothing_and_a_second_run_finishes(started: Cli) -> None:
    old_key = key_file(started.data_dir / "secret.key")
    before = signing(started)

    with pytest.raises(SecretRotationUnfinished, match="simulated failure at the rename") as caught:
        rotate_with(started, RenameFails)

    assert "run `ltigate rotate-secret` again to finish" in caught.value.message
    pending = key_file(started.data_dir / "secret.key.new")
    assert key_file(started.data_dir / "secret.key") == old_key  # the old key is still in place
    assert key_file(started.data_dir / "secret.key.old") == old_key
    assert all(opens(pending, value) is not None for value in stored(started))  # the database took the new key
    # Nothing starts on the old key; the error says how to finish.
    line = failed(started("keys", "list"), "secret_rotation_unfinished")
    assert "was interrupted after re-encrypting the database" in line and "run `ltigate rotate-secret` again" in line
    assert "a run would put it in place" in started.ok("rotate-secret", "--dry-run").stdout
    assert files_in(started) == {"secret.key", "secret.key.new", "secret.key.old"}

    result = started.ok("rotate-secret")

    assert "Finished the interrupted rotation" in result.stdout
    assert files_in(started) == {"secret.key", "secret.key.old"}
    assert key_file(started.data_dir / "secret.key") == pending
    assert key_file(started.data_dir / "secret.key.old") == old_key
    after = signing(started)
    assert (after.kid, after.private_pem, after.published) == (before.kid, before.private_pem, before.published)
    assert_no_secrets(result, old_key, pending)


def test_a_pending_key_the_database_never_took_is_discarded(started: Cli, caplog: pytest.LogCaptureFixture) -> None:
    # As a crash between writing secret.key.new and the commit leaves the directory.
    stale = secrets.token_bytes(32)
    (started.data_dir / "secret.key.new").write_text(key_text(stale) + "\n")

    before = signing(started)  # the gateway starts: the database is still on the key in place

    assert "secret.key.new is left by a `ltigate rotate-secret` that did not complete" in caplog.text

    result = started.ok("rotate-secret")

    assert "secret.key.new: left by a rotation that did not complete" in result.stdout
    assert files_in(started) == {"secret.key", "secret.key.old"}
    assert key_file(started.data_dir / "secret.key") != stale
    assert signing(started).kid == before.kid


def test_a_process_still_on_the_old_key_keeps_signing_and_says_why_it_cannot_reload(started: Cli) -> None:
    old_key = key_file(started.data_dir / "secret.key")

    async def scenario(gateway: Gateway) -> None:
        kid = gateway.tool_keys.signing_key(KeyPurpose.LTI).kid
        await asyncio.to_thread(started.ok, "rotate-secret")
        with pytest.raises(SecretKeyMismatch, match="restart every server and worker with the new key"):
            await gateway.maintain()
        with pytest.raises(SecretKeyMismatch):
            await gateway.tool_keys.rotate()  # a key sealed with the old secret would open nowhere else
        assert gateway.tool_keys.signing_key(KeyPurpose.LTI).kid == kid

    started.gateway(scenario, LTIGATE_SECRET_KEY=key_text(old_key))
    assert len([v for v in stored(started) if v.kind is SealedKind.TOOL_KEY]) == 4


def test_a_database_restored_from_before_the_rotation_names_the_old_key(started: Cli) -> None:
    database = started.data_dir / "ltigate.db"
    assert not database.with_name("ltigate.db-wal").exists()  # every write is in the file: a whole backup
    backup = database.read_bytes()
    started.ok("rotate-secret")
    for journal in ("ltigate.db-wal", "ltigate.db-shm"):
        database.with_name(journal).unlink(missing_ok=True)
    database.write_bytes(backup)  # restored

    line = failed(started("keys", "list"), "secret_key_mismatch")

    assert "sealed with the previous key, kept in" in line and "secret.key.old" in line


def test_a_tool_key_sealed_with_another_key_stops_the_rotation(started: Cli) -> None:
    async def add_foreign_key() -> None:
        engine = create_engine(database_url(started))
        try:
            sealed = Sealer(secrets.token_bytes(32)).seal(b"not this instance's", "tool-key:foreign")
            await SqlKeyStore(engine).add(
                ToolKey("foreign", KeyPurpose.LTI, "RS256", KeyState.RETIRED, {"kid": "foreign"}, sealed, 1.0)
            )
        finally:
            await dispose(engine)

    asyncio.run(add_foreign_key())
    values = stored(started)

    line = failed(started("rotate-secret"), "sealed_values_unreadable")

    assert "1 of 5 tool keys do not open with the current secret key (tool key 'foreign')" in line
    assert stored(started) == values
    assert files_in(started) == {"secret.key"}
