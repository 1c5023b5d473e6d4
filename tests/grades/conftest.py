"""Shared pieces of the grades tests: an LMS (tests.support.fake_lms) registered in a served gateway."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, ResourceFields
from tests.support.fake_lms import FakeLms
from tests.support.gateway import GatewayHarness
from tests.support.platform import Browser
from tests.support.servers import ServerThread

APP_URL = "http://127.0.0.1:9/app"  # never contacted: the browser stops at the redirect
_issuers = itertools.count(1)


@dataclass
class Lms:
    lms: FakeLms
    platform_id: str


def seed_resource(gateway: GatewayHarness, slug: str = "quiz", score_maximum: float | None = 10.0) -> None:
    async def create(g: Gateway) -> None:
        await g.resources.create(ResourceFields(slug=slug, title="Quiz", app_url=APP_URL, score_maximum=score_maximum))

    gateway.run(create)


@contextmanager
def registered_lms(gateway: GatewayHarness, lms: FakeLms | None = None, **fields: object) -> Iterator[Lms]:
    """A fake LMS served on 127.0.0.1 and registered as a platform of the gateway (with `fields` overrides)."""
    lms = lms or FakeLms()
    with ServerThread(lms.app(), lifespan="off") as server:
        lms.url = server.url
        lms.gateway_url = gateway.url
        lms.platform.issuer = f"{server.url}/lms-{next(_issuers)}"
        values = PlatformFields(**lms.platform_fields(**fields))  # type: ignore[arg-type]
        yield Lms(lms=lms, platform_id=register_platform(gateway, values))


def register_platform(gateway: GatewayHarness, fields: PlatformFields) -> str:
    """Create the platform through the use case, as the REST API and the CLI do."""

    async def create(g: Gateway) -> str:
        created = await g.platforms.create(fields)
        grading = ("send_deployment_id", "preserve_manual_grades", "outcome_rules", "token_audience")
        assert [getattr(created.fields, name) for name in grading] == [getattr(fields, name) for name in grading]
        return created.id

    return gateway.run(create)


def api_client(gateway: GatewayHarness, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=15)


def browser(gateway: GatewayHarness) -> Browser:
    return Browser(gateway.url)
