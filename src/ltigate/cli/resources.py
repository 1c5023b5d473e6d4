"""`ltigate resources`: what launches open. Each resource's target link URI is printed for the LMS side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

import typer

from ltigate.cli import output
from ltigate.cli.command import Json, with_gateway, with_global_options
from ltigate.config import Settings
from ltigate.services.gateway import Gateway, ToolUrls
from ltigate.services.records import Resource, ResourceFields
from ltigate.services.resources import target_link_uri
from ltigate.web.schemas import ResourceOut

Slug = Annotated[str, typer.Argument(help="The resource's slug; may hold '/', e.g. org/project/device.")]
TITLE = typer.Option("--title", help="The title shown to people.")
APP_URL = typer.Option("--app-url", help="The app URL a launch opens (receives the handoff ticket).")
DESCRIPTION = typer.Option("--description", help="A longer description.")
SCORE_MAXIMUM = typer.Option("--score-maximum", help="Graded resources: the gradebook column's maximum score.")
PICKER = typer.Option(
    "--picker/--no-picker", help="Deep-linking launches go to the app, which answers with its own catalogue."
)
REVIEW_URL = typer.Option("--review-url", help="Submission Review opens this URL (default: the app URL, review=1).")
CUSTOM = typer.Option("--custom", help="A custom parameter NAME=VALUE for deep-linked items; repeat for more.")
TAG = typer.Option("--tag", help="The line item tag of deep-linked graded items.")


def _custom(pairs: list[str] | None) -> dict[str, str] | None:
    if pairs is None:
        return None
    custom: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"'{pair}' is not NAME=VALUE", param_hint="--custom")
        custom[name] = value
    return custom


def _launch_url(settings: Settings) -> str:
    return ToolUrls.from_settings(settings).launch_url


def resource_json(resource: Resource, launch_url: str) -> dict[str, object]:
    """The same shape as the REST API's resource."""
    return ResourceOut.of(resource, target_link_uri(launch_url, resource.fields.slug)).model_dump(mode="json")


def print_resource(resource: Resource, launch_url: str) -> None:
    f = resource.fields
    output.print_fields(
        [
            ("slug", f.slug),
            ("title", f.title),
            ("app_url", f.app_url),
            ("target link URI", target_link_uri(launch_url, f.slug)),
            ("description", f.description or "-"),
            ("score maximum", "-" if f.score_maximum is None else f"{f.score_maximum:g}"),
            ("picker", "yes" if f.picker else "no"),
            ("review URL", f.review_url or "-"),
            ("custom", ", ".join(f"{k}={v}" for k, v in f.custom.items()) or "-"),
            ("tag", f.tag or "-"),
            ("id", resource.id),
            ("created", output.when(resource.created_at)),
            ("updated", output.when(resource.updated_at)),
        ]
    )


def add(
    settings: Settings,
    slug: Slug,
    title: Annotated[str, TITLE],
    app_url: Annotated[str, APP_URL],
    description: Annotated[str, DESCRIPTION] = "",
    score_maximum: Annotated[float | None, SCORE_MAXIMUM] = None,
    picker: Annotated[bool, PICKER] = False,
    review_url: Annotated[str | None, REVIEW_URL] = None,
    custom: Annotated[list[str] | None, CUSTOM] = None,
    tag: Annotated[str | None, TAG] = None,
) -> None:
    """Add a resource."""
    fields = ResourceFields(
        slug=slug,
        title=title,
        app_url=app_url,
        description=description,
        score_maximum=score_maximum,
        picker=picker,
        review_url=review_url,
        custom=_custom(custom) or {},
        tag=tag,
    )

    async def work(gateway: Gateway) -> Resource:
        return await gateway.resources.create(fields)

    resource = with_gateway(settings, work)
    output.print_done(f"Added resource {resource.fields.slug}")
    print_resource(resource, _launch_url(settings))


def update(
    settings: Settings,
    slug: Slug,
    title: Annotated[str | None, TITLE] = None,
    app_url: Annotated[str | None, APP_URL] = None,
    description: Annotated[str | None, DESCRIPTION] = None,
    score_maximum: Annotated[float | None, SCORE_MAXIMUM] = None,
    picker: Annotated[bool | None, PICKER] = None,
    review_url: Annotated[str | None, REVIEW_URL] = None,
    custom: Annotated[list[str] | None, CUSTOM] = None,
    tag: Annotated[str | None, TAG] = None,
) -> None:
    """Change a resource; options not given keep their value. The slug stays."""
    given = {
        "title": title,
        "app_url": app_url,
        "description": description,
        "score_maximum": score_maximum,
        "picker": picker,
        "review_url": review_url,
        "custom": _custom(custom),
        "tag": tag,
    }
    changes: dict[str, object] = {key: value for key, value in given.items() if value is not None}

    async def work(gateway: Gateway) -> Resource:
        current = (await gateway.resources.get(slug)).fields
        return await gateway.resources.update(slug, replace(current, **changes))  # type: ignore[arg-type]

    resource = with_gateway(settings, work)
    output.print_done(f"Updated resource {resource.fields.slug}")
    print_resource(resource, _launch_url(settings))


def list_resources(settings: Settings, json_output: Json = False) -> None:
    """List the resources with their target link URIs."""

    async def work(gateway: Gateway) -> list[Resource]:
        return await gateway.resources.list()

    resources, launch_url = with_gateway(settings, work), _launch_url(settings)
    if json_output:
        output.print_json([resource_json(r, launch_url) for r in resources])
        return
    output.print_table(
        "Resources",
        ["slug", "title", "app URL", "target link URI"],
        [
            (r.fields.slug, r.fields.title, r.fields.app_url, target_link_uri(launch_url, r.fields.slug))
            for r in resources
        ],
        empty="No resources. Add one with `ltigate resources add SLUG --title ... --app-url ...`.",
    )


def show(settings: Settings, slug: Slug, json_output: Json = False) -> None:
    """Show one resource."""

    async def work(gateway: Gateway) -> Resource:
        return await gateway.resources.get(slug)

    resource, launch_url = with_gateway(settings, work), _launch_url(settings)
    if json_output:
        output.print_json(resource_json(resource, launch_url))
    else:
        print_resource(resource, launch_url)


def delete(settings: Settings, slug: Slug) -> None:
    """Delete a resource; launches naming it fail with unknown_resource from now on."""

    async def work(gateway: Gateway) -> None:
        await gateway.resources.delete(slug)

    with_gateway(settings, work)
    output.print_done(f"Deleted resource {slug}")


def group() -> typer.Typer:
    resources = typer.Typer(help="Resources that launches open.", no_args_is_help=True)
    commands: list[tuple[str, Callable[..., None]]] = [
        ("add", add),
        ("list", list_resources),
        ("show", show),
        ("update", update),
        ("delete", delete),
    ]
    for name, command in commands:
        resources.command(name)(with_global_options(command))
    return resources
