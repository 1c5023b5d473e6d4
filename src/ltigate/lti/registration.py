"""LTI Dynamic Registration 1.0, tool side (lti-reference §7): the registration initiation request, the
check of the platform's OpenID configuration, the registration request, and the registration response.

Sans-I/O: documents in, frozen values or typed errors (lti.errors) out. Nothing here assumes that what was
asked for was granted: the response's scope and deployment_id are read back as they come.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from ltigate.lti import ags, nrps
from ltigate.lti import claims as c
from ltigate.lti.errors import (
    PlatformConfigurationInvalid,
    PlatformUnsupported,
    RegistrationEndpointError,
    RegistrationIssuerMismatch,
    RegistrationRefused,
    RegistrationResponseInvalid,
    RegistrationStartInvalid,
)
from ltigate.lti.profiles import LmsProfile

PLATFORM_CONFIGURATION: Final = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION: Final = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PRIVATE_KEY_JWT: Final = "private_key_jwt"
RS256: Final = "RS256"
MAX_DOCUMENT_BYTES: Final = 256 * 1024  # a platform configuration or registration response
MAX_URL_LENGTH: Final = 2048
MAX_TOKEN_LENGTH: Final = 8192
MAX_CLIENT_ID_LENGTH: Final = 255

# What ltigate asks for: grades (AGS, with line item management) and rosters (NRPS).
WANTED_SCOPES: Final = (
    ags.SCOPE_LINEITEM,
    ags.SCOPE_LINEITEM_READONLY,
    ags.SCOPE_RESULT_READONLY,
    ags.SCOPE_SCORE,
    nrps.SCOPE,
)
# The OIDC claims ltigate keeps on learner accounts, plus the two every launch carries.
WANTED_CLAIMS: Final = ("iss", "sub", "name", "given_name", "family_name", "email", "picture")
_ALWAYS_CLAIMS: Final = ("iss", "sub")
# Moodle 3.10 announced its resource link message as a bare "LtiResourceLink".
_MESSAGE_ALIASES: Final = {"LtiResourceLink": c.RESOURCE_LINK_REQUEST}


@dataclass(frozen=True, slots=True)
class RegistrationStart:
    """The registration initiation request: where the configuration is, and the token for it (if any)."""

    openid_configuration: str
    registration_token: str | None = field(default=None, repr=False)


def parse_registration_start(params: Mapping[str, str]) -> RegistrationStart:
    """Read `openid_configuration` (an absolute http(s) URL) and the optional `registration_token`.

    Raises RegistrationStartInvalid naming the parameter.
    """
    url = (params.get("openid_configuration") or "").strip()
    if not url:
        raise RegistrationStartInvalid(
            "the request has no openid_configuration parameter: open this page from the LMS's "
            "Dynamic Registration, which adds it"
        )
    check_url(url, "openid_configuration", RegistrationStartInvalid)
    token = params.get("registration_token") or None
    if token is not None and len(token) > MAX_TOKEN_LENGTH:
        raise RegistrationStartInvalid(f"registration_token has {len(token)} characters; at most {MAX_TOKEN_LENGTH}")
    return RegistrationStart(openid_configuration=url, registration_token=token)


@dataclass(frozen=True, slots=True)
class SupportedMessage:
    type: str
    placements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlatformConfiguration:
    """A checked platform OpenID configuration (DR §3.5 / OIDC Discovery §3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str | None = None
    scopes_supported: tuple[str, ...] | None = None  # None: not announced
    claims_supported: tuple[str, ...] | None = None
    product_family_code: str | None = None
    version: str | None = None
    messages_supported: tuple[SupportedMessage, ...] | None = None  # None: not announced
    account_name: str | None = None  # Canvas: the account being installed into

    def supports(self, message_type: str) -> bool:
        if self.messages_supported is None:
            return True
        return any(m.type == message_type for m in self.messages_supported)

    def placements_for(self, message_type: str) -> tuple[str, ...] | None:
        """The placements announced for `message_type`; None when the platform names none."""
        for message in self.messages_supported or ():
            if message.type == message_type and message.placements:
                return message.placements
        return None

    @property
    def token_audience(self) -> str | None:
        """The aud for client assertions when it is not the token endpoint (D2L's OAuth2 audience).

        DR §3.5.1 makes `authorization_server` the audience; Canvas announces a bare host there while it
        expects the token URL, so only an absolute https URL other than the token endpoint is taken.
        """
        server = self.authorization_server
        if server is None or server == self.token_endpoint:
            return None
        parts = urlsplit(server)
        return server if parts.scheme == "https" and parts.hostname else None


def parse_platform_configuration(
    body: bytes, configuration_url: str, *, issuer_hosts: Mapping[str, Sequence[str]] | None = None
) -> PlatformConfiguration:
    """Check a platform's OpenID configuration fetched from `configuration_url`.

    Checked: a JSON object; issuer, authorization_endpoint, token_endpoint, jwks_uri and registration_endpoint
    are absolute http(s) URLs (https unless on loopback); the issuer's host equals the configuration URL's
    host, unless `issuer_hosts` (an administrator's allow-list, issuer → configuration hosts) names this
    pair; token_endpoint_auth_methods_supported contains private_key_jwt; id_token_signing_alg_values_supported
    contains RS256 (and token_endpoint_auth_signing_alg_values_supported, when given); the LTI platform
    configuration is an object. Tolerated: messages_supported as plain strings (older Moodle), unknown
    members (Canvas extras).

    Raises PlatformConfigurationInvalid, RegistrationIssuerMismatch or PlatformUnsupported.
    """
    document = _json_object(body, PlatformConfigurationInvalid, "the platform's OpenID configuration")
    urls = {
        name: _url_member(document, name)
        for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    }
    issuer = urls["issuer"]
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise PlatformConfigurationInvalid(f"issuer {issuer[:300]!r} must not have a query or fragment")
    config_host = (urlsplit(configuration_url).hostname or "").lower()
    issuer_host = (parts.hostname or "").lower()
    allowed = {h.lower() for h in (issuer_hosts or {}).get(issuer, ())}
    if issuer_host != config_host and config_host not in allowed:
        raise RegistrationIssuerMismatch(
            f"the configuration fetched from host {config_host!r} names the issuer {issuer[:300]!r} on host "
            f"{issuer_host!r}; the issuer's host must be the configuration URL's host"
        )
    methods = _strings(document, "token_endpoint_auth_methods_supported")
    if methods is None or PRIVATE_KEY_JWT not in methods:
        raise PlatformUnsupported(
            f"token_endpoint_auth_methods_supported is {_shown(document.get('token_endpoint_auth_methods_supported'))};"
            f" ltigate authenticates with {PRIVATE_KEY_JWT!r} only"
        )
    id_token_algs = _strings(document, "id_token_signing_alg_values_supported")
    if id_token_algs is None or RS256 not in id_token_algs:
        raise PlatformUnsupported(
            f"id_token_signing_alg_values_supported is "
            f"{_shown(document.get('id_token_signing_alg_values_supported'))}; ltigate verifies RS256 id_tokens"
        )
    assertion_algs = _strings(document, "token_endpoint_auth_signing_alg_values_supported")
    if assertion_algs is not None and RS256 not in assertion_algs:
        raise PlatformUnsupported(
            f"token_endpoint_auth_signing_alg_values_supported is {_shown(list(assertion_algs))}; "
            "ltigate signs its client assertions with RS256"
        )
    lti = document.get(PLATFORM_CONFIGURATION)
    if not isinstance(lti, Mapping):
        raise PlatformConfigurationInvalid(
            f"the configuration has no {PLATFORM_CONFIGURATION} object: it is not an LTI platform's configuration"
        )
    server = document.get("authorization_server")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=urls["authorization_endpoint"],
        token_endpoint=urls["token_endpoint"],
        jwks_uri=urls["jwks_uri"],
        registration_endpoint=urls["registration_endpoint"],
        authorization_server=server if isinstance(server, str) and server else None,
        scopes_supported=_strings(document, "scopes_supported"),
        claims_supported=_strings(document, "claims_supported"),
        product_family_code=_text(lti.get("product_family_code")),
        version=_text(lti.get("version")),
        messages_supported=_messages(lti.get("messages_supported")),
        account_name=_text(lti.get("https://canvas.instructure.com/lti/account_name")),
    )


@dataclass(frozen=True, slots=True)
class ToolDescription:
    """ltigate as a tool registers itself: its name and URLs."""

    client_name: str
    login_url: str
    launch_url: str
    jwks_url: str
    logo_url: str | None = None
    description: str = ""

    @property
    def domain(self) -> str:
        return urlsplit(self.launch_url).netloc


def build_registration_request(
    tool: ToolDescription, platform: PlatformConfiguration, profile: LmsProfile
) -> dict[str, object]:
    """The tool's registration (DR §3.3–3.4, OIDC Registration §2): one redirect URI and one launch URL for
    resource links and deep linking alike, the AGS and NRPS scopes and the OIDC claims the platform announces
    (all of ours when it announces none), placements from the LMS profile (kept to those the platform
    announces, when it announces any), and the profile's vendor keys (Canvas's privacy level).
    """
    scopes = _offered(WANTED_SCOPES, platform.scopes_supported)
    claims = tuple(dict.fromkeys((*_ALWAYS_CLAIMS, *_offered(WANTED_CLAIMS, platform.claims_supported))))
    messages: list[dict[str, object]] = []
    for message_type, placements in (
        (c.RESOURCE_LINK_REQUEST, profile.resource_link_placements),
        (c.DEEP_LINKING_REQUEST, profile.deep_linking_placements),
    ):
        if message_type != c.RESOURCE_LINK_REQUEST and not platform.supports(message_type):
            continue
        message: dict[str, object] = {
            "type": message_type,
            "target_link_uri": tool.launch_url,
            "label": tool.client_name,
        }
        if tool.logo_url:
            message["icon_uri"] = tool.logo_url
        wanted = _offered(placements, platform.placements_for(message_type))
        if wanted:
            message["placements"] = list(wanted)
        messages.append(message)
    configuration: dict[str, object] = {
        "domain": tool.domain,
        "target_link_uri": tool.launch_url,
        "claims": list(claims),
        "messages": messages,
    }
    if tool.description:
        configuration["description"] = tool.description
    configuration.update(profile.tool_configuration_extensions)
    request: dict[str, object] = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool.login_url,
        "redirect_uris": [tool.launch_url],
        "client_name": tool.client_name,
        "jwks_uri": tool.jwks_url,
        "token_endpoint_auth_method": PRIVATE_KEY_JWT,
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: configuration,
    }
    if tool.logo_url:
        request["logo_uri"] = tool.logo_url
    return request


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    """What the platform answered: its client id for ltigate, and what it says it granted."""

    client_id: str
    deployment_id: str | None = None  # Moodle returns it; Canvas does not
    scopes: tuple[str, ...] | None = None  # None: the answer does not say


def parse_registration_response(status: int, body: bytes) -> RegistrationResult:
    """Read the registration endpoint's answer (OIDC Registration §3.2, RFC 7591 §3.2).

    2xx: a JSON object with a non-empty client_id; the tool configuration's deployment_id (string or number)
    and the granted scope when present. 4xx: RegistrationRefused quoting `error`/`error_description` (or Canvas's
    `errors[].message`). 5xx: RegistrationEndpointError. Anything else: RegistrationResponseInvalid.
    """
    if 400 <= status < 500:
        error, description = _error_of(body)
        shown = f"{error}: {description}" if error and description else error or description or _snippet(body)
        raise RegistrationRefused(
            f"the registration endpoint refused the registration with HTTP {status}" + (f" ({shown})" if shown else ""),
            response_status=status,
            error=error,
        )
    if status >= 500:
        snippet = _snippet(body)
        raise RegistrationEndpointError(
            f"the registration endpoint failed with HTTP {status}" + (f": {snippet}" if snippet else "")
        )
    if not 200 <= status < 300:
        raise RegistrationResponseInvalid(
            f"the registration endpoint answered HTTP {status}; a registration is answered 201 (redirects are not "
            "followed)"
        )
    document = _json_object(body, RegistrationResponseInvalid, "the registration response")
    client_id = document.get("client_id")
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise RegistrationResponseInvalid(
            f"the registration response's client_id is {_shown(client_id)}; it must be a non-empty string"
        )
    tool = document.get(TOOL_CONFIGURATION)
    deployment = tool.get("deployment_id") if isinstance(tool, Mapping) else None
    if isinstance(deployment, int) and not isinstance(deployment, bool):
        deployment = str(deployment)
    if deployment is not None and (not isinstance(deployment, str) or len(deployment) > MAX_CLIENT_ID_LENGTH):
        raise RegistrationResponseInvalid(f"the registration response's deployment_id is {_shown(deployment)}")
    scope = document.get("scope")
    scopes = tuple(dict.fromkeys(scope.split())) if isinstance(scope, str) else None
    return RegistrationResult(client_id=client_id, deployment_id=deployment or None, scopes=scopes)


def check_url(value: str, name: str, error: type[PlatformConfigurationInvalid | RegistrationStartInvalid]) -> str:
    """An absolute http(s) URL with a host, without credentials or fragment; plain http only on loopback."""
    if len(value) > MAX_URL_LENGTH:
        raise error(f"{name} has {len(value)} characters; at most {MAX_URL_LENGTH}")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise error(f"{name} {value[:300]!r} is not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise error(f"{name} {value[:300]!r} is not an absolute http(s) URL")
    if parts.username or parts.password or parts.fragment:
        raise error(f"{name} {value[:300]!r} must not carry credentials or a fragment")
    if parts.scheme == "http" and not _loopback(host):
        raise error(f"{name} {value[:300]!r} must use https (plain http only on loopback)")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_object(
    body: bytes, error: type[PlatformConfigurationInvalid | RegistrationResponseInvalid], what: str
) -> Mapping[str, object]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise error(f"{what} is not JSON: {_snippet(body) or 'an empty body'}") from None
    if not isinstance(document, dict):
        raise error(f"{what} is JSON but not an object")
    return document


def _url_member(document: Mapping[str, object], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise PlatformConfigurationInvalid(f"the configuration's {name} is {_shown(value)}; it is required")
    return check_url(value, name, PlatformConfigurationInvalid)


def _strings(document: Mapping[str, object], name: str) -> tuple[str, ...] | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, str):  # a lone string where a list belongs: tolerated
        return (value,)
    if not isinstance(value, list):
        raise PlatformConfigurationInvalid(f"the configuration's {name} is {_shown(value)}; it must be a list")
    return tuple(v for v in value if isinstance(v, str))


def _messages(value: object) -> tuple[SupportedMessage, ...] | None:
    if not isinstance(value, list):
        return None
    found: list[SupportedMessage] = []
    for item in value:
        if isinstance(item, str):
            found.append(SupportedMessage(_MESSAGE_ALIASES.get(item, item)))
        elif isinstance(item, Mapping) and isinstance(kind := item.get("type"), str):
            placements = item.get("placements")
            names = tuple(p for p in placements if isinstance(p, str)) if isinstance(placements, list) else ()
            found.append(SupportedMessage(_MESSAGE_ALIASES.get(kind, kind), names))
    return tuple(found)


def _offered(wanted: Sequence[str], offered: Sequence[str] | None) -> tuple[str, ...]:
    """`wanted`, in order, kept to `offered` when the platform announces a list."""
    return tuple(w for w in wanted if offered is None or w in offered)


def _error_of(body: bytes) -> tuple[str | None, str | None]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(document, dict):
        return None, None
    error, description = _text(document.get("error")), _text(document.get("error_description"))
    errors = document.get("errors")
    if error is None and isinstance(errors, list):
        messages = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
        description = description or ("; ".join(messages)[:300] or None)
    return (error[:100] if error else None), (description[:300] if description else None)


def _text(value: object) -> str | None:
    return value.strip()[:300] or None if isinstance(value, str) else None


def _snippet(body: bytes) -> str:
    return " ".join(body[:400].decode("utf-8", errors="replace").split())[:200]


def _shown(value: object) -> str:
    if value is None:
        return "missing"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:100])
