"""`ltigate info`: the URLs an LMS administrator enters, and where the data lives. Needs no database."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ltigate.cli import output
from ltigate.cli.command import Json
from ltigate.config import Settings
from ltigate.services.gateway import ToolUrls


def display_database(url: str) -> str:
    """The database URL without its password (the user name stays: it helps to tell databases apart)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def describe(settings: Settings) -> dict[str, str]:
    urls = ToolUrls.from_settings(settings)
    return {
        "login_url": urls.login_url,
        "launch_url": urls.launch_url,
        "jwks_url": urls.jwks_url,
        "ticket_jwks_url": urls.ticket_jwks_url,
        "deep_linking_url": urls.launch_url,
        "registration_url": urls.registration_url,
        "canvas_configuration_url": urls.canvas_configuration_url,
        "base_url": urls.base_url,
        "data_dir": str(settings.data_dir),
        "database": display_database(settings.database_url),
    }


def print_urls(settings: Settings) -> None:
    """The block shown by `info` and when `serve` starts."""
    facts = describe(settings)
    output.print_fields(
        [
            ("Login URL (OIDC initiation)", facts["login_url"]),
            ("Launch / redirect URL", facts["launch_url"]),
            ("JWKS URL (public keys)", facts["jwks_url"]),
            ("Ticket JWKS URL", facts["ticket_jwks_url"]),
            ("Deep linking URL", facts["deep_linking_url"]),
            ("Dynamic Registration", facts["registration_url"] + "  (or a link: ltigate registration-link create)"),
            ("Canvas JSON configuration", facts["canvas_configuration_url"]),
            ("Base URL", facts["base_url"]),
            ("Data directory", facts["data_dir"]),
            ("Database", facts["database"]),
        ]
    )


def info(settings: Settings, json_output: Json = False) -> None:
    """Show the tool's URLs to register in an LMS, the data directory and the database."""
    if json_output:
        output.print_json(describe(settings))
    else:
        print_urls(settings)
