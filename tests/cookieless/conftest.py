"""Fixtures for cookie-less launches in a real browser: a served gateway at http://127.0.0.1:<port>, the test
LMS of tests/support/storage_lms.py at http://localhost:<port> (another site) and at a second origin, and
Debian's Chromium driven by Playwright with third-party cookies blocked by its own preference.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, ResourceFields
from tests.support.gateway import GatewayHarness, running_gateway
from tests.support.platform import ScriptedPlatform
from tests.support.servers import ServerThread
from tests.support.storage_lms import StorageLms

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Frames of other sites in the renderer of their page: Playwright's driver loses track of frames that
    # move between processes while they navigate (an assertion in FrameManager.frameAttached), and origins
    # are enforced by the renderer and the network service all the same.
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process",
]
# Chromium's setting "Block third-party cookies" (chrome://settings/cookies), in a profile's Preferences:
# cookie_controls_mode 1 blocks, 0 allows. Playwright's contexts are off-the-record profiles, where Chromium
# blocks third-party cookies by default; the tests assert it rather than trust it.
ALLOW_THIRD_PARTY_COOKIES = {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}


@dataclass
class Chain:
    gateway: GatewayHarness
    lms: StorageLms
    platform_id: str
    api_key: str


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with running_gateway(tmp_path_factory.mktemp("cookieless")) as harness:
        platform = ScriptedPlatform()
        lms = StorageLms(platform=platform, gateway_url=harness.url)
        with ServerThread(lms.app(), lifespan="off") as own, ServerThread(lms.app(), lifespan="off") as other:
            # The browser reaches the LMS by the name localhost: another site than the gateway's 127.0.0.1.
            lms.own, lms.other = f"http://localhost:{own.port}", f"http://localhost:{other.port}"
            platform.issuer = lms.own
            fields = platform.platform_fields(lms.own, jwks_url=f"{own.url}/jwks")

            async def seed(gateway: Gateway) -> tuple[str, str]:
                created = await gateway.platforms.create(PlatformFields(**fields))  # type: ignore[arg-type]
                await gateway.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=f"{lms.own}/app"))
                return created.id, (await gateway.api_keys.create("tests")).secret

            platform_id, api_key = harness.run(seed)
            yield Chain(gateway=harness, lms=lms, platform_id=platform_id, api_key=api_key)


def launch_chromium(playwright: Any, user_data: Path, preferences: dict[str, object]) -> Any:
    """A persistent context, the only way to hand Chromium its preferences (Default/Preferences)."""
    (user_data / "Default").mkdir(parents=True)
    (user_data / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = playwright.chromium.launch_persistent_context(
        str(user_data), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture(scope="module")
def playwright(chain: Chain) -> Iterator[Any]:
    """Started after the gateway and its seeding: Playwright keeps an event loop running in this thread."""
    from playwright.sync_api import sync_playwright

    runner = sync_playwright().start()
    try:
        yield runner
    finally:
        runner.stop()


@pytest.fixture(scope="module")
def blocking(playwright: Any) -> Iterator[Any]:
    """Chromium with third-party cookies blocked (an off-the-record context, as a private window)."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Keeps each phase's report on the test, so a fixture can tell that its test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)
