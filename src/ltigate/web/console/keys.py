"""Console pages for the tool's signing keys (state, rotation) and the REST API's keys (create, shown once;
revoke). Private keys and API key hashes never reach a page: the pages read only public fields.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.errors import InvalidField
from ltigate.services.records import KeyPurpose
from ltigate.web.console.pages import PREFIX, Console, View

PURPOSES = {
    KeyPurpose.LTI: "LTI messages (RS256): token requests, deep linking responses. Published at the JWKS URL.",
    KeyPurpose.TICKET: "Handoff tickets to your app (ES256). Published at the ticket key set URL.",
}


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    async def list_keys(view: View) -> Response:
        keys = await gateway.tool_keys.stored()
        groups = [(purpose, text, [k for k in keys if k.purpose is purpose]) for purpose, text in PURPOSES.items()]
        return console.render(
            view.request,
            "keys.html",
            active=view.active,
            section="keys",
            groups=groups,
            overlap_hours=gateway.settings.key_overlap_hours,
            urls=gateway.urls,
        )

    async def rotate_keys(view: View) -> Response:
        try:
            purpose = KeyPurpose(view.form.get("purpose", ""))
        except ValueError:
            raise InvalidField("purpose must be 'lti' or 'ticket'", "purpose") from None
        await gateway.tool_keys.rotate(purpose)
        return console.redirect(f"{PREFIX}/keys", "keys_rotated")

    async def list_api_keys(view: View) -> Response:
        return await api_keys_page(view)

    async def api_keys_page(
        view: View, *, issued: str | None = None, error: str | None = None, status: int = 200
    ) -> Response:
        keys = await gateway.api_keys.list()
        return console.render(
            view.request,
            "api_keys.html",
            active=view.active,
            section="api_keys",
            status=status,
            keys=sorted(keys, key=lambda k: (k.revoked_at is not None, -k.created_at)),
            issued=issued,
            error=error,
            name=view.form.get("name", "") if error else "",
        )

    async def create_api_key(view: View) -> Response:
        try:
            issued = await gateway.api_keys.create(view.form.get("name", ""))
        except InvalidField as problem:
            return await api_keys_page(view, error=problem.message, status=problem.status)
        # Shown in this response only: the page is not cached (no-store) and the secret is never stored.
        return await api_keys_page(view, issued=issued.secret, status=201)

    async def revoke_api_key(view: View) -> Response:
        await gateway.api_keys.revoke(view.param("key_id"))
        return console.redirect(f"{PREFIX}/api-keys", "api_key_revoked")

    return [
        Route(f"{PREFIX}/keys", console.page(list_keys), methods=["GET"]),
        Route(f"{PREFIX}/keys/rotate", console.page(rotate_keys), methods=["POST"]),
        Route(f"{PREFIX}/api-keys", console.page(list_api_keys), methods=["GET"]),
        Route(f"{PREFIX}/api-keys", console.page(create_api_key), methods=["POST"]),
        Route(f"{PREFIX}/api-keys/{{key_id}}/revoke", console.page(revoke_api_key), methods=["POST"]),
    ]
