"""WAL checkpoints of an inline SQLite database, off the event loop.

SQLite copies the write-ahead log back into the database file when a commit takes the log past
`wal_autocheckpoint` pages: inside that commit, on the event loop, with two fsyncs. About two thirds of a
checkpoint's time is waiting for the disk (4–5 ms per ~1000 pages here), and every request waits with it:
this was most of the launch bench's p99 on the standard event loop (bench/README.md, "Checkpoints").

Here a thread does it instead, on a connection of its own, every INTERVAL seconds while there are
commits: a `wal_checkpoint(PASSIVE)` while writes go on (most of the copying), then up to three more
while writes go on, each copying what was committed during the one before, until one finds few new
frames; then a last one with the gate closed (inline transactions that have not begun wait for it; none is
open, since they never span a yield): it copies only those few frames and syncs, and then the next writer
starts the log from its beginning, so it does not grow. The gate is closed for the syncs and a few dozen
pages, four times a second under full load. PASSIVE never waits for other processes:
their readers or writers only make a checkpoint copy less, and the next one catches up. The
event loop goes on meanwhile with everything that is not a statement: parsing, verifying, signing,
answering. SQLite's own autocheckpoint stays as a backstop at BACKSTOP_PAGES, for a disk too slow to keep
up and for connections used outside a running event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from typing import Final

INTERVAL: Final = 0.25
BACKSTOP_PAGES: Final = 10_000
BUSY_TIMEOUT_MS: Final = 5000
# Passes while writes go on after the first, each copying what was committed during the one before, until
# one finds at most GATED_FRAMES new frames: the gated pass then copies about that many.
CATCH_UP_PASSES: Final = 3
GATED_FRAMES: Final = 64

log = logging.getLogger(__name__)


class Checkpointer:
    """Checkpoints one SQLite file from a thread, pausing the start of inline transactions meanwhile.

    Bound to the first event loop that commits through it; from any other loop (or none), transactions
    pass the gate at once and SQLite's backstop checkpoints as usual.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._gate: asyncio.Event | None = None  # set while no checkpoint runs
        self._commits = 0
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the thread's connection: one checkpoint at a time, and close()
        self._closed = False

    def committed(self) -> None:
        """Count a commit of the inline connection; starts the checkpoint task on the first one."""
        self._commits += 1
        if self._task is None and not self._closed:
            with contextlib.suppress(RuntimeError):  # no running loop: SQLite's backstop only
                self._loop = asyncio.get_running_loop()
                self._gate = asyncio.Event()
                self._gate.set()
                self._task = self._loop.create_task(self._run(), name="ltigate-sqlite-checkpoints")

    def open(self) -> bool:
        """True when a transaction may begin now (no checkpoint runs, or this is not the bound loop)."""
        gate = self._gate
        return gate is None or gate.is_set() or _running_loop() is not self._loop

    async def wait(self) -> None:
        """Until the running checkpoint ends (call when `open()` is False)."""
        if self._gate is not None:
            await self._gate.wait()

    async def _run(self) -> None:
        assert self._gate is not None and self._loop is not None
        seen = self._commits
        while not self._closed:
            await asyncio.sleep(INTERVAL)
            if self._commits == seen:
                continue
            seen = self._commits
            try:
                # Most of the copying while writes go on, then again for what was committed meanwhile
                # until little is left, then the rest with the writers paused: a few pages and the syncs.
                frames = await self._loop.run_in_executor(None, self._checkpoint)
                for _ in range(CATCH_UP_PASSES):
                    previous, frames = frames, await self._loop.run_in_executor(None, self._checkpoint)
                    if _appended(previous, frames) <= GATED_FRAMES:
                        break
                self._gate.clear()
                try:
                    await self._loop.run_in_executor(None, self._checkpoint)
                finally:
                    self._gate.set()
            except Exception as exc:  # the backstop still checkpoints; never take the gateway down for this
                log.warning("SQLite checkpoint failed: %s", exc)

    def _checkpoint(self) -> int:
        """One PASSIVE pass; the number of frames in the log when it began (-1 when none ran)."""
        with self._lock:
            if self._closed:
                return -1
            if self._connection is None:
                self._connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
                self._connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            row = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(row[1]) if row is not None else -1

    def close(self) -> None:
        """Stop checkpointing; the thread's connection is closed (a checkpoint running finishes first)."""
        self._closed = True
        if self._task is not None and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                if _running_loop() is self._loop:
                    self._task.cancel()
                else:
                    self._loop.call_soon_threadsafe(self._task.cancel)
        if self._gate is not None and _running_loop() is self._loop:
            self._gate.set()
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _appended(before: int, after: int) -> int:
    """Frames committed between two passes that saw `before` and `after` frames in the log (after a
    restart of the log, everything in it is new)."""
    return after if after < before else after - before


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
