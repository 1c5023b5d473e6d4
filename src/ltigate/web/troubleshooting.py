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
    "form_too_large": Advice(
        "The request is too large",
        "The form posted to ltigate exceeds 96 KB. An LMS sending a launch this large usually adds very large "
        "custom parameters; shorten them on the LMS's tool configuration.",
    ),
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
    "storage_unavailable": Advice(
        "The LMS did not confirm your sign-in",
        "The LMS offered to keep the sign-in in its own storage (lti_storage_target) but did not answer when "
        "the launch came back. Start the launch again from the LMS; if it repeats, open the activity in a new "
        "window or allow third-party cookies for this site.",
    ),
    "storage_origin_mismatch": Advice(
        "The sign-in was confirmed by the wrong site",
        "An answer from the LMS's storage came from another origin than the platform's authorization endpoint. "
        "Check the platform's auth URL (Moodle: 'Authentication request URL'; Canvas: "
        "https://sso.canvaslms.com/api/lti/authorize_redirect); if it is right, the page framing the activity "
        "is not the LMS.",
    ),
    "storage_value_missing": Advice(
        "The LMS does not know this sign-in",
        "The LMS's storage holds nothing for this login: the launch was not started in this browser, or the "
        "LMS page was reloaded in between. Start the launch again from the LMS.",
    ),
    "storage_mismatch": Advice("The sign-in does not match this browser", "Start the launch again from the LMS."),
    "storage_check_foreign": Advice(
        "The sign-in check came from another site",
        "The confirmation of a sign-in kept in the LMS's storage must be posted by the gateway's own page. "
        "Start the launch again from the LMS.",
    ),
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
    "platform_pending_approval": Advice(
        "This LMS registration awaits approval",
        "The LMS registered ltigate through Dynamic Registration. An administrator approves it in the console "
        "(Platforms › the platform › Approve), with `ltigate platforms approve-registration PLATFORM_ID`, or with "
        "`POST /api/v1/platforms/{id}/approve`; then launch again.",
    ),
    # --- Dynamic Registration -----------------------------------------------------------------
    "registration_disabled": Advice(
        "Dynamic Registration is switched off",
        "This ltigate does not accept Dynamic Registration (LTIGATE_DYNAMIC_REGISTRATION=off). Register it "
        "manually with the LMS's setup guide (`ltigate setup-guide <lms>`), or switch it to link or open.",
    ),
    "registration_link_required": Advice(
        "A registration link is needed",
        "This ltigate registers only through one-time links. Its administrator makes one with "
        "`ltigate registration-link create` (or on the console's Tool registration page) and gives you the "
        "whole URL, <base>/lti/register/<secret>, to paste into the LMS.",
    ),
    "registration_link_unknown": Advice(
        "This registration link is not known",
        "Copy the whole link again. If it still fails, ask ltigate's administrator for a new one "
        "(`ltigate registration-link create`).",
    ),
    "registration_link_used": Advice(
        "This registration link was used already",
        "Each link registers one LMS once. Ask ltigate's administrator for a new link "
        "(`ltigate registration-link create`); `ltigate registration-link list` shows which platform used it.",
    ),
    "registration_link_expired": Advice(
        "This registration link expired",
        "Ask ltigate's administrator for a new link (`ltigate registration-link create --expires 7d`).",
    ),
    "registration_link_revoked": Advice(
        "This registration link was revoked", "Ask ltigate's administrator for a new link."
    ),
    "registration_form_expired": Advice(
        "The registration form expired",
        "The confirmation page is valid for an hour and for this ltigate only. Start the registration again from "
        "the LMS.",
    ),
    "registration_start_invalid": Advice(
        "The registration did not come from an LMS",
        "Paste the registration URL into the LMS's Dynamic Registration screen: the LMS opens it with "
        "openid_configuration and registration_token added. Opening the URL in a browser does not work.",
    ),
    "registration_configuration_unavailable": Advice(
        "The LMS's configuration cannot be fetched",
        "ltigate could not read the LMS's OpenID configuration. Check that this server reaches the LMS (firewall, "
        "DNS, private addresses: LTIGATE_ALLOW_PRIVATE_ADDRESSES) and start again from the LMS; registration "
        "tokens expire (Moodle's after an hour).",
    ),
    "registration_configuration_invalid": Advice(
        "The LMS's configuration is not usable",
        "The LMS's OpenID configuration lacks a required member or is not JSON. Check the LMS's LTI settings or "
        "register ltigate manually (`ltigate setup-guide <lms>`).",
    ),
    "registration_issuer_mismatch": Advice(
        "The LMS's issuer is on another host",
        "An LMS's issuer must be on the host its configuration comes from, or anyone could register as it. If "
        "the LMS is known to break this rule (Blackboard), allow the pair with "
        "LTIGATE_REGISTRATION_ISSUER_HOSTS=issuer=host; otherwise register manually.",
    ),
    "registration_platform_unsupported": Advice(
        "The LMS does not offer what ltigate needs",
        "ltigate needs private_key_jwt client authentication and RS256 signatures. Register it manually, or "
        "enable LTI 1.3 / LTI Advantage in the LMS.",
    ),
    "registration_refused": Advice(
        "The LMS refused the registration",
        "The LMS's registration endpoint answered with an error (shown above). Check the LMS's LTI settings and "
        "permissions, then start again from the LMS; the registration token may be used or expired.",
    ),
    "registration_endpoint_error": Advice(
        "The LMS failed to register ltigate",
        "The LMS answered with a server error. Try again later; if it persists, look at the LMS's logs.",
    ),
    "registration_endpoint_timeout": Advice(
        "The LMS did not answer in time",
        "The LMS may have registered ltigate anyway: look for it in the LMS's tool list before trying again.",
    ),
    "registration_endpoint_unreachable": Advice(
        "The LMS's registration endpoint cannot be reached",
        "Check that this server reaches the LMS (firewall, DNS, private addresses: "
        "LTIGATE_ALLOW_PRIVATE_ADDRESSES), then start again from the LMS.",
    ),
    "registration_response_invalid": Advice(
        "The LMS's answer is not usable",
        "The LMS answered the registration with something that is not a registration (not JSON, or no "
        "client_id). It may have registered ltigate anyway: check its tool list, or register manually.",
    ),
    "registration_duplicate": Advice(
        "ltigate is registered with this LMS already",
        "A platform with this issuer and client_id exists in ltigate. Remove the new registration in the LMS, "
        "or correct the existing platform in ltigate.",
    ),
    "database_unavailable": Advice(
        "The service is temporarily unavailable", "The database cannot be reached; try again in a moment."
    ),
    "database_not_migrated": Advice("The service is not set up", "Run `ltigate migrate` and restart."),
}

FALLBACK: Final = Advice("The launch failed", "See the error code and message; the launch log has the details.")


def advice_for(code: str) -> Advice:
    return ADVICE.get(code, FALLBACK)
