"""`ltigate demo`: the gateway, the demo LMS and the demo app, served side by side in one event loop on
127.0.0.1, with the demo platform and resources registered in the gateway beforehand.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import urlsplit

import anyio
import uvicorn
from rich.console import Console
from starlette.types import ASGIApp

from ltigate.bootstrap import build_gateway
from ltigate.config import Settings
from ltigate.demo.app import create_demo_app
from ltigate.demo.course import LmsConfig, LmsResource
from ltigate.demo.lms import create_lms
from ltigate.demo.seed import CLIENT_ID, DEPLOYMENT_ID, RESOURCES, registration_url, seed
from ltigate.services.gateway import Gateway
from ltigate.services.resources import target_link_uri
from ltigate.web.app import create_app
from ltigate.worker import runner

HOST: Final = "127.0.0.1"
START_TIMEOUT_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class DemoUrls:
    lms_url: str
    app_url: str
    gateway_url: str
    login_url: str
    launch_url: str
    jwks_url: str
    api_key: str = field(repr=False)  # the demo app's key for the REST API


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals alone: three servers share the loop, and run_demo stops them
    together (uvicorn's own handler would stop only the last one started)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
    return sock


def _server(app: ASGIApp, port: int, lifespan: Literal["on", "off"]) -> _Server:
    return _Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan=lifespan))


def _lms_config(gateway: Gateway, lms_url: str, gateway_port: int) -> LmsConfig:
    launch_url = gateway.urls.launch_url
    return LmsConfig(
        issuer=lms_url,
        client_id=CLIENT_ID,
        deployment_id=DEPLOYMENT_ID,
        tool_login_url=gateway.urls.login_url,
        redirect_uris=(launch_url,),
        resources=tuple(
            LmsResource(r.title, target_link_uri(launch_url, r.slug), score_maximum=r.score_maximum) for r in RESOURCES
        ),
        # Like the app, the LMS reaches the gateway over loopback, whatever public base URL it has.
        tool_jwks_url=f"http://{HOST}:{gateway_port}{urlsplit(gateway.urls.jwks_url).path}",
    )


async def run_demo(
    settings: Settings,
    *,
    lms_port: int = 8001,
    app_port: int = 8002,
    ready: Callable[[DemoUrls], None] | None = None,
    stop: anyio.Event | None = None,
) -> None:
    """Serve the demo until `stop` is set or the process gets SIGINT/SIGTERM. The database must be migrated.

    Raises OSError when a port is taken, and whatever build_gateway raises (NotMigrated, StoreUnavailable).
    """
    lms_url, app_url = f"http://{HOST}:{lms_port}", f"http://{HOST}:{app_port}"
    sockets: list[socket.socket] = []
    try:
        for port in (settings.port, lms_port, app_port):
            sockets.append(_listen(port))
        gateway = await build_gateway(settings)
        try:
            api_key = await seed(gateway, lms_url=lms_url, app_url=f"{app_url}/launch")
            urls = DemoUrls(
                lms_url=lms_url,
                app_url=app_url,
                gateway_url=settings.base_url,
                login_url=gateway.urls.login_url,
                launch_url=gateway.urls.launch_url,
                jwks_url=gateway.urls.jwks_url,
                api_key=api_key,
            )
            servers = [
                _server(create_app(gateway, background=[runner.run_all]), settings.port, "on"),
                _server(
                    create_lms(
                        _lms_config(gateway, lms_url, settings.port), registration_url=await registration_url(gateway)
                    ),
                    lms_port,
                    "off",
                ),
                # The app reaches the gateway over loopback, whatever public base URL the gateway has.
                _server(create_demo_app(f"http://{HOST}:{settings.port}", api_key), app_port, "off"),
            ]
            await _serve(servers, sockets, lambda: _announce(urls, ready), stop)
        finally:
            await gateway.close()
    finally:
        for sock in sockets:
            sock.close()


def _announce(urls: DemoUrls, ready: Callable[[DemoUrls], None] | None) -> None:
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold green]Open {urls.lms_url}/ in your browser[/]  (the demo LMS; Ctrl-C stops the demo)")
    for label, url in (
        ("Tool login URL", urls.login_url),
        ("Tool launch URL", urls.launch_url),
        ("Tool key set", urls.jwks_url),
        ("Gateway API", f"{urls.gateway_url}/docs"),
        ("Demo app", f"{urls.app_url}/"),
        ("LMS gradebook", f"{urls.lms_url}/gradebook"),
    ):
        console.print(f"  {label:<16} {url}")
    if ready is not None:
        ready(urls)


async def _serve(
    servers: Sequence[_Server], sockets: Sequence[socket.socket], started: Callable[[], None], stop: anyio.Event | None
) -> None:
    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    async def serve(server: _Server, sock: socket.socket) -> None:
        try:
            await server.serve([sock])
        finally:
            stop_all()  # one server ending (or failing) ends the demo

    async with anyio.create_task_group() as watchers:
        if stop is not None:
            watchers.start_soon(_stop_when_set, stop, stop_all)
        if threading.current_thread() is threading.main_thread():
            watchers.start_soon(_stop_on_signal, servers)
        watchers.start_soon(_wait_started, servers, started)
        async with anyio.create_task_group() as serving:
            for server, sock in zip(servers, sockets, strict=True):
                serving.start_soon(serve, server, sock)
        watchers.cancel_scope.cancel()


async def _stop_when_set(stop: anyio.Event, stop_all: Callable[[], None]) -> None:
    await stop.wait()
    stop_all()


async def _stop_on_signal(servers: Sequence[_Server]) -> None:
    try:
        receiver = anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
    except NotImplementedError:  # no loop signal handlers (Windows): Ctrl-C then ends the process as usual
        return
    with receiver as signals:
        async for _ in signals:
            for server in servers:
                server.force_exit = server.should_exit  # a second Ctrl-C stops without waiting for requests
                server.should_exit = True


async def _wait_started(servers: Sequence[_Server], started: Callable[[], None]) -> None:
    with anyio.fail_after(START_TIMEOUT_SECONDS):
        while not all(server.started for server in servers):
            if any(server.should_exit for server in servers):
                return
            await anyio.sleep(0.02)
    started()
