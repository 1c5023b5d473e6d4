"""Inline SQLite: a thread checkpoints the write-ahead log, so commits on the event loop never do, and the
log starts again instead of growing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ltigate.db import checkpoints
from ltigate.db.engine import create_engine, dispose, statement_engine
from ltigate.db.migrate import upgrade
from ltigate.db.states import SqlStateStore
from ltigate.services.records import LoginState

pytestmark = pytest.mark.anyio


def _state(number: int) -> LoginState:
    return LoginState(
        state_hash=f"h{number}", nonce="n", platform_id="p1", target_link_uri="https://gate.test/", expires_at=9e9
    )


async def test_a_thread_checkpoints_and_the_log_starts_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoints, "INTERVAL", 0.05)
    path = tmp_path / "ltigate.db"
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    on_loop: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "wal_checkpoint" in statement:
            on_loop.append(statement)

    try:
        from sqlalchemy import event

        event.listen(statement_engine(engine), "before_cursor_execute", note)
        states = SqlStateStore(engine)
        with sqlite3.connect(path) as probe:
            assert probe.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        for round_number in range(10):  # 300 commits of at least two pages each: 2.4 MB of log if never restarted
            for number in range(30):
                await states.put(_state(round_number * 30 + number))
            await asyncio.sleep(0.15)  # checkpoint rounds in between
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size < 1_200_000  # the log started again from its beginning, round after round
        assert await states.peek("h299") is not None
        assert on_loop == []  # the event loop's connection never ran a checkpoint statement
        inline_backstop = statement_engine(engine).connect()
        try:
            value = inline_backstop.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        finally:
            inline_backstop.close()
        assert value == checkpoints.BACKSTOP_PAGES
    finally:
        await dispose(engine)


@pytest.mark.parametrize(
    ("frames_seen", "thread_passes"),
    [
        ([1000, 1020, 1030], 2),  # few frames committed during the first pass: the loop's pass comes next
        ([1000, 1400, 1500, 1530, 1540], 4),  # catching up: 400, then 100, then 30 new frames
        ([1000, 2000, 3000, 4000, 5000], 4),  # never catching up: at most three passes more, then the loop's
        ([1000, 40, 50], 2),  # the log restarted between the passes: 40 new frames
    ],
)
async def test_the_last_pass_runs_on_the_event_loop_once_a_pass_finds_few_new_frames(
    frames_seen: list[int], thread_passes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scripted_pass(passes_so_far: int) -> int:
        return frames_seen[min(passes_so_far, len(frames_seen) - 1)]

    on_loop = await _one_round(tmp_path, monkeypatch, scripted_pass, passes=thread_passes + 1)

    assert on_loop == [False] * thread_passes + [True]


async def _one_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scripted_pass: Callable[[int], int], passes: int
) -> list[bool]:
    """One checkpoint round with `scripted_pass(passes so far)` in place of SQLite's (it gives the frames the
    pass saw); for each pass, whether it ran on the event loop's thread. Waits for `passes` passes, then a
    little more to see that no other comes."""
    monkeypatch.setattr(checkpoints, "INTERVAL", 0.01)
    checkpointer = checkpoints.Checkpointer(str(tmp_path / "unused.db"))
    on_loop: list[bool] = []
    loop_thread = threading.get_ident()

    def observed_pass() -> int:
        on_loop.append(threading.get_ident() == loop_thread)
        return scripted_pass(len(on_loop) - 1)

    monkeypatch.setattr(checkpointer, "_checkpoint", observed_pass)
    checkpointer.committed()  # starts the checkpoint task, which counts commits from here on
    await asyncio.sleep(0)
    checkpointer.committed()
    for _ in range(500):
        if len(on_loop) >= passes:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # one round per batch of commits: no pass after the last
    checkpointer.close()
    return on_loop


async def test_no_transaction_is_open_while_the_last_pass_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last pass runs between two callbacks of the loop, where the loop's connection holds no open
    transaction (SQLite would otherwise not start the log again)."""
    monkeypatch.setattr(checkpoints, "INTERVAL", 0.01)
    path = tmp_path / "ltigate.db"
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    seen_on_loop: list[bool] = []  # whether the loop's connection had a transaction open
    try:
        states = SqlStateStore(engine)
        from ltigate.db.engine import _inline_engines

        await states.put(_state(0))  # binds the checkpointer to this loop
        database = _inline_engines[engine]
        real_pass = database.checkpoints._checkpoint
        loop_thread = threading.get_ident()

        def observed_pass() -> int:
            frames = real_pass()
            if threading.get_ident() == loop_thread:
                seen_on_loop.append(database.connection().in_transaction())
            return frames

        monkeypatch.setattr(database.checkpoints, "_checkpoint", observed_pass)
        number = 1
        for _ in range(300):
            if len(seen_on_loop) >= 3:
                break
            for _ in range(20):
                await states.put(_state(number))
                number += 1
            await asyncio.sleep(0.005)
        assert len(seen_on_loop) >= 3
        assert not any(seen_on_loop)
    finally:
        await dispose(engine)


async def test_no_pass_on_the_loop_while_the_disk_is_slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the thread's last pass took longer than the budget, the loop's pass would likely stall it as
    long: it is left to a later round (or SQLite's backstop)."""
    monkeypatch.setattr(checkpoints, "LOOP_PASS_BUDGET", 0.02)
    loop_thread = threading.get_ident()

    def slow_pass(passes_so_far: int) -> int:
        if threading.get_ident() != loop_thread:
            time.sleep(0.04)  # syncing takes this long
        return 1000 + 10 * passes_so_far  # few new frames each time: no catching up

    on_loop = await _one_round(tmp_path, monkeypatch, slow_pass, passes=2)

    assert on_loop == [False, False]  # the thread's two passes, and none on the loop
