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


# --- state kept in the platform's storage (lti-reference §8) ---------------------------------


class StorageError(StateError):
    """The browser could not confirm, through the platform's postMessage storage, that this login is its own."""

    code = "storage_invalid"
    status = 403


class StorageUnavailable(StorageError):
    code = "storage_unavailable"


class StorageOriginMismatch(StorageError):
    code = "storage_origin_mismatch"


class StorageValueMissing(StorageError):
    code = "storage_value_missing"


class StorageMismatch(StorageError):
    code = "storage_mismatch"


class StorageCheckForeign(StorageError):
    """The storage check's result was not posted by ltigate's own page (a forged continuation)."""

    code = "storage_check_foreign"


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


# --- deep linking (lti-reference §6) -------------------------------------------------------


class DeepLinkingError(LtiError):
    code = "deep_linking_error"
    culprit = Culprit.APP
    status = 409


class DeepLinkingSessionUnknown(DeepLinkingError):
    """No deep-linking request waits under this launch id (never was one, or it was purged)."""

    code = "deep_linking_unknown"
    status = 404


class DeepLinkingAnswered(DeepLinkingError):
    code = "deep_linking_answered"


class DeepLinkingExpired(DeepLinkingError):
    code = "deep_linking_expired"


class DeepLinkingTokenInvalid(DeepLinkingError):
    """The picker form's secret does not match its deep-linking request."""

    code = "deep_linking_token_invalid"
    culprit = Culprit.BROWSER
    status = 403


class ContentItemInvalid(DeepLinkingError):
    code = "content_item_invalid"
    status = 422


class ContentItemNotAccepted(DeepLinkingError):
    """An item the platform's deep_linking_settings rule out (type, number, line item, presentation)."""

    code = "content_item_not_accepted"
    status = 422


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


# --- Dynamic Registration (lti-reference §7) --------------------------------------------------


class DynamicRegistrationError(LtiError):
    """A Dynamic Registration could not be completed; nothing was stored."""

    code = "registration_failed"
    status = 400


class RegistrationStartInvalid(DynamicRegistrationError):
    """The registration request lacks a usable openid_configuration URL."""

    code = "registration_start_invalid"


class PlatformConfigurationUnavailable(DynamicRegistrationError):
    code = "registration_configuration_unavailable"
    status = 502


class PlatformConfigurationInvalid(DynamicRegistrationError):
    code = "registration_configuration_invalid"
    status = 502


class RegistrationIssuerMismatch(DynamicRegistrationError):
    """The configuration names an issuer on another host than the one it was fetched from (DR §3.5.2)."""

    code = "registration_issuer_mismatch"


class PlatformUnsupported(DynamicRegistrationError):
    """The platform offers no private_key_jwt client authentication or no RS256 signatures."""

    code = "registration_platform_unsupported"


class RegistrationRefused(DynamicRegistrationError):
    """The registration endpoint answered 4xx; `error` is the RFC 7591 §3.2.2 code when one was sent."""

    code = "registration_refused"
    status = 502

    def __init__(self, message: str, *, response_status: int, error: str | None = None) -> None:
        super().__init__(message)
        self.response_status = response_status
        self.error = error


class RegistrationEndpointError(DynamicRegistrationError):
    """The registration endpoint failed on its side (5xx)."""

    code = "registration_endpoint_error"
    status = 502


class RegistrationEndpointTimeout(DynamicRegistrationError):
    code = "registration_endpoint_timeout"
    status = 504


class RegistrationEndpointUnreachable(DynamicRegistrationError):
    code = "registration_endpoint_unreachable"
    status = 502


class RegistrationResponseInvalid(DynamicRegistrationError):
    code = "registration_response_invalid"
    status = 502


class RegistrationDuplicate(DynamicRegistrationError):
    """The platform gave a client_id that is registered already for its issuer."""

    code = "registration_duplicate"
    culprit = Culprit.CONFIG
    status = 409


class PlatformAwaitingApproval(RegistrationError):
    """A platform registered itself and an administrator has not approved it yet."""

    code = "platform_pending_approval"
    status = 403
