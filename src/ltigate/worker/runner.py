"""Everything a worker runs: housekeeping and the score outbox, side by side until cancelled."""

from __future__ import annotations

import anyio

from ltigate.services.gateway import Gateway
from ltigate.worker import housekeeping, outbox


async def run_all(gateway: Gateway) -> None:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(housekeeping.run, gateway)
        tasks.start_soon(outbox.run, gateway)
