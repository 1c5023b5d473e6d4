"""What the demo app shows of a redeemed launch: the REST API's launch JSON (`POST /api/v1/tickets/redeem`),
read defensively into a frozen view so a missing or odd member shows as "—" instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

_SCORE_SCOPE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@dataclass(frozen=True, slots=True)
class LaunchView:
    launch_id: str | None
    name: str | None
    email: str | None
    sub: str | None
    context_title: str | None
    context_label: str | None
    short_roles: tuple[str, ...]
    roles: tuple[str, ...]
    resource: str | None
    resource_link_title: str | None
    resource_link_id: str | None
    issuer: str | None
    deployment_id: str | None
    message_type: str | None
    services: tuple[str, ...]
    custom: tuple[tuple[str, str], ...]
    return_url: str | None
    can_score: bool = False  # AGS with the score scope
    has_roster: bool = False  # NRPS


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Mapping[str, object], name: str) -> str | None:
    member = value.get(name)
    return member if isinstance(member, str) and member else None


def _texts(value: object) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _services(value: Mapping[str, object]) -> tuple[str, ...]:
    offered = []
    ags = _mapping(value.get("ags"))
    if ags:
        scopes = ", ".join(scope.rsplit("/", 1)[-1] for scope in _texts(ags.get("scopes")))
        offered.append(f"Assignment and Grade Services ({scopes or 'no scopes'})")
    if _mapping(value.get("nrps")):
        offered.append("Names and Role Provisioning Services")
    if value.get("deep_linking") is True:
        offered.append("Deep Linking")
    return tuple(offered)


def web_url(url: str | None) -> str | None:
    """Only http(s) links are shown: a `javascript:` return URL must not become a clickable link."""
    return url if url is not None and url.lower().startswith(("https://", "http://")) else None


def read_launch(document: Mapping[str, object]) -> LaunchView:
    """The view of one launch JSON document; never raises on missing members."""
    user, context = _mapping(document.get("user")), _mapping(document.get("context"))
    link = _mapping(document.get("resource_link"))
    custom = _mapping(document.get("custom"))
    services = _mapping(document.get("services"))
    services_ags = _mapping(services.get("ags"))
    return LaunchView(
        launch_id=_text(document, "id"),
        name=_text(user, "name"),
        email=_text(user, "email"),
        sub=_text(user, "sub"),
        context_title=_text(context, "title"),
        context_label=_text(context, "label"),
        short_roles=_texts(document.get("short_roles")),
        roles=_texts(document.get("roles")),
        resource=_text(document, "resource"),
        resource_link_title=_text(link, "title"),
        resource_link_id=_text(link, "id"),
        issuer=_text(document, "issuer"),
        deployment_id=_text(document, "deployment_id"),
        message_type=_text(document, "message_type"),
        services=_services(services),
        custom=tuple(sorted((k, v) for k, v in custom.items() if isinstance(v, str))),
        return_url=web_url(_text(document, "return_url")),
        can_score=_SCORE_SCOPE in _texts(services_ags.get("scopes")),
        has_roster=bool(_mapping(services.get("nrps"))),
    )
