"""The console's first page: what needs attention (pending deployments, failed launches and deliveries, full
platforms) and, on a fresh install, the first steps.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.records import DeliveryStatus, DeploymentStatus, LaunchFilter, LaunchOutcome
from ltigate.services.seats import usage_of
from ltigate.web.console.pages import PREFIX, Console, View

DAY: Final = 86_400.0
RECENT: Final = 500


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    async def overview(view: View) -> Response:
        now = gateway.clock()
        platforms = await gateway.platforms.list()
        failed = await gateway.launches.list(LaunchFilter(outcome=LaunchOutcome.FAILED, limit=RECENT))
        counts = await gateway.outbox.counts()
        pending = [(p, d) for p in platforms for d in p.deployments if d.status is DeploymentStatus.PENDING]
        return console.render(
            view.request,
            "overview.html",
            active=view.active,
            section="overview",
            platforms=platforms,
            pending=pending,
            failed_today=_count(sum(r.created_at > now - DAY for r in failed)),
            recent_failures=failed[:5],
            failed_deliveries=counts.get(DeliveryStatus.FAILED, 0),
            pending_deliveries=counts.get(DeliveryStatus.PENDING, 0),
            full=[p for p in platforms if usage_of(p).remaining == 0],
            resource_count=len(await gateway.resources.list()),
        )

    return [Route(PREFIX, console.page(overview), methods=["GET"])]


def _count(value: int) -> str:
    """Only the newest RECENT failures are read: at the cap, there may be more."""
    return f"{value}+" if value >= RECENT else str(value)
