"""The typed error tree of the protocol core.

Every error carries a stable `code` (shown to users and written to the launch log), the `culprit`
(platform, app, browser or us), an HTTP status hint, and a message quoting the bad value.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar


class Culprit(str, Enum):
    PLATFORM = "platform"
    BROWSER = "browser"
    APP = "app"
    CONFIG = "config"
    US = "us"


class LtiError(Exception):
    """Base of every protocol error; subclasses fix `code`, `culprit` and `status`."""

    code: ClassVar[str] = "lti_error"
    culprit: ClassVar[Culprit] = Culprit.PLATFORM
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.reference: str | None = None  # the launch log id, set by the use case that logged it

    def __str__(self) -> str:
        return self.message


# --- login initiation (lti-reference §1.1) -------------------------------------------------


class LoginError(LtiError):
    code = "login_invalid"


class LoginParameterMissing(LoginError):
    code = "login_parameter_missing"


class TargetLinkUriForeign(LoginError):
    code = "target_link_uri_foreign"


# --- registration lookup -------------------------------------------------------------------


class RegistrationError(LtiError):
    code = "registration_error"
    culprit = Culprit.CONFIG


class UnknownIssuer(RegistrationError):
    code = "unknown_issuer"


class UnknownClientId(RegistrationError):
    code = "unknown_client_id"


class AmbiguousRegistration(RegistrationError):
    code = "ambiguous_registration"


class PlatformInactive(RegistrationError):
    code = "platform_inactive"
    status = 403


class UnknownDeployment(RegistrationError):
    code = "unknown_deployment"
    status = 403


class DeploymentPending(RegistrationError):
    code = "deployment_pending"
    status = 403


class DeploymentRejected(RegistrationError):
    code = "deployment_rejected"
    status = 403


# --- token shape and signature (lti-reference §2.1, §2.7 steps 3–7) -------------------------


class TokenError(LtiError):
    code = "token_invalid"


class TokenMalformed(TokenError):
    code = "token_malformed"


class TokenTooLarge(TokenError):
    code = "token_too_large"
    status = 413


class AlgorithmNotAllowed(TokenError):
    code = "algorithm_not_allowed"


class KidMissing(TokenError):
    code = "kid_missing"


class KidNotFound(TokenError):
    code = "kid_not_found"


class SignatureInvalid(TokenError):
    code = "signature_invalid"
    status = 401


class KeySetUnavailable(TokenError):
    code = "jwks_unavailable"
    status = 502


class KeySetInvalid(TokenError):
    code = "jwks_invalid"
    status = 502


# --- claims (lti-reference §2.2–2.7) ------------------------------------------------------


class ClaimError(LtiError):
    code = "claim_invalid"


class IssuerMismatch(ClaimError):
    code = "issuer_mismatch"
    status = 401


class AudienceMismatch(ClaimError):
    code = "audience_mismatch"
    status = 401


class AuthorizedPartyMismatch(ClaimError):
    code = "azp_mismatch"
    status = 401


class TokenExpired(ClaimError):
    code = "token_expired"
    status = 401


class TokenNotYetValid(ClaimError):
    code = "token_not_yet_valid"
    status = 401


class NonceMismatch(ClaimError):
    code = "nonce_mismatch"
    status = 401


class ClaimMissing(ClaimError):
    code = "claim_missing"


class WrongMessageType(ClaimError):
    code = "wrong_message_type"


class WrongVersion(ClaimError):
    code = "wrong_version"


class TargetLinkUriMismatch(ClaimError):
    code = "target_link_uri_mismatch"


# --- browser-bound state (lti-reference §1.2, §1.3) ------------------------------------------


class StateError(LtiError):
    code = "state_invalid"
    culprit = Culprit.BROWSER


class StateMissing(StateError):
    code = "state_missing"


class StateUnknown(StateError):
    code = "state_unknown"


class StateExpired(StateError):
    code = "state_expired"


class StateMismatch(StateError):
    code = "state_mismatch"


class LaunchReplayed(StateError):
    code = "launch_replayed"
    culprit = Culprit.BROWSER


class PlatformReportedError(LtiError):
    """The platform posted OIDC error parameters instead of an id_token (OIDC Core §3.1.2.6)."""

    code = "platform_error"


# --- resource routing ---------------------------------------------------------------------


class ResourceError(LtiError):
    code = "resource_error"
    culprit = Culprit.CONFIG


class ResourceParameterMissing(ResourceError):
    code = "resource_parameter_missing"


class UnknownResource(ResourceError):
    code = "unknown_resource"
    status = 404


# --- licensing ----------------------------------------------------------------------------


class SeatsExhausted(LtiError):
    """Every seat licensed to the platform is held by another learner (design.md "seat")."""

    code = "seats_exhausted"
    culprit = Culprit.CONFIG
    status = 403


# --- handoff tickets ----------------------------------------------------------------------


class TicketError(LtiError):
    code = "ticket_invalid"
    culprit = Culprit.APP
    status = 401


class TicketExpired(TicketError):
    code = "ticket_expired"


class TicketUsed(TicketError):
    code = "ticket_used"


# --- platform role: requests a tool sends to us (lti-reference §1.4) ------------------------


class AuthRequestError(LtiError):
    code = "auth_request_invalid"
    culprit = Culprit.PLATFORM  # here the tool is the peer; the page tells the tool's owner


class RedirectUriNotRegistered(AuthRequestError):
    code = "redirect_uri_not_registered"


# --- service calls: access tokens, grades, rosters (lti-reference §3–§5) ----------------------


class ServiceCallError(LtiError):
    """An LTI Advantage service call (token endpoint, AGS, NRPS) failed or cannot be made.

    Named apart from `services.errors.ServiceError` (code `service_error`), which is a different tree.
    """

    code = "service_call_error"
    status = 502


class TokenRequestRejected(ServiceCallError):
    """The token endpoint refused the request; `error` is the RFC 6749 §5.2 code when one was sent."""

    code = "token_request_rejected"
    culprit = Culprit.CONFIG  # a refused assertion or scope is almost always a registration mismatch

    def __init__(
        self,
        message: str,
        *,
        response_status: int,
        error: str | None = None,
        error_description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.response_status = response_status
        self.error = error
        self.error_description = error_description


class TokenResponseInvalid(ServiceCallError):
    code = "token_response_invalid"


class ServiceResponseInvalid(ServiceCallError):
    code = "service_response_invalid"


class ScoreInvalid(ServiceCallError):
    code = "score_invalid"
    culprit = Culprit.APP
    status = 422


class LineItemInvalid(ServiceCallError):
    code = "line_item_invalid"
    culprit = Culprit.APP
    status = 422
