"""What each LMS needs from ltigate, in one place (lti-reference §7, §11): the product family codes it
announces in Dynamic Registration, the placements to ask for there, the names its registration screens give
ltigate's URLs and the values it hands back, and its quirks. Pure data.

A label marked `confirmed=False` could not be checked against the LMS's screens or documentation; the
setup guides say so instead of presenting it as exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final


class ToolValue(str, Enum):
    """What ltigate gives an LMS administrator to enter."""

    REGISTRATION_URL = "registration_url"  # Dynamic Registration: the one URL to paste
    CONFIGURATION_URL = "configuration_url"  # a configuration document the LMS reads (Canvas JSON)
    LOGIN_URL = "login_url"
    REDIRECT_URL = "redirect_url"
    JWKS_URL = "jwks_url"
    TARGET_LINK_URI = "target_link_uri"
    DEEP_LINKING_URL = "deep_linking_url"
    DOMAIN = "domain"


class PlatformValue(str, Enum):
    """What the LMS shows back, to be entered as the platform in ltigate."""

    ISSUER = "issuer"
    CLIENT_ID = "client_id"
    DEPLOYMENT_ID = "deployment_id"
    AUTH_URL = "auth_url"
    TOKEN_URL = "token_url"  # noqa: S105 (a field name, not a secret)
    JWKS_URL = "jwks_url"
    TOKEN_AUDIENCE = "token_audience"  # noqa: S105 (a field name, not a secret)


@dataclass(frozen=True, slots=True)
class Label:
    """The name an LMS's screen gives a value; `note` adds where it is or what to choose next to it."""

    text: str
    note: str = ""
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class LmsProfile:
    key: str  # ltigate's short name: `ltigate setup-guide <key>`, docs/lms/<key>.md
    name: str
    product_family_codes: tuple[str, ...]  # as announced in the platform configuration (case-insensitive)
    resource_link_placements: tuple[str, ...] = ()  # asked for in Dynamic Registration
    deep_linking_placements: tuple[str, ...] = ()
    dynamic_registration: tuple[str, ...] = ()  # how an administrator starts it; empty: not offered
    manual_registration: tuple[str, ...] = ()  # where the manual registration screens are
    tool_labels: Mapping[ToolValue, Label] = field(default_factory=dict)
    platform_labels: Mapping[PlatformValue, Label] = field(default_factory=dict)
    known_values: Mapping[PlatformValue, str] = field(default_factory=dict)  # the same for every installation
    notes: tuple[str, ...] = ()
    send_deployment_id: bool = False  # the LMS expects deployment_id in client assertions
    tool_configuration_extensions: Mapping[str, str] = field(default_factory=dict)  # vendor keys in DR
    sources: tuple[str, ...] = ()


CANVAS: Final = LmsProfile(
    key="canvas",
    name="Canvas",
    product_family_codes=("canvas",),
    # A navigation placement would launch the bare launch URL, which names no resource: ltigate asks only for
    # the selection placements, which open its deep-linking picker.
    deep_linking_placements=("link_selection", "assignment_selection", "editor_button"),
    dynamic_registration=(
        "Admin › (the account) › Developer Keys › + Developer Key › + LTI Registration.",
        "Enter the registration URL and continue; Canvas shows ltigate's page in a frame, then the registration "
        "it received for review: “Enable & Close”.",
    ),
    manual_registration=(
        "Admin › (the account) › Developer Keys › + Developer Key › + LTI Key.",
        "Either choose Method “Enter URL” and give the configuration URL below, or Method “Manual Entry” "
        "and fill in the fields one by one.",
        "Switch the new key's State to On, then install it: Settings › Apps › View App Configurations › + App › "
        "Configuration Type “By Client ID”.",
    ),
    tool_labels={
        ToolValue.REGISTRATION_URL: Label("the URL asked for after “+ LTI Registration”", confirmed=False),
        ToolValue.CONFIGURATION_URL: Label("JSON URL", "with Method “Enter URL”"),
        ToolValue.REDIRECT_URL: Label("Redirect URIs"),
        ToolValue.LOGIN_URL: Label("OpenID Connect Initiation Url"),
        ToolValue.JWKS_URL: Label("Public JWK URL", "with JWK Method “Public JWK URL”"),
        ToolValue.TARGET_LINK_URI: Label("Target Link URI"),
        ToolValue.DEEP_LINKING_URL: Label(
            "a placement's Target Link URI",
            "placements link_selection, assignment_selection, editor_button with message type LtiDeepLinkingRequest",
        ),
    },
    platform_labels={
        PlatformValue.CLIENT_ID: Label("the developer key's ID", "the number in the Details column"),
        PlatformValue.DEPLOYMENT_ID: Label(
            "Deployment Id", "in the installed app's settings menu; looks like 189:7f95…", confirmed=False
        ),
    },
    known_values={
        PlatformValue.ISSUER: "https://canvas.instructure.com (beta: https://canvas.beta.instructure.com, test: "
        "https://canvas.test.instructure.com; self-hosted: its configured lti_iss)",
        PlatformValue.AUTH_URL: "https://sso.canvaslms.com/api/lti/authorize_redirect",
        PlatformValue.TOKEN_URL: "https://sso.canvaslms.com/login/oauth2/token",
        PlatformValue.JWKS_URL: "https://sso.canvaslms.com/api/lti/security/jwks",
    },
    notes=(
        "The issuer is per environment, not per school; older canvas.instructure.com/api/lti/… endpoints "
        "still work. Beta and test use sso.beta.canvaslms.com and sso.test.canvaslms.com.",
        "Canvas rolls its signing keys: ltigate re-fetches its key set on an unknown key id.",
        "Dynamic Registration does not tell the deployment id: ltigate registers the platform with "
        "unknown deployments approved, so the deployment Canvas creates launches once the platform is approved.",
        "ltigate asks for no course_navigation placement: a navigation link names no resource. To add one, "
        "use a resource's target link URI as that placement's Target Link URI.",
        "Canvas sends lti_storage_target on every launch (also from its mobile apps, which do not answer it).",
    ),
    tool_configuration_extensions={"https://canvas.instructure.com/lti/privacy_level": "public"},
    sources=(
        "instructure/canvas-lms doc/api/registration.md, doc/api/lti_dev_key_config.md",
        "ltiaas.com Canvas guide (the + LTI Registration button)",
    ),
)

MOODLE: Final = LmsProfile(
    key="moodle",
    name="Moodle",
    product_family_codes=("moodle",),
    dynamic_registration=(
        "Site administration › Plugins › Activity modules › External tool › Manage tools.",
        "Paste the registration URL into “Tool URL...” and choose “Add LTI Advantage”; Moodle opens ltigate's "
        "page in a frame.",
        "Moodle registers the tool as pending: activate it on the same page afterwards.",
    ),
    manual_registration=(
        "Site administration › Plugins › Activity modules › External tool › Manage tools › "
        "“configure a tool manually”; LTI version “LTI 1.3”.",
        "After saving, the tool's card shows the platform details (“View configuration details”).",
    ),
    tool_labels={
        ToolValue.REGISTRATION_URL: Label("Tool URL...", "then “Add LTI Advantage”", confirmed=False),
        ToolValue.TARGET_LINK_URI: Label("Tool URL"),
        ToolValue.JWKS_URL: Label("Public keyset", "with Public key type “Keyset URL”"),
        ToolValue.LOGIN_URL: Label("Initiate login URL"),
        ToolValue.REDIRECT_URL: Label("Redirection URI(s)"),
        ToolValue.DEEP_LINKING_URL: Label(
            "Content Selection URL", "tick “Supports Deep Linking (Content-Item Message)”", confirmed=False
        ),
    },
    platform_labels={
        PlatformValue.ISSUER: Label("Platform ID", "the site's URL"),
        PlatformValue.CLIENT_ID: Label("Client ID"),
        PlatformValue.DEPLOYMENT_ID: Label("Deployment ID"),
        PlatformValue.AUTH_URL: Label("Authentication request URL"),
        PlatformValue.TOKEN_URL: Label("Access token URL"),
        PlatformValue.JWKS_URL: Label("Public keyset URL"),
    },
    known_values={
        PlatformValue.AUTH_URL: "<site URL>/mod/lti/auth.php",
        PlatformValue.TOKEN_URL: "<site URL>/mod/lti/token.php",
        PlatformValue.JWKS_URL: "<site URL>/mod/lti/certs.php",
    },
    notes=(
        "Dynamic Registration returns the deployment id, and Moodle registers the tool as pending on its side.",
        "Older Moodle versions announce their messages as plain strings (“LtiResourceLink”, "
        "“LtiDeepLinkingRequest”); ltigate accepts both forms.",
        "Moodle grants the intersection of the scopes asked and those enabled for the tool; grades need "
        "“IMS LTI Assignment and Grade Services” enabled in the tool's services.",
        "Moodle has no placements in Dynamic Registration; deep linking shows as “Select content” when adding "
        "the activity.",
        "Moodle uses the Tool URL as the default target: a plain activity without a resource fails with "
        "resource_parameter_missing; add content with “Select content” or a resource's target link URI.",
    ),
    sources=(
        "Moodle “LTI Advantage Automatic Registration” (moodlehq.github.io dynreg)",
        "moodle/moodle mod/lti/classes/local/ltiopenid/registration_helper.php, mod/lti/lang/en/lti.php",
    ),
)

BRIGHTSPACE: Final = LmsProfile(
    key="brightspace",
    name="D2L Brightspace",
    product_family_codes=("desire2learn", "d2l", "brightspace"),
    dynamic_registration=(
        "Admin Tools › Manage Extensibility › LTI Advantage › Register Tool; choose “Dynamic”.",
        "Enter the registration URL as the “Tool initiation registration endpoint”; Brightspace opens ltigate's "
        "page in a new tab.",
        "The registration is disabled when it arrives: review it, enable it, then create a deployment "
        "(View Deployments › New Deployment).",
    ),
    manual_registration=(
        "Admin Tools › Manage Extensibility › LTI Advantage › Register Tool; choose “Standard”.",
        "After registering, the page lists the Brightspace values; then View Deployments › New Deployment.",
    ),
    tool_labels={
        ToolValue.REGISTRATION_URL: Label("Tool initiation registration endpoint", confirmed=False),
        ToolValue.DOMAIN: Label("Domain"),
        ToolValue.REDIRECT_URL: Label("Redirect URLs"),
        ToolValue.LOGIN_URL: Label("OpenID Connect Login URL"),
        ToolValue.TARGET_LINK_URI: Label("Target Link URI"),
        ToolValue.JWKS_URL: Label("Keyset URL"),
        ToolValue.DEEP_LINKING_URL: Label(
            "the URL of a deep-linking link", "tick Extensions › Deep Linking; links under View Links", confirmed=False
        ),
    },
    platform_labels={
        PlatformValue.ISSUER: Label("Issuer"),
        PlatformValue.CLIENT_ID: Label("Client Id"),
        PlatformValue.DEPLOYMENT_ID: Label("Deployment Id", "of the deployment", confirmed=False),
        PlatformValue.AUTH_URL: Label("OpenID Connect Authentication Endpoint"),
        PlatformValue.TOKEN_URL: Label("Brightspace OAuth2 Access Token URL"),
        PlatformValue.JWKS_URL: Label("Brightspace Keyset URL"),
        PlatformValue.TOKEN_AUDIENCE: Label(
            "Brightspace OAuth2 Audience", "some guides call it “Brightspace OAuth Audience”", confirmed=False
        ),
    },
    known_values={
        PlatformValue.TOKEN_URL: "https://auth.brightspace.com/core/connect/token",
        PlatformValue.TOKEN_AUDIENCE: "https://api.brightspace.com/auth/token",
    },
    notes=(
        "Enter the OAuth2 Audience as the platform's token audience: Brightspace refuses token requests whose "
        "aud is the token URL. In Dynamic Registration ltigate takes it from the platform's authorization_server.",
        "Brightspace's key set has no alg on its keys; ltigate infers RS256 from the key type.",
        "A deep-linked item without a URL falls back to the registration's Target Link URI, then its Domain.",
    ),
    sources=(
        "documentation.brightspace.com: LTI_register_external_learning_tool, LTI_1.3_registration",
        "ltiaas.com Brightspace guide; oat-sa/lib-lti1p3-core#46, #187, #193",
    ),
)

BLACKBOARD: Final = LmsProfile(
    key="blackboard",
    name="Blackboard Learn",
    product_family_codes=("blackboardlearn", "blackboard"),
    dynamic_registration=(
        "Anthology's Developer Portal offers “LTI Dynamic Registration”, but its configuration names the issuer "
        "https://blackboard.com on another host, which ltigate refuses unless the pair is allowed with "
        "LTIGATE_REGISTRATION_ISSUER_HOSTS. Not tested against Blackboard here: prefer the manual steps.",
    ),
    manual_registration=(
        "developer.anthology.com (formerly developer.blackboard.com): register a REST or LTI application and "
        "switch on “My Integration supports LTI 1.3”; Signing Algorithm RS256.",
        "In Learn: Administrator Panel › LTI Tool Providers › Register LTI 1.3/Advantage Tool; enter the "
        "Application ID as Client ID; set Tool Status to Approved.",
        "Placements: the tool's menu › Manage Placements › Create Placement (Label, Handle, Type, Target Link URI).",
    ),
    tool_labels={
        ToolValue.DOMAIN: Label("Domain(s)"),
        ToolValue.LOGIN_URL: Label("Login Initiation URL"),
        ToolValue.REDIRECT_URL: Label("Tool Redirect URL(s)"),
        ToolValue.JWKS_URL: Label("Tool JWKS URL"),
        ToolValue.TARGET_LINK_URI: Label("Target Link URI", "of a placement"),
        ToolValue.DEEP_LINKING_URL: Label(
            "Target Link URI", "of a placement whose Type supports deep linking", confirmed=False
        ),
    },
    platform_labels={
        PlatformValue.ISSUER: Label("Issuer"),
        PlatformValue.CLIENT_ID: Label("Application ID"),
        PlatformValue.DEPLOYMENT_ID: Label("Deployment ID", "shown in Learn after Register LTI 1.3/Advantage Tool"),
        PlatformValue.AUTH_URL: Label("OIDC Auth Request Endpoint"),
        PlatformValue.TOKEN_URL: Label("Auth Token Endpoint"),
        PlatformValue.JWKS_URL: Label("Public Keyset URL"),
    },
    known_values={
        PlatformValue.ISSUER: "https://blackboard.com",
        PlatformValue.AUTH_URL: "https://developer.blackboard.com/api/v1/gateway/oidcauth",
        PlatformValue.TOKEN_URL: "https://developer.blackboard.com/api/v1/gateway/oauth2/jwttoken",
        PlatformValue.JWKS_URL: "https://developer.blackboard.com/api/v1/management/applications/<Application ID>/"
        "jwks.json",
    },
    notes=(
        "One application in the developer portal serves every Learn site; each site has its own deployment id.",
        "Blackboard starts logins with GET; ltigate accepts GET and POST.",
        "Its id_token aud is a single string; a score may be answered with 204.",
        "The exact names of the placement types could not be confirmed here.",
    ),
    sources=(
        "docs.anthology.com register-an-application, developer-portal pages",
        "support.scorm.com and support.watermarkinsights.com Blackboard LTI 1.3 guides; lti-reference §11",
    ),
)

SAKAI: Final = LmsProfile(
    key="sakai",
    name="Sakai",
    product_family_codes=("sakai",),
    dynamic_registration=(
        "Recent Sakai versions can register an LTI Advantage tool from its registration URL under "
        "Administration Workspace › External Tools; the exact screen names could not be confirmed here.",
    ),
    manual_registration=(
        "Administration Workspace › External Tools › Install LTI 1.x Tool; switch LTI 1.3 on.",
        "After saving, the tool's page shows the LMS values.",
    ),
    tool_labels={
        ToolValue.TARGET_LINK_URI: Label("Launch URL"),
        ToolValue.LOGIN_URL: Label("Tool OpenID Connect/Initialization Endpoint", confirmed=False),
        ToolValue.REDIRECT_URL: Label("Tool OpenId Connect Redirect Endpoint(s)", confirmed=False),
        ToolValue.JWKS_URL: Label("Tool OAuth2 Keyset URL", confirmed=False),
    },
    platform_labels={
        PlatformValue.ISSUER: Label("Issuer", confirmed=False),
        PlatformValue.CLIENT_ID: Label("Client Id", confirmed=False),
        PlatformValue.DEPLOYMENT_ID: Label("Deployment Id", confirmed=False),
        PlatformValue.AUTH_URL: Label("Platform OIDC Connect Authentication URL", confirmed=False),
        PlatformValue.TOKEN_URL: Label("Platform OAuth2 Token Retrieval URL", confirmed=False),
        PlatformValue.JWKS_URL: Label("Platform OAuth2 Keyset URL", confirmed=False),
    },
    notes=(
        "Sakai expects the deployment_id claim in client assertions: tick “Send the deployment ID in token "
        "requests” on a platform added by hand (`ltigate platforms add` has no flag for it: use the console or "
        "the API); Dynamic Registration sets it.",
        "The field names above follow Tsugi's LTI Advantage guide (same author as Sakai's LTI code); check them "
        "against your Sakai version.",
    ),
    send_deployment_id=True,
    sources=(
        "sakaiproject/sakai basiclti docs (Install LTI 1.x Tool); tsugi.org ADVANTAGE.md, ADVANTAGE_SAKAI.md",
        "lti-reference §11 (tsugi ClientAssertion.java)",
    ),
)

SCHOOLOGY: Final = LmsProfile(
    key="schoology",
    name="Schoology",
    product_family_codes=("schoology",),
    manual_registration=(
        "App Center › My Developer Apps › + Add App; Type of App “LTI 1.3 App”, Configuration Type “Manual”.",
        "Under “Can be installed for”, choose Course Materials Selection, Rich Text Editor and External Tool as "
        "needed. Submit, then “Install LTI 1.3 App” for the organisation.",
        "The Client ID is under the app's Options › API Info.",
    ),
    tool_labels={
        ToolValue.DEEP_LINKING_URL: Label(
            "Domain/URL",
            "Schoology's default launch URL; the same URL goes into “Overwrite Domain/URL” next to a “Can be "
            "installed for” option",
        ),
        ToolValue.LOGIN_URL: Label("OIDC Login Init URL"),
        ToolValue.REDIRECT_URL: Label("Redirect URLs"),
        ToolValue.JWKS_URL: Label("JWKS URL", "Public key type “Keyset URL” where asked"),
    },
    platform_labels={
        PlatformValue.CLIENT_ID: Label("Client ID", "Options › API Info"),
        PlatformValue.DEPLOYMENT_ID: Label(
            "deployment id",
            "where Schoology shows it could not be confirmed: let the first launch record it",
            confirmed=False,
        ),
    },
    known_values={
        PlatformValue.ISSUER: "https://schoology.schoology.com",
        PlatformValue.AUTH_URL: "https://lti-service.svc.schoology.com/lti-service/authorize-redirect",
        PlatformValue.TOKEN_URL: "https://lti-service.svc.schoology.com/lti-service/access-token",
        PlatformValue.JWKS_URL: "https://lti-service.svc.schoology.com/lti-service/.well-known/jwks",
    },
    notes=(
        "Schoology offers no Dynamic Registration: register ltigate manually.",
        "Add the platform with unknown deployments pending; approve the deployment its first launch records.",
    ),
    sources=("developers.schoology.com app-platform/lti-apps", "ltiaas.com and vendor Schoology guides"),
)

OPENEDX: Final = LmsProfile(
    key="openedx",
    name="Open edX",
    product_family_codes=("openedx", "edx"),
    manual_registration=(
        "Studio › the course › Settings › Advanced Settings: “lti_consumer” in the Advanced Module List.",
        "In a unit: Add New Component › Advanced › LTI Consumer › Edit; LTI Version “LTI 1.3”.",
        "After saving, the component shows the values for ltigate (Client, Deployment ID, Keyset URL, "
        "OAuth Token URL, OIDC Callback URL).",
    ),
    tool_labels={
        ToolValue.TARGET_LINK_URI: Label("Tool Launch URL"),
        ToolValue.LOGIN_URL: Label("Tool Initiate Login URL"),
        ToolValue.REDIRECT_URL: Label(
            "Registered Redirect URIs", "required: left empty it defaults to the Tool Launch URL, which has a query"
        ),
        ToolValue.JWKS_URL: Label("Tool Keyset URL", "with Tool Public Key Mode “Keyset URL”"),
        ToolValue.DEEP_LINKING_URL: Label("Deep Linking Launch URL", "with Deep linking “True”"),
    },
    platform_labels={
        PlatformValue.CLIENT_ID: Label("Client"),
        PlatformValue.DEPLOYMENT_ID: Label("Deployment ID"),
        PlatformValue.JWKS_URL: Label("Keyset URL"),
        PlatformValue.TOKEN_URL: Label("OAuth Token URL"),
        PlatformValue.AUTH_URL: Label("OIDC Callback URL"),
    },
    known_values={
        PlatformValue.ISSUER: "the LMS's root URL (its LMS_ROOT_URL setting; not confirmed here: the launch log shows "
        "the iss of a launch from an unknown issuer)",
    },
    notes=(
        "Each LTI component has its own client id unless the site shares a configuration between components: "
        "register one platform per client id in ltigate.",
        "Open edX offers no Dynamic Registration; its product family code in launches could not be confirmed.",
    ),
    sources=("openedx/xblock-lti-consumer lti_consumer/lti_xblock.py, templates/html/lti_1p3_studio.html",),
)

GENERIC: Final = LmsProfile(
    key="generic",
    name="LMS",
    product_family_codes=(),
    notes=("No profile matches this LMS: ltigate asks for resource links and deep linking without placements.",),
)

PROFILES: Final = (CANVAS, MOODLE, BRIGHTSPACE, BLACKBOARD, SAKAI, SCHOOLOGY, OPENEDX)


def profile_for(product_family_code: str | None) -> LmsProfile:
    """The profile announcing `product_family_code` (case-insensitive), or GENERIC."""
    code = (product_family_code or "").strip().lower()
    return next((p for p in PROFILES if code and code in p.product_family_codes), GENERIC)


def profile_named(key: str) -> LmsProfile | None:
    """The profile with ltigate's short name `key` (canvas, moodle, …), or None."""
    return next((p for p in PROFILES if p.key == key.strip().lower()), None)
