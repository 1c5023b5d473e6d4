"""A small LMS for browser tests of cookie-less launches: a course page that frames the tool and a storage
frame answering LTI postMessage storage (lti.capabilities, lti.put_data, lti.get_data, data partitioned by
the asking origin), the OIDC authorization endpoint that signs the id_token (ScriptedPlatform), its key
set, and an app page where launches end.

The same app is served twice: at `own` (the platform's origin, also the origin of its authorization
endpoint) and at `other` (another origin), which hosts the storage frame in the "foreign" course and the
relaying frame in the "relay" course.

Storage modes (`?storage=`): good | prefixed (answers only the org.imsglobal subjects) | foreign (the
storage frame is at the other origin) | relay (get_data answered from the other origin) | silent (nothing
answers) | none (the login names no storage frame).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ltigate.lti.keys import key_set_document
from tests.support.platform import ScriptedPlatform

STORAGE_FRAME = "lti_storage"
TOOL_FRAME = "tool"

_CAPABILITIES = """
window.addEventListener("message", function (event) {
  var d = event.data || {};
  var prefixes = %(prefixes)s;
  prefixes.forEach(function (p) {
    if (d.subject !== p + "capabilities") { return; }
    event.source.postMessage({subject: p + "capabilities.response", message_id: d.message_id,
      supported_messages: [{subject: p + "capabilities"},
        {subject: p + "put_data", frame: "%(frame)s"}, {subject: p + "get_data", frame: "%(frame)s"}]}, event.origin);
  });
});
"""

_STORAGE = """
window.ltiStore = {};
window.addEventListener("message", function (event) {
  var d = event.data || {};
  var mode = %(mode)s;
  var subject = String(d.subject || "");
  var put = /(^|\\.)lti\\.put_data$/.test(subject), get = /(^|\\.)lti\\.get_data$/.test(subject);
  if (!put && !get) { return; }
  var where = event.origin + " " + d.key;  // partitioned by the asking origin
  if (put) { window.ltiStore[where] = d.value; }
  var answer = {subject: subject + ".response", message_id: d.message_id, key: d.key,
                value: put ? d.value : (where in window.ltiStore ? window.ltiStore[where] : null)};
  if (get && mode === "relay") {
    document.getElementById("relay").contentWindow.postMessage(answer, "*");
    return;
  }
  event.source.postMessage(answer, event.origin);
});
"""

# In the other origin: sends what it is given to the tool frame, as if it were the platform's answer.
_RELAY = """
window.addEventListener("message", function (event) {
  window.top.frames["%(tool)s"].postMessage(event.data, "*");
});
"""


@dataclass
class StorageLms:
    platform: ScriptedPlatform
    gateway_url: str
    own: str = ""  # http://localhost:<port>, set once served
    other: str = ""
    launches: list[str] = field(default_factory=list)  # tickets that reached the app page

    def app(self) -> Starlette:
        async def course(request: Request) -> Response:
            mode = request.query_params.get("storage", "good")
            resource = request.query_params.get("resource", "quiz")
            login = {
                "iss": self.platform.issuer,
                "login_hint": "user-1",
                "target_link_uri": f"{self.gateway_url}/lti/launch?resource={resource}",
                "client_id": self.platform.client_id,
                "lti_deployment_id": self.platform.deployment_id,
                "lti_message_hint": resource,
            }
            if mode != "none":
                login["lti_storage_target"] = STORAGE_FRAME
            src = html.escape(f"{self.gateway_url}/lti/login?{urlencode(login)}")
            tool = f'<iframe name="{TOOL_FRAME}" src="{src}" width="900" height="500"></iframe>'
            parts = ["<!doctype html><title>Course</title><h1>Course 101</h1>"]
            if mode in ("none", "silent"):
                parts.append(tool)
            else:
                prefixes = ["org.imsglobal.lti."] if mode == "prefixed" else ["lti.", "org.imsglobal.lti."]
                script = _CAPABILITIES % {"prefixes": json.dumps(prefixes), "frame": STORAGE_FRAME}
                parts.append(f"<script>{script}</script><div id=tool></div>")
                host = self.other if mode == "foreign" else self.own
                # As an LMS does, the tool is framed once the storage frame listens.
                ready = f"document.getElementById('tool').innerHTML = {json.dumps(tool)}"
                parts.append(
                    f'<iframe name="{STORAGE_FRAME}" src="{host}/storage?mode={mode}" hidden '
                    f'onload="{html.escape(ready)}"></iframe>'
                )
            return HTMLResponse("".join(parts))

        async def storage(request: Request) -> Response:
            mode = request.query_params.get("mode", "good")
            body = f"<!doctype html><script>{_STORAGE % {'mode': json.dumps(mode)}}</script>"
            if mode == "relay":
                body += f'<iframe id="relay" src="{self.other}/relay"></iframe>'
            return HTMLResponse(body)

        async def relay(request: Request) -> Response:
            return HTMLResponse(f"<!doctype html><script>{_RELAY % {'tool': TOOL_FRAME}}</script>")

        async def auth(request: Request) -> Response:
            """The OIDC authorization endpoint (lti-reference §1.4): checks the request, signs the token and
            answers with the auto-posting form."""
            q = request.query_params
            expected = {
                "scope": "openid",
                "response_type": "id_token",
                "response_mode": "form_post",
                "prompt": "none",
                "client_id": self.platform.client_id,
                "redirect_uri": f"{self.gateway_url}/lti/launch",
            }
            wrong = [name for name, value in expected.items() if q.get(name) != value]
            if wrong or not q.get("nonce") or not q.get("state"):
                return HTMLResponse(f"bad authentication request: {wrong}", status_code=400)
            target = f"{self.gateway_url}/lti/launch?resource={q.get('lti_message_hint', 'quiz')}"
            token = self.platform.token(self.platform.claims(nonce=q["nonce"], target_link_uri=target))
            fields = {"id_token": token, "state": q["state"]}
            inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items())
            action = html.escape(expected["redirect_uri"])
            return HTMLResponse(
                f'<!doctype html><form method="post" action="{action}">{inputs}</form>'
                "<script>document.forms[0].submit()</script>"
            )

        async def jwks(request: Request) -> Response:
            return JSONResponse(key_set_document([k.public_jwk() for k in self.platform.keys]))

        async def app_page(request: Request) -> Response:
            self.launches.append(request.query_params.get("ticket", ""))
            return HTMLResponse('<!doctype html><p data-testid="launched">Launched</p>')

        return Starlette(
            routes=[
                Route("/course", course),
                Route("/storage", storage),
                Route("/relay", relay),
                Route("/auth", auth),
                Route("/jwks", jwks),
                Route("/app", app_page),
            ]
        )
