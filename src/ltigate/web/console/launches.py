"""Console pages for the launch log: recent launches with filters and their grade delivery, and a launch's
detail with every claim and, for a failure, its cause and the fix (web/troubleshooting.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.errors import NotFound
from ltigate.services.records import LaunchFilter, LaunchOutcome
from ltigate.web.console.pages import PREFIX, Console, View, when
from ltigate.web.troubleshooting import ADVICE, advice_for

PAGE: Final = 50
LTI_CLAIM: Final = "https://purl.imsglobal.org/spec/"
# Values never shown: the login's nonce, and anything a platform or a custom parameter names as a secret.
TIMES: Final = frozenset({"exp", "iat", "nbf", "auth_time"})
HIDDEN: Final = re.compile(r"(^nonce$|secret|password|passwd|token|credential)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClaimRow:
    name: str  # as the token has it
    short: str  # without the spec prefix
    value: str  # JSON, indented
    note: str = ""  # times as dates


def claim_rows(claims: Mapping[str, object] | None) -> list[ClaimRow]:
    """Every claim of the launch, sorted, with hidden values replaced (also inside custom parameters)."""
    if not claims:
        return []
    rows = []
    for name in sorted(claims):
        value = _hide(name, claims[name])
        short = name.removeprefix(LTI_CLAIM)
        note = when(value) if name in TIMES and isinstance(value, int | float) and not isinstance(value, bool) else ""
        rows.append(ClaimRow(name, short, json.dumps(value, indent=2, ensure_ascii=False), note))
    return rows


def _hide(name: str, value: object) -> object:
    if HIDDEN.search(name.rsplit("/", 1)[-1]):
        return "(hidden)"
    if isinstance(value, dict):
        return {str(k): _hide(str(k), v) for k, v in value.items()}
    return value


def filter_of(query: Mapping[str, str]) -> LaunchFilter:
    outcome = query.get("outcome", "")
    before = query.get("before", "")
    try:
        before_value: float | None = float(before) if before else None
    except ValueError:
        before_value = None
    return LaunchFilter(
        outcome=LaunchOutcome(outcome) if outcome in ("succeeded", "failed") else None,
        platform_id=query.get("platform") or None,
        error_code=query.get("error_code", "").strip() or None,
        sub=query.get("user", "").strip() or None,
        before=before_value,
        limit=PAGE,
    )


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    async def list_launches(view: View) -> Response:
        query = filter_of(view.query)
        launches = await gateway.launches.list(query)
        deliveries = await gateway.outbox.latest_by_launch([r.id for r in launches])
        platforms = {p.id: p for p in await gateway.platforms.list()}
        filters = {k: view.query.get(k, "") for k in ("platform", "outcome", "error_code", "user")}
        older = None
        if len(launches) == PAGE:
            older = {**{k: v for k, v in filters.items() if v}, "before": repr(launches[-1].created_at)}
        return console.render(
            view.request,
            "launches.html",
            active=view.active,
            section="launches",
            rows=[(r, deliveries.get(r.id)) for r in launches],
            platforms=platforms,
            filters=filters,
            error_codes=sorted(ADVICE),
            older=older,
            filtered=any(filters.values()) or query.before is not None,
        )

    async def show_launch(view: View) -> Response:
        detail = await gateway.launches.get(view.param("launch_id"))
        record = detail.record
        platform = None
        if record.platform_id:
            try:
                platform = await gateway.platforms.get(record.platform_id)
            except NotFound:  # the log outlives the platforms it names
                platform = None
        delivery = await gateway.grades.delivery(record.id)
        return console.render(
            view.request,
            "launch.html",
            active=view.active,
            section="launches",
            record=record,
            message=detail.message,
            platform=platform,
            delivery=delivery,
            advice=advice_for(record.error_code) if record.error_code else None,
            claims=claim_rows(record.claims),
        )

    return [
        Route(f"{PREFIX}/launches", console.page(list_launches), methods=["GET"]),
        Route(f"{PREFIX}/launches/{{launch_id}}", console.page(show_launch), methods=["GET"]),
    ]
