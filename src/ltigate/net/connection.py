"""One outbound HTTP/1.1 connection (TCP or TLS) on asyncio: one request at a time, the response parsed
as bytes arrive (`ltigate.net.http11`), inactivity bounded while sending and while reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from ltigate.net.http11 import BodyTooLarge, ProtocolViolation, ResponseParser


class PhaseTimeout(Exception):
    """No progress within the phase's timeout; `phase` names it ('sending the request', ...)."""

    def __init__(self, phase: str) -> None:
        super().__init__(f"{phase} timed out")
        self.phase = phase


class ConnectionDropped(Exception):
    """The connection failed or was closed before the response was complete. `answered` says whether any
    response byte had arrived; `sent` whether any request byte was handed to the socket."""

    def __init__(self, reason: str, *, sent: bool, answered: bool) -> None:
        super().__init__(reason)
        self.reason, self.sent, self.answered = reason, sent, answered


class Connection(asyncio.Protocol):
    """An asyncio protocol carrying sequential exchanges. Between exchanges it is idle: anything the
    server sends then, or its close, makes the connection unusable (`usable` turns False) and it is
    closed. After an error, a timeout or a cancelled exchange it is closed, never reused.
    """

    def __init__(self, on_idle_close: Callable[[Connection], None] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._on_idle_close = on_idle_close
        self._parser: ResponseParser | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._paused = False
        self._broken = False
        self._sent = False
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = 0.0
        self._activity = 0.0
        self._phase = ""
        self.idle_since = 0.0

    # --- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # unasked bytes on an idle connection: its framing can no longer be trusted
            self._lost_while_idle()
            return
        self._activity = self._loop.time()
        try:
            parser.feed(data)
        except (ProtocolViolation, BodyTooLarge) as exc:
            self._fail(exc)
            return
        if parser.done:
            self._complete()

    def eof_received(self) -> bool:
        parser = self._parser
        if parser is None:
            self._lost_while_idle()
            return False
        try:
            parser.feed_eof()
        except ProtocolViolation as exc:
            self._fail(ConnectionDropped(exc.reason, sent=self._sent, answered=parser.started))
            return False
        self._complete()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        parser = self._parser
        if parser is None:
            if not self._broken:
                self._lost_while_idle()
            return
        self._broken = True
        if parser.done:
            self._complete()
        else:
            reason = f"the connection was lost ({exc})" if exc else "the server closed the connection"
            self._fail(ConnectionDropped(reason, sent=self._sent, answered=parser.started))

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # --- use ----------------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Idle, open, and nothing received since the last exchange."""
        transport = self._transport
        return not self._broken and transport is not None and not transport.is_closing()

    async def exchange(
        self, request: bytes, parser: ResponseParser, *, read_timeout: float, write_timeout: float
    ) -> None:
        """Send `request` and feed the answer to `parser` until it is done.

        Raises PhaseTimeout, ConnectionDropped, ProtocolViolation or BodyTooLarge; after any of them, or
        a cancellation, the connection is closed.
        """
        transport = self._transport
        if transport is None or not self.usable:
            raise ConnectionDropped("the connection was already closed", sent=False, answered=False)
        self._parser = parser
        self._sent = False
        waiter = self._waiter = self._loop.create_future()
        try:
            transport.write(request)
            self._sent = True
            if self._paused:
                await self._drain(write_timeout)
            if not waiter.done():
                self._arm("reading the response", read_timeout)
            await waiter
        except BaseException:
            self._break()
            raise
        finally:
            self._stop_timer()
            self._waiter = None
            self._parser = None
        # An answer that came before the whole request was sent leaves the rest of it queued: not reusable.
        if not (parser.reusable and self.usable) or transport.get_write_buffer_size():
            self._break()

    def close(self) -> None:
        self._break()

    # --- internals ----------------------------------------------------------------------------------

    async def _drain(self, write_timeout: float) -> None:
        self._drained = self._loop.create_future()
        self._arm("sending the request", write_timeout)
        try:
            # A failure while sending (timer, lost connection) completes the response waiter instead.
            waiter = self._waiter
            assert waiter is not None
            await asyncio.wait([self._drained, waiter], return_when=asyncio.FIRST_COMPLETED)
            if waiter.done():
                waiter.result()
        finally:
            self._drained = None
            self._stop_timer()

    def _arm(self, phase: str, timeout: float) -> None:
        self._phase, self._timeout = phase, timeout
        self._activity = self._loop.time()
        self._timer = self._loop.call_at(self._activity + timeout, self._check_progress)

    def _check_progress(self) -> None:
        # Restarted from the last activity rather than on every chunk: data_received stays cheap.
        due = self._activity + self._timeout
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._check_progress)
            return
        self._timer = None
        self._fail(PhaseTimeout(self._phase))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _complete(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._break()

    def _lost_while_idle(self) -> None:
        self._break()
        if self._on_idle_close is not None:
            self._on_idle_close(self)

    def _break(self) -> None:
        self._broken = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()
