"""AGS line items (AGS §3.2; lti-reference §4.3–4.4): list every page, create, update, delete, read
results, and find or create the line item a score goes to.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping

from ltigate.lti import ags
from ltigate.lti.links import parse_links
from ltigate.services.errors import InvalidField
from ltigate.services.records import Platform, ScoreTarget
from ltigate.services.service_calls import ServiceCalls, expect_success

MAX_PAGES = 1000
LINEITEM_SCOPES = (ags.SCOPE_LINEITEM,)
READ_SCOPES = (ags.SCOPE_LINEITEM, ags.SCOPE_RESULT_READONLY)


class LineItems:
    def __init__(self, calls: ServiceCalls) -> None:
        self._calls = calls

    async def list(
        self,
        platform: Platform,
        deployment_id: str | None,
        lineitems_url: str,
        *,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> list[ags.LineItem]:
        """Every line item of the container, following Link rel="next" to the last page."""
        url: str | None = ags.lineitems_query_url(
            lineitems_url, resource_link_id=resource_link_id, resource_id=resource_id, tag=tag
        )
        items: list[ags.LineItem] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = expect_success(
                await self._calls.call(
                    platform, deployment_id, LINEITEM_SCOPES, "GET", url, accept=ags.LINEITEM_CONTAINER
                ),
                "listing line items",
            )
            items.extend(ags.parse_line_items(response.body))
            url = parse_links(response.headers.get("link"), base=url).get("next")
        return items

    async def create(
        self, platform: Platform, deployment_id: str | None, lineitems_url: str, item: Mapping[str, object]
    ) -> ags.LineItem:
        response = expect_success(
            await self._calls.call(
                platform,
                deployment_id,
                LINEITEM_SCOPES,
                "POST",
                lineitems_url,
                accept=ags.LINEITEM,
                content_type=ags.LINEITEM,
                body=json.dumps(_checked(item)).encode(),
            ),
            "creating a line item",
        )
        return ags.parse_line_item(_json(response.body))

    async def get(self, platform: Platform, deployment_id: str | None, lineitem_url: str) -> ags.LineItem:
        response = expect_success(
            await self._calls.call(platform, deployment_id, LINEITEM_SCOPES, "GET", lineitem_url, accept=ags.LINEITEM),
            "reading a line item",
        )
        return ags.parse_line_item(_json(response.body))

    async def update(
        self, platform: Platform, deployment_id: str | None, lineitem_url: str, changes: Mapping[str, object]
    ) -> ags.LineItem:
        """Read the item, apply `changes`, and PUT the whole item back (AGS requires the full object)."""
        current = expect_success(
            await self._calls.call(platform, deployment_id, LINEITEM_SCOPES, "GET", lineitem_url, accept=ags.LINEITEM),
            "reading a line item",
        )
        merged = {**_json(current.body), **changes}
        response = expect_success(
            await self._calls.call(
                platform,
                deployment_id,
                LINEITEM_SCOPES,
                "PUT",
                lineitem_url,
                accept=ags.LINEITEM,
                content_type=ags.LINEITEM,
                body=json.dumps(_checked(merged)).encode(),
            ),
            "updating a line item",
        )
        return ags.parse_line_item(_json(response.body))

    async def delete(self, platform: Platform, deployment_id: str | None, lineitem_url: str) -> None:
        expect_success(
            await self._calls.call(platform, deployment_id, LINEITEM_SCOPES, "DELETE", lineitem_url),
            "deleting a line item",
        )

    async def results(
        self, platform: Platform, deployment_id: str | None, lineitem_url: str, *, user_id: str | None = None
    ) -> builtins.list[ags.Result]:
        """Every result of the line item (or the one of `user_id`), following Link rel="next"."""
        url: str | None = ags.results_url(lineitem_url, user_id=user_id)
        results: builtins.list[ags.Result] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = expect_success(
                await self._calls.call(
                    platform, deployment_id, (ags.SCOPE_RESULT_READONLY,), "GET", url, accept=ags.RESULT_CONTAINER
                ),
                "reading results",
            )
            results.extend(ags.parse_results(response.body))
            url = parse_links(response.headers.get("link"), base=url).get("next")
        return results

    async def find_or_create(self, platform: Platform, deployment_id: str | None, target: ScoreTarget) -> str:
        """The line item for a score: the launch's own, else one found in the container by resource
        link and resourceId, else a new one (label and scoreMaximum from the resource)."""
        if target.lineitem_url:
            return target.lineitem_url
        if not target.lineitems_url:
            raise InvalidField("the launch offers neither a line item nor a line items container", "lineitem")
        found = await self.list(
            platform,
            deployment_id,
            target.lineitems_url,
            resource_link_id=target.resource_link_id,
            resource_id=target.resource_id,
        )
        for item in found:
            if item.resource_id == target.resource_id or (
                target.resource_link_id is not None and item.resource_link_id == target.resource_link_id
            ):
                return item.id
        created = await self.create(
            platform,
            deployment_id,
            target.lineitems_url,
            ags.line_item_body(
                label=target.label or target.resource_id or "ltigate",
                score_maximum=target.score_maximum or 1.0,
                resource_id=target.resource_id,
                resource_link_id=target.resource_link_id,
                tag="ltigate",
            ),
        )
        return created.id


def _json(body: bytes) -> dict[str, object]:
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidField("the platform answered with something other than a JSON object", "lineitem")
    return value


def _checked(item: Mapping[str, object]) -> dict[str, object]:
    label, maximum = item.get("label"), item.get("scoreMaximum")
    if not isinstance(label, str) or not label.strip():
        raise InvalidField("a line item needs a non-blank label", "label")
    if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or maximum <= 0:
        raise InvalidField(f"scoreMaximum must be a number above 0, got {maximum!r}", "scoreMaximum")
    return dict(item)
