"""Console pages for grade deliveries (score jobs in the outbox): pending and failed ones with their reasons,
any status on request, and retrying a failed or skipped one.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.records import DeliveryStatus, JobFilter, ScoreJob
from ltigate.web.console.pages import PREFIX, Console, View

PAGE: Final = 100


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    async def list_deliveries(view: View) -> Response:
        status_name = view.query.get("status", "")
        launch_id = view.query.get("launch") or None
        platform_id = view.query.get("platform") or None
        status = DeliveryStatus(status_name) if status_name in {s.value for s in DeliveryStatus} else None
        sections: list[tuple[str, str, list[ScoreJob]]] = []
        if status is None and launch_id is None:
            for shown, heading in ((DeliveryStatus.FAILED, "Failed"), (DeliveryStatus.PENDING, "Pending")):
                jobs = await gateway.grades.deliveries(JobFilter(status=shown, platform_id=platform_id, limit=PAGE))
                sections.append((shown.value, heading, jobs))
        else:
            jobs = await gateway.grades.deliveries(
                JobFilter(status=status, platform_id=platform_id, launch_id=launch_id, limit=PAGE)
            )
            heading = status.value.capitalize() if status else "Deliveries"
            sections.append((status.value if status else "all", heading, jobs))
        counts = await gateway.outbox.counts()
        platforms = {p.id: p for p in await gateway.platforms.list()}
        return console.render(
            view.request,
            "deliveries.html",
            active=view.active,
            section="deliveries",
            sections=sections,
            counts={s.value: counts.get(s, 0) for s in DeliveryStatus},
            shown=status.value if status else "",
            launch_id=launch_id,
            platforms=platforms,
            now=gateway.clock(),
        )

    async def retry_delivery(view: View) -> Response:
        job = await gateway.grades.retry(view.param("job_id"))
        return console.redirect(f"{PREFIX}/deliveries", "delivery_retried", launch=job.launch_id)

    return [
        Route(f"{PREFIX}/deliveries", console.page(list_deliveries), methods=["GET"]),
        Route(f"{PREFIX}/deliveries/{{job_id}}/retry", console.page(retry_delivery), methods=["POST"]),
    ]
