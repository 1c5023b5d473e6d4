"""Builds the ASGI application from an assembled Gateway; nothing happens at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ltigate import __version__
from ltigate.logs import REQUEST_ID, REQUEST_ID_HEADER, request_id
from ltigate.lti.errors import LtiError
from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway
from ltigate.services.metrics import Metrics
from ltigate.web import api, assets, console, deep_linking, grades_api, lti_endpoints, registration, seats_api
from ltigate.web.errors import api_error, json_error, unexpected_error


def templates() -> Environment:
    return Environment(
        loader=PackageLoader("ltigate.web", "templates"), autoescape=select_autoescape(), enable_async=False
    )


Background = Callable[[Gateway], Coroutine[Any, Any, None]]
# The two requests of every launch skip FastAPI's middleware and router (HotPaths).
HOT_PATHS: Final = ("/lti/login", "/lti/launch")


class HotPaths:
    """The ASGI app as served: requests for HOT_PATHS, in the methods their routes take, go straight to their
    endpoints (plain ASGI apps that turn every gateway error into a page themselves, web.hot_path); everything
    else, and the lifespan, to the FastAPI app. Saves ~0.1 ms of CPU per launch (middleware stack and route
    matching, twice)."""

    def __init__(self, app: FastAPI, metrics: Metrics | None = None) -> None:
        self.fastapi, self._metrics = app, metrics
        self._hot: dict[str, tuple[frozenset[str], ASGIApp]] = {
            route.path: (frozenset(route.methods or ()), route.app)
            for route in app.router.routes
            if isinstance(route, Route) and route.path in HOT_PATHS
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        # Every log line of this request carries its id; the answer names it (X-Request-ID).
        rid = request_id(_header(scope, _REQUEST_ID_HEADER))
        token = REQUEST_ID.set(rid)
        answer = _Answer(send, rid)
        try:
            hot = self._hot.get(scope["path"])
            if hot is None or scope["method"] not in hot[0]:
                await self.fastapi(scope, receive, answer)
            else:
                await self._serve(hot[1], scope, receive, answer)
        finally:
            REQUEST_ID.reset(token)

    async def _serve(self, endpoint: ASGIApp, scope: Scope, receive: Receive, answer: _Answer) -> None:
        began = time.perf_counter()
        scope.setdefault("app", self.fastapi)
        try:
            await endpoint(scope, receive, answer)
        except Exception as exc:  # as FastAPI's own last-resort handler: logged, a coded 500, never a trace
            if answer.started:
                raise
            response = await unexpected_error(Request(scope, receive), exc)
            await response(scope, receive, answer)
        finally:
            if self._metrics is not None:
                self._metrics.request_seconds.observe(time.perf_counter() - began, scope["path"])


_REQUEST_ID_HEADER: Final = REQUEST_ID_HEADER.encode()


class _Answer:
    """The `send` of a request, and its only wrapper: names the request id in the answer's headers and notes
    whether the answer has started (after which a failure can no longer become a 500 page)."""

    __slots__ = ("_send", "_stamp", "started")

    def __init__(self, send: Send, rid: str) -> None:
        self._send, self._stamp, self.started = send, (_REQUEST_ID_HEADER, rid.encode()), False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            message["headers"] = [*message.get("headers", ()), self._stamp]
        await self._send(message)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def create_app(gateway: Gateway, *, background: Sequence[Background] = ()) -> HotPaths:
    """The gateway's ASGI app; `background` tasks (e.g. housekeeping) run for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            for task in background:
                tasks.start_soon(task, gateway)
            yield
            tasks.cancel_scope.cancel()
        await gateway.close()

    app = FastAPI(
        title="ltigate",
        version=__version__,
        description="LTI 1.3 gateway: platforms, resources, launches. "
        "Authenticate with `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    env = templates()

    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, (LtiError, ServiceError))
        return api_error(exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return json_error("invalid_request", f"{where or 'request'}: {first.get('msg', 'invalid')}", 422, where or None)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = json_error(code, str(exc.detail), exc.status_code)
        response.headers.update(exc.headers or {})  # a 405's Allow (RFC 9110 §15.5.6)
        return response

    app.add_exception_handler(LtiError, gateway_error)
    app.add_exception_handler(ServiceError, gateway_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)

    for route in lti_endpoints.routes(gateway, env):
        app.router.routes.append(route)
    app.router.routes.extend(console.routes(gateway))
    app.router.routes.extend(deep_linking.routes(gateway, env))
    app.router.routes.extend(assets.routes())
    app.router.routes.extend(registration.routes(gateway, env))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await gateway.check_ready()
        except ServiceError as error:
            return json_error(error.code, error.message, 503)
        return JSONResponse({"status": "ready"})

    app.router.routes.append(Route("/healthz", healthz, methods=["GET"]))
    app.router.routes.append(Route("/readyz", readyz, methods=["GET"]))
    app.include_router(api.router(gateway))
    app.include_router(grades_api.router(gateway))
    app.include_router(seats_api.router(gateway))
    app.include_router(deep_linking.api_router(gateway, env))

    async def metrics() -> Response:
        """Prometheus metrics of this process (and of the others of its `serve --workers N`); scraped with an
        API key (`Authorization: Bearer <key>`)."""
        body = await gateway.metrics.render()
        return Response(
            body, media_type="text/plain; version=0.0.4; charset=utf-8", headers={"Cache-Control": "no-store"}
        )

    app.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        dependencies=[Depends(api.authenticator(gateway))],
        include_in_schema=False,
        response_class=Response,
    )
    return HotPaths(app, gateway.metrics)


class DeferredApp:
    """An ASGI app that builds its Gateway at lifespan startup, inside the server's event loop.

    Database and HTTP connections belong to the loop that made them, so a server (uvicorn, a test
    thread, each of several worker processes) must build the gateway in its own loop.
    """

    def __init__(self, build: Callable[[], Awaitable[Gateway]], *, background: Sequence[Background] = ()) -> None:
        self._build, self._background = build, background
        self._app: HotPaths | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self._app is None:
            raise RuntimeError("the gateway is not started: the server must run the ASGI lifespan")
        await self._app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            gateway = await self._build()
            self._app = create_app(gateway, background=self._background)
            context = self._app.fastapi.router.lifespan_context(self._app.fastapi)
            await context.__aenter__()
        except Exception as exc:  # reported to the server, which stops with this message
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        await context.__aexit__(None, None, None)
        await send({"type": "lifespan.shutdown.complete"})
