"""`ltigate seats`: the seats of a platform (licensed, used, remaining, and who holds them), and releases.

`ltigate seats PLATFORM_ID` is short for `ltigate seats list PLATFORM_ID`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from typer.core import TyperGroup

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import SeatHolder, SeatUsage
from ltigate.services.seats import MAX_IDLE_DAYS
from ltigate.web.seats_schemas import SeatOut, SeatsOut, SeatUsageOut

PlatformId = Annotated[str, typer.Argument(help="The platform's id (see `ltigate platforms list`).")]
LearnerId = Annotated[str, typer.Argument(help="The learner's id (the ltigate user id, see `ltigate seats`).")]
Days = Annotated[
    int,
    typer.Option("--days", min=1, max=MAX_IDLE_DAYS, help="Release seats of learners with no launch for this long."),
]
Limit = Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many seats, oldest first.")]
Offset = Annotated[int, typer.Option("--offset", min=0, help="Skip this many seats (paging).")]


class _SeatsGroup(TyperGroup):
    """Reads `ltigate seats PLATFORM_ID ...` as `ltigate seats list PLATFORM_ID ...`."""

    # Typer passes its own Context; the base class names the vendored click's, which is not public.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


def _usage_text(usage: SeatUsage) -> str:
    if usage.remaining is None:
        return f"{usage.used} used, unlimited"
    return f"{usage.used} of {usage.seats_licensed} used, {usage.remaining} remaining"


def list_seats(
    settings: Settings, platform_id: PlatformId, limit: Limit = 50, offset: Offset = 0, json_output: Json = False
) -> None:
    """Seats licensed, used and remaining, and the learners holding them."""

    async def work(gateway: Gateway) -> tuple[SeatUsage, list[SeatHolder]]:
        usage = await gateway.seats.usage(platform_id)
        return usage, await gateway.seats.list(platform_id, limit=limit + 1, offset=offset)

    usage, holders = with_gateway(settings, work)
    page = [SeatOut.of(h) for h in holders[:limit]]
    if json_output:
        more = offset + limit if len(holders) > limit else None
        body = SeatsOut(usage=SeatUsageOut.of(usage), seats=page, limit=limit, offset=offset, next_offset=more)
        output.print_json(body.model_dump(mode="json"))
        return
    output.print_fields([("platform", platform_id), ("seats", _usage_text(usage))])
    output.print_table(
        "Seats",
        ["learner id", "name", "email", "allocated", "last used"],
        [
            (s.learner_id, s.name or s.sub, s.email or "-", output.when(s.allocated_at), output.when(s.last_used_at))
            for s in page
        ],
        empty="No seats are held" + (" on this page." if offset else "."),
    )
    if len(holders) > limit:
        output.print_line(f"More seats: --offset {offset + limit}", style="dim")


def release(settings: Settings, platform_id: PlatformId, learner_id: LearnerId) -> None:
    """Release a learner's seat; their next launch takes a fresh one if one is free."""

    async def work(gateway: Gateway) -> SeatUsage:
        await gateway.seats.release(platform_id, learner_id)
        return await gateway.seats.usage(platform_id)

    usage = with_gateway(settings, work)
    output.print_done(f"Released the seat of learner {learner_id} on platform {platform_id} ({_usage_text(usage)})")


def release_idle(settings: Settings, platform_id: PlatformId, days: Days) -> None:
    """Release the seats of learners who have not launched for --days days."""

    async def work(gateway: Gateway) -> tuple[int, SeatUsage]:
        released = await gateway.seats.release_idle(platform_id, days)
        return released, await gateway.seats.usage(platform_id)

    released, usage = with_gateway(settings, work)
    plural = "seat" if released == 1 else "seats"
    output.print_done(
        f"Released {released} {plural} idle for {days} days or more on platform {platform_id} ({_usage_text(usage)})"
    )


def group() -> typer.Typer:
    seats = typer.Typer(
        cls=_SeatsGroup,
        help="Seats per platform: `ltigate seats PLATFORM_ID` lists them; release one or the idle ones.",
        no_args_is_help=True,
    )
    commands: list[tuple[str, Callable[..., None]]] = [
        ("list", list_seats),
        ("release", release),
        ("release-idle", release_idle),
    ]
    for name, command in commands:
        seats.command(name)(with_global_options(command))
    return seats
