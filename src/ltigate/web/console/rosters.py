"""Console pages for rosters: the courses (LTI contexts) seen in launches, and a course's members with their
latest launch and grade delivery. The roster is read from the LMS only on request (Sync), never on a page view.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.records import RosterEntry
from ltigate.web.console.pages import PREFIX, Console, View

CONTEXTS: Final = 200
PAGE: Final = 100


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    async def list_contexts(view: View) -> Response:
        platform_id = view.query.get("platform") or None
        contexts = await gateway.rosters.contexts(platform_id, CONTEXTS)
        platforms = {p.id: p for p in await gateway.platforms.list()}
        return console.render(
            view.request,
            "rosters.html",
            active=view.active,
            section="rosters",
            contexts=contexts,
            platforms=platforms,
            platform_id=platform_id or "",
        )

    async def show_context(view: View) -> Response:
        key = view.param("key")
        context = await gateway.rosters.context(key)
        role = view.query.get("role", "").strip() or None
        try:
            offset = max(int(view.query.get("offset", "0")), 0)
        except ValueError:
            offset = 0
        entries: list[RosterEntry] = []
        if context.synced_at is not None:  # never sync on a page view: that is an outbound call
            entries = await gateway.rosters.members(key, role=role, limit=PAGE, offset=offset)
        platform = next((p for p in await gateway.platforms.list() if p.id == context.platform_id), None)
        return console.render(
            view.request,
            "roster.html",
            active=view.active,
            section="rosters",
            context=context,
            platform=platform,
            entries=entries,
            role=role or "",
            offset=offset,
            page=PAGE,
        )

    async def sync_context(view: View) -> Response:
        context = await gateway.rosters.sync(view.param("key"))
        return console.redirect(f"{PREFIX}/rosters/{context.id}", "roster_synced")

    return [
        Route(f"{PREFIX}/rosters", console.page(list_contexts), methods=["GET"]),
        Route(f"{PREFIX}/rosters/{{key}}", console.page(show_context), methods=["GET"]),
        Route(f"{PREFIX}/rosters/{{key}}/sync", console.page(sync_context), methods=["POST"]),
    ]
