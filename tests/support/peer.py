"""Adapters that wire the independent platform lti1p3platform 0.1.8 (peers.md) into a test LMS: its
request object, the OIDC login and message launch subclasses it leaves abstract, and a PEM key pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.request import RequestBase


class PeerRequest(RequestBase):
    """The request shape lti1p3platform reads (query, form, headers, JSON body)."""

    def __init__(
        self,
        method: str,
        get_data: Mapping[str, Any],
        form_data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        self.request = {
            "method": method,
            "get_data": dict(get_data),
            "form_data": dict(form_data or {}),
            "headers": headers or {},  # the peer reads "Authorization": a case-insensitive mapping works
            "content_type": (headers or {}).get("content-type"),
            "path": "/",
            "json": body,
        }


class HintLogin(OIDCLoginAbstract):
    """Login initiation whose lti_message_hint is given by the test; the redirect is returned as a URL."""

    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class FormLaunch(LTIAdvantageMessageLaunchAbstract):
    """Message launch that hands back the form data (id_token, state, launch_url) for the test to post."""

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


def pem_key_pair() -> tuple[str, str]:
    """A fresh RSA-2048 key as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
