"""The demo served for real: `run_demo` in a background thread with its own event loop, on free ports."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.lowlevel
import httpx
import pytest

from ltigate.bootstrap import migrate
from ltigate.config import Settings, load_settings
from ltigate.demo.runner import DemoUrls, run_demo
from tests.support.servers import free_port

START_SECONDS = 60.0


def demo_settings(data_dir: Path) -> Settings:
    return load_settings(env={"LTIGATE_DATA_DIR": str(data_dir), "LTIGATE_PORT": str(free_port())})


@dataclass
class RunningDemo:
    urls: DemoUrls
    settings: Settings


class DemoThread:
    """Runs `run_demo` until `close()`; `start()` returns once all three servers listen."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.urls: DemoUrls | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._stop: anyio.Event | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._token, self._stop = anyio.lowlevel.current_token(), anyio.Event()
            await run_demo(
                self.settings, lms_port=free_port(), app_port=free_port(), ready=self._on_ready, stop=self._stop
            )

        try:
            anyio.run(main)
        except BaseException as exc:
            self.error = exc
        finally:
            self._ready.set()

    def _on_ready(self, urls: DemoUrls) -> None:
        self.urls = urls
        self._ready.set()

    def start(self) -> DemoUrls:
        self._thread.start()
        if not self._ready.wait(START_SECONDS) or self.urls is None:
            raise RuntimeError(f"the demo did not start: {self.error!r}")
        return self.urls

    def close(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            anyio.from_thread.run_sync(self._stop.set, token=self._token)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the demo did not stop"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    settings = demo_settings(tmp_path_factory.mktemp("demo"))
    migrate(settings)
    thread = DemoThread(settings)
    urls = thread.start()
    try:
        yield RunningDemo(urls=urls, settings=settings)
    finally:
        thread.close()
    assert thread.error is None, f"the demo ended with {thread.error!r}"


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        yield client


@pytest.fixture
def urls(demo: RunningDemo) -> DemoUrls:
    return demo.urls
