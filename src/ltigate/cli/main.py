"""The `ltigate` command: the Typer app assembled from the command modules, and its entry point."""

from __future__ import annotations

import typer

from ltigate import __version__
from ltigate.cli import (
    admins,
    apikeys,
    database,
    deliveries,
    demo,
    info,
    keys,
    launches,
    platforms,
    registration_links,
    resources,
    seats,
    secret_key,
    serve,
    setup_guide,
)
from ltigate.cli.command import with_global_options


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="ltigate",
        help=f"ltigate {__version__}: a self-hosted LTI 1.3 gateway between learning platforms and learning apps.",
        no_args_is_help=True,
        # Locals in a traceback would print settings, secrets and keys.
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.command("serve")(serve.serve)
    app.command("worker")(with_global_options(serve.worker))
    app.command("migrate")(with_global_options(database.migrate))
    app.command("info")(with_global_options(info.info))
    app.command("demo")(demo.demo)
    app.add_typer(platforms.group(), name="platforms")
    app.add_typer(resources.group(), name="resources")
    app.add_typer(keys.group(), name="keys")
    app.add_typer(apikeys.group(), name="apikey")
    app.add_typer(admins.group(), name="admin")
    app.add_typer(launches.group(), name="launches")
    app.add_typer(deliveries.deliveries_group(), name="deliveries")
    app.add_typer(deliveries.roster_group(), name="roster")
    app.add_typer(seats.group(), name="seats")
    app.add_typer(registration_links.group(), name="registration-link")
    app.command("setup-guide")(with_global_options(setup_guide.guide))
    app.command("rotate-secret")(with_global_options(secret_key.rotate_secret))
    return app


def run() -> None:
    """The console script `ltigate`."""
    build_app()(prog_name="ltigate")
