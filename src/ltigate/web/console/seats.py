"""Console pages for seats: usage per platform, a platform's seat holders, and releasing a seat or every seat
idle for some days (services.seats).
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.errors import InvalidField
from ltigate.services.seats import usage_of
from ltigate.web.console.pages import PREFIX, Console, View

PAGE: Final = 100


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    async def seats_page(view: View) -> Response:
        platforms = await gateway.platforms.list()
        chosen_id = view.query.get("platform") or (platforms[0].id if len(platforms) == 1 else "")
        chosen = next((p for p in platforms if p.id == chosen_id), None)
        try:
            offset = max(int(view.query.get("offset", "0")), 0)
        except ValueError:
            offset = 0
        holders = await gateway.seats.list(chosen.id, limit=PAGE, offset=offset) if chosen else []
        return console.render(
            view.request,
            "seats.html",
            active=view.active,
            section="seats",
            rows=[(p, usage_of(p)) for p in platforms],
            chosen=chosen,
            usage=await gateway.seats.usage(chosen.id) if chosen else None,
            holders=holders,
            offset=offset,
            page=PAGE,
            released=view.query.get("released", ""),
        )

    async def release(view: View) -> Response:
        platform_id = view.param("platform_id")
        await gateway.seats.release(platform_id, view.form.get("learner_id", ""))
        return console.redirect(f"{PREFIX}/seats", "seat_released", platform=platform_id)

    async def release_idle(view: View) -> Response:
        platform_id = view.param("platform_id")
        raw = view.form.get("days", "").strip()
        try:
            days = int(raw)
        except ValueError:
            raise InvalidField(f"days '{raw[:20]}' is not a whole number of days", "days") from None
        released = await gateway.seats.release_idle(platform_id, days)
        return console.redirect(f"{PREFIX}/seats", "seats_released", platform=platform_id, released=str(released))

    return [
        Route(f"{PREFIX}/seats", console.page(seats_page), methods=["GET"]),
        Route(f"{PREFIX}/seats/{{platform_id}}/release", console.page(release), methods=["POST"]),
        Route(f"{PREFIX}/seats/{{platform_id}}/release-idle", console.page(release_idle), methods=["POST"]),
    ]
