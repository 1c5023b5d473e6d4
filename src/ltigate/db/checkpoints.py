"""WAL checkpoints of an inline SQLite database, mostly off the event loop.

SQLite copies the write-ahead log back into the database file when a commit takes the log past
`wal_autocheckpoint` pages: inside that commit, on the event loop, with two fsyncs. About two thirds of a
checkpoint's time is waiting for the disk (4–5 ms per ~1000 pages here), and every request waits with it:
this was most of the launch bench's p99 on the standard event loop (bench/README.md, "Checkpoints").

Here, every INTERVAL seconds while there are commits, a thread does the copying on a connection of its
own: a `wal_checkpoint(PASSIVE)` while writes go on, then up to three more, each copying what was
committed during the one before, until one finds few new frames. A last pass then runs on the event loop
itself, between two callbacks, where no inline transaction is open (none spans a yield) and none can
begin: it copies only those frames and syncs, and then the next writer starts the log from its
beginning, so it does not grow. That pass stops the loop for a few dozen pages and the syncs (~3 ms here,
four times a second under full load); run in the thread behind a gate that held transactions back, the
same pass kept them waiting ~10 ms, most of it for the thread and the loop to hand the work over. While
the disk is slow to sync (the thread's last pass took over LOOP_PASS_BUDGET) the loop's pass is skipped.
PASSIVE never waits for other processes: their readers or writers only make a checkpoint copy less, and
the next one catches up. SQLite's own autocheckpoint stays as a backstop at BACKSTOP_PAGES, for a disk
too slow to keep up and for connections used outside a running event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from typing import Final

INTERVAL: Final = 0.25
BACKSTOP_PAGES: Final = 10_000
BUSY_TIMEOUT_MS: Final = 5000
# Passes in the thread after the first, each copying what was committed during the one before, until one
# finds at most LAST_PASS_FRAMES new frames: the pass on the event loop then copies about that many.
CATCH_UP_PASSES: Final = 3
LAST_PASS_FRAMES: Final = 64
# The pass on the loop is skipped while the thread's last pass took longer (the disk is slow to sync now):
# the log then grows until a later round, or SQLite's backstop, starts it again.
LOOP_PASS_BUDGET: Final = 0.05

log = logging.getLogger(__name__)


class Checkpointer:
    """Checkpoints one SQLite file, in a thread and then briefly on the event loop.

    Bound to the first event loop that commits through it; without a running loop SQLite's backstop
    checkpoints as usual.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._commits = 0
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the checkpoint connection: one pass at a time, and close()
        self._closed = False

    def committed(self) -> None:
        """Count a commit of the inline connection; starts the checkpoint task on the first one."""
        self._commits += 1
        if self._task is None and not self._closed:
            with contextlib.suppress(RuntimeError):  # no running loop: SQLite's backstop only
                self._loop = asyncio.get_running_loop()
                self._task = self._loop.create_task(self._run(), name="ltigate-sqlite-checkpoints")

    async def _run(self) -> None:
        assert self._loop is not None
        seen = self._commits
        while not self._closed:
            await asyncio.sleep(INTERVAL)
            if self._commits == seen:
                continue
            seen = self._commits
            try:
                # Most of the copying in the thread while writes go on, again for what was committed
                # meanwhile until little is left, then the rest here, where no transaction is open.
                frames, took = await self._thread_pass()
                for _ in range(CATCH_UP_PASSES):
                    previous, (frames, took) = frames, await self._thread_pass()
                    if _appended(previous, frames) <= LAST_PASS_FRAMES:
                        break
                if took <= LOOP_PASS_BUDGET:  # a disk slow to sync now would stop the loop as long
                    self._checkpoint()
            except Exception as exc:  # the backstop still checkpoints; never take the gateway down for this
                log.warning("SQLite checkpoint failed: %s", exc)

    async def _thread_pass(self) -> tuple[int, float]:
        """A pass in the thread: the frames it saw, and how long it took (seconds, wall clock)."""
        assert self._loop is not None
        started = time.perf_counter()
        frames = await self._loop.run_in_executor(None, self._checkpoint)
        return frames, time.perf_counter() - started

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
