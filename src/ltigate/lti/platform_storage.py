"""Login state kept in the platform's postMessage storage instead of a cookie (lti-reference §8: LTI Client
Side postMessages, Platform Storage and the cookie-less OIDC login; keys as the 1EdTech library names them).

The browser does the messaging; this module fixes the keys and the origin the messages go to, reads what
ltigate's check page reports back at launch, and judges it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ltigate.lti.errors import (
    LtiError,
    StorageMismatch,
    StorageOriginMismatch,
    StorageUnavailable,
    StorageValueMissing,
)

STATE_KEY_PREFIX: Final = "lti_state_"
NONCE_KEY_PREFIX: Final = "lti_nonce_"
MAX_REPORTED_VALUE: Final = 512  # state and nonce are 43 characters; anything longer is not ours
MAX_DETAIL: Final = 200

# What the check page may report instead of values, and the error each one is.
REPORTED_FAILURES: Final[Mapping[str, type[LtiError]]] = {
    "unavailable": StorageUnavailable,  # no platform window, no capability, an error answer or a timeout
    "origin": StorageOriginMismatch,  # an answer to our message id came from another origin
    "missing": StorageValueMissing,  # the platform answered without a value for the key
}


def state_key(state: str) -> str:
    return STATE_KEY_PREFIX + state


def nonce_key(nonce: str) -> str:
    return NONCE_KEY_PREFIX + nonce


def storage_origin(auth_url: str) -> str:
    """The origin of the platform's OIDC authorization endpoint: `lti.put_data` and `lti.get_data` are sent
    to it as targetOrigin, and only answers from it are believed (lti-reference §8.3)."""
    parts = urlsplit(auth_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True, slots=True)
class StorageReport:
    """What ltigate's check page read from the platform's storage, or why it could not (untrusted input)."""

    state: str | None  # the value under lti_state_<state>
    nonce: str | None  # the value under lti_nonce_<nonce>
    failure: str | None = None  # unavailable | origin | missing (anything else is treated as unavailable)
    detail: str | None = None  # the origin that answered, the platform's error code, ...


def read_storage_report(fields: Mapping[str, str]) -> StorageReport:
    """The check page's form fields `storage_state`, `storage_nonce`, `storage_failure`, `storage_detail`,
    cut to size; an empty field counts as absent."""

    def field(name: str, limit: int) -> str | None:
        value = fields.get(name)
        return value[:limit] if value else None

    return StorageReport(
        state=field("storage_state", MAX_REPORTED_VALUE),
        nonce=field("storage_nonce", MAX_REPORTED_VALUE),
        failure=field("storage_failure", 40),
        detail=field("storage_detail", MAX_DETAIL),
    )


def check_storage_report(report: StorageReport, *, state: str, nonce: str) -> None:
    """The platform's storage must hold this login's state under lti_state_<state> and the token's nonce
    under lti_nonce_<nonce> (constant-time compares).

    Raises StorageUnavailable, StorageOriginMismatch or StorageValueMissing for a failure the page reported,
    StorageValueMissing when a value is absent, StorageMismatch when one differs.
    """
    if report.failure is not None:
        error = REPORTED_FAILURES.get(report.failure, StorageUnavailable)
        raise error(_failure_message(report))
    for name, read, expected in (("state", report.state, state), ("nonce", report.nonce, nonce)):
        if read is None:
            raise StorageValueMissing(f"the platform's storage returned no value for this login's {name}")
        if not hmac.compare_digest(read.encode(), expected.encode()):
            raise StorageMismatch(f"the {name} kept in the platform's storage is not this launch's {name}")


def _failure_message(report: StorageReport) -> str:
    detail = _printable(report.detail) if report.detail else None
    if report.failure == "origin":
        return (
            f"an answer from the platform's storage came from '{detail or 'another origin'}', "
            "not from the origin of the platform's authorization endpoint"
        )
    if report.failure == "missing":
        return "the platform's storage holds no value for this login" + (f" ({detail})" if detail else "")
    reason = f"'{_printable(report.failure or '')}'" + (f": {detail}" if detail else "")
    return f"the platform's storage could not be read back ({reason})"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:MAX_DETAIL]
