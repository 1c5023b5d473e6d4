"""A gateway that delivers scores: served like `running_gateway`, with the worker (outbox and housekeeping)
in the server's event loop as `ltigate serve` runs it; and `ltigate serve` / `ltigate worker` as processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ltigate.bootstrap import build_gateway, migrate
from ltigate.web.app import DeferredApp
from ltigate.worker.runner import run_all
from tests.support.gateway import GatewayHarness, make_settings
from tests.support.servers import ServerThread, free_port


@contextmanager
def running_gateway_with_worker(tmp_path: Path, database: str = "sqlite", **extra: str) -> Iterator[GatewayHarness]:
    port = free_port()
    settings, cleanup = make_settings(tmp_path, database, port, **extra)
    try:
        migrate(settings)
        app = DeferredApp(lambda: build_gateway(settings), background=[run_all])
        with ServerThread(app, port=port) as server:
            yield GatewayHarness(settings=settings, url=server.url)
    finally:
        cleanup()


class Process:
    """An `ltigate` subprocess whose output goes to a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "ltigate", *args],
                env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no cleanup, no finishing of in-flight work."""
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def wait_ready(url: str, process: Process, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"the process exited: {process.tail()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {seconds:g} s: {process.tail()}")


def wait_running(process: Process, seconds: float = 30.0) -> None:
    """Until the worker says it runs (it has built its gateway and started claiming)."""
    deadline = time.monotonic() + seconds
    while "Worker running" not in process.tail():
        if process.popen.poll() is not None:
            raise AssertionError(f"the worker exited: {process.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not start within {seconds:g} s: {process.tail()}")
        time.sleep(0.05)
