"""`ltigate platforms`: LMS registrations (issuer, client_id, endpoints, deployments, seats).

Changes invalidate this process's registration cache; other processes see them within its few seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import DeploymentPolicy, DeploymentStatus, Platform, PlatformFields, RegisteredVia
from ltigate.services.seats import usage_of
from ltigate.web.schemas import PlatformOut

PlatformId = Annotated[str, typer.Argument(help="The platform's id (see `ltigate platforms list`).")]
DeploymentId = Annotated[str, typer.Argument(help="The deployment_id the LMS sends in launches.")]

NAME = typer.Option("--name", help="A name for people, e.g. 'Canvas (production)'.")
ISSUER = typer.Option("--issuer", help="The issuer (iss) exactly as the LMS sends it.")
CLIENT_ID = typer.Option("--client-id", help="The client_id the LMS gave the tool.")
AUTH_URL = typer.Option("--auth-url", help="The LMS's OIDC authentication request URL.")
TOKEN_URL = typer.Option("--token-url", help="The LMS's OAuth 2 access token URL.")
JWKS_URL = typer.Option("--jwks-url", help="The LMS's public key set URL.")
DEPLOYMENT = typer.Option("--deployment-id", help="A deployment id to approve now; repeat for several.")
SEATS = typer.Option("--seats", help="Seats licensed to this platform; 0 = unlimited.")
GRADES = typer.Option("--grade-passback/--no-grade-passback", help="Send grades back to the LMS gradebook.")
LICENCE = typer.Option("--licence-note", help="Free text for administrators (contract, contact).")
UNKNOWN = typer.Option("--unknown-deployments", help="What a launch from a deployment id not yet known does.")
AUDIENCE = typer.Option(
    "--token-audience", help="The aud of client assertions, when the LMS wants other than the token URL."
)


def platform_json(platform: Platform) -> dict[str, object]:
    """The same shape as the REST API's platform."""
    return PlatformOut.of(platform).model_dump(mode="json")


def print_platform(platform: Platform) -> None:
    f = platform.fields
    deployments = ", ".join(f"{d.deployment_id} ({d.status.value})" for d in platform.deployments) or "none"
    output.print_fields(
        [
            ("id", platform.id),
            ("name", f.name),
            ("active", "yes" if platform.active else "no (launches are refused)"),
            ("registration", _registration_text(platform)),
            ("issuer", f.issuer),
            ("client_id", f.client_id),
            ("auth_url", f.auth_url),
            ("token_url", f.token_url),
            ("jwks_url", f.jwks_url),
            ("token_audience", f.token_audience or "- (the token URL)"),
            ("deployments", deployments),
            ("unknown deployments", f.deployment_policy.value),
            ("seats", _seats_text(platform)),
            ("grade passback", "on" if f.grade_passback else "off"),
            ("licence note", f.licence_note or "-"),
            ("created", output.when(platform.created_at)),
            ("updated", output.when(platform.updated_at)),
        ]
    )


def _registration_text(platform: Platform) -> str:
    via = "Dynamic Registration" if platform.registered_via is RegisteredVia.DYNAMIC else "manual"
    if platform.product_family_code:
        via += f" ({platform.product_family_code})"
    if platform.awaiting_approval:
        return f"{via}; awaiting approval: `ltigate platforms approve-registration {platform.id}`"
    return via


def _change(settings: Settings, work: Callable[[Gateway], Awaitable[Platform]], done: str) -> Platform:
    async def changed(gateway: Gateway) -> Platform:
        platform = await work(gateway)
        gateway.registrations.invalidate()
        return platform

    platform = with_gateway(settings, changed)
    output.print_done(f"{done} platform {platform.id} ({platform.fields.name})")
    return platform


def add(
    settings: Settings,
    name: Annotated[str, NAME],
    issuer: Annotated[str, ISSUER],
    client_id: Annotated[str, CLIENT_ID],
    auth_url: Annotated[str, AUTH_URL],
    token_url: Annotated[str, TOKEN_URL],
    jwks_url: Annotated[str, JWKS_URL],
    deployment_id: Annotated[list[str] | None, DEPLOYMENT] = None,
    seats: Annotated[int, SEATS] = 0,
    grade_passback: Annotated[bool, GRADES] = True,
    licence_note: Annotated[str, LICENCE] = "",
    unknown_deployments: Annotated[DeploymentPolicy, UNKNOWN] = DeploymentPolicy.PENDING,
    token_audience: Annotated[str | None, AUDIENCE] = None,
) -> None:
    """Register an LMS platform."""
    fields = PlatformFields(
        name=name,
        issuer=issuer,
        client_id=client_id,
        auth_url=auth_url,
        token_url=token_url,
        jwks_url=jwks_url,
        deployment_ids=tuple(deployment_id or ()),
        seats=seats,
        grade_passback=grade_passback,
        licence_note=licence_note,
        deployment_policy=unknown_deployments,
        token_audience=token_audience or None,
    )
    print_platform(_change(settings, lambda gateway: gateway.platforms.create(fields), "Added"))


def update(
    settings: Settings,
    platform_id: PlatformId,
    name: Annotated[str | None, NAME] = None,
    issuer: Annotated[str | None, ISSUER] = None,
    client_id: Annotated[str | None, CLIENT_ID] = None,
    auth_url: Annotated[str | None, AUTH_URL] = None,
    token_url: Annotated[str | None, TOKEN_URL] = None,
    jwks_url: Annotated[str | None, JWKS_URL] = None,
    deployment_id: Annotated[list[str] | None, DEPLOYMENT] = None,
    seats: Annotated[int | None, SEATS] = None,
    grade_passback: Annotated[bool | None, GRADES] = None,
    licence_note: Annotated[str | None, LICENCE] = None,
    unknown_deployments: Annotated[DeploymentPolicy | None, UNKNOWN] = None,
    token_audience: Annotated[str | None, AUDIENCE] = None,
) -> None:
    """Change a platform; options not given keep their value. --token-audience '' clears it."""
    given: dict[str, object] = {
        "name": name,
        "issuer": issuer,
        "client_id": client_id,
        "auth_url": auth_url,
        "token_url": token_url,
        "jwks_url": jwks_url,
        "seats": seats,
        "grade_passback": grade_passback,
        "licence_note": licence_note,
        "deployment_policy": unknown_deployments,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if token_audience is not None:
        changes["token_audience"] = token_audience or None

    async def work(gateway: Gateway) -> Platform:
        current = (await gateway.platforms.get(platform_id)).fields
        # The store keeps existing deployments and adds the ids given here as approved.
        fields = replace(current, **changes, deployment_ids=tuple(deployment_id or ()))  # type: ignore[arg-type]
        return await gateway.platforms.update(platform_id, fields)

    print_platform(_change(settings, work, "Updated"))


def list_platforms(settings: Settings, json_output: Json = False) -> None:
    """List the registered platforms."""

    async def work(gateway: Gateway) -> list[Platform]:
        return await gateway.platforms.list()

    platforms = with_gateway(settings, work)
    if json_output:
        output.print_json([platform_json(p) for p in platforms])
        return
    output.print_table(
        "Platforms",
        ["id", "name", "issuer", "client_id", "deployments", "seats", "active"],
        [
            (
                p.id,
                p.fields.name,
                p.fields.issuer,
                p.fields.client_id,
                _deployment_counts(p),
                _seats_text(p),
                ("yes" if p.active else "no") + (" (awaiting approval)" if p.awaiting_approval else ""),
            )
            for p in platforms
        ],
        empty="No platforms. Register one with `ltigate platforms add`.",
    )


def _seats_text(platform: Platform) -> str:
    usage = usage_of(platform)
    if usage.remaining is None:
        return f"unlimited ({usage.used} used)"
    return f"{usage.seats_licensed} ({usage.used} used, {usage.remaining} remaining)"


def _deployment_counts(platform: Platform) -> str:
    pending = sum(1 for d in platform.deployments if d.status is DeploymentStatus.PENDING)
    total = len(platform.deployments)
    return f"{total} ({pending} pending)" if pending else str(total)


def show(settings: Settings, platform_id: PlatformId, json_output: Json = False) -> None:
    """Show one platform with its deployments."""

    async def work(gateway: Gateway) -> Platform:
        return await gateway.platforms.get(platform_id)

    platform = with_gateway(settings, work)
    if json_output:
        output.print_json(platform_json(platform))
    else:
        print_platform(platform)


def deactivate(settings: Settings, platform_id: PlatformId) -> None:
    """Refuse logins and launches from a platform (its data is kept)."""
    _change(settings, lambda gateway: gateway.platforms.set_active(platform_id, False), "Deactivated")


def activate(settings: Settings, platform_id: PlatformId) -> None:
    """Accept logins and launches from a platform again."""
    _change(settings, lambda gateway: gateway.platforms.set_active(platform_id, True), "Activated")


def _decide(settings: Settings, platform_id: str, deployment_id: str, status: DeploymentStatus) -> None:
    async def work(gateway: Gateway) -> None:
        await gateway.platforms.decide_deployment(platform_id, deployment_id, status)
        gateway.registrations.invalidate()

    with_gateway(settings, work)
    output.print_done(f"Deployment {deployment_id} of platform {platform_id} is {status.value}")


def approve(settings: Settings, platform_id: PlatformId, deployment_id: DeploymentId) -> None:
    """Approve a deployment (pending ones appear after their first launch); unknown ones are added."""
    _decide(settings, platform_id, deployment_id, DeploymentStatus.APPROVED)


def reject(settings: Settings, platform_id: PlatformId, deployment_id: DeploymentId) -> None:
    """Reject a deployment: its launches are refused."""
    _decide(settings, platform_id, deployment_id, DeploymentStatus.REJECTED)


def approve_registration(settings: Settings, platform_id: PlatformId) -> None:
    """Approve a platform that registered itself through Dynamic Registration: its launches are accepted."""
    _change(settings, lambda gateway: gateway.platforms.approve(platform_id), "Approved")


def group() -> typer.Typer:
    platforms = typer.Typer(help="LMS platform registrations.", no_args_is_help=True)
    commands: list[tuple[str, Callable[..., None]]] = [
        ("add", add),
        ("list", list_platforms),
        ("show", show),
        ("update", update),
        ("deactivate", deactivate),
        ("activate", activate),
        ("approve", approve),
        ("reject", reject),
        ("approve-registration", approve_registration),
    ]
    for name, command in commands:
        platforms.command(name)(with_global_options(command))
    return platforms
