"""`ltigate admin`: the console's administrator accounts. Passwords are prompted for (twice, hidden) or read
from a file (`--password-file`, `-` for stdin), never taken on the command line where `ps` would show them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.cli.command import EXIT_ERROR, Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.admins import MIN_PASSWORD
from ltigate.services.console_ports import Administrator
from ltigate.services.gateway import Gateway

Name = Annotated[str, typer.Argument(help="The administrator's sign-in name, e.g. 'ada' (case does not matter).")]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Read the password from this file (its first line); '-' reads standard input. Without it, "
        "the password is prompted for.",
        show_default=False,
    ),
]


def admin_json(admin: Administrator) -> dict[str, object]:
    return {
        "id": admin.id,
        "name": admin.name,
        "active": admin.active,
        "created_at": admin.created_at,
        "last_sign_in_at": admin.last_sign_in_at,
        "disabled_at": admin.disabled_at,
    }


def read_password(path: Path | None) -> str:
    """The password from `path` (first line, without its line break) or from a hidden, confirmed prompt."""
    if path is None:
        return str(
            typer.prompt(f"Password (at least {MIN_PASSWORD} characters)", hide_input=True, confirmation_prompt=True)
        )
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        output.print_error("invalid_field", f"cannot read the password file '{path}': {exc.strerror}", "password")
        raise typer.Exit(EXIT_ERROR) from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def create(settings: Settings, name: Name, password_file: PasswordFile = None) -> None:
    """Create an administrator who can sign in to the console at /console."""
    password = read_password(password_file)

    async def work(gateway: Gateway) -> Administrator:
        return await gateway.admins.create(name, password)

    admin = with_gateway(settings, work)
    output.print_done(f"Created administrator {admin.name}; sign in at {settings.url('/console')}")


def list_admins(settings: Settings, json_output: Json = False) -> None:
    """List the administrators (never their password hashes)."""

    async def work(gateway: Gateway) -> list[Administrator]:
        return await gateway.admins.list()

    admins = with_gateway(settings, work)
    if json_output:
        output.print_json([admin_json(a) for a in admins])
        return
    output.print_table(
        "Administrators",
        ["name", "state", "created", "last sign-in"],
        [
            (
                a.name,
                "active" if a.active else f"disabled {output.when(a.disabled_at)}",
                output.when(a.created_at),
                output.when(a.last_sign_in_at),
            )
            for a in admins
        ],
        empty="No administrators. Create one with `ltigate admin create NAME`.",
    )


def disable(settings: Settings, name: Name) -> None:
    """Refuse the administrator's sign-ins and end their sessions."""

    async def work(gateway: Gateway) -> Administrator:
        return await gateway.admins.disable(name)

    admin = with_gateway(settings, work)
    output.print_done(f"Disabled administrator {admin.name}; their sessions are ended")


def enable(settings: Settings, name: Name) -> None:
    """Allow a disabled administrator to sign in again."""

    async def work(gateway: Gateway) -> Administrator:
        return await gateway.admins.enable(name)

    admin = with_gateway(settings, work)
    output.print_done(f"Enabled administrator {admin.name}")


def reset_password(settings: Settings, name: Name, password_file: PasswordFile = None) -> None:
    """Set a new password for an administrator and end their sessions."""
    password = read_password(password_file)

    async def work(gateway: Gateway) -> Administrator:
        return await gateway.admins.reset_password(name, password)

    admin = with_gateway(settings, work)
    output.print_done(f"Set a new password for {admin.name}; their sessions are ended")


def group() -> typer.Typer:
    admins = typer.Typer(help="Administrator accounts of the console (/console).", no_args_is_help=True)
    admins.command("create")(with_global_options(create))
    admins.command("list")(with_global_options(list_admins))
    admins.command("disable")(with_global_options(disable))
    admins.command("enable")(with_global_options(enable))
    admins.command("reset-password")(with_global_options(reset_password))
    return admins
