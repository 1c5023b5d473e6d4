"""The housekeeping loop: purges expired login states and reloads the tool keys, so key rotations made
by another process are picked up. Runs inside `serve` and as `ltigate worker`.
"""

from __future__ import annotations

import logging

import anyio

from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway

log = logging.getLogger("ltigate.worker")


async def run(gateway: Gateway, *, interval: float = 60.0, passes: int | None = None) -> None:
    """Run housekeeping every `interval` seconds until cancelled (or `passes` times)."""
    done = 0
    while passes is None or done < passes:
        try:
            removed = await gateway.maintain()
            if removed:
                log.info("housekeeping purged expired login states", extra={"removed": removed})
        except ServiceError as error:
            log.warning("housekeeping skipped: %s", error.message, extra={"error_code": error.code})
        done += 1
        if passes is None or done < passes:
            await anyio.sleep(interval)
