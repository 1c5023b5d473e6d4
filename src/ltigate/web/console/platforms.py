"""Console pages for platforms: the list with seats, add, edit, deployments (approve, reject, remove), and
switching a platform off and on. Every change drops the registration cache of this process.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.errors import Conflict, InvalidField, ServiceError
from ltigate.services.records import DeploymentStatus, Platform, PlatformFields
from ltigate.services.seats import usage_of
from ltigate.web.console.pages import PREFIX, Console, View
from ltigate.web.console.platform_form import (
    ADD_DEPLOYMENTS,
    EMPTY,
    GROUPS,
    PLATFORM_FIELDS,
    POLICIES,
    form_values,
    parse_platform_form,
    submitted_values,
)

DECISIONS = {"approve": DeploymentStatus.APPROVED, "reject": DeploymentStatus.REJECTED}


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    def form_page(
        view: View,
        *,
        platform: Platform | None,
        values: dict[str, object],
        errors: dict[str, str] | None = None,
        problem: str | None = None,
        status: int = 200,
    ) -> Response:
        return console.render(
            view.request,
            "platform.html",
            active=view.active,
            section="platforms",
            status=status,
            platform=platform,
            seats=usage_of(platform) if platform else None,
            fields=PLATFORM_FIELDS,
            add_deployments=ADD_DEPLOYMENTS,
            groups=GROUPS,
            policies=POLICIES,
            values=values,
            errors=errors or {},
            problem=problem,
            launch_url=gateway.urls.launch_url,
        )

    def refused(view: View, platform: Platform | None, error: ServiceError) -> Response:
        """The form again, with the error next to the field it names."""
        values = submitted_values(view.form)
        if isinstance(error, (InvalidField, Conflict)) and error.field in values:
            return form_page(
                view, platform=platform, values=values, errors={error.field: error.message}, status=error.status
            )
        return form_page(view, platform=platform, values=values, problem=error.message, status=error.status)

    async def list_platforms(view: View) -> Response:
        platforms = await gateway.platforms.list()
        rows = [
            (
                p,
                usage_of(p),
                sum(d.status is DeploymentStatus.PENDING for d in p.deployments),
            )
            for p in platforms
        ]
        return console.render(view.request, "platforms.html", active=view.active, section="platforms", rows=rows)

    async def new_platform(view: View) -> Response:
        return form_page(view, platform=None, values=form_values(EMPTY, with_deployments=True))

    async def create_platform(view: View) -> Response:
        try:
            platform = await gateway.platforms.create(parse_platform_form(view.form))
        except (InvalidField, Conflict) as error:
            return refused(view, None, error)
        gateway.registrations.invalidate()
        return console.redirect(f"{PREFIX}/platforms/{platform.id}", "platform_created")

    async def show_platform(view: View) -> Response:
        platform = await gateway.platforms.get(view.param("platform_id"))
        return form_page(view, platform=platform, values=form_values(platform.fields, with_deployments=False))

    async def save_platform(view: View) -> Response:
        platform = await gateway.platforms.get(view.param("platform_id"))
        try:
            fields: PlatformFields = parse_platform_form(view.form, platform.fields)
            await gateway.platforms.update(platform.id, fields)
        except (InvalidField, Conflict) as error:
            return refused(view, platform, error)
        gateway.registrations.invalidate()
        return console.redirect(f"{PREFIX}/platforms/{platform.id}", "platform_saved")

    async def decide_deployment(view: View) -> Response:
        platform_id = view.param("platform_id")
        deployment_id = view.form.get("deployment_id", "")
        decision = view.form.get("decision", "")
        if decision == "remove":
            await gateway.platforms.remove_deployment(platform_id, deployment_id)
            notice = "deployment_removed"
        elif decision in DECISIONS:
            await gateway.platforms.decide_deployment(platform_id, deployment_id, DECISIONS[decision])
            notice = f"deployment_{decision}d"
        else:
            raise InvalidField(f"decision '{decision[:20]}' is not approve, reject or remove", "decision")
        gateway.registrations.invalidate()
        return console.redirect(f"{PREFIX}/platforms/{platform_id}", notice)

    async def switch_platform(view: View) -> Response:
        active = view.form.get("active") == "1"
        platform = await gateway.platforms.set_active(view.param("platform_id"), active)
        gateway.registrations.invalidate()
        notice = "platform_activated" if active else "platform_deactivated"
        return console.redirect(f"{PREFIX}/platforms/{platform.id}", notice)

    async def approve_platform(view: View) -> Response:
        platform = await gateway.platforms.approve(view.param("platform_id"))
        gateway.registrations.invalidate()
        return console.redirect(f"{PREFIX}/platforms/{platform.id}", "platform_approved")

    return [
        Route(f"{PREFIX}/platforms", console.page(list_platforms), methods=["GET"]),
        Route(f"{PREFIX}/platforms/{{platform_id}}/approve", console.page(approve_platform), methods=["POST"]),
        Route(f"{PREFIX}/platforms", console.page(create_platform), methods=["POST"]),
        Route(f"{PREFIX}/platforms/new", console.page(new_platform), methods=["GET"]),
        Route(f"{PREFIX}/platforms/{{platform_id}}", console.page(show_platform), methods=["GET"]),
        Route(f"{PREFIX}/platforms/{{platform_id}}", console.page(save_platform), methods=["POST"]),
        Route(f"{PREFIX}/platforms/{{platform_id}}/deployments", console.page(decide_deployment), methods=["POST"]),
        Route(f"{PREFIX}/platforms/{{platform_id}}/active", console.page(switch_platform), methods=["POST"]),
    ]
