"""Names and Role Provisioning Services 2.0: the membership container, its URL parameters and its
paging and differences links (NRPS §2.2–2.4; lti-reference §5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ltigate.lti.errors import ServiceResponseInvalid
from ltigate.lti.links import append_query, parse_link_headers
from ltigate.lti.message import Context
from ltigate.lti.roles import normalise_role
from ltigate.lti.text import may_hold_unstorable_text, storable

MEDIA_TYPE: Final = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
SCOPE: Final = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
STATUSES: Final = ("Active", "Inactive", "Deleted")
MAX_ROLES: Final = 100


@dataclass(frozen=True, slots=True)
class NrpsMember:
    """One membership; everything but user_id and roles depends on the platform's privacy settings."""

    user_id: str
    roles: tuple[str, ...]
    status: str = "Active"
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    middle_name: str | None = None
    email: str | None = None
    picture: str | None = None
    lis_person_sourcedid: str | None = None
    lti11_legacy_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class MembershipPage:
    """One page of a membership container; `skipped` counts entries without a user_id or not objects."""

    id: str | None
    context: Context | None
    members: tuple[NrpsMember, ...]
    skipped: int = 0


def memberships_url(url: str, *, role: str | None = None, limit: int | None = None, rlid: str | None = None) -> str:
    """`context_memberships_url` with the NRPS filters appended to its own query, values percent-encoded.

    `role` is a full role URI or a bare context role name (`Learner`); `rlid` asks for the members of one
    resource link. Raises ValueError for a limit that is not a positive integer.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    params = [("role", role), ("limit", None if limit is None else str(limit)), ("rlid", rlid)]
    return append_query(url, [(name, value) for name, value in params if value is not None])


def parse_membership_page(body: bytes) -> MembershipPage:
    """Parse a membership container page.

    Raises ServiceResponseInvalid when the body is not a JSON object or its `members` is missing or not
    an array: an empty page read from a broken answer would empty the roster. Roles are normalised to full
    URIs; a missing status reads as Active; members without a user_id are skipped and counted.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        snippet = " ".join(body[:120].decode("utf-8", "replace").split())
        raise ServiceResponseInvalid(f"the membership container is not JSON: {snippet!r}") from None
    if not isinstance(document, dict):
        raise ServiceResponseInvalid(f"the membership container must be a JSON object, got {type(document).__name__}")
    if may_hold_unstorable_text(body) and not storable(document):  # PostgreSQL text refuses U+0000
        raise ServiceResponseInvalid(
            "the membership container holds U+0000 or a lone surrogate, which no LTI value holds"
        )
    entries = document.get("members")
    if not isinstance(entries, list):
        raise ServiceResponseInvalid(f"the membership container has no 'members' array (got {type(entries).__name__})")
    members = [member for member in map(_member, entries) if member is not None]
    page_id = document.get("id")
    return MembershipPage(
        id=page_id if isinstance(page_id, str) else None,
        context=_context(document.get("context")),
        members=tuple(members),
        skipped=len(entries) - len(members),
    )


def next_page(headers: Mapping[str, str]) -> str | None:
    """The `Link: <…>; rel="next"` URL, to be followed verbatim; None on the last page."""
    return parse_link_headers(headers).get("next")


def differences_url(headers: Mapping[str, str]) -> str | None:
    """The `Link: <…>; rel="differences"` URL, opaque, to fetch the changes since this page for a later sync."""
    return parse_link_headers(headers).get("differences")


def _member(entry: object) -> NrpsMember | None:
    if not isinstance(entry, Mapping):
        return None
    user_id = entry.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id:
        return None
    return NrpsMember(
        user_id=user_id,
        roles=_roles(entry.get("roles")),
        status=_status(entry.get("status")),
        name=_text(entry, "name"),
        given_name=_text(entry, "given_name"),
        family_name=_text(entry, "family_name"),
        middle_name=_text(entry, "middle_name"),
        email=_text(entry, "email"),
        picture=_text(entry, "picture"),
        lis_person_sourcedid=_text(entry, "lis_person_sourcedid"),
        lti11_legacy_user_id=_text(entry, "lti11_legacy_user_id"),
    )


def _roles(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    seen: dict[str, None] = {}
    for role in value[:MAX_ROLES]:
        if isinstance(role, str) and role.strip():
            seen.setdefault(normalise_role(role.strip()), None)
    return tuple(seen)


def _status(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "Active"
    # Platforms differ in case; the three NRPS values are canonical, anything else is kept as sent.
    return next((status for status in STATUSES if status.lower() == value.lower()), value)


def _context(value: object) -> Context | None:
    if not isinstance(value, Mapping):
        return None
    context_id = value.get("id")
    if not isinstance(context_id, str) or not context_id:
        return None
    return Context(id=context_id, label=_text(value, "label"), title=_text(value, "title"))


def _text(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None
