"""Deep Linking 2.0, tool side (lti-reference §6): read the request's settings, check content items
against them, and build the claims of the signed LtiDeepLinkingResponse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ltigate.lti import claims as c
from ltigate.lti.errors import ClaimMissing, ContentItemInvalid, ContentItemNotAccepted, TokenMalformed

DL: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/"
CONTENT_ITEMS: Final = DL + "content_items"
DATA: Final = DL + "data"
MSG: Final = DL + "msg"
LOG: Final = DL + "log"
ERRORMSG: Final = DL + "errormsg"
ERRORLOG: Final = DL + "errorlog"
RESPONSE: Final = "LtiDeepLinkingResponse"

LTI_RESOURCE_LINK: Final = "ltiResourceLink"
STANDARD_TYPES: Final = ("link", LTI_RESOURCE_LINK, "file", "html", "image")
TARGETS: Final = ("iframe", "window", "embed")
RESPONSE_TTL: Final = 600
MAX_ITEMS: Final = 100
MAX_TEXT: Final = 4000


@dataclass(frozen=True, slots=True)
class DeepLinkingSettings:
    """The `deep_linking_settings` claim (DL 2.0 §4.4.1)."""

    return_url: str
    accept_types: tuple[str, ...]
    accept_presentation_document_targets: tuple[str, ...]
    accept_media_types: str | None = None
    accept_multiple: bool = False
    accept_lineitem: bool | None = None  # None: the platform did not say
    auto_create: bool = False
    title: str | None = None
    text: str | None = None
    data: object = None  # opaque; echoed exactly when present
    has_data: bool = False

    def accepts(self, item_type: str) -> bool:
        return item_type in self.accept_types


def parse_settings(claim: Mapping[str, object] | None) -> DeepLinkingSettings:
    """Raises ClaimMissing (no settings, no return URL) or TokenMalformed (wrong shapes)."""
    if claim is None:
        raise ClaimMissing(f"a deep-linking request needs the '{c.DL_SETTINGS}' claim")
    url = claim.get("deep_link_return_url")
    if not isinstance(url, str) or not url:
        raise ClaimMissing("deep_linking_settings has no deep_link_return_url")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TokenMalformed(f"deep_link_return_url '{url[:300]}' is not an http(s) URL")
    types = _strings(claim.get("accept_types"), "accept_types")
    targets = _strings(claim.get("accept_presentation_document_targets"), "accept_presentation_document_targets")
    media = claim.get("accept_media_types")
    return DeepLinkingSettings(
        return_url=url,
        accept_types=types,
        accept_presentation_document_targets=targets,
        accept_media_types=media if isinstance(media, str) else None,
        accept_multiple=claim.get("accept_multiple") is True,
        accept_lineitem=_flag(claim.get("accept_lineitem")),
        auto_create=claim.get("auto_create") is True,
        title=_text(claim.get("title")),
        text=_text(claim.get("text")),
        data=claim.get("data"),
        has_data="data" in claim,
    )


def settings_claim(settings: DeepLinkingSettings) -> dict[str, object]:
    """The settings as a JSON object again (to store them between the request and the response)."""
    claim: dict[str, object] = {
        "deep_link_return_url": settings.return_url,
        "accept_types": list(settings.accept_types),
        "accept_presentation_document_targets": list(settings.accept_presentation_document_targets),
        "accept_multiple": settings.accept_multiple,
        "auto_create": settings.auto_create,
    }
    optional = {
        "accept_media_types": settings.accept_media_types,
        "accept_lineitem": settings.accept_lineitem,
        "title": settings.title,
        "text": settings.text,
    }
    claim.update({k: v for k, v in optional.items() if v is not None})
    if settings.has_data:
        claim["data"] = settings.data
    return claim


def _strings(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TokenMalformed(f"deep_linking_settings.{name} must be an array")
    return tuple(v for v in value if isinstance(v, str))


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


# --- content items -----------------------------------------------------------------------------------


def resource_link_item(
    *,
    url: str,
    title: str,
    text: str | None = None,
    custom: Mapping[str, str] | None = None,
    score_maximum: float | None = None,
    resource_id: str | None = None,
    tag: str | None = None,
    settings: DeepLinkingSettings,
) -> dict[str, object]:
    """An ltiResourceLink item (DL 2.0 §3.4) fitted to what the platform accepts: a lineItem only when
    the platform said it creates them, and a window hint only when it does not accept frames."""
    item: dict[str, object] = {"type": LTI_RESOURCE_LINK, "url": url, "title": title}
    if text:
        item["text"] = text
    if custom:
        item["custom"] = dict(custom)
    if score_maximum is not None and settings.accept_lineitem is True:
        line_item: dict[str, object] = {"scoreMaximum": score_maximum, "label": title}
        if resource_id:
            line_item["resourceId"] = resource_id
        if tag:
            line_item["tag"] = tag
        item["lineItem"] = line_item
    targets = settings.accept_presentation_document_targets
    if targets and "iframe" not in targets and "window" in targets:
        item["window"] = {"targetName": "_blank"}
    return item


def check_items(items: Sequence[object], settings: DeepLinkingSettings) -> list[dict[str, object]]:
    """Check items an app sends against the request's settings (lti-reference §6.2 "Tool-side checks").

    Raises ContentItemNotAccepted (type, number, line item or presentation the platform refused) or
    ContentItemInvalid (a malformed item). Returns the items as plain dicts.
    """
    if len(items) > MAX_ITEMS:
        raise ContentItemInvalid(f"{len(items)} content items; at most {MAX_ITEMS} are sent")
    if len(items) > 1 and not settings.accept_multiple:
        raise ContentItemNotAccepted(f"the platform accepts one item (accept_multiple is not true); got {len(items)}")
    checked = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ContentItemInvalid(f"item {index} is not a JSON object")
        checked.append(_check_item(index, dict(item), settings))
    return checked


_REQUIRED: Final = {"link": "url", "file": "url", "image": "url", "html": "html"}


def _check_item(index: int, item: dict[str, object], settings: DeepLinkingSettings) -> dict[str, object]:
    item_type = item.get("type")
    if not isinstance(item_type, str) or not item_type:
        raise ContentItemInvalid(f"item {index} has no type")
    if not settings.accepts(item_type):
        accepted = ", ".join(settings.accept_types) or "nothing"
        raise ContentItemNotAccepted(f"item {index} has type '{item_type[:60]}'; the platform accepts {accepted}")
    required = _REQUIRED.get(item_type)
    if required and not (isinstance(item.get(required), str) and item[required]):
        raise ContentItemInvalid(f"item {index} ({item_type}) needs '{required}'")
    for name in ("url", "title", "text", "html"):
        if name in item and not isinstance(item[name], str):
            raise ContentItemInvalid(f"item {index}: '{name}' must be a string")
    url = item.get("url")
    if isinstance(url, str) and urlsplit(url).scheme not in ("https", "http"):
        raise ContentItemInvalid(f"item {index}: url '{url[:200]}' is not an http(s) URL")
    for target in TARGETS:
        if target in item and target not in settings.accept_presentation_document_targets:
            raise ContentItemNotAccepted(
                f"item {index} asks for presentation '{target}', which the platform does not accept"
            )
    custom = item.get("custom")
    if custom is not None and (not isinstance(custom, Mapping) or not all(isinstance(v, str) for v in custom.values())):
        raise ContentItemInvalid(f"item {index}: custom must map names to strings")
    if "lineItem" in item:
        if item_type != LTI_RESOURCE_LINK:
            raise ContentItemInvalid(f"item {index}: only ltiResourceLink items carry a lineItem")
        if settings.accept_lineitem is False:
            raise ContentItemNotAccepted(f"item {index} has a lineItem; the platform does not accept line items")
        _check_line_item(index, item["lineItem"])
    return item


def _check_line_item(index: int, line_item: object) -> None:
    if not isinstance(line_item, Mapping):
        raise ContentItemInvalid(f"item {index}: lineItem must be a JSON object")
    maximum = line_item.get("scoreMaximum")
    if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or not math.isfinite(maximum) or maximum <= 0:
        raise ContentItemInvalid(f"item {index}: lineItem.scoreMaximum must be a number above 0, got {maximum!r}")
    for name in ("label", "resourceId", "tag"):
        if name in line_item and not isinstance(line_item[name], str):
            raise ContentItemInvalid(f"item {index}: lineItem.{name} must be a string")


# --- the response ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseMessages:
    """The optional plain-text messages of a response (DL 2.0 §4.5)."""

    msg: str | None = None
    log: str | None = None
    errormsg: str | None = None
    errorlog: str | None = None


def response_claims(
    *,
    client_id: str,
    platform_issuer: str,
    deployment_id: str,
    settings: DeepLinkingSettings,
    items: Sequence[Mapping[str, object]],
    messages: ResponseMessages,
    nonce: str,
    now: int,
    ttl: int = RESPONSE_TTL,
) -> dict[str, object]:
    """The payload of the LtiDeepLinkingResponse JWT (lti-reference §6.2); `azp` is left out."""
    claims: dict[str, object] = {
        "iss": client_id,
        "aud": platform_issuer,
        "iat": now,
        "exp": now + ttl,
        "nonce": nonce,
        c.DEPLOYMENT_ID: deployment_id,
        c.MESSAGE_TYPE: RESPONSE,
        c.VERSION: c.LTI_VERSION,
        CONTENT_ITEMS: [dict(item) for item in items],
    }
    if settings.has_data:
        claims[DATA] = settings.data
    texts = {MSG: messages.msg, LOG: messages.log, ERRORMSG: messages.errormsg, ERRORLOG: messages.errorlog}
    claims.update({name: value[:MAX_TEXT] for name, value in texts.items() if value})
    return claims
