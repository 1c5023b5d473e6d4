"""`ltigate migrate`: bring the database schema to the newest revision (Alembic)."""

from __future__ import annotations

import typer

from ltigate.cli import output
from ltigate.cli.command import EXIT_ERROR
from ltigate.cli.info import display_database
from ltigate.config import Settings


def migrate(settings: Settings) -> None:
    """Create or upgrade the database schema; safe to run again and on every deploy."""
    from ltigate.bootstrap import migrate as upgrade  # see with_gateway: the adapters load on use

    database = display_database(settings.database_url)
    try:
        revision = upgrade(settings)
    # The migration runs Alembic on the driver directly, so a refused connection or a failing script
    # arrives as the driver's or Alembic's own exception; the operator needs its text, not a traceback.
    except Exception as exc:
        output.print_error("migration_failed", f"migrating {database} failed: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    output.print_done(f"Database {database} is at revision {revision}")
