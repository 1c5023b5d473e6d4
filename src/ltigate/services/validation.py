"""Field checks shared by the administration use cases: URLs, names, identifiers."""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

from ltigate.services.errors import InvalidField

MAX_TEXT: Final = 255
_SLUG: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*(?:/[A-Za-z0-9][A-Za-z0-9._~-]*)*$")


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, field: str) -> str:
    """An absolute https URL (http only on loopback), without fragment or credentials."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidField(f"{field} '{value[:300]}' is not an absolute URL", field)
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidField(f"{field} '{value[:300]}' must use https (plain http is allowed only on loopback)", field)
    if parts.fragment or parts.username or parts.password:
        raise InvalidField(f"{field} '{value[:300]}' must not carry a fragment or credentials", field)
    return value


def check_text(value: str, field: str, *, limit: int = MAX_TEXT, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidField(f"{field} is required", field)
    if len(value) > limit:
        raise InvalidField(f"{field} has {len(value)} characters; at most {limit}", field)
    return value


def check_issuer(value: str) -> str:
    """An issuer is compared byte for byte with the `iss` claim, so it is kept exactly as given."""
    if value != value.strip() or not value:
        raise InvalidField(f"issuer '{value[:300]}' must not be empty or have surrounding spaces", "issuer")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidField(f"issuer '{value[:300]}' must be an https URL without query or fragment", "issuer")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidField(f"issuer '{value[:300]}' must use https (plain http only on loopback)", "issuer")
    return value


def check_slug(value: str) -> str:
    if not _SLUG.match(value) or len(value) > 200 or ".." in value:
        raise InvalidField(
            f"slug '{value[:200]}' may hold letters, digits, '.', '_', '~', '-' and '/' between parts "
            "(e.g. 'org/project/device')",
            "slug",
        )
    return value
