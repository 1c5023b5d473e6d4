"""The parsed LTI message: frozen values built from verified claims (LTI Core 1.3 §5, DL 2.0 §4.4).

`parse_message` checks the required claims of each supported message type and turns the raw claim
mapping into typed values. Unknown claims are ignored (LTI Core §4.3) but kept in `claims`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ltigate.lti import claims as c
from ltigate.lti.errors import ClaimMissing, TokenMalformed, WrongMessageType, WrongVersion
from ltigate.lti.roles import normalise_role, short_roles

SUPPORTED_MESSAGE_TYPES: Final = (c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST, c.SUBMISSION_REVIEW_REQUEST)
MAX_ID_LENGTH: Final = 255


@dataclass(frozen=True, slots=True)
class User:
    sub: str | None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    middle_name: str | None = None
    email: str | None = None
    picture: str | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    id: str
    label: str | None = None
    title: str | None = None
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceLink:
    id: str
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AssignmentGradeService:
    scopes: tuple[str, ...]
    lineitems: str | None
    lineitem: str | None


@dataclass(frozen=True, slots=True)
class NamesRoleService:
    context_memberships_url: str
    service_versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Presentation:
    document_target: str | None = None
    return_url: str | None = None
    locale: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class ForUser:
    """The learner whose submission an LtiSubmissionReviewRequest reviews (Submission Review 1.0 §3.2)."""

    user_id: str
    person_sourcedid: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    name: str | None = None
    email: str | None = None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LtiMessage:
    """A verified platform-originating message."""

    issuer: str
    client_id: str
    deployment_id: str
    message_type: str
    target_link_uri: str
    user: User
    roles: tuple[str, ...]
    context: Context | None
    resource_link: ResourceLink | None
    custom: Mapping[str, str]
    presentation: Presentation | None
    ags: AssignmentGradeService | None
    nrps: NamesRoleService | None
    deep_linking: Mapping[str, object] | None
    platform_guid: str | None
    platform_name: str | None
    lti11_user_id: str | None
    claims: Mapping[str, object] = field(repr=False)
    for_user: ForUser | None = None

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == c.DEEP_LINKING_REQUEST

    @property
    def is_submission_review(self) -> bool:
        return self.message_type == c.SUBMISSION_REVIEW_REQUEST

    @property
    def short_roles(self) -> tuple[str, ...]:
        return short_roles(self.roles)

    @property
    def services(self) -> tuple[str, ...]:
        offered = []
        if self.ags is not None:
            offered.append("ags")
        if self.nrps is not None:
            offered.append("nrps")
        if self.deep_linking is not None:
            offered.append("deep_linking")
        return tuple(offered)


def _text(claims: Mapping[str, object], name: str, *, required: bool = False, limit: int | None = None) -> str | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise ClaimMissing(f"the required claim '{name}' is missing")
        return None
    if not isinstance(value, str):
        raise TokenMalformed(f"claim '{name}' must be a string, got {type(value).__name__}")
    if required and not value:
        raise ClaimMissing(f"the required claim '{name}' is empty")
    if limit is not None and len(value) > limit:
        raise TokenMalformed(f"claim '{name}' has {len(value)} characters; at most {limit} are allowed")
    return value


def _object(claims: Mapping[str, object], name: str, *, required: bool = False) -> Mapping[str, object] | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise ClaimMissing(f"the required claim '{name}' is missing")
        return None
    if not isinstance(value, Mapping):
        raise TokenMalformed(f"claim '{name}' must be a JSON object, got {type(value).__name__}")
    return value


def _optional_text(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) else None


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_message(claims: Mapping[str, object], client_id: str) -> LtiMessage:
    """Check the LTI claims of a verified token and build an LtiMessage.

    Raises ClaimMissing (message_type, version, deployment_id, roles, target_link_uri, an empty `sub`;
    resource_link for resource-link and submission-review requests; deep_linking_settings for
    deep-linking requests; for_user for submission review), WrongMessageType, WrongVersion or
    TokenMalformed (wrong shapes).
    """
    message_type = _text(claims, c.MESSAGE_TYPE, required=True)
    version = _text(claims, c.VERSION, required=True)
    if message_type not in SUPPORTED_MESSAGE_TYPES:
        raise WrongMessageType(
            f"message type '{str(message_type)[:60]}' is not supported here; "
            f"expected {', '.join(SUPPORTED_MESSAGE_TYPES)}"
        )
    if version != c.LTI_VERSION:
        raise WrongVersion(f"LTI version '{str(version)[:20]}' is not supported; expected '{c.LTI_VERSION}'")
    deployment_id = _text(claims, c.DEPLOYMENT_ID, required=True, limit=MAX_ID_LENGTH)
    target_link_uri = _text(claims, c.TARGET_LINK_URI, required=True)
    roles_claim = claims.get(c.ROLES)
    if roles_claim is None:
        raise ClaimMissing(f"the required claim '{c.ROLES}' is missing")
    if not isinstance(roles_claim, list):
        raise TokenMalformed(f"claim '{c.ROLES}' must be an array")
    roles = tuple(normalise_role(r) for r in roles_claim if isinstance(r, str) and r)
    assert message_type and deployment_id and target_link_uri is not None
    deep_linking = _object(claims, c.DL_SETTINGS, required=message_type == c.DEEP_LINKING_REQUEST)
    return LtiMessage(
        issuer=str(claims.get("iss")),
        client_id=client_id,
        deployment_id=deployment_id,
        message_type=message_type,
        target_link_uri=target_link_uri,
        user=_user(claims),
        roles=roles,
        context=_context(claims),
        resource_link=_resource_link(claims, required=message_type != c.DEEP_LINKING_REQUEST),
        custom=_custom(claims),
        presentation=_presentation(claims),
        ags=_ags(claims),
        nrps=_nrps(claims),
        deep_linking=deep_linking,
        platform_guid=_optional_text(_object(claims, c.TOOL_PLATFORM) or {}, "guid"),
        platform_name=_optional_text(_object(claims, c.TOOL_PLATFORM) or {}, "name"),
        lti11_user_id=_optional_text(_object(claims, c.LTI1P1) or {}, "user_id")
        or _text(claims, c.LTI + "lti11_legacy_user_id"),
        claims=claims,
        for_user=_for_user(claims, required=message_type == c.SUBMISSION_REVIEW_REQUEST),
    )


def _for_user(claims: Mapping[str, object], *, required: bool) -> ForUser | None:
    obj = _object(claims, c.FOR_USER, required=required)
    if obj is None:
        return None
    user_id = _text(obj, "user_id", required=True, limit=MAX_ID_LENGTH)
    assert user_id is not None
    return ForUser(
        user_id=user_id,
        person_sourcedid=_optional_text(obj, "person_sourcedid"),
        given_name=_optional_text(obj, "given_name"),
        family_name=_optional_text(obj, "family_name"),
        name=_optional_text(obj, "name"),
        email=_optional_text(obj, "email"),
        roles=tuple(normalise_role(r) for r in _strings(obj.get("roles")) if r),
    )


def _user(claims: Mapping[str, object]) -> User:
    sub = claims.get("sub")
    if sub is not None:
        if not isinstance(sub, str):
            raise TokenMalformed("claim 'sub' must be a string")
        if not sub:
            raise ClaimMissing("claim 'sub' is present but empty; send a user id or omit it for an anonymous launch")
        if len(sub) > MAX_ID_LENGTH:
            raise TokenMalformed(f"claim 'sub' has {len(sub)} characters; at most {MAX_ID_LENGTH}")
    profile = {name: _optional_text(claims, name) for name in c.PROFILE}
    return User(sub=sub, **profile)


def _context(claims: Mapping[str, object]) -> Context | None:
    obj = _object(claims, c.CONTEXT)
    if obj is None:
        return None
    context_id = _text(obj, "id", required=True, limit=MAX_ID_LENGTH)
    assert context_id is not None
    return Context(
        id=context_id,
        label=_optional_text(obj, "label"),
        title=_optional_text(obj, "title"),
        types=_strings(obj.get("type")),
    )


def _resource_link(claims: Mapping[str, object], *, required: bool) -> ResourceLink | None:
    obj = _object(claims, c.RESOURCE_LINK, required=required)
    if obj is None:
        return None
    link_id = _text(obj, "id", required=True, limit=MAX_ID_LENGTH)
    assert link_id is not None
    return ResourceLink(id=link_id, title=_optional_text(obj, "title"), description=_optional_text(obj, "description"))


def _custom(claims: Mapping[str, object]) -> Mapping[str, str]:
    obj = _object(claims, c.CUSTOM) or {}
    return {str(k): v for k, v in obj.items() if isinstance(v, str)}


def _presentation(claims: Mapping[str, object]) -> Presentation | None:
    obj = _object(claims, c.LAUNCH_PRESENTATION)
    if obj is None:
        return None
    return Presentation(
        document_target=_optional_text(obj, "document_target"),
        return_url=_optional_text(obj, "return_url"),
        locale=_optional_text(obj, "locale"),
        width=_int(obj.get("width")),
        height=_int(obj.get("height")),
    )


def _ags(claims: Mapping[str, object]) -> AssignmentGradeService | None:
    obj = _object(claims, c.AGS_ENDPOINT)
    if obj is None:
        return None
    return AssignmentGradeService(
        scopes=_strings(obj.get("scope")),
        lineitems=_optional_text(obj, "lineitems"),
        lineitem=_optional_text(obj, "lineitem"),
    )


def _nrps(claims: Mapping[str, object]) -> NamesRoleService | None:
    obj = _object(claims, c.NRPS_SERVICE)
    if obj is None:
        return None
    url = _optional_text(obj, "context_memberships_url")
    if not url:
        return None
    return NamesRoleService(context_memberships_url=url, service_versions=_strings(obj.get("service_versions")))
