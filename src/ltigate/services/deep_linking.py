"""Deep Linking (design.md "Deep linking", lti-reference §6): a deep-linking launch opens a session that
waits for one answer — from ltigate's picker page or from the app behind a picker resource — which is
signed as an LtiDeepLinkingResponse and posted back to the platform by the browser.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ltigate.lti.deep_linking import (
    LTI_RESOURCE_LINK,
    DeepLinkingSettings,
    ResponseMessages,
    check_items,
    parse_settings,
    resource_link_item,
    response_claims,
    settings_claim,
)
from ltigate.lti.errors import (
    ContentItemInvalid,
    DeepLinkingAnswered,
    DeepLinkingExpired,
    DeepLinkingSessionUnknown,
    DeepLinkingTokenInvalid,
    LtiError,
)
from ltigate.lti.jws import sign
from ltigate.lti.launch import read_resource_slug
from ltigate.lti.message import LtiMessage
from ltigate.services.digest import secret_digest
from ltigate.services.ports import Clock, DeepLinkSessionStore, PlatformStore, ResourceStore
from ltigate.services.records import DeepLinkSession, KeyPurpose, Platform, Resource
from ltigate.services.resources import target_link_uri
from ltigate.services.tool_keys import ToolKeys

MAX_SEARCH = 200


@dataclass(frozen=True, slots=True)
class OpenedSession:
    launch_id: str
    token: str  # the picker form's secret; shown once, stored hashed
    settings: DeepLinkingSettings


@dataclass(frozen=True, slots=True)
class PickerView:
    """What the picker page shows."""

    launch_id: str
    settings: DeepLinkingSettings
    platform: Platform | None
    resources: list[Resource]
    total: int  # resources before the search
    query: str
    offers_links: bool  # False: the platform accepts no ltiResourceLink, so there is nothing to pick


@dataclass(frozen=True, slots=True)
class SignedResponse:
    """The LtiDeepLinkingResponse the browser posts to `return_url` in a form field named JWT."""

    return_url: str
    jwt: str
    items: list[dict[str, object]]
    platform: Platform


class DeepLinking:
    def __init__(
        self,
        *,
        store: DeepLinkSessionStore,
        platforms: PlatformStore,
        resources: ResourceStore,
        tool_keys: ToolKeys,
        launch_url: str,
        clock: Clock,
        ttl: float,
    ) -> None:
        self._store, self._platforms, self._resources = store, platforms, resources
        self._tool_keys, self._launch_url, self._clock, self._ttl = tool_keys, launch_url, clock, ttl

    async def open(
        self, launch_id: str, platform: Platform, message: LtiMessage, resource: Resource | None
    ) -> OpenedSession:
        """Keep a verified deep-linking request until it is answered. Raises ClaimMissing/TokenMalformed
        for settings the platform got wrong."""
        settings = parse_settings(message.deep_linking)
        token, now = secrets.token_urlsafe(32), self._clock()
        await self._store.open(
            DeepLinkSession(
                launch_id=launch_id,
                platform_id=platform.id,
                deployment_id=message.deployment_id,
                resource_slug=resource.fields.slug if resource else None,
                settings=settings_claim(settings),
                token_hash=secret_digest(token),
                created_at=now,
                expires_at=now + self._ttl,
            )
        )
        return OpenedSession(launch_id=launch_id, token=token, settings=settings)

    async def picker(self, launch_id: str, token: str, query: str = "") -> PickerView:
        session = await self._session(launch_id, token)
        settings = parse_settings(session.settings)
        platform = await self._platforms.get(session.platform_id)
        query = query.strip()[:MAX_SEARCH]
        offers = settings.accepts(LTI_RESOURCE_LINK)
        every = await self._resources.list() if offers else []
        return PickerView(
            launch_id=launch_id,
            settings=settings,
            platform=platform,
            resources=[r for r in every if _matches(r, query)],
            total=len(every),
            query=query,
            offers_links=offers,
        )

    async def answer_picker(
        self, launch_id: str, token: str, slugs: Sequence[str], *, cancelled: bool = False
    ) -> SignedResponse:
        """The picker's submit: the chosen resources as ltiResourceLink items; a cancel sends none."""
        session = await self._session(launch_id, token)
        settings = parse_settings(session.settings)
        chosen: list[Resource] = []
        for slug in () if cancelled else dict.fromkeys(slugs):
            resource = await self._resources.get(slug)
            if resource is None:
                raise ContentItemInvalid(f"resource '{slug[:200]}' does not exist (deleted meanwhile?)")
            chosen.append(resource)
        items = check_items([self._item(r, settings) for r in chosen], settings)
        if items:
            titles = ", ".join(r.fields.title for r in chosen)
            messages = ResponseMessages(msg=f"Added {titles}"[:400], log=f"ltigate: {len(items)} item(s) added")
        elif cancelled:
            messages = ResponseMessages(msg="Cancelled; nothing was added.", log="ltigate: the picker was cancelled")
        else:
            messages = ResponseMessages(
                msg="Nothing was selected, so nothing was added.", log="ltigate: submitted with no selection"
            )
        return await self._respond(session, settings, items, messages)

    async def answer_error(self, launch_id: str, token: str, errormsg: str, errorlog: str) -> SignedResponse:
        """Tell the platform the request cannot be served (e.g. it accepts no type ltigate offers)."""
        session = await self._session(launch_id, token)
        settings = parse_settings(session.settings)
        return await self._respond(session, settings, [], ResponseMessages(errormsg=errormsg, errorlog=errorlog))

    async def answer_app(
        self, launch_id: str, items: Sequence[Mapping[str, object]], messages: ResponseMessages
    ) -> SignedResponse:
        """The app's answer through the API (authenticated there). Items may name a `resource` (slug),
        which ltigate turns into that resource's ltiResourceLink; an ltiResourceLink item without a URL
        gets the launched picker resource's target link URI."""
        session = await self._stored(launch_id)
        settings = parse_settings(session.settings)
        prepared = [await self._app_item(index, dict(item), session, settings) for index, item in enumerate(items)]
        return await self._respond(session, settings, check_items(prepared, settings), messages)

    async def settings_for(self, launch_id: str) -> DeepLinkingSettings | None:
        session = await self._store.get(launch_id)
        return None if session is None else parse_settings(session.settings)

    async def _app_item(
        self, index: int, item: dict[str, object], session: DeepLinkSession, settings: DeepLinkingSettings
    ) -> dict[str, object]:
        slug = item.pop("resource", None)
        if slug is not None:
            if not isinstance(slug, str):
                raise ContentItemInvalid(f"item {index}: resource must be a slug")
            resource = await self._resources.get(slug)
            if resource is None:
                raise ContentItemInvalid(f"item {index}: resource '{slug[:200]}' does not exist")
            base = self._item(resource, settings)
            custom = {**dict(resource.fields.custom), **_custom(index, item.pop("custom", None))}
            base.update({k: v for k, v in item.items() if k != "type"})
            if custom:
                base["custom"] = custom
            return base
        if item.get("type") == LTI_RESOURCE_LINK:
            url = item.get("url")
            if url is None and session.resource_slug:
                item["url"] = target_link_uri(self._launch_url, session.resource_slug)
            elif isinstance(url, str):
                try:
                    read_resource_slug(url, self._launch_url)
                except LtiError as error:
                    raise ContentItemInvalid(
                        f"item {index}: an ltiResourceLink must point at this gateway ({error.message})"
                    ) from error
            else:
                raise ContentItemInvalid(f"item {index}: an ltiResourceLink needs a url or a resource")
        return item

    def _item(self, resource: Resource, settings: DeepLinkingSettings) -> dict[str, object]:
        f = resource.fields
        return resource_link_item(
            url=target_link_uri(self._launch_url, f.slug),
            title=f.title,
            text=f.description or None,
            custom=f.custom,
            score_maximum=f.score_maximum,
            resource_id=f.slug,
            tag=f.tag,
            settings=settings,
        )

    async def _respond(
        self,
        session: DeepLinkSession,
        settings: DeepLinkingSettings,
        items: list[dict[str, object]],
        messages: ResponseMessages,
    ) -> SignedResponse:
        platform = await self._platforms.get(session.platform_id)
        if platform is None:
            raise DeepLinkingSessionUnknown("the platform of this deep-linking request was deleted")
        now = self._clock()
        if not await self._store.answer(session.launch_id, now):
            raise await self._why_not_open(session.launch_id, now)
        claims = response_claims(
            client_id=platform.fields.client_id,
            platform_issuer=platform.fields.issuer,
            deployment_id=session.deployment_id,
            settings=settings,
            items=items,
            messages=messages,
            nonce=secrets.token_urlsafe(16),
            now=int(now),
        )
        jwt = sign(claims, self._tool_keys.signing_key(KeyPurpose.LTI))
        return SignedResponse(return_url=settings.return_url, jwt=jwt, items=items, platform=platform)

    async def _session(self, launch_id: str, token: str) -> DeepLinkSession:
        session = await self._stored(launch_id)
        if not hmac.compare_digest(secret_digest(token), session.token_hash):
            raise DeepLinkingTokenInvalid("this picker form does not belong to this deep-linking request")
        return session

    async def _stored(self, launch_id: str) -> DeepLinkSession:
        session = await self._store.get(launch_id)
        if session is None:
            raise DeepLinkingSessionUnknown(
                f"launch '{launch_id[:64]}' has no deep-linking request waiting (not a deep-linking launch, "
                "or it was purged)"
            )
        now = self._clock()
        if session.answered_at is not None or session.expires_at <= now:
            raise await self._why_not_open(launch_id, now)
        return session

    async def _why_not_open(self, launch_id: str, now: float) -> LtiError:
        session = await self._store.get(launch_id)
        if session is not None and session.answered_at is not None:
            return DeepLinkingAnswered("this deep-linking request was answered already; start again from the LMS")
        return DeepLinkingExpired("this deep-linking request expired; start again from the LMS")

    async def purge(self, keep_answered_for: float) -> int:
        return await self._store.purge(self._clock(), keep_answered_for)


def _matches(resource: Resource, query: str) -> bool:
    if not query:
        return True
    needle = query.casefold()
    f = resource.fields
    return any(needle in text.casefold() for text in (f.slug, f.title, f.description))


def _custom(index: int, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ContentItemInvalid(f"item {index}: custom must map names to strings")
    return {str(k): v for k, v in value.items()}
