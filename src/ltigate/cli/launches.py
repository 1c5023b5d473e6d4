"""`ltigate launches`: the launch log, every attempt with its outcome and stable error code."""

from __future__ import annotations

from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.gateway import Gateway
from ltigate.services.launches import LaunchDetail
from ltigate.services.records import LaunchFilter, LaunchOutcome, LaunchRecord
from ltigate.web.schemas import LaunchOut, LaunchSummary

LaunchId = Annotated[str, typer.Argument(help="The launch's id (the reference shown on error pages).")]
Outcome = Annotated[LaunchOutcome | None, typer.Option("--outcome", help="Only launches with this outcome.")]
ErrorCode = Annotated[
    str | None, typer.Option("--error-code", help="Only failures with this code, e.g. nonce_mismatch.")
]
PlatformId = Annotated[str | None, typer.Option("--platform", help="Only launches from this platform id.")]
Sub = Annotated[str | None, typer.Option("--sub", help="Only launches of this user (the LTI `sub`).")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many, newest first.")]


def list_launches(
    settings: Settings,
    outcome: Outcome = None,
    error_code: ErrorCode = None,
    platform: PlatformId = None,
    sub: Sub = None,
    limit: Limit = 50,
    json_output: Json = False,
) -> None:
    """The launch log, newest first (runs when `ltigate launches` is given no subcommand)."""
    query = LaunchFilter(outcome=outcome, platform_id=platform, error_code=error_code, sub=sub, limit=limit)

    async def work(gateway: Gateway) -> list[LaunchRecord]:
        return await gateway.launches.list(query)

    records = with_gateway(settings, work)
    if json_output:
        output.print_json([LaunchSummary.of(r).model_dump(mode="json") for r in records])
        return
    output.print_table(
        "Launches",
        ["time", "outcome", "error", "issuer", "user", "resource", "id"],
        [
            (
                output.when(r.created_at),
                r.outcome.value,
                r.error_code or "",
                r.issuer or "-",
                r.user_name or r.sub or "-",
                r.resource_slug or "-",
                r.id,
            )
            for r in records
        ],
        empty="No launches recorded" + (" that match." if query != LaunchFilter(limit=limit) else " yet."),
    )


def show(settings: Settings, launch_id: LaunchId, json_output: Json = False) -> None:
    """One launch: the attempt, and for a successful one the verified user, context, roles and services."""

    async def work(gateway: Gateway) -> LaunchDetail:
        return await gateway.launches.get(launch_id)

    detail = LaunchOut.detail(with_gateway(settings, work))
    if json_output:
        output.print_json(detail.model_dump(mode="json"))
        return
    fields = [
        ("id", detail.id),
        ("time", output.when(detail.created_at)),
        ("outcome", detail.outcome),
    ]
    if detail.error_code:
        fields += [("error", f"{detail.error_code}: {detail.error_message or ''}")]
    fields += [
        ("issuer", detail.issuer or "-"),
        ("platform", detail.platform_id or "-"),
        ("deployment", detail.deployment_id or "-"),
        ("message type", detail.message_type or "-"),
        ("user", " / ".join(v for v in (detail.sub, detail.user_name) if v) or "-"),
        ("resource", detail.resource or "-"),
    ]
    if detail.context is not None:
        fields += [("context", " / ".join(v for v in (detail.context.id, detail.context.title) if v))]
    if detail.short_roles:
        fields += [("roles", ", ".join(detail.short_roles))]
    if detail.services is not None:
        offered = [name for name, on in (("AGS", detail.services.ags), ("NRPS", detail.services.nrps)) if on]
        offered += ["deep linking"] if detail.services.deep_linking else []
        fields += [("services", ", ".join(offered) or "none")]
    output.print_fields(fields)


def group() -> typer.Typer:
    launches = typer.Typer(help="The launch log. Without a subcommand: list launches.")
    launches.callback(invoke_without_command=True)(with_global_options(list_launches))
    launches.command("show")(with_global_options(show))
    return launches
