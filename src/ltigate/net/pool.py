"""Keep-alive connections per origin (scheme, host, port), at most `max_per_origin` of them open at once;
requests beyond that wait, first come first served, for one to be released.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ltigate.net.connection import Connection

Origin = tuple[str, str, int]
# Opens a new connection; the callback is for the connection to call when the server closes it while idle.
Opener = Callable[[Callable[[Connection], None]], Awaitable[Connection]]


@dataclass(slots=True)
class _Slot:
    """One origin: its idle connections (the most recently used last), how many are open in all (idle,
    in use, or being opened), and the requests waiting for one."""

    idle: list[Connection] = field(default_factory=list)
    open: int = 0
    # Each waiter is handed a released connection, or None: a slot became free, open a new connection.
    waiters: deque[asyncio.Future[Connection | None]] = field(default_factory=deque)


class ConnectionPool:
    """Hands out connections per origin: the most recently used idle one that is still usable, else a new
    one from the caller's opener while the origin has fewer than `max_per_origin`, else the next one released.

    Idle connections are dropped when the server closes them, when they have been idle `idle_expiry`
    seconds (checked on use and by a sweep at most once per `idle_expiry`), and on `aclose`. A caller
    must `release` every connection it acquired, saying whether it may carry another request.
    """

    def __init__(self, *, max_per_origin: int, idle_expiry: float) -> None:
        if max_per_origin < 1:
            raise ValueError("max_per_origin must be at least 1")
        self._max = max_per_origin
        self._expiry = idle_expiry
        self._slots: dict[Origin, _Slot] = {}
        self._swept = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.opened = 0  # connections opened so far (tests and metrics)

    async def acquire(self, origin: Origin, opener: Opener) -> tuple[Connection, bool]:
        """A connection to `origin` and whether it carried requests before (a reused one may have been
        closed by the server in the meantime). Raises what the opener raises."""
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections belong to the event loop that opened them; a client used from another loop
            # (a fresh asyncio.run) starts over rather than touch transports of a loop that may be closed.
            self._loop, self._slots = loop, {}
        now = loop.time()
        if now - self._swept > self._expiry:
            self._sweep(now)
        slot = self._slots.get(origin)
        if slot is None:
            slot = self._slots[origin] = _Slot()
        while slot.idle:
            connection = slot.idle.pop()
            if connection.usable and now - connection.idle_since < self._expiry:
                return connection, True
            self._drop(origin, slot, connection)
        if slot.open < self._max:
            slot.open += 1
            return await self._open(origin, slot, opener), False
        waiter: asyncio.Future[Connection | None] = loop.create_future()
        slot.waiters.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            self._abandon(origin, slot, waiter)
            raise
        if handed is not None:
            return handed, True
        return await self._open(origin, slot, opener), False

    def release(self, origin: Origin, connection: Connection, *, reusable: bool) -> None:
        """Give `connection` back: kept for the next request if `reusable` and still usable, else closed."""
        slot = self._slots[origin]
        if reusable and connection.usable and not self._closed:
            connection.idle_since = asyncio.get_running_loop().time()
            if self._hand_over(slot, connection):
                return
            slot.idle.append(connection)
            return
        connection.close()
        self._free(slot)

    async def aclose(self) -> None:
        self._closed = True
        for slot in self._slots.values():
            for connection in slot.idle:
                connection.close()
            slot.idle.clear()

    def drop_idle(self, origin: Origin) -> None:
        """Close the idle connections to `origin` (one of them turned out closed by the server: so may they)."""
        slot = self._slots.get(origin)
        while slot is not None and slot.idle:
            self._drop(origin, slot, slot.idle.pop())

    # --- internals ----------------------------------------------------------------------------------

    async def _open(self, origin: Origin, slot: _Slot, opener: Opener) -> Connection:
        try:
            connection = await opener(lambda closed: self._closed_while_idle(origin, closed))
        except BaseException:
            self._free(slot)
            raise
        self.opened += 1
        return connection

    def _hand_over(self, slot: _Slot, connection: Connection | None) -> bool:
        while slot.waiters:
            waiter = slot.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    def _free(self, slot: _Slot) -> None:
        """One connection of `slot` is gone: its place goes to a waiter, if any."""
        if not self._hand_over(slot, None):
            slot.open -= 1

    def _abandon(self, origin: Origin, slot: _Slot, waiter: asyncio.Future[Connection | None]) -> None:
        """A waiter was cancelled; if it had already been handed a connection or a place, pass it on."""
        if not waiter.done() or waiter.cancelled():
            with contextlib.suppress(ValueError):
                slot.waiters.remove(waiter)
            return
        handed = waiter.result()
        if handed is not None:
            self.release(origin, handed, reusable=True)
        else:
            self._free(slot)

    def _closed_while_idle(self, origin: Origin, connection: Connection) -> None:
        slot = self._slots.get(origin)
        if slot is not None and connection in slot.idle:
            slot.idle.remove(connection)
            self._free(slot)

    def _drop(self, origin: Origin, slot: _Slot, connection: Connection) -> None:
        connection.close()
        self._free(slot)

    def _sweep(self, now: float) -> None:
        self._swept = now
        for origin, slot in self._slots.items():
            expired = [c for c in slot.idle if not c.usable or now - c.idle_since >= self._expiry]
            for connection in expired:
                slot.idle.remove(connection)
                self._drop(origin, slot, connection)
