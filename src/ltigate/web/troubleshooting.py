"""What each error code means for the person in front of the page, and how an administrator fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Advice:
    title: str
    fix: str


ADVICE: Final[dict[str, Advice]] = {
    "login_parameter_missing": Advice(
        "The login request is incomplete",
        "The LMS must send iss, login_hint and target_link_uri to the login URL. Check that the tool's "
        "'OIDC login URL' / 'Initiate login URL' in the LMS is the gateway's login URL.",
    ),
    "target_link_uri_foreign": Advice(
        "The launch points at another site",
        "The target link URI must be a URL of this gateway: <base>/lti/launch?resource=<slug>.",
    ),
    "unknown_issuer": Advice(
        "This LMS is not registered",
        "Add a platform whose issuer equals the issuer the LMS sends (Moodle: 'Platform ID'; Canvas: "
        "https://canvas.instructure.com; Blackboard: https://blackboard.com).",
    ),
    "unknown_client_id": Advice(
        "This LMS registration is not known",
        "The client_id the LMS sends is not registered for its issuer. Compare the platform's client_id "
        "(Moodle: 'Client ID'; Canvas: developer key ID; Blackboard: 'Application ID') with the LMS.",
    ),
    "ambiguous_registration": Advice(
        "Several registrations share this issuer",
        "The LMS did not send a client_id at login. Configure the LMS to send client_id, or keep one "
        "registration per issuer.",
    ),
    "platform_inactive": Advice("This LMS registration is deactivated", "Reactivate the platform to allow launches."),
    "unknown_deployment": Advice(
        "This deployment is not registered",
        "Add the deployment id shown here to the platform, or change its policy for unknown deployments.",
    ),
    "deployment_pending": Advice(
        "This installation awaits approval",
        "An administrator must approve the deployment id shown here on the platform's page "
        "(or with `ltigate platforms approve`).",
    ),
    "deployment_rejected": Advice(
        "This installation was rejected", "An administrator rejected this deployment; approve it to allow launches."
    ),
    "token_malformed": Advice(
        "The launch message is malformed", "The LMS sent an id_token that is not a well-formed signed JWT."
    ),
    "token_too_large": Advice("The launch message is too large", "The id_token exceeds the accepted size."),
    "algorithm_not_allowed": Advice(
        "The launch is signed with a refused algorithm", "Only RS256-signed id_tokens are accepted."
    ),
    "kid_missing": Advice("The launch names no signing key", "The LMS must put a 'kid' in the id_token header."),
    "kid_not_found": Advice(
        "The signing key is not in the LMS's key set",
        "Check the platform's JWKS URL (Moodle: 'Public keyset URL'; Canvas: .../api/lti/security/jwks).",
    ),
    "signature_invalid": Advice(
        "The launch signature is invalid",
        "The id_token does not verify with the LMS's published key. Check the platform's JWKS URL and issuer.",
    ),
    "jwks_unavailable": Advice(
        "The LMS's key set cannot be fetched",
        "The gateway could not reach the platform's JWKS URL. Check the URL and that the LMS is reachable.",
    ),
    "jwks_invalid": Advice("The LMS's key set is invalid", "The platform's JWKS URL does not serve a valid key set."),
    "issuer_mismatch": Advice("The launch comes from another issuer", "The token's iss differs from the registration."),
    "audience_mismatch": Advice(
        "The launch is meant for another tool", "The token's aud does not contain the registered client_id."
    ),
    "azp_mismatch": Advice(
        "The launch is meant for another tool", "The token's azp does not name the registered client_id."
    ),
    "token_expired": Advice(
        "The launch has expired",
        "Start the launch again from the LMS. If this repeats, check the clocks of the LMS and this server.",
    ),
    "token_not_yet_valid": Advice(
        "The launch is not valid yet", "The LMS clock is ahead of this server's; synchronise both clocks (NTP)."
    ),
    "nonce_mismatch": Advice("The launch does not belong to this login", "Start the launch again from the LMS."),
    "claim_missing": Advice("The launch lacks required information", "The LMS sent an incomplete LTI message."),
    "claim_invalid": Advice("The launch carries invalid information", "The LMS sent an invalid LTI message."),
    "wrong_message_type": Advice(
        "This kind of launch is not supported", "The placement sends a message type this gateway does not handle."
    ),
    "wrong_version": Advice("This LTI version is not supported", "Only LTI 1.3.0 messages are accepted."),
    "target_link_uri_mismatch": Advice(
        "The launch target changed during login",
        "The signed target_link_uri must equal the login's, and point at <base>/lti/launch?resource=<slug>.",
    ),
    "state_missing": Advice(
        "Your browser did not keep the login cookie",
        "The browser blocks cookies in this frame. Open the activity in a new window, or allow third-party "
        "cookies for this site.",
    ),
    "state_mismatch": Advice("The login does not match this browser", "Start the launch again from the LMS."),
    "state_unknown": Advice("The login is unknown or expired", "Start the launch again from the LMS."),
    "state_expired": Advice("The login took too long", "Start the launch again from the LMS."),
    "launch_replayed": Advice(
        "This launch was already used",
        "Each launch can be opened once (reloading or going back re-sends it). Start it again from the LMS.",
    ),
    "platform_error": Advice(
        "The LMS refused the login",
        "The LMS answered with an error instead of a launch; the user may not be signed in to the LMS.",
    ),
    "resource_parameter_missing": Advice(
        "The link does not say which resource to open",
        "The bare launch URL was entered in the LMS. Use the resource's target link URI: "
        "<base>/lti/launch?resource=<slug>.",
    ),
    "unknown_resource": Advice(
        "This resource does not exist", "Create the resource with this slug, or correct the link in the LMS."
    ),
    "seats_exhausted": Advice(
        "All seats are taken",
        "Every seat licensed to this LMS is held by another learner, so new learners cannot start; instructors "
        "and learners who already hold a seat still can. Administrators: release the seats of learners who left "
        "(`ltigate seats release-idle PLATFORM_ID --days 90`, or one by one with `ltigate seats release`), or "
        "raise the platform's seats (`ltigate platforms update PLATFORM_ID --seats N`; 0 = unlimited).",
    ),
    "database_unavailable": Advice(
        "The service is temporarily unavailable", "The database cannot be reached; try again in a moment."
    ),
    "database_not_migrated": Advice("The service is not set up", "Run `ltigate migrate` and restart."),
}

FALLBACK: Final = Advice("The launch failed", "See the error code and message; the launch log has the details.")


def advice_for(code: str) -> Advice:
    return ADVICE.get(code, FALLBACK)
