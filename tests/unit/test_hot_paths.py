"""HotPaths: the launch's two endpoints skip FastAPI's stack, yet answer as the app would otherwise."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ltigate.web.app import HotPaths
from ltigate.web.errors import unexpected_error


def app() -> HotPaths:
    async def login(request: Request) -> Response:
        return PlainTextResponse(f"login {request.method} {request.query_params.get('iss')}")

    async def launch(request: Request) -> Response:
        raise RuntimeError("boom")

    async def other(request: Request) -> Response:
        return PlainTextResponse("other")

    fastapi = FastAPI()
    fastapi.add_exception_handler(Exception, unexpected_error)
    fastapi.router.routes.extend(
        [
            Route("/lti/login", login, methods=["GET", "POST"]),
            Route("/lti/launch", launch, methods=["POST"]),
            Route("/other", other),
        ]
    )
    return HotPaths(fastapi)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_hot_and_other_paths(anyio_backend: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://gate.test") as client:
        assert (await client.get("/lti/login?iss=x")).text == "login GET x"
        assert (await client.post("/lti/login")).text == "login POST None"
        assert (await client.get("/other")).text == "other"
        # A method the hot route does not take falls through to FastAPI, which answers 405.
        assert (await client.get("/lti/launch")).status_code == 405
        # An unexpected error in a hot endpoint is the app's coded 500, not a traceback or a dropped connection.
        failed = await client.post("/lti/launch")
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "internal_error"
        assert "boom" not in failed.text
