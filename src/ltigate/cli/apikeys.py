"""`ltigate apikey`: keys for the REST API. The secret is shown once, at creation; lists show its prefix."""

from __future__ import annotations

from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.api_keys import IssuedApiKey
from ltigate.services.gateway import Gateway
from ltigate.services.records import ApiKey

Name = Annotated[str, typer.Argument(help="What the key is for, e.g. 'course catalogue sync'.")]
KeyId = Annotated[str, typer.Argument(help="The key's id (see `ltigate apikey list`).")]


def api_key_json(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def create(settings: Settings, name: Name) -> None:
    """Create an API key and print its secret, once."""

    async def work(gateway: Gateway) -> IssuedApiKey:
        return await gateway.api_keys.create(name)

    issued = with_gateway(settings, work)
    output.print_done(f"Created API key {issued.key.id} ({issued.key.name})")
    output.print_line(issued.secret, style="bold")
    output.print_warning("Store this secret now: it is not shown again. Send it as 'Authorization: Bearer <key>'.")


def list_api_keys(settings: Settings, json_output: Json = False) -> None:
    """List API keys (prefix only, never the secret)."""

    async def work(gateway: Gateway) -> list[ApiKey]:
        return await gateway.api_keys.list()

    keys = with_gateway(settings, work)
    if json_output:
        output.print_json([api_key_json(k) for k in keys])
        return
    output.print_table(
        "API keys",
        ["id", "name", "prefix", "created", "last used", "revoked"],
        [
            (
                k.id,
                k.name,
                f"ltg_{k.prefix}_…",
                output.when(k.created_at),
                output.when(k.last_used_at),
                output.when(k.revoked_at),
            )
            for k in keys
        ],
        empty="No API keys. Create one with `ltigate apikey create NAME`.",
    )


def revoke(settings: Settings, key_id: KeyId) -> None:
    """Revoke an API key; requests using it are refused from now on."""

    async def work(gateway: Gateway) -> None:
        await gateway.api_keys.revoke(key_id)

    with_gateway(settings, work)
    output.print_done(f"Revoked API key {key_id}")


def group() -> typer.Typer:
    apikeys = typer.Typer(help="API keys for the REST API.", no_args_is_help=True)
    apikeys.command("create")(with_global_options(create))
    apikeys.command("list")(with_global_options(list_api_keys))
    apikeys.command("revoke")(with_global_options(revoke))
    return apikeys
