"""`ltigate deliveries` and `ltigate roster`: score jobs in the outbox, and course rosters from NRPS."""

from __future__ import annotations

from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import ContextRecord, DeliveryStatus, JobFilter, RosterEntry, ScoreJob
from ltigate.web.grades_schemas import ContextOut, DeliveryOut, MemberOut

Status = Annotated[DeliveryStatus | None, typer.Option("--status", help="Only deliveries in this state.")]
PlatformId = Annotated[str | None, typer.Option("--platform", help="Only this platform id.")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many, newest first.")]
JobId = Annotated[str, typer.Argument(help="The delivery (score job) id.")]
ContextKey = Annotated[str, typer.Argument(help="The context key (from `ltigate roster contexts`).")]
Role = Annotated[str | None, typer.Option("--role", help="Only members with this role (e.g. Learner or a URI).")]


def list_deliveries(
    settings: Settings, status: Status = None, platform: PlatformId = None, limit: Limit = 50, json_output: Json = False
) -> None:
    """Score jobs: pending (with the next attempt), delivered, failed (with the reason) or skipped."""

    async def work(gateway: Gateway) -> list[ScoreJob]:
        return await gateway.grades.deliveries(JobFilter(status=status, platform_id=platform, limit=limit))

    jobs = with_gateway(settings, work)
    if json_output:
        output.print_json([DeliveryOut.of(j).model_dump(mode="json") for j in jobs])
        return
    output.print_table(
        "Deliveries",
        ["created", "status", "attempts", "next attempt", "user", "launch", "reason", "id"],
        [
            (
                output.when(j.created_at),
                j.status.value,
                str(j.attempts),
                output.when(j.next_attempt_at) if j.status is DeliveryStatus.PENDING else "-",
                j.user_id,
                j.launch_id,
                (j.last_error or "")[:80],
                j.id,
            )
            for j in jobs
        ],
        empty="No deliveries" + (" that match." if status or platform else " yet."),
    )


def retry(settings: Settings, job_id: JobId) -> None:
    """Queue a failed or skipped delivery again, due now."""

    async def work(gateway: Gateway) -> ScoreJob:
        return await gateway.grades.retry(job_id)

    job = with_gateway(settings, work)
    output.print_done(f"Delivery {job.id} is pending again; a running worker sends it now.")


def contexts(settings: Settings, platform: PlatformId = None, limit: Limit = 100, json_output: Json = False) -> None:
    """Courses seen in launches, with their roster state."""

    async def work(gateway: Gateway) -> list[ContextRecord]:
        return await gateway.rosters.contexts(platform, limit)

    found = with_gateway(settings, work)
    if json_output:
        output.print_json([ContextOut.of(c).model_dump(mode="json") for c in found])
        return
    output.print_table(
        "Contexts",
        ["key", "course", "members", "synced", "roster service"],
        [
            (
                c.id,
                c.title or c.label or c.context_id,
                str(c.member_count),
                output.when(c.synced_at),
                "yes" if c.memberships_url else "no",
            )
            for c in found
        ],
        empty="No courses yet: they appear after a launch.",
    )


def sync(settings: Settings, key: ContextKey) -> None:
    """Fetch every page of the course roster from the LMS and store it."""

    async def work(gateway: Gateway) -> ContextRecord:
        return await gateway.rosters.sync(key)

    context = with_gateway(settings, work)
    output.print_done(f"Synced {context.member_count} members of {context.title or context.context_id}.")


def members(
    settings: Settings, key: ContextKey, role: Role = None, limit: Limit = 100, json_output: Json = False
) -> None:
    """The stored roster with each member's latest launch and grade delivery."""

    async def work(gateway: Gateway) -> list[RosterEntry]:
        return await gateway.rosters.members(key, role=role, limit=limit)

    entries = with_gateway(settings, work)
    if json_output:
        output.print_json([MemberOut.of(e).model_dump(mode="json") for e in entries])
        return
    output.print_table(
        "Members",
        ["user", "name", "roles", "status", "last launch", "grade"],
        [
            (
                e.member.user_id,
                e.member.name or "-",
                ", ".join(r.rsplit("#", 1)[-1] for r in e.member.roles),
                e.member.status,
                output.when(e.last_launch_at),
                e.delivery.value if e.delivery else "-",
            )
            for e in entries
        ],
        empty="No members stored.",
    )


def deliveries_group() -> typer.Typer:
    group = typer.Typer(help="Score deliveries (the outbox). Without a subcommand: list them.")
    group.callback(invoke_without_command=True)(with_global_options(list_deliveries))
    group.command("retry")(with_global_options(retry))
    return group


def roster_group() -> typer.Typer:
    group = typer.Typer(help="Course rosters from the LMS (NRPS).", no_args_is_help=True)
    group.command("contexts")(with_global_options(contexts))
    group.command("sync")(with_global_options(sync))
    group.command("members")(with_global_options(members))
    return group
