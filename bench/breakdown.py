"""Where the server's time per launch goes, measured in one process without sockets: the same complete
two-step launches as bench/launch.py, driven (1) straight through the use cases (LoginService.begin and
LaunchService.complete) and (2) through the ASGI app (FastAPI, the plain Starlette LTI routes, forms,
cookies). The generator's token signing is timed apart and left out of the figures.

    .venv/bin/python bench/breakdown.py [--launches 3000] [--concurrency 32] [--database-url ...]
                                        [--profile services|asgi]

CPU figures are process CPU (all threads, so the database driver's thread counts) per launch. The gap
between (2) and the server CPU per launch of bench/launch.py is uvicorn, HTTP parsing and the kernel.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from harness import Database, free_port
from lms import KeySetServer, Lms
from target import APP_URL, RESOURCE, ServedGateway

from ltigate.bootstrap import build_gateway
from ltigate.config import load_settings
from ltigate.services.gateway import Gateway
from ltigate.services.launch import CookieBinding, LaunchForm
from ltigate.web.app import create_app

Launch = Callable[[int], Awaitable[float]]  # runs one launch for user n; returns seconds spent signing


def through_services(gateway: Gateway, lms: Lms) -> Launch:
    target = f"{gateway.urls.launch_url}?resource={RESOURCE}"

    async def launch(user: int) -> float:
        params = {
            "iss": lms.issuer,
            "login_hint": f"user-{user}",
            "target_link_uri": target,
            "client_id": lms.client_id,
            "lti_deployment_id": lms.deployment_id,
        }
        redirect = await gateway.login.begin(params)
        nonce = parse_qs(urlsplit(redirect.url).query)["nonce"][0]
        began = time.perf_counter()
        token = lms.token(lms.claims(nonce=nonce, target_link_uri=target, user=user))
        signing = time.perf_counter() - began
        done = await gateway.launch.complete(
            LaunchForm(id_token=token, state=redirect.state), CookieBinding(redirect.state)
        )
        assert done.redirect_url.startswith(APP_URL)
        return signing

    return launch


class _Exchange:
    """One request to an ASGI app, with the response's status and headers kept."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.status = 0
        self.headers: dict[bytes, bytes] = {}

    async def receive(self) -> dict[str, object]:
        return {"type": "http.request", "body": self._body, "more_body": False}

    async def send(self, message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])  # type: ignore[call-overload]
            self.headers = dict(message["headers"])  # type: ignore[call-overload]


def _scope(path: str, query: str, body: bytes, cookie: str | None, port: int) -> dict[str, object]:
    headers = [
        (b"host", f"127.0.0.1:{port}".encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
    ]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", port),
        "state": {},
    }


def through_asgi(gateway: Gateway, lms: Lms) -> Launch:
    app = create_app(gateway)
    port = gateway.settings.port
    target = f"{gateway.urls.launch_url}?resource={RESOURCE}"

    async def post(path: str, form: str, cookie: str | None = None) -> _Exchange:
        body = form.encode()
        exchange = _Exchange(body)
        await app(_scope(path, "", body, cookie, port), exchange.receive, exchange.send)  # type: ignore[arg-type]
        return exchange

    async def launch(user: int) -> float:
        login_form = urlencode(
            {
                "iss": lms.issuer,
                "login_hint": f"user-{user}",
                "target_link_uri": target,
                "client_id": lms.client_id,
                "lti_deployment_id": lms.deployment_id,
            }
        )
        login = await post("/lti/login", login_form)
        assert login.status == 302, login.status
        query = parse_qs(urlsplit(login.headers[b"location"].decode()).query)
        state, nonce = query["state"][0], query["nonce"][0]
        cookie = login.headers[b"set-cookie"].decode().split(";", 1)[0]
        began = time.perf_counter()
        token = lms.token(lms.claims(nonce=nonce, target_link_uri=target, user=user))
        signing = time.perf_counter() - began
        done = await post("/lti/launch", urlencode({"id_token": token, "state": state}), cookie)
        assert done.status == 303, done.status
        return signing

    return launch


async def drive(launch: Launch, launches: int, concurrency: int) -> tuple[float, float, float]:
    """Run `launches` launches over `concurrency` tasks; (wall s, CPU s, signing s) excluding nothing else."""
    remaining = launches
    signing = 0.0

    async def user(n: int) -> None:
        nonlocal remaining, signing
        while remaining > 0:
            remaining -= 1
            spent = await launch(n)
            signing += spent

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(user(n) for n in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu, signing


async def main(args: argparse.Namespace, workdir: Path) -> None:
    lms = Lms()
    jwks = KeySetServer(lms)
    lms.base_url = await jwks.start()
    database = await Database.create(args.database_url)
    served = ServedGateway(data_dir=workdir / "data", port=free_port(), database=database)
    try:
        served.migrate()
        await served.seed(lms.issuer, lms.client_id, lms.deployment_id, lms.base_url)
        gateway = await build_gateway(load_settings(env=served.env))
        try:
            for name, make in (("services", through_services), ("asgi", through_asgi)):
                launch = make(gateway, lms)
                await drive(launch, 200, args.concurrency)  # warm caches: JWKS, registrations, statements
                profiler = cProfile.Profile() if args.profile == name else None
                if profiler:
                    profiler.enable()
                wall, cpu, signing = await drive(launch, args.launches, args.concurrency)
                if profiler:
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
                per = 1e6 / args.launches
                print(
                    f"{name:9s} {args.launches / wall:7.0f} launches/s   "
                    f"server CPU {(cpu - signing) * per:6.0f} µs/launch   "
                    f"(signing by the LMS, left out: {signing * per:.0f} µs/launch)"
                )
        finally:
            await gateway.close()
    finally:
        await jwks.close()
        await database.drop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default=None, help="PostgreSQL admin URL; default SQLite")
    parser.add_argument("--profile", choices=("services", "asgi"), default=None, help="cProfile one of the two")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (default tottime)")
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    factory = None
    if arguments.loop == "uvloop" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        factory = uvloop.new_event_loop
    with (
        tempfile.TemporaryDirectory(prefix="ltigate-breakdown-") as tmp,
        asyncio.Runner(loop_factory=factory) as runner,
    ):
        runner.run(main(arguments, Path(tmp)))
