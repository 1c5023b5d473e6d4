"""`ltigate keys`: the tool's own signing keys (LTI RS256, ticket ES256): list them, rotate them."""

from __future__ import annotations

from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import KeyPurpose, ToolKey
from ltigate.services.tool_keys import RotationResult

Purpose = Annotated[
    KeyPurpose,
    typer.Option("--purpose", help="lti: signs LTI messages (RS256); ticket: signs handoff tickets (ES256)."),
]


def key_json(key: ToolKey) -> dict[str, object]:
    return {
        "kid": key.kid,
        "purpose": key.purpose.value,
        "alg": key.alg,
        "state": key.state.value,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retire_at": key.retire_at,
    }


def list_keys(settings: Settings, json_output: Json = False) -> None:
    """List the signing keys: `next` (published, not yet signing), active, and retired (published until retire_at)."""

    async def work(gateway: Gateway) -> list[ToolKey]:
        return await gateway.tool_keys.stored()

    keys = with_gateway(settings, work)
    if json_output:
        output.print_json([key_json(k) for k in keys])
        return
    output.print_table(
        "Tool keys",
        ["kid", "purpose", "alg", "state", "created", "retire at"],
        [
            (k.kid, k.purpose.value, k.alg, k.state.value, output.when(k.created_at), output.when(k.retire_at))
            for k in keys
        ],
        empty="No keys yet.",
    )


def rotate(settings: Settings, purpose: Purpose = KeyPurpose.LTI) -> None:
    """Promote the published `next` key to signing, retire the old one (still published for the overlap),
    and publish a fresh `next` key.
    """

    async def work(gateway: Gateway) -> RotationResult:
        return await gateway.tool_keys.rotate(purpose)

    result = with_gateway(settings, work)
    if result.activated:
        output.print_done(f"Activated {purpose.value} key {result.activated}")
    for kid in result.retired:
        output.print_line(
            f"Retired {kid}: still published for {settings.key_overlap_hours} h (LTIGATE_KEY_OVERLAP_HOURS)"
        )
    output.print_line(f"Published next key {result.published_next}")
    output.print_line("Running servers and workers pick up the change at their next housekeeping pass.", style="dim")


def group() -> typer.Typer:
    keys = typer.Typer(help="The tool's signing keys.", no_args_is_help=True)
    keys.command("list")(with_global_options(list_keys))
    keys.command("rotate")(with_global_options(rotate))
    return keys
