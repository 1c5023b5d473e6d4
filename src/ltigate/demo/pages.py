"""The demo's HTML pages: Jinja2 templates from `ltigate/demo/templates`, rendered into responses."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse


class Pages:
    """Renders the pages of one demo site; `site` and `colour` name and tint its header bar."""

    def __init__(self, site: str, colour: str) -> None:
        self._env = Environment(loader=PackageLoader("ltigate.demo", "templates"), autoescape=select_autoescape())
        self._site, self._colour = site, colour

    def render(self, template: str, status: int = 200, **context: object) -> HTMLResponse:
        body = self._env.get_template(template).render(site=self._site, colour=self._colour, **context)
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def error(self, code: str, message: str, status: int, hint: str = "") -> HTMLResponse:
        return self.render("error.html", status, code=code, message=message, hint=hint)
