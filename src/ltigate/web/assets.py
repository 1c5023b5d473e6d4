"""The static files of the pages ltigate shows to browsers outside the console (launch, deep linking,
registration): served from one place, `/lti/assets/<name>`, so those pages run no inline script and load
nothing from elsewhere. URLs carry a hash of the content (`?v=`), so a cached copy is never stale for long.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH: Final = "/lti/assets"
FILES: Final = {
    "autopost.js": "text/javascript",  # posts a deep-linking response to the LMS
    "platform-storage.js": "text/javascript",  # state and nonce in the LMS's postMessage storage
    "registration.js": "text/javascript",  # closes the LMS's Dynamic Registration frame or tab
    "logo.svg": "image/svg+xml",  # the tool's logo, sent in registrations
}
_BODIES: Final = {name: resources.files("ltigate.web").joinpath("static", name).read_bytes() for name in FILES}
_VERSIONS: Final = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in _BODIES.items()}


def asset_path(name: str) -> str:
    """The path (with its content version) of one of FILES; a KeyError for anything else."""
    return f"{PATH}/{name}?v={_VERSIONS[name]}"


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return Response(_BODIES[name], media_type=FILES[name], headers=headers)


def routes() -> list[Route]:
    return [Route(PATH + "/{name}", _asset, methods=["GET"])]
