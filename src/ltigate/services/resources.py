"""Resources: what a launch opens. Each has a target link URI `<base>/lti/launch?resource=<slug>`."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from urllib.parse import quote

from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.ports import Clock, ResourceStore
from ltigate.services.records import Resource, ResourceFields
from ltigate.services.validation import check_slug, check_text, check_url


def target_link_uri(launch_url: str, slug: str) -> str:
    return f"{launch_url}?resource={quote(slug, safe='/')}"


def check_resource_fields(fields: ResourceFields) -> ResourceFields:
    return ResourceFields(
        slug=check_slug(fields.slug),
        title=check_text(fields.title, "title"),
        app_url=check_url(fields.app_url, "app_url"),
        description=check_text(fields.description, "description", limit=4000, required=False),
        score_maximum=_check_score_maximum(fields.score_maximum),
        picker=bool(fields.picker),
        review_url=check_url(fields.review_url, "review_url") if fields.review_url else None,
        custom=_check_custom(fields.custom),
        tag=check_text(fields.tag, "tag", limit=255, required=False) or None if fields.tag else None,
    )


MAX_CUSTOM = 50


def _check_custom(custom: Mapping[str, str]) -> dict[str, str]:
    """Custom parameters sent with deep-linked items (DL 2.0 §3.4.1: string keys and string values)."""
    if len(custom) > MAX_CUSTOM:
        raise InvalidField(f"{len(custom)} custom parameters; at most {MAX_CUSTOM}", "custom")
    checked: dict[str, str] = {}
    for key, value in custom.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", key):
            raise InvalidField(f"custom parameter name {str(key)[:70]!r} must be 1-64 letters, digits, _ . -", "custom")
        if not isinstance(value, str) or len(value) > 1000:
            raise InvalidField(f"custom parameter '{key}' must be text of at most 1,000 characters", "custom")
        checked[key] = value
    return checked


def _check_score_maximum(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidField(f"score_maximum {value!r} is not a number > 0", "score_maximum")
    return float(value)


class Resources:
    def __init__(self, store: ResourceStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    async def create(self, fields: ResourceFields) -> Resource:
        return await self._store.create(uuid.uuid4().hex, check_resource_fields(fields), self._clock())

    async def update(self, slug: str, fields: ResourceFields) -> Resource:
        await self.get(slug)
        return await self._store.update(slug, check_resource_fields(fields), self._clock())

    async def get(self, slug: str) -> Resource:
        resource = await self._store.get(slug)
        if resource is None:
            raise NotFound(f"resource '{slug}' does not exist")
        return resource

    async def list(self) -> list[Resource]:
        return await self._store.list()

    async def delete(self, slug: str) -> None:
        if not await self._store.delete(slug):
            raise NotFound(f"resource '{slug}' does not exist")
