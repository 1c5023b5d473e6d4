"""Time claims `exp`, `iat` and `nbf` (RFC 7519 §4.1.4–4.1.6) checked against a caller-given `now`."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ltigate.lti.errors import ClaimMissing, TokenExpired, TokenMalformed, TokenNotYetValid


def _numeric_date(claims: Mapping[str, object], name: str, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise ClaimMissing(f"the token has no '{name}' claim")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenMalformed(f"'{name}' must be a NumericDate, got {str(value)[:40]!r}")
    # JSON lets through 1e400 (inf), NaN and ints too big for a float; an infinite or NaN exp never expires.
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise TokenMalformed(f"'{name}' must be a finite NumericDate, got {str(value)[:40]!r}")
    return number


def check_times(claims: Mapping[str, object], *, now: float, leeway: float) -> None:
    """Require `exp` and `iat`; reject when now ≥ exp + leeway, or iat/nbf later than now + leeway."""
    exp = _numeric_date(claims, "exp", required=True)
    iat = _numeric_date(claims, "iat", required=True)
    nbf = _numeric_date(claims, "nbf", required=False)
    assert exp is not None and iat is not None
    if now >= exp + leeway:
        raise TokenExpired(f"the token expired at {int(exp)}; it is now {int(now)} (leeway {int(leeway)} s)")
    if iat > now + leeway:
        raise TokenNotYetValid(f"the token was issued at {int(iat)}, in the future; it is now {int(now)}")
    if nbf is not None and nbf > now + leeway:
        raise TokenNotYetValid(f"the token is not valid before {int(nbf)}; it is now {int(now)}")
