"""The housekeeping loop: purges expired login states and reloads the tool keys, so key rotations made
by another process are picked up. Runs inside `serve` and as `ltigate worker`; a `serve --no-worker`
process runs only the key reload (`refresh_keys`), since it signs too.
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


async def refresh_keys(gateway: Gateway, *, interval: float = 60.0, passes: int | None = None) -> None:
    """Reload the tool keys every `interval` seconds until cancelled (or `passes` times): what a server
    process that runs no housekeeping needs to sign with, and publish, the keys another process rotated."""
    done = 0
    while passes is None or done < passes:
        await anyio.sleep(interval)  # the gateway loaded them when it was built
        try:
            await gateway.tool_keys.reload()
        except ServiceError as error:
            log.warning("tool key reload skipped: %s", error.message, extra={"error_code": error.code})
        done += 1


async def publish_metrics(gateway: Gateway, *, interval: float = 1.0, passes: int | None = None) -> None:
    """Leave this process's metrics for the other processes of its `serve --workers N` every `interval`
    seconds, so a scrape any of them answers counts this one's work too (at most `interval` behind)."""
    done = 0
    while passes is None or done < passes:
        try:
            await gateway.metrics.publish()
        except ServiceError as error:  # a reading from the database failed; the next pass tries again
            log.warning("metrics not published: %s", error.message, extra={"error_code": error.code})
        done += 1
        if passes is None or done < passes:
            await anyio.sleep(interval)
