"""The platform side of the launch (lti-reference §1.4, §2.3): login initiation parameters, the check of
a tool's authentication request, and the claims of an LtiResourceLinkRequest id_token.

Used by the demo LMS and the platform role.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ltigate.lti import claims as c
from ltigate.lti.errors import AuthRequestError, RedirectUriNotRegistered


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
