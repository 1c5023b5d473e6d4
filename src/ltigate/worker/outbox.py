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
from ltigate.services.records import ScoreJob

log = logging.getLogger("ltigate.worker.outbox")


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    concurrency: int = 32
    lease_seconds: float = 120.0  # longer than one delivery can take (a few requests with timeouts)
    idle_poll_seconds: float = 1.0


async def run(gateway: Gateway, *, settings: OutboxSettings | None = None) -> None:
    """Deliver score jobs until cancelled."""
    config = settings or OutboxSettings()
    owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
    slots = anyio.Semaphore(config.concurrency)
    async with anyio.create_task_group() as deliveries:
        while True:
            free = slots.value
            if free == 0:
                await slots.acquire()  # wait for a delivery to finish
                slots.release()
                continue
            jobs: list[ScoreJob] = []
            try:
                jobs = await gateway.outbox.claim(
                    owner=owner, now=gateway.clock(), lease_seconds=config.lease_seconds, limit=free
                )
            except ServiceError as error:
                log.warning("outbox claim failed: %s", error.message, extra={"error_code": error.code})
            for job in jobs:
                await slots.acquire()
                deliveries.start_soon(_deliver, gateway, job, owner, slots)
            if len(jobs) < free:  # nothing more is due: sleep until a job is queued here or the next poll
                await gateway.outbox_wakeup.wait(config.idle_poll_seconds)


async def _deliver(gateway: Gateway, job: ScoreJob, owner: str, slots: anyio.Semaphore) -> None:
    try:
        # Shielded: a stop must not cut a delivery between posting the score and recording it.
        with anyio.CancelScope(shield=True):
            result = await gateway.score_delivery.deliver(job)
            if not await gateway.outbox.finish(job.id, owner, result, gateway.clock()):
                log.warning("score job lease was lost before its result was recorded", extra={"job": job.id})
    except ServiceError as error:
        # The lease runs out and a later pass retries the job; nothing is lost.
        log.warning("score job result not recorded: %s", error.message, extra={"job": job.id})
    finally:
        slots.release()
