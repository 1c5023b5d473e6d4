"""`ltigate setup-guide <lms>`: for one LMS, where to register ltigate, the exact names of the fields, and
ltigate's own URLs for them (Markdown). Needs no database."""

from __future__ import annotations

from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.config import Settings
from ltigate.lti.errors import LtiError
from ltigate.lti.profiles import PROFILES, profile_named
from ltigate.services.gateway import ToolUrls
from ltigate.services.setup_guides import render_markdown, setup_guide

Lms = Annotated[str, typer.Argument(help=f"One of: {', '.join(p.key for p in PROFILES)}.", show_default=False)]


class UnknownLms(LtiError):
    code = "unknown_lms"


def guide(settings: Settings, lms: Lms) -> None:
    """Print how to register ltigate in an LMS, with this instance's URLs (Markdown)."""
    profile = profile_named(lms)
    if profile is None:
        raise UnknownLms(f"'{lms[:40]}' is not a known LMS; choose one of {', '.join(p.key for p in PROFILES)}")
    text = render_markdown(setup_guide(profile, ToolUrls.from_settings(settings), settings.dynamic_registration))
    output.print_line(text.rstrip("\n"))
