"""How a CLI command runs: global options become Settings, the gateway is built and always closed, and
gateway errors become one red line with exit status 2 instead of a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Final, TypeVar

import typer

from ltigate.cli import output
from ltigate.config import Settings, SettingsError, load_settings
from ltigate.lti.errors import LtiError
from ltigate.services.errors import NotMigrated, ServiceError
from ltigate.services.gateway import Gateway

T = TypeVar("T")

EXIT_ERROR: Final = 2
NOT_MIGRATED: Final = "the database is not migrated: run `ltigate migrate`"
GLOBAL_PANEL: Final = "Global options"

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (SQLite database, secret key). Env: LTIGATE_DATA_DIR.",
        rich_help_panel=GLOBAL_PANEL,
        show_default=False,
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite+aiosqlite:// or postgresql:// URL. Env: LTIGATE_DATABASE_URL.",
        rich_help_panel=GLOBAL_PANEL,
        show_default=False,
    ),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Public base URL, e.g. https://lti.example.edu. Env: LTIGATE_BASE_URL.",
        rich_help_panel=GLOBAL_PANEL,
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

_CONTEXT: Final = inspect.Parameter("cli_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
_GLOBAL_PARAMETERS: Final = (
    inspect.Parameter("data_dir", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DataDir),
    inspect.Parameter("database_url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DatabaseUrl),
    inspect.Parameter("base_url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=BaseUrl),
)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn settings and gateway errors into `error <code>: <message>` on stderr and exit status 2."""
    try:
        yield
    except SettingsError as error:
        output.print_error("invalid_setting", str(error))
        raise typer.Exit(EXIT_ERROR) from None
    except NotMigrated as error:
        output.print_error(error.code, NOT_MIGRATED)
        raise typer.Exit(EXIT_ERROR) from None
    except ServiceError as error:
        output.print_error(error.code, error.message, error.field)
        raise typer.Exit(EXIT_ERROR) from None
    except LtiError as error:
        output.print_error(error.code, error.message)
        raise typer.Exit(EXIT_ERROR) from None


def with_global_options(func: Callable[..., None]) -> Callable[..., None]:
    """A Typer callback for `func(settings, **options)` that adds --data-dir, --database-url and --base-url.

    The flags override the LTIGATE_* environment; the settings are loaded before `func` runs, inside
    reported_errors, so an invalid setting is one red line too. As a group's callback it does nothing
    when a subcommand follows: the subcommand loads the settings with its own flags.
    """
    own = list(inspect.signature(func, eval_str=True).parameters.values())[1:]

    @functools.wraps(func)
    def callback(**options: object) -> None:
        context = options.pop(_CONTEXT.name)
        if getattr(context, "invoked_subcommand", None) is not None:  # Typer's context, whatever its class
            return
        data_dir, database_url, base_url = (options.pop(p.name, None) for p in _GLOBAL_PARAMETERS)
        with reported_errors():
            settings = load_settings(data_dir=data_dir, database_url=database_url, base_url=base_url)
            func(settings, **options)

    # Typer reads the parameters from the signature: the command's own, then the global options.
    callback.__signature__ = inspect.Signature([*own, *_GLOBAL_PARAMETERS, _CONTEXT])  # type: ignore[attr-defined]
    return callback


def with_gateway(settings: Settings, work: Callable[[Gateway], Awaitable[T]]) -> T:
    """Build the gateway, run `work` with it in a fresh event loop, and close the gateway in every case."""
    # Imported here: the adapters (database, JOSE, HTTP) take a second to import, which `--help` and
    # `info` do not need.
    from ltigate.bootstrap import build_gateway

    async def session() -> T:
        gateway = await build_gateway(settings)
        try:
            return await work(gateway)
        finally:
            await gateway.close()

    return asyncio.run(session())
