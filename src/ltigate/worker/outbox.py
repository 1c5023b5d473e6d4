"""The outbox runner (design.md "Grades"): claims due score jobs atomically, delivers them concurrently
and records each result. When stopped (SIGTERM) it claims nothing more and lets in-flight deliveries
finish, bounded by the outbound timeouts; a job whose worker died is claimed again once its lease ends.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass

import anyio

from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway
from ltigate.services.records import DeliveryStatus, Platform, ScoreJob

log = logging.getLogger("ltigate.worker.outbox")


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    concurrency: int = 32
    lease_seconds: float = 120.0  # longer than one delivery can take (a few requests with timeouts);
    # run() without settings takes it from LTIGATE_OUTBOX_LEASE_SECONDS
    idle_poll_seconds: float = 1.0


async def run(gateway: Gateway, *, settings: OutboxSettings | None = None) -> None:
    """Deliver score jobs until cancelled."""
    config = settings or OutboxSettings(lease_seconds=gateway.settings.outbox_lease_seconds)
    owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
    slots = _Slots(config.concurrency)
    # Claimed in batches: under load, one claim (and one platform lookup per platform) for every quarter of the
    # slots freed, not one per delivery finished; deliveries in flight stay between 3/4 and all of the slots.
    batch = max(1, config.concurrency // 4)
    async with anyio.create_task_group() as deliveries:
        while True:
            free = slots.free
            if free < batch:
                await slots.wait_freed()  # wait for deliveries to finish
                continue
            jobs: list[ScoreJob] = []
            try:
                jobs = await gateway.outbox.claim(
                    owner=owner, now=gateway.clock(), lease_seconds=config.lease_seconds, limit=free
                )
            except ServiceError as error:
                log.warning("outbox claim failed: %s", error.message, extra={"error_code": error.code})
            if jobs:
                platforms = await _platforms(gateway, jobs)
                for job in jobs:
                    slots.take()
                    deliveries.start_soon(_deliver, gateway, job, owner, slots, platforms)
            if len(jobs) < free:  # nothing more is due: sleep until a job is queued here or the next poll
                await gateway.outbox_wakeup.wait(config.idle_poll_seconds)


class _Slots:
    """Deliveries in flight, out of `size`; the runner waits for some to finish before claiming more."""

    def __init__(self, size: int) -> None:
        self._size, self._busy = size, 0
        self._freed = anyio.Event()

    @property
    def free(self) -> int:
        return self._size - self._busy

    def take(self) -> None:
        self._busy += 1

    def give(self) -> None:
        self._busy -= 1
        self._freed.set()

    async def wait_freed(self) -> None:
        """Return once a delivery finished since the last call (at once if one did)."""
        await self._freed.wait()
        self._freed = anyio.Event()


async def _platforms(gateway: Gateway, jobs: list[ScoreJob]) -> dict[str, Platform | None] | None:
    """The claimed jobs' platforms, each looked up once for the batch; None (each delivery looks its own up)
    when the lookup fails."""
    try:
        return await gateway.score_delivery.platforms(job.platform_id for job in jobs)
    except ServiceError as error:
        log.warning("platform lookup failed: %s", error.message, extra={"error_code": error.code})
        return None


async def _deliver(
    gateway: Gateway, job: ScoreJob, owner: str, slots: _Slots, platforms: dict[str, Platform | None] | None
) -> None:
    try:
        # Shielded: a stop must not cut a delivery between posting the score and recording it.
        with anyio.CancelScope(shield=True):
            if platforms is None:
                result = await gateway.score_delivery.deliver(job)
            else:
                result = await gateway.score_delivery.deliver_to(job, platforms.get(job.platform_id))
            now = gateway.clock()
            if not await gateway.outbox.finish(job.id, owner, result, now):
                log.warning("score job lease was lost before its result was recorded", extra={"job": job.id})
            else:
                gateway.metrics.deliveries.inc(result.status.value)
                if result.status is DeliveryStatus.DELIVERED:
                    gateway.metrics.delivery_seconds.observe(max(0.0, now - job.created_at))
    except ServiceError as error:
        # The lease runs out and a later pass retries the job; nothing is lost.
        log.warning("score job result not recorded: %s", error.message, extra={"job": job.id})
    finally:
        slots.give()
