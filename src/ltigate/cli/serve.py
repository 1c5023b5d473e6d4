"""`ltigate serve` (the ASGI app under uvicorn, the worker inside; with --workers N, N such processes under
a supervisor) and `ltigate worker` (score delivery and housekeeping alone)."""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Annotated, Final

import typer
import uvicorn
from starlette.types import ASGIApp

from ltigate.cli import output, supervisor
from ltigate.cli.command import BaseUrl, DatabaseUrl, DataDir, reported_errors, with_gateway
from ltigate.cli.info import print_urls
from ltigate.config import Settings, load_settings
from ltigate.logs import configure as configure_logging
from ltigate.services.gateway import Gateway
from ltigate.web.app import Background, create_app
from ltigate.worker import housekeeping, runner

# uvicorn's own code for "the server did not start" (lifespan startup failed).
EXIT_STARTUP_FAILURE: Final = supervisor.EXIT_STARTUP_FAILURE
# Used by --proxy-headers when no LTIGATE_TRUSTED_PROXIES are set: uvicorn's own default.
LOOPBACK_PROXY: Final = "127.0.0.1"

Host = Annotated[str | None, typer.Option("--host", help="Address to bind. Env: LTIGATE_HOST.", show_default=False)]
Port = Annotated[int | None, typer.Option("--port", help="Port to listen on. Env: LTIGATE_PORT.", show_default=False)]
NoWorker = Annotated[
    bool,
    typer.Option(
        "--no-worker",
        help="Do not deliver scores or run housekeeping in the server process(es); they still reload the "
        "tool keys every minute.",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Server processes accepting on one socket, each with its own connections and (unless --no-worker) "
        "its own score delivery. Env: LTIGATE_WORKERS.",
        show_default=False,
    ),
]
ProxyHeaders = Annotated[
    bool | None,
    typer.Option(
        "--proxy-headers/--no-proxy-headers",
        help="Trust X-Forwarded-* from the trusted proxies. Default: on when trusted proxies are set.",
        show_default=False,
    ),
]
ForwardedAllowIps = Annotated[
    str | None,
    typer.Option(
        "--forwarded-allow-ips",
        help="Comma-separated proxy addresses or networks to trust. Env: LTIGATE_TRUSTED_PROXIES.",
        show_default=False,
    ),
]


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def event_loop(settings: Settings) -> str:
    """The server's event loop: as set, where "auto" is uvloop on PostgreSQL (asyncpg is much cheaper on it)
    and the standard loop on SQLite (steadier latency); the standard loop when uvloop is not installed."""
    chosen = settings.event_loop
    if chosen == "auto":
        chosen = "uvloop" if settings.database_url.startswith("postgresql") else "asyncio"
    return "uvloop" if chosen == "uvloop" and _available("uvloop") else "asyncio"


def _loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The server's event loop: the standard one unless uvloop is asked for (and installed)."""
    if event_loop(settings) != "uvloop":
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = importlib.import_module("uvloop").new_event_loop
    return factory


def server_config(app: ASGIApp, settings: Settings, proxy_headers: bool) -> uvicorn.Config:
    forwarded = ",".join(settings.trusted_proxies) or LOOPBACK_PROXY
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded if proxy_headers else None,
        log_level=settings.log_level,
        access_log=False,
        http="httptools" if _available("httptools") else "h11",
        loop=event_loop(settings),
        lifespan="on",
        log_config=None,  # uvicorn's loggers go through ours (ltigate.logs): JSON lines with request ids
    )


def background_tasks(*, run_worker: bool, supervised: bool = False) -> list[Background]:
    """What a server process runs beside the app: the worker (score delivery and housekeeping, which
    reloads the tool keys), or with --no-worker the key reload alone, so it signs with and publishes the
    keys `ltigate keys rotate` changed in another process; under `--workers N`, also the publishing of its
    metrics for the other processes' scrapes."""
    tasks: list[Background] = [runner.run_all] if run_worker else [housekeeping.refresh_keys]
    return [*tasks, housekeeping.publish_metrics] if supervised else tasks


def serve(
    host: Host = None,
    port: Port = None,
    no_worker: NoWorker = False,
    proxy_headers: ProxyHeaders = None,
    forwarded_allow_ips: ForwardedAllowIps = None,
    workers: Workers = None,
    *,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    base_url: BaseUrl = None,
) -> None:
    """Serve the LTI endpoints, the REST API and the health checks."""
    with reported_errors():
        # Not with_global_options: --host, --port and --forwarded-allow-ips are settings too (the default
        # base URL follows host and port), so every flag goes through load_settings at once.
        settings = load_settings(
            data_dir=data_dir,
            database_url=database_url,
            base_url=base_url,
            host=host,
            port=port,
            trusted_proxies=forwarded_allow_ips,
            workers=workers,
        )
        trust_proxies = bool(settings.trusted_proxies) if proxy_headers is None else proxy_headers
        if settings.workers > 1:
            status = _supervise(settings, run_worker=not no_worker, proxy_headers=trust_proxies)
            if status:
                raise typer.Exit(status)
            return
        try:
            with asyncio.Runner(loop_factory=_loop_factory(settings)) as runner:
                started = runner.run(_serve(settings, run_worker=not no_worker, proxy_headers=trust_proxies))
        except KeyboardInterrupt:
            return
    if not started:
        raise typer.Exit(EXIT_STARTUP_FAILURE)


def _supervise(settings: Settings, *, run_worker: bool, proxy_headers: bool) -> int:
    """`serve --workers N`: N server processes on one socket bound here; returns the exit status.

    Every process runs the worker (unless --no-worker): score jobs are claimed atomically under a lease, so
    no job is delivered twice; a score queued through one process wakes that process's own delivery at
    once; and housekeeping is also what reloads the tool keys after `ltigate keys rotate`, which every
    process that signs must do.
    """
    configure_logging(settings.log_level, settings.log_format)
    try:
        listener = supervisor.listen(settings.host, settings.port)
    except OSError as error:
        output.print_error("listen_failed", f"cannot listen on {settings.host}:{settings.port}: {error.strerror}")
        return EXIT_STARTUP_FAILURE

    def announce() -> None:
        print_urls(settings)
        output.print_line(
            f"Listening on http://{settings.host}:{settings.port} with {settings.workers} server processes "
            "(Ctrl-C stops)",
            style="dim",
        )

    # The processes' metrics meet here, so a scrape any of them answers sums all (cache/process_metrics.py).
    with listener, tempfile.TemporaryDirectory(prefix="ltigate-metrics-") as metrics_dir:
        target = functools.partial(_serve_process, settings, run_worker, proxy_headers, Path(metrics_dir))
        return supervisor.Supervisor(target, settings.workers, listener).run(on_ready=announce)


def _serve_process(
    settings: Settings,
    run_worker: bool,
    proxy_headers: bool,
    metrics_dir: Path,
    listener: socket.socket,
    link: Connection,
) -> None:
    """One server process of `serve --workers N` (spawned by the supervisor): what `ltigate serve` runs, on
    the supervisor's socket, exiting with the status `ltigate serve` would."""
    try:
        with reported_errors(), asyncio.Runner(loop_factory=_loop_factory(settings)) as loop:
            started = loop.run(
                _serve(
                    settings,
                    run_worker=run_worker,
                    proxy_headers=proxy_headers,
                    supervised=(listener, link, metrics_dir),
                )
            )
    except typer.Exit as stop:
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:
        return
    if not started:
        sys.exit(EXIT_STARTUP_FAILURE)


async def _serve(
    settings: Settings,
    *,
    run_worker: bool,
    proxy_headers: bool,
    supervised: tuple[socket.socket, Connection, Path] | None = None,
) -> bool:
    """Run uvicorn until a signal stops it (on the supervisor's socket, sharing metrics through the
    directory, when `supervised`); False when the server never started."""
    from ltigate.bootstrap import build_gateway  # see with_gateway: the adapters load on use

    configure_logging(settings.log_level, settings.log_format)
    # The gateway's connections belong to this event loop, so it is built here, where uvicorn runs.
    gateway = await build_gateway(settings, metrics_dir=supervised[2] if supervised is not None else None)
    try:
        app = create_app(gateway, background=background_tasks(run_worker=run_worker, supervised=supervised is not None))
        config = server_config(app, settings, proxy_headers)
        if supervised is not None:
            listener, link, _ = supervised
            server: uvicorn.Server = supervisor.SupervisedServer(config, link)
            await server.serve(sockets=[listener])
            return server.started
        server = uvicorn.Server(config)
        print_urls(settings)
        output.print_line(f"Listening on http://{settings.host}:{settings.port} (Ctrl-C stops)", style="dim")
        await server.serve()
        return server.started
    finally:
        await gateway.close()  # the app's lifespan closes it too; closing twice is harmless


def worker(settings: Settings) -> None:
    """Deliver queued scores and run housekeeping (expired login states, key reloads) until SIGINT or
    SIGTERM; deliveries in flight finish first."""
    configure_logging(settings.log_level, settings.log_format)

    async def work(gateway: Gateway) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        output.print_line("Worker running (Ctrl-C stops)", style="dim")
        chores = asyncio.create_task(runner.run_all(gateway))
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({chores, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            chores.cancel()
            stopped.cancel()
            with suppress(asyncio.CancelledError):
                await chores
        output.print_line("Worker stopped", style="dim")

    with_gateway(settings, work)
