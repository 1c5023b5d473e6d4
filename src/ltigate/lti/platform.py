"""The platform side of the launch (lti-reference §1.4, §2.3): login initiation parameters, the check of
a tool's authentication request, and the claims of an LtiResourceLinkRequest id_token; and the platform
side of LTI Advantage (lti-reference §3–§5): the service claims, the check of a token request and its
client assertion, and the check of a posted score.

Used by the demo LMS and the platform role.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from ltigate.lti import claims as c
from ltigate.lti.ags import ACTIVITY_PROGRESS, GRADING_PROGRESS
from ltigate.lti.errors import AuthRequestError, Culprit, LtiError, RedirectUriNotRegistered, ScoreInvalid, TokenError
from ltigate.lti.jws import read_unverified_header, verify_signature
from ltigate.lti.keys import KeySet
from ltigate.lti.service_token import CLIENT_ASSERTION_TYPE, GRANT_TYPE, MAX_ASSERTION_TTL

FORM_MEDIA_TYPE: Final = "application/x-www-form-urlencoded"
MAX_JTI_LENGTH: Final = 255
# An ISO 8601 time with a fraction of a second: AGS score timestamps need sub-second precision.
_SUB_SECOND: Final = re.compile(r"T\d{2}:\d{2}:\d{2}[.,]\d+")


@dataclass(frozen=True, slots=True)
class AuthRequest:
    client_id: str
    redirect_uri: str
    login_hint: str
    lti_message_hint: str | None
    state: str
    nonce: str


def build_login_initiation(
    *,
    issuer: str,
    login_hint: str,
    target_link_uri: str,
    client_id: str,
    deployment_id: str,
    lti_message_hint: str | None = None,
) -> dict[str, str]:
    """Parameters of a third-party-initiated login (lti-reference §1.1)."""
    params = {
        "iss": issuer,
        "login_hint": login_hint,
        "target_link_uri": target_link_uri,
        "client_id": client_id,
        "lti_deployment_id": deployment_id,
    }
    if lti_message_hint is not None:
        params["lti_message_hint"] = lti_message_hint
    return params


def parse_auth_request(params: Mapping[str, str], *, client_id: str, redirect_uris: Sequence[str]) -> AuthRequest:
    """Check a tool's authentication request: scope, response type and mode, prompt, client, exact
    redirect URI, state and nonce. Raises AuthRequestError or RedirectUriNotRegistered.
    """
    expected = {"response_type": "id_token", "response_mode": "form_post", "prompt": "none"}
    for name, value in expected.items():
        if params.get(name) != value:
            raise AuthRequestError(f"{name} is '{str(params.get(name))[:60]}'; expected '{value}'")
    if "openid" not in (params.get("scope") or "").split():
        raise AuthRequestError("scope must contain 'openid'")
    if not hmac.compare_digest((params.get("client_id") or "").encode(), client_id.encode()):
        raise AuthRequestError(f"client_id '{str(params.get('client_id'))[:100]}' is not this tool's client_id")
    redirect_uri = params.get("redirect_uri") or ""
    if redirect_uri not in redirect_uris:
        raise RedirectUriNotRegistered(
            f"redirect_uri '{redirect_uri[:300]}' is not one of the registered redirect URIs"
        )
    missing = [name for name in ("login_hint", "state", "nonce") if not params.get(name)]
    if missing:
        raise AuthRequestError(f"the authentication request lacks {', '.join(missing)}")
    return AuthRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        login_hint=params["login_hint"],
        lti_message_hint=params.get("lti_message_hint"),
        state=params["state"],
        nonce=params["nonce"],
    )


@dataclass(frozen=True, slots=True)
class LaunchUser:
    sub: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]


def build_resource_link_claims(
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
    nonce: str,
    now: int,
    ttl: int,
    user: LaunchUser,
    target_link_uri: str,
    resource_link_id: str,
    resource_link_title: str,
    context_id: str,
    context_label: str,
    context_title: str,
    custom: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The payload of an LtiResourceLinkRequest id_token (LTI Core §5.3–5.4)."""
    payload: dict[str, object] = {
        "iss": issuer,
        "aud": client_id,
        "sub": user.sub,
        "iat": now,
        "exp": now + ttl,
        "nonce": nonce,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        c.MESSAGE_TYPE: c.RESOURCE_LINK_REQUEST,
        c.VERSION: c.LTI_VERSION,
        c.DEPLOYMENT_ID: deployment_id,
        c.TARGET_LINK_URI: target_link_uri,
        c.RESOURCE_LINK: {"id": resource_link_id, "title": resource_link_title},
        c.ROLES: list(user.roles),
        c.CONTEXT: {
            "id": context_id,
            "label": context_label,
            "title": context_title,
            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
        },
        c.CUSTOM: dict(custom or {}),
    }
    payload.update(extra or {})
    return payload


# --- LTI Advantage services, platform side (lti-reference §3–§5) ------------------------------------


def build_ags_claim(scopes: Sequence[str], lineitems: str | None, lineitem: str | None = None) -> dict[str, object]:
    """The AGS endpoint claim (lti-reference §4.1): `lineitem` only for a link with exactly one line item."""
    claim: dict[str, object] = {"scope": list(scopes)}
    if lineitems is not None:
        claim["lineitems"] = lineitems
    if lineitem is not None:
        claim["lineitem"] = lineitem
    return claim


def build_nrps_claim(context_memberships_url: str) -> dict[str, object]:
    """The NRPS claim (lti-reference §5); `service_versions` is the name every implementation uses."""
    return {"context_memberships_url": context_memberships_url, "service_versions": ["2.0"]}


class TokenRequestError(LtiError):
    """A refused token request; `code` is the RFC 6749 §5.2 error code sent back to the tool."""

    code = "invalid_request"
    culprit = Culprit.US  # seen from the platform: the tool (the gateway) sent it
    status = 400


class UnsupportedGrantType(TokenRequestError):
    code = "unsupported_grant_type"


class InvalidClient(TokenRequestError):
    code = "invalid_client"
    status = 401


class UnknownAssertionKey(InvalidClient):
    """The assertion names a `kid` the tool's key set does not hold: re-fetch the key set, then refuse."""


class InvalidScope(TokenRequestError):
    code = "invalid_scope"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    assertion: str = field(repr=False)
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClientAssertion:
    """A client assertion that passed every check but the replay check, which needs the platform's memory."""

    jti: str
    expires_at: int
    kid: str
    checks: tuple[str, ...]  # what was verified, in order, for the platform's request log


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, parameters dropped, in lower case."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_token_request(content_type: str | None, form: Mapping[str, str]) -> TokenRequest:
    """Check the shape of a client-credentials token request (RFC 6749 §4.4.2, RFC 7523 §2.2; lti-reference §3).

    Raises TokenRequestError (invalid_request) for a body that is not a form or lacks a member,
    UnsupportedGrantType, or InvalidScope for an empty `scope`.
    """
    if media_type(content_type) != FORM_MEDIA_TYPE:
        raise TokenRequestError(
            f"the token request is {media_type(content_type) or 'untyped'!r}; expected {FORM_MEDIA_TYPE}"
        )
    grant_type = form.get("grant_type", "")
    if not grant_type:
        raise TokenRequestError("the token request has no grant_type")
    if grant_type != GRANT_TYPE:
        raise UnsupportedGrantType(f"grant_type {grant_type[:60]!r} is not supported; expected {GRANT_TYPE!r}")
    assertion_type = form.get("client_assertion_type", "")
    if assertion_type != CLIENT_ASSERTION_TYPE:
        raise TokenRequestError(
            f"client_assertion_type {assertion_type[:80]!r} is not supported; expected {CLIENT_ASSERTION_TYPE!r}"
        )
    assertion = form.get("client_assertion", "")
    if not assertion:
        raise TokenRequestError("the token request has no client_assertion")
    scopes = tuple(dict.fromkeys(form.get("scope", "").split()))
    if not scopes:
        raise InvalidScope("the token request asks for no scope")
    return TokenRequest(assertion=assertion, scopes=scopes)


def verify_client_assertion(
    assertion: str,
    keys: KeySet,
    *,
    client_id: str,
    audience: str,
    now: int,
    max_lifetime: int = MAX_ASSERTION_TTL,
    leeway: int = 60,
) -> ClientAssertion:
    """Verify a tool's client assertion (RFC 7523 §3; Security Framework §4.1.1; lti-reference §3).

    The signature must verify with the tool's key named by `kid`; `iss` and `sub` must both be
    `client_id`; `aud` must be `audience` (a string, or a list holding it); `exp` must be in the future
    and at most `max_lifetime` s away; `iat`, when present, not after now + `leeway`; `jti` non-empty.
    Replay of `jti` is the caller's check. Raises UnknownAssertionKey or InvalidClient, naming the claim.
    """
    try:
        header = read_unverified_header(assertion)
    except TokenError as error:
        raise InvalidClient(f"the client assertion is unusable: {error.message}") from None
    key = keys.find(header.kid)
    if key is None:
        raise UnknownAssertionKey(
            f"the client assertion is signed with kid {header.kid[:80]!r}, which the tool's key set does not hold"
        )
    try:
        claims = verify_signature(assertion, key, header)
    except TokenError as error:
        raise InvalidClient(f"the client assertion is refused: {error.message}") from None
    checks = ["signature"]
    for name in ("iss", "sub"):
        value = claims.get(name)
        if not isinstance(value, str) or not hmac.compare_digest(value.encode(), client_id.encode()):
            raise InvalidClient(f"the client assertion's {name} is {_shown(value)}; it must be the client_id")
    checks.append("iss=sub=client_id")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences:
        raise InvalidClient(f"the client assertion's aud is {_shown(aud)}; it must be {audience!r}")
    checks.append("aud")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise InvalidClient(f"the client assertion's exp is {_shown(exp)}; it must be a NumericDate")
    if exp <= now:
        raise InvalidClient(f"the client assertion expired {now - exp} s ago (exp {exp})")
    if exp > now + max_lifetime:
        raise InvalidClient(f"the client assertion's exp is {exp - now} s away; at most {max_lifetime} s are accepted")
    iat = claims.get("iat")
    if iat is not None and (isinstance(iat, bool) or not isinstance(iat, int) or iat > now + leeway):
        raise InvalidClient(f"the client assertion's iat is {_shown(iat)}, in the future or not a NumericDate")
    checks.append("exp")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidClient(f"the client assertion's jti is {_shown(jti)}; it must be a unique string")
    return ClientAssertion(jti=jti, expires_at=exp, kid=header.kid, checks=(*checks, "jti present"))


class DeepLinkingResponseInvalid(LtiError):
    """A tool's LtiDeepLinkingResponse the platform must refuse (lti-reference §6.2, "platform validation")."""

    code = "deep_linking_response_invalid"
    culprit = Culprit.PLATFORM  # here the tool is the peer


@dataclass(frozen=True, slots=True)
class ReceivedDeepLinkingResponse:
    items: tuple[Mapping[str, object], ...]
    msg: str | None
    log: str | None
    errormsg: str | None
    errorlog: str | None


def verify_deep_linking_response(
    token: str,
    keys: KeySet,
    *,
    client_id: str,
    issuer: str,
    deployment_id: str,
    data: object,
    now: int,
    leeway: int = 60,
) -> ReceivedDeepLinkingResponse:
    """Check a tool's LtiDeepLinkingResponse on the platform side: signature with the tool's key named by
    `kid`, iss == client_id, aud holds our issuer, exp/iat, the deployment, the message type and version,
    and `data` echoed unchanged. Raises DeepLinkingResponseInvalid naming what is wrong."""
    try:
        header = read_unverified_header(token)
        key = keys.find(header.kid)
        if key is None:
            raise DeepLinkingResponseInvalid(
                f"the response is signed with kid {header.kid[:80]!r}, not in the tool's keys"
            )
        claims = verify_signature(token, key, header)
    except TokenError as error:
        raise DeepLinkingResponseInvalid(f"the response is refused: {error.message}") from None
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    exp, iat = claims.get("exp"), claims.get("iat")
    problems = {
        "iss": claims.get("iss") != client_id,
        "aud": issuer not in audiences,
        "exp": isinstance(exp, bool) or not isinstance(exp, int) or exp <= now - leeway,
        "iat": isinstance(iat, bool) or not isinstance(iat, int) or iat > now + leeway,
        "nonce": not isinstance(claims.get("nonce"), str) or not claims.get("nonce"),
        c.DEPLOYMENT_ID: claims.get(c.DEPLOYMENT_ID) != deployment_id,
        c.MESSAGE_TYPE: claims.get(c.MESSAGE_TYPE) != "LtiDeepLinkingResponse",
        c.VERSION: claims.get(c.VERSION) != c.LTI_VERSION,
        "data": claims.get(_DL + "data") != data,
    }
    wrong = [name for name, bad in problems.items() if bad]
    if wrong:
        raise DeepLinkingResponseInvalid(
            f"the response's {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong"
        )
    items = claims.get(_DL + "content_items", [])
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise DeepLinkingResponseInvalid("content_items must be an array of objects")

    def text(name: str) -> str | None:
        value = claims.get(_DL + name)
        return value if isinstance(value, str) else None

    return ReceivedDeepLinkingResponse(
        items=tuple(items), msg=text("msg"), log=text("log"), errormsg=text("errormsg"), errorlog=text("errorlog")
    )


_DL: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def grant_scopes(requested: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """The requested scopes the platform allows, in request order; raises InvalidScope when none is."""
    granted = tuple(scope for scope in requested if scope in allowed)
    if not granted:
        shown = " ".join(requested)[:300]
        raise InvalidScope(f"none of the requested scopes ({shown}) is offered to this tool")
    return granted


@dataclass(frozen=True, slots=True)
class ReceivedScore:
    """A score as a platform accepts it (AGS §3.4; lti-reference §4.5)."""

    user_id: str
    timestamp: datetime
    timestamp_text: str
    activity_progress: str
    grading_progress: str
    score_given: float | None = None
    score_maximum: float | None = None
    comment: str | None = None
    scoring_user_id: str | None = None


def parse_score(document: object) -> ReceivedScore:
    """Check a score POST body on the platform side. Raises ScoreInvalid naming the member.

    userId is required; timestamp must be ISO 8601 with sub-second precision and a zone; both progress
    values must come from their vocabularies; scoreGiven ≥ 0 needs scoreMaximum > 0; comment and
    scoringUserId, when present, are strings (scoringUserId non-empty).
    """
    if not isinstance(document, Mapping):
        raise ScoreInvalid("a score must be a JSON object")
    user_id = document.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise ScoreInvalid(f"userId is {_shown(user_id)}; a score needs the LTI user id")
    text = document.get("timestamp")
    if not isinstance(text, str) or not _SUB_SECOND.search(text):
        raise ScoreInvalid(f"timestamp is {_shown(text)}; it must be ISO 8601 with sub-second precision and a zone")
    try:
        timestamp = datetime.fromisoformat(text)
    except ValueError:
        raise ScoreInvalid(f"timestamp {text[:60]!r} is not an ISO 8601 date-time") from None
    if timestamp.tzinfo is None:
        raise ScoreInvalid(f"timestamp {text[:60]!r} has no time zone")
    activity, grading = document.get("activityProgress"), document.get("gradingProgress")
    if activity not in ACTIVITY_PROGRESS:
        raise ScoreInvalid(f"activityProgress is {_shown(activity)}; expected one of {', '.join(ACTIVITY_PROGRESS)}")
    if grading not in GRADING_PROGRESS:
        raise ScoreInvalid(f"gradingProgress is {_shown(grading)}; expected one of {', '.join(GRADING_PROGRESS)}")
    given, maximum = document.get("scoreGiven"), document.get("scoreMaximum")
    score_given, score_maximum = _number(given), _number(maximum)
    if given is not None and (score_given is None or score_given < 0):
        raise ScoreInvalid(f"scoreGiven is {_shown(given)}; it must be a number ≥ 0")
    if maximum is not None and (score_maximum is None or score_maximum <= 0):
        raise ScoreInvalid(f"scoreMaximum is {_shown(maximum)}; it must be a number > 0")
    if given is not None and maximum is None:
        raise ScoreInvalid("scoreGiven comes without scoreMaximum, which it requires")
    comment, scorer = document.get("comment"), document.get("scoringUserId")
    if comment is not None and not isinstance(comment, str):
        raise ScoreInvalid(f"comment is {_shown(comment)}; it must be plain text")
    if scorer is not None and (not isinstance(scorer, str) or not scorer):
        raise ScoreInvalid(f"scoringUserId is {_shown(scorer)}; it must be a non-empty string when present")
    return ReceivedScore(
        user_id=user_id,
        timestamp=timestamp,
        timestamp_text=text,
        activity_progress=str(activity),
        grading_progress=str(grading),
        score_given=score_given,
        score_maximum=score_maximum,
        comment=comment,
        scoring_user_id=scorer,
    )


def accepts(accept: str | None, offered: str) -> bool:
    """Whether an Accept header admits the media type `offered` (RFC 9110 §12.5.1); no header admits anything."""
    if not accept or not accept.strip():
        return True
    kind = offered.split("/", 1)[0]
    for entry in accept.split(","):
        mtype, *params = (part.strip() for part in entry.split(";"))
        quality = next((p.partition("=")[2] for p in params if p.lower().startswith("q=")), "1")
        if quality.strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if mtype.lower() in (offered, "*/*", f"{kind}/*"):
            return True
    return False


def link_header(links: Mapping[str, str]) -> str:
    """A `Link` header value (RFC 8288) for relation → URL pairs, e.g. `<…>; rel="next"`."""
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _shown(value: object) -> str:
    if value is None:
        return "missing"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:100])
