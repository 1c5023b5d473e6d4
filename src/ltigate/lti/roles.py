"""Role URIs and their short names (LTI Core 1.3 Appendix A.2; lti-reference §2.6).

Deprecated forms are accepted: bare names (`Instructor`), `lis/v2/person#X` and LTI 1.x URNs.
Unknown values are kept as given and grant no privilege.
"""

from __future__ import annotations

from typing import Final

MEMBERSHIP: Final = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION: Final = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM: Final = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
LTI_SYSTEM: Final = "http://purl.imsglobal.org/vocab/lti/system/person#"

CONTEXT_ROLES: Final = frozenset(
    {"Administrator", "ContentDeveloper", "Instructor", "Learner", "Mentor", "Manager", "Member", "Officer"}
)
_URN_PREFIXES: Final = {
    "urn:lti:role:ims/lis/": MEMBERSHIP,
    "urn:lti:instrole:ims/lis/": INSTITUTION,
    "urn:lti:sysrole:ims/lis/": SYSTEM,
}
_SUB_ROLE_PREFIX: Final = "http://purl.imsglobal.org/vocab/lis/v2/membership/"
_DEPRECATED_PERSON: Final = "http://purl.imsglobal.org/vocab/lis/v2/person#"


def normalise_role(role: str) -> str:
    """Return the full URI for `role`; a bare context name becomes `membership#Name`."""
    if role in CONTEXT_ROLES:
        return MEMBERSHIP + role
    for urn, prefix in _URN_PREFIXES.items():
        if role.startswith(urn):
            name, _, sub = role[len(urn) :].partition("/")
            if sub and prefix == MEMBERSHIP:  # `Instructor/TeachingAssistant` is a sub-role, not Instructor
                return f"{_SUB_ROLE_PREFIX}{name}#{sub.split('/')[0]}"
            return prefix + name
    if role.startswith(_DEPRECATED_PERSON):
        return INSTITUTION + role[len(_DEPRECATED_PERSON) :]
    return role


def short_role(role: str) -> str | None:
    """The short name of a known role URI (`Instructor`, `TeachingAssistant`, `institution:Faculty`).

    Context roles give their bare name; institution and system roles are prefixed so they cannot be
    mistaken for context roles. Unknown or empty values give None.
    """
    full = normalise_role(role)
    if full.startswith(MEMBERSHIP):
        return full[len(MEMBERSHIP) :] or None
    if full.startswith(_SUB_ROLE_PREFIX):
        principal, _, sub = full[len(_SUB_ROLE_PREFIX) :].partition("#")
        if sub in CONTEXT_ROLES and sub != principal:  # `Learner#Instructor` must not read as `Instructor`
            return f"{principal}#{sub}"
        return sub or None
    if full.startswith(INSTITUTION):
        return "institution:" + full[len(INSTITUTION) :]
    if full.startswith(SYSTEM):
        return "system:" + full[len(SYSTEM) :]
    if full.startswith(LTI_SYSTEM):
        return "lti:" + full[len(LTI_SYSTEM) :]
    return None


def short_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    """Short names of the known roles in `roles`, deduplicated, in first-seen order."""
    seen: dict[str, None] = {}
    for role in roles:
        name = short_role(role)
        if name:
            seen.setdefault(name, None)
    return tuple(seen)


def is_staff(roles: tuple[str, ...]) -> bool:
    """True when `roles` hold an instructor or administrator role in context or institution."""
    staff = {
        "Instructor",
        "Administrator",
        "ContentDeveloper",
        "institution:Administrator",
        "institution:Faculty",
        "institution:Instructor",
        "system:Administrator",
        "system:SysAdmin",
    }
    return any(name in staff for name in short_roles(roles))
