"""The tool registration page: ltigate's URLs ready to copy, Dynamic Registration (the registration URL, one-time
links made and revoked here, recent attempts with their cause and fix), the Canvas JSON configuration, and a
setup guide per LMS built from the LMS profiles (lti.profiles), the same data as `ltigate setup-guide`.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.lti.profiles import PROFILES, profile_named
from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.setup_guides import setup_guide
from ltigate.web.console.pages import PREFIX, Console, View
from ltigate.web.troubleshooting import advice_for

LINK_LIFETIMES: Final = (("1 day", 86400), ("7 days", 7 * 86400), ("30 days", 30 * 86400))
RECENT_ATTEMPTS: Final = 20


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    async def render(view: View, *, issued: str | None = None, error: str | None = None, status: int = 200) -> Response:
        urls = gateway.urls
        now = gateway.clock()
        links = await gateway.registration_links.list()
        attempts = await gateway.dynamic_registration.attempts(RECENT_ATTEMPTS)
        return console.render(
            view.request,
            "registration.html",
            active=view.active,
            section="registration",
            status=status,
            urls=urls,
            profiles=PROFILES,
            example_target=f"{urls.launch_url}?resource=<slug>",
            mode=gateway.settings.dynamic_registration,
            approval=gateway.settings.registration_approval,
            links=[(link, link.state(now)) for link in links],
            attempts=[(a, advice_for(a.error_code) if a.error_code else None) for a in attempts],
            lifetimes=LINK_LIFETIMES,
            issued=issued,
            error=error,
        )

    async def registration(view: View) -> Response:
        return await render(view)

    async def create_link(view: View) -> Response:
        lifetime = view.form.get("expires", "")
        seconds = dict((str(s), s) for _, s in LINK_LIFETIMES).get(lifetime)
        if seconds is None:
            return await render(view, error=f"the lifetime '{lifetime[:20]}' is not offered", status=422)
        try:
            issued = await gateway.registration_links.create(view.form.get("note", ""), float(seconds))
        except InvalidField as error:
            return await render(view, error=error.message, status=error.status)
        return await render(view, issued=issued.url)

    async def revoke_link(view: View) -> Response:
        await gateway.registration_links.revoke(view.param("link_id"))
        return console.redirect(f"{PREFIX}/registration", "registration_link_revoked")

    async def guide(view: View) -> Response:
        profile = profile_named(view.param("lms"))
        if profile is None:
            raise NotFound(f"there is no setup guide for '{view.param('lms')[:40]}'")
        return console.render(
            view.request,
            "guide.html",
            active=view.active,
            section="registration",
            guide=setup_guide(profile, gateway.urls, gateway.settings.dynamic_registration),
        )

    return [
        Route(f"{PREFIX}/registration", console.page(registration), methods=["GET"]),
        Route(f"{PREFIX}/registration/links", console.page(create_link), methods=["POST"]),
        Route(f"{PREFIX}/registration/links/{{link_id}}/revoke", console.page(revoke_link), methods=["POST"]),
        Route(f"{PREFIX}/registration/guides/{{lms}}", console.page(guide), methods=["GET"]),
    ]
