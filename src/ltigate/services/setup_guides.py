"""Per-LMS setup guides built from the LMS profiles (lti.profiles) and ltigate's own URLs: which screen, which
field, which value. One structure, rendered as Markdown (`ltigate setup-guide`, docs/lms/*.md) and as HTML
(the console), so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ltigate.lti.profiles import Label, LmsProfile, PlatformValue, ToolValue
from ltigate.services.gateway import ToolUrls

UNCONFIRMED: Final = "⚠"
DOCS_BASE_URL: Final = "https://lti.example.edu"  # the placeholder base URL of docs/lms/*.md

# ltigate's own names for the platform fields: console form label, CLI flag.
PLATFORM_FIELDS: Final = {
    PlatformValue.ISSUER: ("Issuer", "--issuer"),
    PlatformValue.CLIENT_ID: ("Client ID", "--client-id"),
    PlatformValue.DEPLOYMENT_ID: ("Deployment IDs", "--deployment-id"),
    PlatformValue.AUTH_URL: ("Authentication request URL", "--auth-url"),
    PlatformValue.TOKEN_URL: ("Access token URL", "--token-url"),
    PlatformValue.JWKS_URL: ("Public keyset URL", "--jwks-url"),
    PlatformValue.TOKEN_AUDIENCE: ("Token audience", "--token-audience"),
}


@dataclass(frozen=True, slots=True)
class GuideRow:
    field: str  # the LMS's name for it, or ltigate's
    value: str
    note: str = ""
    confirmed: bool = True
    code: bool = False  # the value is a URL or name to copy as is


@dataclass(frozen=True, slots=True)
class GuideSection:
    title: str
    steps: tuple[str, ...]
    columns: tuple[str, str]
    rows: tuple[GuideRow, ...]
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetupGuide:
    profile: LmsProfile
    base_url: str
    sections: tuple[GuideSection, ...]

    @property
    def has_unconfirmed(self) -> bool:
        return any(not row.confirmed for section in self.sections for row in section.rows)


def setup_guide(profile: LmsProfile, urls: ToolUrls, registration_mode: str = "link") -> SetupGuide:
    """The guide for `profile` with ltigate's `urls`; `registration_mode` is LTIGATE_DYNAMIC_REGISTRATION."""
    sections = []
    if profile.dynamic_registration:
        sections.append(_dynamic(profile, urls, registration_mode))
    sections.append(_manual(profile, urls))
    sections.append(_platform(profile))
    if profile.notes:
        sections.append(GuideSection("Good to know", profile.notes, ("", ""), ()))
    if profile.sources:
        sections.append(GuideSection("Sources", profile.sources, ("", ""), ()))
    return SetupGuide(profile=profile, base_url=urls.base_url, sections=tuple(sections))


def _dynamic(profile: LmsProfile, urls: ToolUrls, mode: str) -> GuideSection:
    label = profile.tool_labels.get(ToolValue.REGISTRATION_URL, Label("the registration URL field", confirmed=False))
    if mode == "open":
        value, note = urls.registration_url, "open to anyone who has it (LTIGATE_DYNAMIC_REGISTRATION=open)"
    elif mode == "off":
        value, note = "—", "Dynamic Registration is switched off (LTIGATE_DYNAMIC_REGISTRATION=off)"
    else:
        value = f"{urls.registration_url}/<secret>"
        note = "a one-time link: `ltigate registration-link create` or the console's Tool registration page"
    return GuideSection(
        title="Dynamic Registration",
        steps=profile.dynamic_registration,
        columns=(f"{profile.name} asks for", "Enter"),
        rows=(GuideRow(label.text, value, _join(label.note, note), label.confirmed, code=value != "—"),),
        after=(
            "ltigate shows what it will register; confirm, and the LMS closes the window.",
            "Unless LTIGATE_REGISTRATION_APPROVAL=automatic, the new platform waits for approval: console › "
            "Platforms › Approve, `ltigate platforms approve-registration PLATFORM_ID`, or "
            "`POST /api/v1/platforms/{id}/approve`.",
        ),
    )


def _manual(profile: LmsProfile, urls: ToolUrls) -> GuideSection:
    values = {
        ToolValue.CONFIGURATION_URL: (urls.canvas_configuration_url, ""),
        ToolValue.LOGIN_URL: (urls.login_url, ""),
        ToolValue.REDIRECT_URL: (urls.launch_url, ""),
        ToolValue.JWKS_URL: (urls.jwks_url, ""),
        ToolValue.TARGET_LINK_URI: (f"{urls.launch_url}?resource=<slug>", "a resource's target link URI"),
        ToolValue.DEEP_LINKING_URL: (urls.launch_url, "deep-linking requests open ltigate's picker"),
        ToolValue.DOMAIN: (urls.base_url.split("://", 1)[1], ""),
    }
    rows = tuple(
        GuideRow(label.text, values[value][0], _join(label.note, values[value][1]), label.confirmed, code=True)
        for value, label in profile.tool_labels.items()
        if value in values
    )
    return GuideSection(
        title="Manual registration",
        steps=profile.manual_registration,
        columns=(f"{profile.name} field", "Enter"),
        rows=rows,
    )


def _platform(profile: LmsProfile) -> GuideSection:
    rows = []
    for value, (name, flag) in PLATFORM_FIELDS.items():
        label = profile.platform_labels.get(value)
        known = profile.known_values.get(value)
        if label is None and known is None:
            continue
        shown = f"“{label.text}”" if label else "—"
        note = _join(label.note if label else "", f"usually {known}" if known else "")
        rows.append(GuideRow(f"{name} ({flag})", shown, note, label.confirmed if label else True))
    after_dynamic = " (not needed after Dynamic Registration)" if profile.dynamic_registration else ""
    return GuideSection(
        title=f"Then add {profile.name} as a platform in ltigate",
        steps=(
            f"Console › Platforms › Add a platform, or `ltigate platforms add` with the flags below{after_dynamic}.",
        ),
        columns=("ltigate field", f"{profile.name} shows it as"),
        rows=tuple(rows),
    )


def render_markdown(guide: SetupGuide) -> str:
    """The guide as Markdown, ending with one newline."""
    name = guide.profile.name
    lines = [
        f"# Registering ltigate in {name}",
        "",
        f"<!-- Generated from src/ltigate/lti/profiles.py by `ltigate setup-guide {guide.profile.key} "
        f"--base-url {guide.base_url}`; edit the profile, not this file. -->",
        "",
        f"The URLs below use the base URL {guide.base_url}; `ltigate setup-guide {guide.profile.key}` prints them "
        "with yours.",
    ]
    for section in guide.sections:
        lines += ["", f"## {section.title}", ""]
        bullet = "-" if section.title in ("Good to know", "Sources") else None
        for number, step in enumerate(section.steps, start=1):
            lines.append(f"{bullet} {step}" if bullet else f"{number}. {step}")
        if section.rows:
            lines += ["", f"| {section.columns[0]} | {section.columns[1]} | Note |", "|---|---|---|"]
            for row in section.rows:
                # The mark goes next to the LMS's own name: the field in the first sections, the value in the last.
                mark = "" if row.confirmed else f" {UNCONFIRMED}"
                field = row.field + (mark if row.code else "")
                value = f"`{row.value}`" if row.code else row.value + mark
                lines.append(f"| {field} | {value} | {row.note} |")
        if section.after:
            lines.append("")
            lines += list(section.after)
    if guide.has_unconfirmed:
        lines += ["", f"{UNCONFIRMED} could not be confirmed against {name}'s own screens or documentation."]
    return "\n".join(lines) + "\n"


def _join(*parts: str) -> str:
    return "; ".join(dict.fromkeys(p for p in parts if p))
