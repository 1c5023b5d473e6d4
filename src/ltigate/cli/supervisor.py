"""The supervisor of `ltigate serve --workers N`: binds the listening socket once, runs N server processes
that accept on it, replaces one that dies (within a restart budget) and stops them all on SIGTERM or SIGINT.

Not uvicorn's own `--workers` supervisor (uvicorn.supervisors.Multiprocess): it wants the app as an import
string for each child to import, where ltigate hands every process the Settings read once here and builds
the gateway inside that process's own event loop; it starts all children at once, so a start-up failure
(an unmigrated database) is printed N times and N processes race to make a new database's first tool keys;
and it restarts a child that keeps crashing every half second, without end.

Children are spawned (a fresh interpreter), not forked: nothing of this process (threads, logging handlers,
open files) is copied into them. The supervisor itself opens no database connection and runs no event loop.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Final

import uvicorn

log = logging.getLogger("ltigate.serve")

# A server process's entry point: accept on the socket, and talk to the supervisor over the link (send READY
# once serving; the link's end of file means the supervisor is gone). Must be picklable.
ServerTarget = Callable[[socket.socket, Connection], None]

READY: Final = b"ready"
BACKLOG: Final = 2048  # uvicorn's default
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
STOP_GRACE_SECONDS: Final = 30.0  # then the processes still draining requests are killed
EXIT_STARTUP_FAILURE: Final = 3  # uvicorn's own status for "the server did not start"
EXIT_RESTARTS_EXHAUSTED: Final = 1


def listen(host: str, port: int) -> socket.socket:
    """The socket every server process accepts on, bound and listening. Raises OSError (address in use, …)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class RestartBudget:
    """At most `restarts` replacements within any `window_seconds`. A process that keeps dying (a crash on
    every request, a dependency that kills it) then stops the supervisor with an error, for the service
    manager's restart policy and the logs to take over, instead of a restart loop that never ends."""

    restarts: int = 5
    window_seconds: float = 60.0
    _used: deque[float] = field(default_factory=deque)

    def allow(self, now: float) -> bool:
        """Whether a replacement may start at `now` (monotonic seconds); counts it when it may."""
        while self._used and self._used[0] <= now - self.window_seconds:
            self._used.popleft()
        if len(self._used) >= self.restarts:
            return False
        self._used.append(now)
        return True


def exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit status {exitcode}"


@dataclass
class _Process:
    slot: int
    process: BaseProcess
    link: Connection
    ready: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid or 0


@dataclass
class _Events:
    stop: bool = False
    exited: list[_Process] = field(default_factory=list)


class Supervisor:
    """Runs `count` processes of `target` on `listener`; see `run`."""

    def __init__(
        self,
        target: ServerTarget,
        count: int,
        listener: socket.socket,
        *,
        budget: RestartBudget | None = None,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
    ) -> None:
        self._target, self._count, self._listener = target, count, listener
        self._budget = budget or RestartBudget()
        self._grace = stop_grace_seconds
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[int, _Process] = {}
        self._signals: socket.socket | None = None

    def run(self, on_ready: Callable[[], None]) -> int:
        """Start the processes, call `on_ready` once all of them serve, and replace any that dies until
        SIGTERM or SIGINT; then stop them all (SIGTERM, then SIGKILL after the grace period).

        The first process starts alone: a start-up failure (settings, an unmigrated or unreachable database)
        is reported once, by that process, and a new database gets its tool keys made once.
        Returns the exit status: 0 after a stop by signal; the failed process's status when one fails
        before serving; EXIT_RESTARTS_EXHAUSTED when processes keep dying.
        """
        with self._signal_wakeup():
            try:
                status = self._start()
                if status is None:
                    on_ready()
                    status = self._supervise()
            finally:
                self._stop()
        return status

    def _start(self) -> int | None:
        """None once every process serves; else the status to exit with (0: a stop signal came first)."""
        for slots in (range(1), range(1, self._count)):
            for slot in slots:
                self._spawn(slot)
            while not all(self._processes[slot].ready for slot in slots):
                events = self._wait()
                if events.stop:
                    return 0
                for failed in events.exited:
                    log.error(
                        "server process failed to start (%s); stopping",
                        exit_reason(failed.process.exitcode),
                        extra={"pid": failed.pid},
                    )
                    code = failed.process.exitcode or 0
                    return code if code > 0 else EXIT_STARTUP_FAILURE
        return None

    def _supervise(self) -> int:
        while True:
            events = self._wait()
            if events.stop:
                return 0
            for dead in events.exited:
                reason = exit_reason(dead.process.exitcode)
                if not self._budget.allow(time.monotonic()):
                    log.error(
                        "server processes keep exiting (%d replaced within %g s); stopping",
                        self._budget.restarts,
                        self._budget.window_seconds,
                        extra={"pid": dead.pid, "reason": reason},
                    )
                    return EXIT_RESTARTS_EXHAUSTED
                log.warning(
                    "server process exited unexpectedly (%s); starting another", reason, extra={"pid": dead.pid}
                )
                self._spawn(dead.slot)

    def _spawn(self, slot: int) -> None:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=self._target, args=(self._listener, theirs), name=f"ltigate-serve-{slot}", daemon=False
        )
        process.start()
        theirs.close()  # the child's copy is its own: its end of file tells us it is gone
        self._processes[slot] = _Process(slot, process, ours)
        log.info("server process started", extra={"pid": process.pid, "slot": slot})

    def _wait(self, timeout: float | None = None) -> _Events:
        """Wait for a signal, a process's READY or a process's exit (or `timeout`), and collect them."""
        assert self._signals is not None
        starting = {p.link: p for p in self._processes.values() if not p.ready}
        by_sentinel = {p.process.sentinel: p for p in self._processes.values()}
        events = _Events()
        for source in wait([self._signals, *starting, *by_sentinel], timeout):
            if isinstance(source, socket.socket):
                with suppress(BlockingIOError):
                    events.stop = events.stop or any(n in STOP_SIGNALS for n in source.recv(64))
            elif isinstance(source, Connection):
                self._read_ready(starting[source])
            elif isinstance(source, int):  # a sentinel: that process exited
                gone = by_sentinel[source]
                gone.process.join()
                gone.link.close()
                del self._processes[gone.slot]
                events.exited.append(gone)
        return events

    def _read_ready(self, process: _Process) -> None:
        try:
            ready = process.link.recv_bytes() == READY
        except (EOFError, OSError):
            return  # it exited: its sentinel says so
        if ready and not process.ready:
            process.ready = True
            log.info("server process ready", extra={"pid": process.pid, "slot": process.slot})

    def _stop(self) -> None:
        running = [p for p in self._processes.values() if p.process.exitcode is None]
        if running:
            log.info("stopping server processes", extra={"count": len(running)})
        for process in running:
            process.process.terminate()  # SIGTERM: uvicorn finishes the requests in progress, then stops
        deadline = time.monotonic() + self._grace
        while self._processes and (left := deadline - time.monotonic()) > 0:
            if self._wait(left).stop:
                break  # asked twice: stop now
        for process in self._processes.values():
            log.warning("server process did not stop in time; killing it", extra={"pid": process.pid})
            process.process.kill()
            process.process.join()
            process.link.close()
        self._processes.clear()

    @contextmanager
    def _signal_wakeup(self) -> Iterator[None]:
        """SIGTERM and SIGINT write their numbers to a socket `_wait` watches, beside the processes."""
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        previous = {number: signal.signal(number, _note) for number in STOP_SIGNALS}
        previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._signals = reader
        try:
            yield
        finally:
            signal.set_wakeup_fd(previous_fd)
            for number, handler in previous.items():
                signal.signal(number, handler)
            reader.close()
            writer.close()
            self._signals = None


def _note(signum: int, frame: object) -> None:
    """A handler that does nothing: the wakeup socket carries the signal (a Python handler must exist for
    it to be written)."""


class SupervisedServer(uvicorn.Server):
    """uvicorn's server inside a process of the supervisor: sends READY once it serves, and stops (as on
    SIGTERM) when the supervisor is gone, so a killed supervisor leaves no orphan holding the socket."""

    def __init__(self, config: uvicorn.Config, link: Connection) -> None:
        super().__init__(config)
        self._link = link

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().add_reader(self._link.fileno(), self._orphaned)
        await super().startup(sockets)
        if self.started:
            with suppress(OSError):  # the supervisor is gone: _orphaned stops this server
                self._link.send_bytes(READY)

    def _orphaned(self) -> None:
        # The supervisor never writes: the link is readable only at its end of file.
        asyncio.get_running_loop().remove_reader(self._link.fileno())
        self.should_exit = True
