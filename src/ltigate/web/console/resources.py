"""Console pages for resources: the list with each target link URI ready to copy, a picker that shows one
resource's URI, and the add and edit forms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.errors import Conflict, InvalidField, ServiceError
from ltigate.services.records import Resource, ResourceFields
from ltigate.services.resources import target_link_uri
from ltigate.web.console.fields import FieldHelp
from ltigate.web.console.pages import PREFIX, Console, View

RESOURCE_FIELDS: Final = (
    FieldHelp(
        "slug",
        "Slug",
        "The resource's name in its target link URI: letters, digits, '.', '_', '~', '-', and '/' between parts. "
        "Changing it later breaks the links already entered in LMSs.",
        placeholder="org/course/quiz-1",
        required=True,
    ),
    FieldHelp("title", "Title", "What people see: here, and as the gradebook column's label.", required=True),
    FieldHelp(
        "app_url",
        "App URL",
        "Where a verified launch sends the browser, with ?ticket=<handoff ticket> added.",
        placeholder="https://app.example.com/lti",
        kind="url",
        required=True,
    ),
    FieldHelp("description", "Description", "Optional; for administrators and deep linking.", kind="textarea"),
    FieldHelp(
        "score_maximum",
        "Maximum score",
        "For graded resources: the maximum of the gradebook column ltigate creates. Empty: not graded.",
        kind="decimal",
    ),
    FieldHelp(
        "picker",
        "The app picks content",
        "Deep-linking launches to this resource go to the app, which offers its own catalogue and answers "
        "through the API. Off: ltigate shows its own picker of resources.",
        kind="checkbox",
    ),
    FieldHelp(
        "review_url",
        "Submission review URL",
        "Where an instructor reviewing a learner's submission lands. Empty: the app URL with review=1.",
        placeholder="https://app.example.com/review",
        kind="url",
    ),
    FieldHelp(
        "custom",
        "Custom parameters",
        "Sent with items added by deep linking; the LMS sends them back on every launch. One NAME=VALUE per line.",
        kind="textarea",
    ),
    FieldHelp("tag", "Line item tag", "The gradebook column's tag for items added by deep linking (optional)."),
)


def _values(fields: ResourceFields) -> dict[str, object]:
    maximum = fields.score_maximum
    shown = "" if maximum is None else (f"{maximum:g}")
    return {
        "slug": fields.slug,
        "title": fields.title,
        "app_url": fields.app_url,
        "description": fields.description,
        "score_maximum": shown,
        "picker": fields.picker,
        "review_url": fields.review_url or "",
        "custom": "\n".join(f"{k}={v}" for k, v in fields.custom.items()),
        "tag": fields.tag or "",
    }


def parse_resource_form(form: Mapping[str, str], slug: str | None = None) -> ResourceFields:
    raw = form.get("score_maximum", "").strip()
    maximum: float | None = None
    if raw:
        try:
            maximum = float(raw)
        except ValueError:
            maximum = math.nan
        if not math.isfinite(maximum) or maximum <= 0:
            raise InvalidField(f"maximum score '{raw[:20]}' is not a number above 0", "score_maximum")
    return ResourceFields(
        slug=slug if slug is not None else form.get("slug", "").strip(),
        title=form.get("title", ""),
        app_url=form.get("app_url", ""),
        description=form.get("description", "").replace("\r\n", "\n"),
        score_maximum=maximum,
        picker=form.get("picker") in ("on", "true", "1"),
        review_url=form.get("review_url", "").strip() or None,
        custom=_custom_lines(form.get("custom", "")),
        tag=form.get("tag", "").strip() or None,
    )


def _custom_lines(text: str) -> dict[str, str]:
    custom: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InvalidField(f"custom parameter line '{line[:60]}' is not NAME=VALUE", "custom")
        custom[name.strip()] = value.strip()
    return custom


def routes(console: Console) -> list[Route]:
    gateway = console.gateway

    def uri(resource: Resource) -> str:
        return target_link_uri(gateway.urls.launch_url, resource.fields.slug)

    def form_page(
        view: View, resource: Resource | None, values: Mapping[str, object], error: ServiceError | None = None
    ) -> Response:
        errors: dict[str, str] = {}
        problem = None
        if error is not None:
            if error.field in {f.name for f in RESOURCE_FIELDS}:
                errors[error.field or ""] = error.message
            else:
                problem = error.message
        return console.render(
            view.request,
            "resource.html",
            active=view.active,
            section="resources",
            status=error.status if error else 200,
            resource=resource,
            target_link_uri=uri(resource) if resource else None,
            fields=RESOURCE_FIELDS,
            values=values,
            errors=errors,
            problem=problem,
        )

    async def list_resources(view: View) -> Response:
        resources = await gateway.resources.list()
        picked_slug = view.query.get("resource")
        picked = next((r for r in resources if r.fields.slug == picked_slug), resources[0] if resources else None)
        return console.render(
            view.request,
            "resources.html",
            active=view.active,
            section="resources",
            rows=[(r, uri(r)) for r in resources],
            picked=picked,
            picked_uri=uri(picked) if picked else "",
            pattern=f"{gateway.urls.launch_url}?resource=<slug>",
        )

    async def new_resource(view: View) -> Response:
        return form_page(view, None, {})

    async def create_resource(view: View) -> Response:
        try:
            resource = await gateway.resources.create(parse_resource_form(view.form))
        except (InvalidField, Conflict) as error:
            return form_page(view, None, view.form, error)
        return console.redirect(f"{PREFIX}/resources", "resource_created", resource=resource.fields.slug)

    async def edit_resource(view: View) -> Response:
        resource = await gateway.resources.get(view.param("slug"))
        return form_page(view, resource, _values(resource.fields))

    async def save_resource(view: View) -> Response:
        resource = await gateway.resources.get(view.param("slug"))
        try:
            await gateway.resources.update(resource.fields.slug, parse_resource_form(view.form, resource.fields.slug))
        except (InvalidField, Conflict) as error:
            return form_page(view, resource, {**view.form, "slug": resource.fields.slug}, error)
        return console.redirect(f"{PREFIX}/resources", "resource_saved", resource=resource.fields.slug)

    return [
        Route(f"{PREFIX}/resources", console.page(list_resources), methods=["GET"]),
        Route(f"{PREFIX}/resources", console.page(create_resource), methods=["POST"]),
        Route(f"{PREFIX}/resources/new", console.page(new_resource), methods=["GET"]),
        Route(f"{PREFIX}/resources/edit/{{slug:path}}", console.page(edit_resource), methods=["GET"]),
        Route(f"{PREFIX}/resources/edit/{{slug:path}}", console.page(save_resource), methods=["POST"]),
    ]
