"""Claim names of LTI Core 1.3 §5, LTI Advantage services and Deep Linking 2.0 (lti-reference §0)."""

from __future__ import annotations

from typing import Final

LTI: Final = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE: Final = LTI + "message_type"
VERSION: Final = LTI + "version"
DEPLOYMENT_ID: Final = LTI + "deployment_id"
TARGET_LINK_URI: Final = LTI + "target_link_uri"
RESOURCE_LINK: Final = LTI + "resource_link"
ROLES: Final = LTI + "roles"
CONTEXT: Final = LTI + "context"
TOOL_PLATFORM: Final = LTI + "tool_platform"
LAUNCH_PRESENTATION: Final = LTI + "launch_presentation"
CUSTOM: Final = LTI + "custom"
LIS: Final = LTI + "lis"
ROLE_SCOPE_MENTOR: Final = LTI + "role_scope_mentor"
LTI1P1: Final = LTI + "lti1p1"
FOR_USER: Final = LTI + "for_user"

AGS_ENDPOINT: Final = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_SERVICE: Final = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_SETTINGS: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

LTI_VERSION: Final = "1.3.0"
RESOURCE_LINK_REQUEST: Final = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST: Final = "LtiDeepLinkingRequest"
SUBMISSION_REVIEW_REQUEST: Final = "LtiSubmissionReviewRequest"

# OIDC profile claims copied into a launch when present (Security Framework §5.1.2).
PROFILE: Final = ("name", "given_name", "family_name", "middle_name", "email", "picture", "locale")
