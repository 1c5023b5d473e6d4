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
        self.deep_link_results: list[object] = []  # the peer's verdict on each deep-linking response
        self.private_pem, self.public_pem = pem_key_pair()
        self.users = {
            "ada": ("Ada Learner", "ada@example.edu", [LEARNER]),
            "grace": ("Grace Teacher", "grace@example.edu", [INSTRUCTOR]),
        }

    def config(self, target: str, deep_link: bool = False) -> LTI1P3PlatformConfAbstract:
        peer = self

        class Config(LTI1P3PlatformConfAbstract):
            def init_platform_config(self, **kwargs: Any) -> None:
                pass

            def get_registration_by_params(self, **kwargs: Any) -> Registration:
                registration = Registration()
                if deep_link:
                    registration.set_deeplink_launch_url(target)
                return (
                    registration.set_iss(peer.url)
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
            target = peer.target(resource)
            login = HintLogin(PeerRequest("GET", {}), peer.config(target, deep_link=not resource))
            login.set_lti_message_hint(hint=f"{user}|{resource}")
            return RedirectResponse(login.initiate_login(user))

        async def auth(request: Request) -> Response:
            params = dict(request.query_params) if request.method == "GET" else dict(await request.form())
            peer.auth_requests.append({k: str(v) for k, v in params.items()})
            user, resource = str(params["lti_message_hint"]).split("|")
            target = peer.target(resource)
            launch = FormLaunch(PeerRequest(request.method, params, {}), peer.config(target, deep_link=not resource))
            name, email, roles = peer.users[user]
            launch.set_user_data(user, roles, full_name=name, email_address=email)
            if resource:
                launch.set_resource_link_claim("peer-link-1", title="Peer quiz")
            else:  # no resource: a deep-linking request to the bare launch URL, answered by ltigate's picker
                launch.set_dl(
                    f"{peer.url}/dl-return",
                    title="Add to Peer Course",
                    accept_types={"ltiResourceLink"},
                    extra_data={"course": "peer-course", "slot": 4},
                )
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

        async def dl_return(request: Request) -> Response:
            form = await request.form()
            config = peer.config(peer.target(""), deep_link=True)
            config.get_registration()
            config.set_accepted_deeplinking_types({"ltiResourceLink"})
            try:
                items = config.validate_deeplinking_resp({"JWT": str(form["JWT"])})
                decoded = config.tool_validate_and_decode(str(form["JWT"]))
            except Exception as exc:  # the peer's refusal is the test's evidence
                peer.deep_link_results.append(exc)
                return JSONResponse({"error": repr(exc)}, status_code=400)
            peer.deep_link_results.append(decoded)
            return JSONResponse({"items": items})

        return Starlette(
            routes=[
                Route("/start", start),
                Route("/auth", auth, methods=["GET", "POST"]),
                Route("/jwks", jwks),
                Route("/dl-return", dl_return, methods=["POST"]),
            ]
        )

    def target(self, resource: str) -> str:
        base = f"{self.gateway_url}/lti/launch"
        return f"{base}?resource={resource}" if resource else base


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


def test_peer_platform_deep_links_through_the_picker_and_accepts_the_signed_response(
    env: Env, peer: PeerPlatform
) -> None:
    """The peer sends an LtiDeepLinkingRequest to the bare launch URL; the instructor picks in ltigate's
    picker; the peer verifies the response JWT with the gateway's JWKS and reads the items."""
    with httpx.Client(timeout=10) as browser:
        to_login = browser.get(f"{peer.url}/start", params={"user": "grace", "resource": ""})
        to_auth = browser.get(browser.get(to_login.headers["location"]).headers["location"])
        action = html.unescape(re.search(r'action="([^"]+)"', to_auth.text).group(1))  # type: ignore[union-attr]
        fields = {m[0]: html.unescape(m[1]) for m in re.findall(r'name="(\w+)" value="([^"]*)"', to_auth.text)}
        picker = browser.post(action, data=fields)
        assert picker.status_code == 200, f"{error_code(picker)}: {picker.text[:400]}"
        assert "Add content to Peer LMS" in picker.text
        url = re.search(r'action="(/lti/deep-linking/[0-9a-f]+)"', picker.text).group(1)  # type: ignore[union-attr]
        token = html.unescape(re.search(r'name="token" value="([^"]+)"', picker.text).group(1))  # type: ignore[union-attr]
        answer = browser.post(f"{env.gateway.url}{url}", data={"token": token, "action": "select", "resource": "quiz"})
        assert answer.status_code == 200, f"{error_code(answer)}: {answer.text[:400]}"
        return_url = html.unescape(re.search(r'action="([^"]+)"', answer.text).group(1))  # type: ignore[union-attr]
        jwt = html.unescape(re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1))  # type: ignore[union-attr]
        assert return_url == f"{peer.url}/dl-return"
        accepted = browser.post(return_url, data={"JWT": jwt})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["items"] == [
        {"type": "ltiResourceLink", "url": f"{env.gateway.url}/lti/launch?resource=quiz", "title": "Quiz"}
    ]
    (claims,) = peer.deep_link_results
    assert isinstance(claims, dict)
    # What the lenient peer does not check (it verifies the signature and message type only):
    assert claims["iss"] == CLIENT_ID
    assert claims["aud"] == peer.url
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == DEPLOYMENT_ID
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"course": "peer-course", "slot": 4}
    assert claims["exp"] > claims["iat"]
