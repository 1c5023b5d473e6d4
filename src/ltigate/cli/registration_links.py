"""`ltigate registration-link`: one-time Dynamic Registration links (create, list, revoke) and the log of
registration attempts. A link's secret is printed once, at creation."""

from __future__ import annotations

import re
import time
from typing import Annotated, Final

import typer

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.errors import InvalidField
from ltigate.services.gateway import Gateway
from ltigate.services.records import RegistrationAttempt, RegistrationLink
from ltigate.services.registration_links import IssuedLink

_DURATION: Final = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

Note = Annotated[str, typer.Option("--note", help="Who the link is for, e.g. 'Moodle at Example University'.")]
Expires = Annotated[str, typer.Option("--expires", help="How long the link stays usable: 30m, 12h, 7d (max 90d).")]
LinkId = Annotated[str, typer.Argument(help="The link's id (see `ltigate registration-link list`).")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=500, help="How many attempts to show, newest first.")]


def parse_duration(text: str) -> float:
    """Seconds in `30m`, `12h`, `7d` or plain seconds; raises InvalidField."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidField(f"'{text[:40]}' is not a duration like 30m, 12h or 7d", "expires")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def link_json(link: RegistrationLink, now: float) -> dict[str, object]:
    return {
        "id": link.id,
        "note": link.note,
        "state": link.state(now),
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "used_at": link.used_at,
        "revoked_at": link.revoked_at,
        "platform_id": link.platform_id,
    }


def create(settings: Settings, note: Note = "", expires: Expires = "7d") -> None:
    """Make a one-time Dynamic Registration link and print it, once."""
    ttl = parse_duration(expires)

    async def work(gateway: Gateway) -> IssuedLink:
        return await gateway.registration_links.create(note, ttl)

    issued = with_gateway(settings, work)
    output.print_done(
        f"Created registration link {issued.link.id}, usable once until {output.when(issued.link.expires_at)}"
    )
    output.print_line(issued.url, style="bold")
    output.print_warning(
        "Give this URL to the LMS administrator, who pastes it into the LMS's Dynamic Registration. "
        "It is not shown again."
    )
    if settings.dynamic_registration == "off":
        output.print_warning(
            "Dynamic Registration is switched off (LTIGATE_DYNAMIC_REGISTRATION=off): the link is refused."
        )


def list_links(settings: Settings, json_output: Json = False) -> None:
    """List registration links, newest first (never their secret)."""

    async def work(gateway: Gateway) -> list[RegistrationLink]:
        return await gateway.registration_links.list()

    links = with_gateway(settings, work)
    now = time.time()
    if json_output:
        output.print_json([link_json(link, now) for link in links])
        return
    output.print_table(
        "Registration links",
        ["id", "note", "state", "created", "expires", "used", "platform"],
        [
            (
                link.id,
                link.note or "-",
                link.state(now),
                output.when(link.created_at),
                output.when(link.expires_at),
                output.when(link.used_at),
                link.platform_id or "-",
            )
            for link in links
        ],
        empty="No registration links. Make one with `ltigate registration-link create`.",
    )


def revoke(settings: Settings, link_id: LinkId) -> None:
    """Revoke an unused registration link."""

    async def work(gateway: Gateway) -> None:
        await gateway.registration_links.revoke(link_id)

    with_gateway(settings, work)
    output.print_done(f"Revoked registration link {link_id}")


def attempt_json(attempt: RegistrationAttempt) -> dict[str, object]:
    return {
        "id": attempt.id,
        "created_at": attempt.created_at,
        "outcome": attempt.outcome.value,
        "stage": attempt.stage,
        "error_code": attempt.error_code,
        "error_message": attempt.error_message,
        "configuration_url": attempt.configuration_url,
        "issuer": attempt.issuer,
        "client_id": attempt.client_id,
        "product_family_code": attempt.product_family_code,
        "platform_id": attempt.platform_id,
        "link_id": attempt.link_id,
    }


def attempts(settings: Settings, limit: Limit = 20, json_output: Json = False) -> None:
    """Show recent Dynamic Registration attempts, failed ones with their error code and cause."""

    async def work(gateway: Gateway) -> list[RegistrationAttempt]:
        return await gateway.dynamic_registration.attempts(limit)

    found = with_gateway(settings, work)
    if json_output:
        output.print_json([attempt_json(a) for a in found])
        return
    output.print_table(
        "Dynamic Registration attempts",
        ["when", "outcome", "code", "issuer", "client_id", "platform", "link", "message"],
        [
            (
                output.when(a.created_at),
                a.outcome.value,
                a.error_code or "-",
                a.issuer or a.configuration_url or "-",
                a.client_id or "-",
                a.platform_id or "-",
                a.link_id or "-",
                a.error_message or "",
            )
            for a in found
        ],
        empty="No Dynamic Registration attempts yet.",
    )


def group() -> typer.Typer:
    links = typer.Typer(help="One-time Dynamic Registration links.", no_args_is_help=True)
    links.command("create")(with_global_options(create))
    links.command("list")(with_global_options(list_links))
    links.command("revoke")(with_global_options(revoke))
    links.command("attempts")(with_global_options(attempts))
    return links
