"""`ltigate demo`: the gateway with a demo LMS and a demo app on this machine, all on loopback ports.

The demo keeps its own data directory and database: it ignores the LTIGATE_* variables that say where
data lives and where the gateway listens, so it never touches a real installation's database.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Final

import typer

from ltigate.cli import output
from ltigate.cli.command import EXIT_ERROR, reported_errors
from ltigate.config import PREFIX, load_settings

# Settings that place a real installation; the demo takes them from its flags only.
LOCATION_SETTINGS: Final = frozenset(
    PREFIX + name for name in ("DATA_DIR", "DATABASE_URL", "DATABASE_URL_FILE", "BASE_URL", "HOST", "PORT")
)

DemoDataDir = Annotated[Path, typer.Option("--data-dir", help="The demo's data directory.")]
DemoDatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Default: SQLite in the demo's data directory.", show_default=False)
]
DemoBaseUrl = Annotated[
    str | None, typer.Option("--base-url", help="Default: http://127.0.0.1:<port>.", show_default=False)
]
GatewayPort = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the gateway.")]
LmsPort = Annotated[int, typer.Option("--lms-port", min=1, max=65535, help="Port of the demo LMS.")]
AppPort = Annotated[int, typer.Option("--app-port", min=1, max=65535, help="Port of the demo app.")]


def demo(
    lms_port: LmsPort = 8001,
    app_port: AppPort = 8002,
    port: GatewayPort = 8000,
    data_dir: DemoDataDir = Path("./.ltigate-demo"),
    database_url: DemoDatabaseUrl = None,
    base_url: DemoBaseUrl = None,
) -> None:
    """Run a demo LMS, the gateway and a demo app together, and launch from one to the other."""
    from ltigate.bootstrap import migrate  # see with_gateway: the adapters load on use
    from ltigate.demo.runner import run_demo  # the demo's peers load only when asked for

    env = {name: value for name, value in os.environ.items() if name not in LOCATION_SETTINGS}
    with reported_errors():
        settings = load_settings(env, data_dir=data_dir, database_url=database_url, base_url=base_url, port=port)
        revision = migrate(settings)
        output.print_line(f"Demo data in {settings.data_dir} (database at revision {revision})", style="dim")
        try:
            asyncio.run(run_demo(settings, lms_port=lms_port, app_port=app_port))
        except KeyboardInterrupt:
            output.print_line("Demo stopped", style="dim")
        except OSError as error:  # a port is taken
            output.print_error("demo_failed", f"the demo could not start: {error}")
            raise typer.Exit(EXIT_ERROR) from None
