"""Administrator accounts, console sessions and the lock-out, through the use cases over the SQL stores on a
migrated SQLite database, with a clock the tests move.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from ltigate.db.admins import SqlAdminStore, SqlConsoleSessionStore, SqlSignInFailureStore
from ltigate.db.engine import create_engine, dispose
from ltigate.db.migrate import upgrade
from ltigate.services.admins import Admins, Passwords
from ltigate.services.console_sessions import (
    ConsoleSessions,
    LockoutPolicy,
    SignInLocked,
    SignInRefused,
    locked_until,
)
from ltigate.services.digest import secret_digest
from ltigate.services.errors import Conflict, InvalidField, NotFound

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"
MINUTE = 60.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Console:
    admins: Admins
    sessions: ConsoleSessions
    store: SqlConsoleSessionStore
    clock: Clock


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    upgrade(url)  # synchronous: it runs its own event loop
    return url


@pytest.fixture
async def console(database_url: str) -> AsyncIterator[Console]:
    engine = create_engine(database_url)
    clock = Clock()
    store = SqlConsoleSessionStore(engine)
    # Cheap argon2 parameters: these tests are about the rules, not the hash's cost.
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    admins = Admins(SqlAdminStore(engine), store, passwords, clock)
    sessions = ConsoleSessions(admins, store, SqlSignInFailureStore(engine), b"k" * 32, clock)
    try:
        yield Console(admins=admins, sessions=sessions, store=store, clock=clock)
    finally:
        await dispose(engine)


async def test_names_are_case_insensitive_and_checked(console: Console) -> None:
    admin = await console.admins.create("  Ada.Lovelace@Example ", PASSWORD)

    assert admin.name == "ada.lovelace@example"
    with pytest.raises(Conflict) as taken:
        await console.admins.create("ADA.LOVELACE@example", PASSWORD)
    assert (taken.value.field, taken.value.message) == (
        "name",
        "an administrator named 'ada.lovelace@example' exists already",
    )
    with pytest.raises(InvalidField) as bad:
        await console.admins.create("ada lovelace", PASSWORD)
    assert bad.value.field == "name" and "may hold letters, digits" in bad.value.message


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "the password has 5 characters; use at least 12"),
        ("x" * 1025, "the password has 1025 characters; at most 1024"),
        ("Grace-Hopper", "the password must not be the account name"),
    ],
)
async def test_weak_passwords_are_refused(console: Console, password: str, message: str) -> None:
    with pytest.raises(InvalidField) as refused:
        await console.admins.create("grace-hopper", password)
    assert (refused.value.field, refused.value.message) == ("password", message)


async def test_passwords_are_argon2id_hashes_with_the_library_defaults() -> None:
    passwords = Passwords()
    stored = await passwords.hash(PASSWORD)

    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await passwords.verify(stored, PASSWORD)
    assert not await passwords.verify(stored, PASSWORD + "!")
    assert not await passwords.verify(None, PASSWORD)  # an unknown account: a decoy hash is checked
    assert not await passwords.verify("not a hash", PASSWORD)


async def test_sign_in_makes_a_session_stored_only_as_a_hash(console: Console) -> None:
    await console.admins.create("ada", PASSWORD)

    signed_in = await console.sessions.sign_in("ADA", PASSWORD, "192.0.2.1")

    assert len(signed_in.session_id) >= 43
    assert await console.store.get(signed_in.session_id) is None
    stored = await console.store.get(secret_digest(signed_in.session_id))
    assert stored is not None and stored[1].name == "ada" and stored[0].client_address == "192.0.2.1"
    active = await console.sessions.resume(signed_in.session_id)
    assert active is not None and active.admin.last_sign_in_at is not None
    assert console.sessions.check_form_token("session", signed_in.session_id, active.form_token)
    assert not console.sessions.check_form_token("sign-in", signed_in.session_id, active.form_token)
    assert not console.sessions.check_form_token("session", signed_in.session_id, None)


async def test_a_session_ends_when_idle_or_at_its_absolute_end(console: Console) -> None:
    await console.admins.create("ada", PASSWORD)
    idle = await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")
    busy = await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")

    for _ in range(24):  # 12 hours of a request every 29 minutes keeps `busy` alive until its absolute end
        console.clock.now += 29 * MINUTE
        assert (await console.sessions.resume(busy.session_id)) is not None or console.clock.now >= busy.expires_at
    assert await console.sessions.resume(idle.session_id) is None
    console.clock.now = busy.expires_at
    assert await console.sessions.resume(busy.session_id) is None
    assert await console.store.get(secret_digest(busy.session_id)) is None  # deleted, not only refused


async def test_disabling_or_resetting_the_password_ends_the_sessions(console: Console) -> None:
    await console.admins.create("ada", PASSWORD)
    first = await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")

    await console.admins.disable("ada")
    assert await console.sessions.resume(first.session_id) is None
    with pytest.raises(SignInRefused, match="this account is disabled"):
        await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")

    await console.admins.enable("Ada")
    second = await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")
    await console.admins.reset_password("ada", "a brand new passphrase")
    assert await console.sessions.resume(second.session_id) is None
    with pytest.raises(SignInRefused):
        await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")
    assert (await console.sessions.sign_in("ada", "a brand new passphrase", "192.0.2.1")).admin.name == "ada"
    with pytest.raises(NotFound) as unknown:
        await console.admins.disable("nobody")
    assert unknown.value.message == "administrator 'nobody' does not exist"


async def test_an_account_locks_after_five_failures_from_any_addresses_for_fifteen_minutes(console: Console) -> None:
    await console.admins.create("ada", PASSWORD)
    for n in range(4):
        with pytest.raises(SignInRefused):
            await console.sessions.sign_in("ada", "wrong wrong wrong", f"198.51.100.{n}")
        console.clock.now += MINUTE
    with pytest.raises(SignInLocked) as fifth:
        await console.sessions.sign_in("ada", "wrong wrong wrong", "198.51.100.9")
    locked_at = console.clock.now

    console.clock.now = locked_at + 14 * MINUTE
    with pytest.raises(SignInLocked) as still:  # the right password, from a fresh address: still locked
        await console.sessions.sign_in("ada", PASSWORD, "203.0.113.7")
    console.clock.now = locked_at + 15 * MINUTE + 1
    signed_in = await console.sessions.sign_in("ada", PASSWORD, "203.0.113.7")

    assert fifth.value.code == "sign_in_locked" and fifth.value.status == 429
    assert fifth.value.until == locked_at + 15 * MINUTE
    assert still.value.message.endswith("sign-in is locked for 1 more minute")
    assert signed_in.admin.name == "ada"


async def test_an_address_locks_after_five_failures_on_any_names(console: Console) -> None:
    await console.admins.create("ada", PASSWORD)
    for name in ("root", "admin", "ada", "test", "guest"):
        with pytest.raises((SignInRefused, SignInLocked)):
            await console.sessions.sign_in(name, "guess guess guess", "192.0.2.66")

    with pytest.raises(SignInLocked):
        await console.sessions.sign_in("ada", PASSWORD, "192.0.2.66")
    assert (await console.sessions.sign_in("ada", PASSWORD, "192.0.2.67")).admin.name == "ada"


async def test_a_successful_sign_in_clears_the_account_failures(console: Console) -> None:
    await console.admins.create("ada", PASSWORD)
    for n in range(4):
        with pytest.raises(SignInRefused):
            await console.sessions.sign_in("ada", "wrong wrong wrong", f"198.51.100.{n}")
    await console.sessions.sign_in("ada", PASSWORD, "198.51.100.200")

    for n in range(4):
        with pytest.raises(SignInRefused):
            await console.sessions.sign_in("ada", "wrong wrong wrong", f"198.51.100.{10 + n}")


async def test_purge_removes_ended_sessions_and_old_failures(console: Console) -> None:
    await console.admins.create("ada", PASSWORD)
    ended = await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")
    with pytest.raises(SignInRefused):
        await console.sessions.sign_in("eve", "wrong wrong wrong", "192.0.2.1")
    console.clock.now += 31 * MINUTE
    live = await console.sessions.sign_in("ada", PASSWORD, "192.0.2.1")

    assert await console.sessions.purge() == 2  # the idle session and the failure older than 30 minutes
    assert await console.store.get(secret_digest(ended.session_id)) is None
    assert await console.sessions.resume(live.session_id) is not None


def test_locked_until_counts_failures_within_the_window() -> None:
    policy = LockoutPolicy(max_failures=3, window_seconds=100, lock_seconds=50)

    assert locked_until([], policy) is None
    assert locked_until([0, 10], policy) is None
    assert locked_until([0, 10, 100], policy) == 150
    assert locked_until([0, 10, 101], policy) is None  # the first is out of the window of the third
    assert locked_until([0, 10, 20, 500, 510, 520], policy) == 570
