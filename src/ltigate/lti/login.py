"""OIDC third-party-initiated login (Security Framework §5.1.1; lti-reference §1.1–1.2).

`parse_login_initiation` reads the platform's GET or POST parameters; `build_auth_request_url` makes
the authentication request that the browser is redirected to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from ltigate.lti.errors import LoginParameterMissing, TargetLinkUriForeign

MAX_PARAMETER_LENGTH: Final = 4096


@dataclass(frozen=True, slots=True)
class LoginInitiation:
    issuer: str
    login_hint: str
    target_link_uri: str
    lti_message_hint: str | None
    client_id: str | None
    deployment_id: str | None
    storage_target: str | None


def _param(params: Mapping[str, str], name: str, required: bool) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise LoginParameterMissing(f"the login request has no '{name}' parameter")
        return None
    if len(value) > MAX_PARAMETER_LENGTH:
        raise LoginParameterMissing(
            f"the login parameter '{name}' has {len(value)} characters; at most {MAX_PARAMETER_LENGTH}"
        )
    return value


def parse_login_initiation(params: Mapping[str, str], own_origin: str) -> LoginInitiation:
    """Read a login initiation. `iss`, `login_hint` and `target_link_uri` are required; the target
    must point at `own_origin` (scheme://host[:port]) so the flow cannot be bent into an open redirect.
    """
    issuer = _param(params, "iss", True)
    login_hint = _param(params, "login_hint", True)
    target = _param(params, "target_link_uri", True)
    assert issuer and login_hint and target
    parts = urlsplit(target)
    if f"{parts.scheme}://{parts.netloc}".lower() != own_origin.lower():
        raise TargetLinkUriForeign(f"target_link_uri '{target[:300]}' does not point at this gateway ({own_origin})")
    return LoginInitiation(
        issuer=issuer,
        login_hint=login_hint,
        target_link_uri=target,
        lti_message_hint=_param(params, "lti_message_hint", False),
        client_id=_param(params, "client_id", False),
        deployment_id=_param(params, "lti_deployment_id", False),
        storage_target=_param(params, "lti_storage_target", False),
    )


def reopening_params(initiation: LoginInitiation) -> dict[str, str]:
    """The parameters that send the same login initiation again, from a new window (first-party, where
    cookies work), so without `lti_storage_target`: a new window has no platform frame to talk to."""
    params = {
        "iss": initiation.issuer,
        "login_hint": initiation.login_hint,
        "target_link_uri": initiation.target_link_uri,
    }
    optional = {
        "lti_message_hint": initiation.lti_message_hint,
        "client_id": initiation.client_id,
        "lti_deployment_id": initiation.deployment_id,
    }
    params.update({name: value for name, value in optional.items() if value is not None})
    return params


def build_auth_request_url(
    auth_url: str, *, client_id: str, redirect_uri: str, initiation: LoginInitiation, state: str, nonce: str
) -> str:
    """The platform authentication request URL (OIDC implicit flow, form_post, prompt=none)."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "login_hint": initiation.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if initiation.lti_message_hint is not None:
        params["lti_message_hint"] = initiation.lti_message_hint
    parts = urlsplit(auth_url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
