"""The platform form: each field explained, with the name each LMS gives it on its own registration screen
(lti-reference §11), and the parsing of the submitted form into PlatformFields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from ltigate.services.errors import InvalidField
from ltigate.services.records import DeploymentPolicy, PlatformFields
from ltigate.web.console.fields import FieldHelp

DEPLOYMENT_NAMES: Final = (
    ("Moodle", "“Deployment ID” in the tool's details"),
    ("Canvas", "the app's deployment id, e.g. 189:7f95…"),
    ("Blackboard", "“Deployment ID” of the placement"),
)

PLATFORM_FIELDS: Final = (
    FieldHelp("name", "Name", "A name for people, e.g. “Moodle (production)”.", required=True, placeholder="Moodle"),
    FieldHelp(
        "issuer",
        "Issuer",
        "The LMS's issuer (iss), exactly as it sends it: compared character for character.",
        (
            ("Moodle", "“Platform ID” — the site's URL"),
            ("Canvas", "https://canvas.instructure.com (beta: canvas.beta…, test: canvas.test…)"),
            ("Blackboard", "https://blackboard.com"),
            ("Brightspace", "“Issuer”"),
        ),
        "https://moodle.example.edu",
        "url",
        True,
    ),
    FieldHelp(
        "client_id",
        "Client ID",
        "The id the LMS gave ltigate when you registered it. Together with the issuer it names this platform.",
        (
            ("Moodle", "“Client ID”"),
            ("Canvas", "the developer key's ID (“Client ID” column)"),
            ("Blackboard", "“Application ID”"),
            ("Brightspace", "“Client Id”"),
        ),
        required=True,
    ),
    FieldHelp(
        "auth_url",
        "Authentication request URL",
        "Where ltigate sends the browser to complete the OpenID Connect login.",
        (
            ("Moodle", "“Authentication request URL” (…/mod/lti/auth.php)"),
            ("Canvas", "https://sso.canvaslms.com/api/lti/authorize_redirect"),
            ("Blackboard", "https://developer.blackboard.com/api/v1/gateway/oidcauth"),
            ("Brightspace", "“OpenID Connect Authentication Endpoint”"),
        ),
        "https://moodle.example.edu/mod/lti/auth.php",
        "url",
        True,
    ),
    FieldHelp(
        "token_url",
        "Access token URL",
        "Where ltigate gets tokens for grades and rosters (OAuth 2 client credentials).",
        (
            ("Moodle", "“Access token URL” (…/mod/lti/token.php)"),
            ("Canvas", "https://sso.canvaslms.com/login/oauth2/token"),
            ("Blackboard", "https://developer.blackboard.com/api/v1/gateway/oauth2/jwttoken"),
            ("Brightspace", "“Brightspace OAuth2 Access Token URL”"),
        ),
        "https://moodle.example.edu/mod/lti/token.php",
        "url",
        True,
    ),
    FieldHelp(
        "jwks_url",
        "Public keyset URL",
        "The LMS's public keys, with which ltigate verifies every launch.",
        (
            ("Moodle", "“Public keyset URL” (…/mod/lti/certs.php)"),
            ("Canvas", "https://sso.canvaslms.com/api/lti/security/jwks"),
            ("Blackboard", "…/api/v1/management/applications/<Application ID>/jwks.json"),
            ("Brightspace", "“Brightspace Keyset URL”"),
        ),
        "https://moodle.example.edu/mod/lti/certs.php",
        "url",
        True,
    ),
    FieldHelp(
        "token_audience",
        "Token audience",
        "Leave empty unless the LMS wants another audience than its token URL in ltigate's token requests.",
        (("Brightspace", "“OAuth2 Audience” (https://api.brightspace.com/auth/token)"),),
        kind="url",
    ),
    FieldHelp(
        "deployment_ids",
        "Deployment IDs",
        "One per line. Listed deployments are approved; launches from others follow the rule below.",
        DEPLOYMENT_NAMES,
        kind="textarea",
    ),
    FieldHelp(
        "seats",
        "Seats licensed",
        "Learners who may use this platform; 0 = unlimited. A learner's seat is kept across launches; "
        "instructors and administrators never count.",
        kind="number",
    ),
    FieldHelp(
        "grade_passback",
        "Grade passback",
        "Send the scores the app reports to the LMS gradebook (Assignment and Grade Services). "
        "Off: scores are refused.",
        kind="checkbox",
    ),
    FieldHelp(
        "preserve_manual_grades",
        "Keep grades changed in the LMS",
        "Before sending a score, read the gradebook and leave a grade an instructor changed by hand.",
        kind="checkbox",
    ),
    FieldHelp(
        "send_deployment_id",
        "Send the deployment ID in token requests",
        "Some LMSs (Sakai / Tsugi) want the deployment_id claim in ltigate's client assertions.",
        kind="checkbox",
    ),
    FieldHelp(
        "licence_note",
        "Licence note",
        "Free text for administrators: contract, contact, renewal date. Learners never see it.",
        kind="textarea",
    ),
)

# Headings before these fields split the long form into the parts an administrator fills in one by one.
GROUPS: Final = {
    "name": "The LMS",
    "auth_url": "The LMS's endpoints",
    "deployment_ids": "Deployments",
    "seats": "Seats and grades",
    "licence_note": "Licence",
}

ADD_DEPLOYMENTS: Final = FieldHelp(
    "deployment_ids",
    "Add deployment IDs",
    "One per line; they are added as approved. The platform's deployments are listed above.",
    DEPLOYMENT_NAMES,
    kind="textarea",
)

POLICIES: Final = (
    (DeploymentPolicy.PENDING, "Hold for approval", "recorded here as pending; an administrator approves it"),
    (DeploymentPolicy.APPROVE, "Approve", "accepted at once and listed as approved"),
    (DeploymentPolicy.REJECT, "Refuse", "refused with the error code unknown_deployment"),
)

EMPTY: Final = PlatformFields(name="", issuer="", client_id="", auth_url="", token_url="", jwks_url="")


def form_values(fields: PlatformFields, *, with_deployments: bool) -> dict[str, object]:
    """What the form shows for stored fields."""
    return {
        "name": fields.name,
        "issuer": fields.issuer,
        "client_id": fields.client_id,
        "auth_url": fields.auth_url,
        "token_url": fields.token_url,
        "jwks_url": fields.jwks_url,
        "token_audience": fields.token_audience or "",
        "deployment_ids": "\n".join(fields.deployment_ids) if with_deployments else "",
        "seats": str(fields.seats),
        "grade_passback": fields.grade_passback,
        "preserve_manual_grades": fields.preserve_manual_grades,
        "send_deployment_id": fields.send_deployment_id,
        "licence_note": fields.licence_note,
        "deployment_policy": fields.deployment_policy.value,
    }


def submitted_values(form: Mapping[str, str]) -> dict[str, object]:
    """What the form shows again after an error: the values as entered."""
    values: dict[str, object] = {f.name: form.get(f.name, "") for f in PLATFORM_FIELDS if f.kind != "checkbox"}
    values.update({f.name: f.name in form for f in PLATFORM_FIELDS if f.kind == "checkbox"})
    values["deployment_policy"] = form.get("deployment_policy", DeploymentPolicy.PENDING.value)
    return values


def parse_platform_form(form: Mapping[str, str], current: PlatformFields = EMPTY) -> PlatformFields:
    """The fields of a submitted form, over `current` (which keeps what the form does not show: the
    outcome table). Raises InvalidField for a seat count or policy the form cannot have sent."""
    raw_seats = form.get("seats", "").strip() or "0"
    try:
        seats = int(raw_seats)
    except ValueError:
        raise InvalidField(f"seats '{raw_seats[:20]}' is not a whole number; use 0 for unlimited", "seats") from None
    try:
        policy = DeploymentPolicy(form.get("deployment_policy", DeploymentPolicy.PENDING.value))
    except ValueError:
        raise InvalidField("choose what happens to launches from unknown deployments", "deployment_policy") from None
    deployment_ids = tuple(
        d.strip() for d in form.get("deployment_ids", "").replace(",", "\n").splitlines() if d.strip()
    )
    return replace(
        current,
        name=form.get("name", ""),
        issuer=form.get("issuer", ""),
        client_id=form.get("client_id", ""),
        auth_url=form.get("auth_url", ""),
        token_url=form.get("token_url", ""),
        jwks_url=form.get("jwks_url", ""),
        token_audience=form.get("token_audience", "").strip() or None,
        deployment_ids=deployment_ids,
        seats=seats,
        grade_passback="grade_passback" in form,
        preserve_manual_grades="preserve_manual_grades" in form,
        send_deployment_id="send_deployment_id" in form,
        licence_note=form.get("licence_note", "").replace("\r\n", "\n"),
        deployment_policy=policy,
    )
