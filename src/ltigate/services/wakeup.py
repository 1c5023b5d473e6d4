"""A wake-up call between the request that queues work and the worker in the same process, so a new
score job is delivered at once instead of at the next poll; other processes find it by polling.
"""

from __future__ import annotations

import anyio


class Wakeup:
    def __init__(self) -> None:
        self._event = anyio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Return on the next notify() or after `seconds`, whichever comes first."""
        with anyio.move_on_after(seconds):
            await self._event.wait()
        if self._event.is_set():
            self._event = anyio.Event()
