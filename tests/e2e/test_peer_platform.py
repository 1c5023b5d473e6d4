"""Launches driven by the independent platform implementation lti1p3platform 0.1.8 (peers.md).

That peer posts to any redirect_uri and accepts any response_type, so the test asserts the gateway's
authentication request itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.registration import Registration
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields
from tests.e2e.conftest import APP_URL, Env
from tests.support.peer import FormLaunch, HintLogin, PeerRequest, pem_key_pair
from tests.support.platform import error_code
from tests.support.servers import ServerThread

CLIENT_ID = "peer-client"
DEPLOYMENT_ID = "peer-deployment"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


class PeerPlatform:
    """lti1p3platform wired as a small LMS: /start begins a launch, /auth answers the gateway, /jwks."""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.url = ""
        self.auth_requests: list[dict[str, str]] = []
        self.private_pem, self.public_pem = pem_key_pair()
        self.users = {
            "ada": ("Ada Learner", "ada@example.edu", [LEARNER]),
            "grace": ("Grace Teacher", "grace@example.edu", [INSTRUCTOR]),
        }

    def config(self, target: str) -> LTI1P3PlatformConfAbstract:
        peer = self

        class Config(LTI1P3PlatformConfAbstract):
            def init_platform_config(self, **kwargs: Any) -> None:
                pass

            def get_registration_by_params(self, **kwargs: Any) -> Registration:
                return (
                    Registration()
                    .set_iss(peer.url)
                    .set_client_id(CLIENT_ID)
                    .set_deployment_id(DEPLOYMENT_ID)
                    .set_launch_url(target)
                    .set_oidc_login_url(f"{peer.gateway_url}/lti/login")
                    .set_platform_public_key(peer.public_pem)
                    .set_platform_private_key(peer.private_pem)
                    .set_tool_key_set_url(f"{peer.gateway_url}/.well-known/jwks.json")
                )

        return Config()

    def app(self) -> Starlette:
        peer = self

        async def start(request: Request) -> Response:
            user, resource = request.query_params["user"], request.query_params["resource"]
            target = f"{peer.gateway_url}/lti/launch?resource={resource}"
            login = HintLogin(PeerRequest("GET", {}), peer.config(target))
            login.set_lti_message_hint(hint=f"{user}|{resource}")
            return RedirectResponse(login.initiate_login(user))

        async def auth(request: Request) -> Response:
            params = dict(request.query_params) if request.method == "GET" else dict(await request.form())
            peer.auth_requests.append({k: str(v) for k, v in params.items()})
            user, resource = str(params["lti_message_hint"]).split("|")
            target = f"{peer.gateway_url}/lti/launch?resource={resource}"
            launch = FormLaunch(PeerRequest(request.method, params, {}), peer.config(target))
            name, email, roles = peer.users[user]
            launch.set_user_data(user, roles, full_name=name, email_address=email)
            launch.set_resource_link_claim("peer-link-1", title="Peer quiz")
            launch.set_launch_context_claim(
                "peer-course",
                context_title="Peer Course",
                context_label="PC1",
                context_types=["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            )
            data = launch.lti_launch()
            fields = "".join(
                f'<input type="hidden" name="{name}" value="{html.escape(str(data[name]))}">'
                for name in ("id_token", "state")
            )
            return HTMLResponse(f'<form method="post" action="{html.escape(data["launch_url"])}">{fields}</form>')

        async def jwks(request: Request) -> Response:
            config = peer.config(peer.gateway_url)
            config.get_registration()
            return JSONResponse(config.get_jwks())

        return Starlette(
            routes=[Route("/start", start), Route("/auth", auth, methods=["GET", "POST"]), Route("/jwks", jwks)]
        )


@pytest.fixture
def peer(env: Env) -> Iterator[PeerPlatform]:
    platform = PeerPlatform(env.gateway.url)
    with ServerThread(platform.app(), lifespan="off") as server:
        platform.url = server.url

        async def register(gateway: Gateway) -> None:
            await gateway.platforms.create(
                PlatformFields(
                    name="Peer LMS",
                    issuer=server.url,
                    client_id=CLIENT_ID,
                    auth_url=f"{server.url}/auth",
                    token_url=f"{server.url}/token",
                    jwks_url=f"{server.url}/jwks",
                    deployment_ids=(DEPLOYMENT_ID,),
                )
            )

        env.gateway.run(register)
        yield platform


def browse(peer: PeerPlatform, user: str, resource: str = "quiz") -> httpx.Response:
    """Play the browser through start → login → auth → auto-posted form; return the gateway's answer."""
    with httpx.Client(timeout=10) as browser:
        to_login = browser.get(f"{peer.url}/start", params={"user": user, "resource": resource})
        assert to_login.status_code == 307
        to_auth = browser.get(to_login.headers["location"])
        assert to_auth.status_code == 302, error_code(to_auth)
        form = browser.get(to_auth.headers["location"])
        action = html.unescape(re.search(r'action="([^"]+)"', form.text).group(1))  # type: ignore[union-attr]
        fields = {m[0]: html.unescape(m[1]) for m in re.findall(r'name="(\w+)" value="([^"]*)"', form.text)}
        first = browser.post(action, data=fields)
        replay = browser.post(action, data=fields)
        first.extensions["replay"] = replay
        return first


def test_peer_platform_launches_a_learner(env: Env, peer: PeerPlatform) -> None:
    response = browse(peer, "ada")
    assert response.status_code == 303, f"{error_code(response)}: {response.text[:400]}"
    assert response.headers["location"].startswith(APP_URL + "?ticket=")
    ticket = parse_qs(urlsplit(response.headers["location"]).query)["ticket"][0]
    with httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}) as api:
        launch = api.post("/api/v1/tickets/redeem", json={"ticket": ticket}).json()
    assert launch["user"]["sub"] == "ada"
    assert launch["user"]["name"] == "Ada Learner"
    assert launch["short_roles"] == ["Learner"]
    assert launch["context"]["title"] == "Peer Course"
    assert launch["resource_link"] == {"id": "peer-link-1", "title": "Peer quiz", "description": None}
    assert launch["deployment_id"] == DEPLOYMENT_ID
    assert launch["issuer"] == peer.url


def test_peer_platform_launches_an_instructor_and_replay_is_refused(env: Env, peer: PeerPlatform) -> None:
    response = browse(peer, "grace")
    assert response.status_code == 303
    replay = response.extensions["replay"]
    assert (replay.status_code, error_code(replay)) == (400, "launch_replayed")


def test_gateway_auth_request_is_what_the_spec_requires(env: Env, peer: PeerPlatform) -> None:
    browse(peer, "ada")
    (request,) = peer.auth_requests
    assert request["scope"] == "openid"
    assert request["response_type"] == "id_token"
    assert request["response_mode"] == "form_post"
    assert request["prompt"] == "none"
    assert request["client_id"] == CLIENT_ID
    assert request["redirect_uri"] == f"{env.gateway.url}/lti/launch"
    assert request["login_hint"] == "ada"
    assert request["lti_message_hint"] == "ada|quiz"
    assert len(request["nonce"]) >= 32 and len(request["state"]) >= 32
