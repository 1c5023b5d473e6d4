"""Canvas's developer-key JSON configuration (canvas-lms doc/api/lti_dev_key_config.md, "Anatomy of a JSON
configuration"): what an administrator loads with Method "Enter URL" instead of typing the fields in.

Built from the Canvas profile, so manual and Dynamic Registration ask for the same placements.
"""

from __future__ import annotations

from typing import Final

from ltigate.lti import claims as c
from ltigate.lti.profiles import CANVAS, LmsProfile
from ltigate.lti.registration import WANTED_SCOPES, ToolDescription

CANVAS_PLATFORM: Final = "canvas.instructure.com"
PRIVACY_LEVEL: Final = "public"  # names and emails: ltigate keeps them on learner accounts


def build_canvas_configuration(tool: ToolDescription, profile: LmsProfile = CANVAS) -> dict[str, object]:
    """The JSON configuration: title, description, OIDC initiation URL, target link URI, public JWK URL, the AGS
    and NRPS scopes, and one Canvas extension with the privacy level and the profile's placements, each launching
    ltigate's launch URL (deep-linking placements with message type LtiDeepLinkingRequest)."""
    placements = [
        {
            "placement": placement,
            "message_type": message_type,
            "target_link_uri": tool.launch_url,
            "text": tool.client_name,
            **({"icon_url": tool.logo_url} if tool.logo_url else {}),
        }
        for message_type, names in (
            (c.RESOURCE_LINK_REQUEST, profile.resource_link_placements),
            (c.DEEP_LINKING_REQUEST, profile.deep_linking_placements),
        )
        for placement in names
    ]
    settings: dict[str, object] = {"text": tool.client_name, "placements": placements}
    if tool.logo_url:
        settings["icon_url"] = tool.logo_url
    return {
        "title": tool.client_name,
        "description": tool.description or f"{tool.client_name}: LTI 1.3 resources through ltigate",
        "oidc_initiation_url": tool.login_url,
        "target_link_uri": tool.launch_url,
        "public_jwk_url": tool.jwks_url,
        "scopes": list(WANTED_SCOPES),
        "extensions": [
            {
                "domain": tool.domain,
                "platform": CANVAS_PLATFORM,
                "privacy_level": PRIVACY_LEVEL,
                "settings": settings,
            }
        ],
    }
