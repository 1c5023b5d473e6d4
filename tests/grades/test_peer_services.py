"""Grades and rosters end to end against the independent platform implementation lti1p3platform 0.1.8
(peers.md): it launches with its own AGS claim (`set_ags`) and NRPS claim (`set_nrps`), its token endpoint
(`get_access_token`) checks our client assertion's signature against our JWKS and issues the access tokens,
and its AssignmentsGradesService / NamesRoleProvisioningService check those tokens on the service calls.

What the peer does not check (peers.md: aud, iss, sub, jti of the assertion; Content-Type and Accept of the
service calls) is asserted here on what it received. Its own NRPS pagination crashes from page 2 on, so the
pages and their Link headers are served by this test around its handler.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
import jwt
import pytest
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.registration import Registration
from lti1p3platform.response import Response as PeerResponse
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService, TPage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ltigate.services.records import PlatformFields
from tests.grades.conftest import api_client, register_platform, seed_resource
from tests.support.fake_lms import settle
from tests.support.gateway import GatewayHarness, database_params
from tests.support.peer import FormLaunch, HintLogin, PeerRequest, pem_key_pair
from tests.support.platform import error_code
from tests.support.servers import ServerThread
from tests.support.worker import running_gateway_with_worker

CLIENT_ID = "peer-grades-client"
DEPLOYMENT_ID = "peer-grades-deployment"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
CUSTOM_AUDIENCE = "https://peer.example/oauth2/token"
# Every client assertion jti the peers saw in this module, to check none is ever reused.
SEEN_JTIS: list[str] = []


def _respond(answer: PeerResponse) -> Response:
    content = json.dumps(answer.result) if answer.result is not None else ""
    return Response(content, status_code=answer.code, media_type=answer.media_type)


@dataclass
class Peer:
    """lti1p3platform wired as a small LMS with a token endpoint, a line item's scores, and a roster."""

    gateway_url: str
    token_audience: str | None = None
    send_deployment_id: bool = False
    url: str = ""
    page_size: int = 2
    token_calls: list[dict[str, Any]] = field(default_factory=list)
    score_posts: list[dict[str, Any]] = field(default_factory=list)
    roster_gets: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"user_id": "ada", "roles": [LEARNER], "name": "Ada Lovelace", "family_name": "Lovelace"},
            {"user_id": "grace", "roles": [INSTRUCTOR], "name": "Grace Hopper", "family_name": "Hopper"},
            {"user_id": "alan", "roles": [LEARNER], "name": "Alan Turing", "family_name": "Turing"},
        ]
    )

    def __post_init__(self) -> None:
        self.private_pem, self.public_pem = pem_key_pair()

    @property
    def lineitems_url(self) -> str:
        return f"{self.url}/ctx/lineitems"

    @property
    def lineitem_url(self) -> str:
        return f"{self.url}/ctx/lineitems/li-1"

    @property
    def memberships_url(self) -> str:
        return f"{self.url}/ctx/memberships"

    def config(self, target: str | None = None) -> LTI1P3PlatformConfAbstract:
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
                    .set_launch_url(target or f"{peer.gateway_url}/lti/launch?resource=quiz")
                    .set_oidc_login_url(f"{peer.gateway_url}/lti/login")
                    .set_platform_public_key(peer.public_pem)
                    .set_platform_private_key(peer.private_pem)
                    .set_tool_key_set_url(f"{peer.gateway_url}/.well-known/jwks.json")
                )

        config = Config()
        config.get_registration()
        return config

    def fields(self) -> PlatformFields:
        return PlatformFields(
            name="Peer grades LMS",
            issuer=self.url,
            client_id=CLIENT_ID,
            auth_url=f"{self.url}/auth",
            token_url=f"{self.url}/token",
            jwks_url=f"{self.url}/jwks",
            deployment_ids=(DEPLOYMENT_ID,),
            token_audience=self.token_audience,
            send_deployment_id=self.send_deployment_id,
        )

    def app(self) -> Starlette:
        peer = self

        class Gradebook(AssignmentsGradesService):
            def find_lineitems(self, **kwargs: Any) -> TPage:
                return {"content": [], "has_next": False}

            def find_lineitem(self, line_item_id: str) -> Any:
                return {"id": peer.lineitem_url, "label": "Peer quiz", "scoreMaximum": 10}

            def create_lineitem(self, creation_data: Any) -> Any:
                raise AssertionError("the gateway must use the launch's own line item")

            def update_lineitem(self, update_data: Any) -> Any:
                raise AssertionError("not expected")

            def delete_lineitem(self, line_item_id: str) -> None:
                raise AssertionError("not expected")

            def update_score(self, line_item_id: str, score: Any) -> UpdateScoreStatus:
                peer.score_posts[-1]["applied"] = (line_item_id, score)
                return UpdateScoreStatus.SUCCESS

            def get_results(self, line_item_id: str, **kwargs: Any) -> TPage:
                return {"content": [], "has_next": False}

        class Roster(NamesRoleProvisioningService):
            page = 1

            def get_member_data_page(self, **kwargs: Any) -> TPage:
                start = (self.page - 1) * peer.page_size
                return {"content": [dict(m) for m in peer.members[start : start + peer.page_size]], "has_next": False}

            def get_context_by_id(self) -> Context:
                return Context(id="peer-course", label="PC1", title="Peer Course")

        async def start(request: Request) -> Response:
            user = request.query_params["user"]
            login = HintLogin(PeerRequest("GET", {}), peer.config())
            login.set_lti_message_hint(hint=user)
            return RedirectResponse(login.initiate_login(user))

        async def auth(request: Request) -> Response:
            params = dict(request.query_params) if request.method == "GET" else dict(await request.form())
            user = str(params["lti_message_hint"])
            launch = FormLaunch(PeerRequest(request.method, params), peer.config())
            member = next(m for m in peer.members if m["user_id"] == user)
            launch.set_user_data(user, member["roles"], full_name=member["name"])
            launch.set_resource_link_claim("peer-link-1", title="Peer quiz")
            launch.set_launch_context_claim("peer-course", context_title="Peer Course", context_label="PC1")
            launch.set_ags(lineitems_url=peer.lineitems_url, lineitem_url=peer.lineitem_url)
            launch.set_nrps(peer.memberships_url)
            data = launch.lti_launch()
            inputs = "".join(
                f'<input type="hidden" name="{name}" value="{html.escape(str(data[name]))}">'
                for name in ("id_token", "state")
            )
            return HTMLResponse(f'<form method="post" action="{html.escape(data["launch_url"])}">{inputs}</form>')

        async def jwks(request: Request) -> Response:
            return JSONResponse(peer.config().get_jwks())

        async def token(request: Request) -> Response:
            form = {k: str(v) for k, v in (await request.form()).items()}
            assertion = form.get("client_assertion", "")
            call: dict[str, Any] = {
                "form": form,
                "header": jwt.get_unverified_header(assertion),
                "claims": jwt.decode(assertion, options={"verify_signature": False}),
            }
            peer.token_calls.append(call)
            try:
                granted = await anyio.to_thread.run_sync(lambda: peer.config().get_access_token(form))
            except Exception as error:  # the peer's refusals are exceptions
                call["refused"] = repr(error)
                return JSONResponse({"error": "invalid_client", "error_description": str(error)}, 401)
            call["granted"] = granted
            return JSONResponse(dict(granted))

        async def scores(request: Request) -> Response:
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            peer.score_posts.append({"headers": headers, "body": json.loads(body), "path": request.url.path})
            service = Gradebook(
                PeerRequest("POST", {}, headers=request.headers, body=json.loads(body)),
                peer.config(),
                peer.lineitems_url,
                peer.lineitem_url,
            )
            answer = service.handle_resp(service.handle_update_score, line_item_id=request.path_params["item"])
            peer.score_posts[-1]["status"] = answer.code
            return _respond(answer)

        async def memberships(request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            page = int(request.query_params.get("p", "1"))
            peer.roster_gets.append({"headers": headers, "query": request.url.query})
            service = Roster(PeerRequest("GET", {}, headers=request.headers), peer.config(), peer.memberships_url)
            service.page = page
            answer = service.handle_resp(service.handle_get_members)
            peer.roster_gets[-1]["status"] = answer.code
            response = _respond(answer)
            if answer.code == 200 and page * peer.page_size < len(peer.members):
                response.headers["Link"] = f'<{peer.memberships_url}?p={page + 1}>; rel="next"'
            return response

        return Starlette(
            routes=[
                Route("/start", start),
                Route("/auth", auth, methods=["GET", "POST"]),
                Route("/jwks", jwks),
                Route("/token", token, methods=["POST"]),
                Route("/ctx/lineitems/{item}/scores", scores, methods=["POST"]),
                Route("/ctx/memberships", memberships),
            ]
        )

    def access_token_claims(self, token: str) -> dict[str, Any]:
        """The peer's own access token, verified with its key: proof it issued the token."""
        return dict(Registration.decode_and_verify(token, self.public_pem))


@dataclass
class World:
    gateway: GatewayHarness
    api: httpx.Client


@pytest.fixture(scope="module", params=database_params())
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("peer-services")
    with running_gateway_with_worker(tmp, request.param) as gateway:
        seed_resource(gateway)
        with api_client(gateway, gateway.api_key()) as api:
            yield World(gateway=gateway, api=api)


VARIANTS = {
    "aud-token-url": {},
    "aud-custom-with-deployment": {"token_audience": CUSTOM_AUDIENCE, "send_deployment_id": True},
}


@pytest.fixture(params=list(VARIANTS))
def peer(request: pytest.FixtureRequest, world: World) -> Iterator[Peer]:
    platform = Peer(world.gateway.url, **VARIANTS[request.param])
    with ServerThread(platform.app(), lifespan="off") as server:
        platform.url = server.url
        register_platform(world.gateway, platform.fields())
        yield platform


def launch(peer: Peer, user: str) -> str:
    """Play the browser: the peer's login start → gateway login → peer auth → form post to the gateway."""
    with httpx.Client(timeout=15) as browser:
        to_login = browser.get(f"{peer.url}/start", params={"user": user})
        assert to_login.status_code == 307
        to_auth = browser.get(to_login.headers["location"])
        assert to_auth.status_code == 302, error_code(to_auth)
        form = browser.get(to_auth.headers["location"])
        action = html.unescape(re.search(r'action="([^"]+)"', form.text).group(1))  # type: ignore[union-attr]
        fields = {m[0]: html.unescape(m[1]) for m in re.findall(r'name="(\w+)" value="([^"]*)"', form.text)}
        answer = browser.post(action, data=fields)
    assert answer.status_code == 303, f"{error_code(answer)}: {answer.text[:400]}"
    ticket = answer.headers["location"].split("ticket=", 1)[1]
    return str(jwt.decode(ticket, options={"verify_signature": False})["sub"])


def check_assertion(peer: Peer, call: dict[str, Any], gateway_url: str) -> None:
    """The client assertion as Security Framework §4.1.1 and LTI Core §6.2 want it; the peer checks none of it
    but the signature."""
    header, claims = call["header"], call["claims"]
    assert "refused" not in call, call.get("refused")
    assert call["form"]["grant_type"] == "client_credentials"
    assert call["form"]["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert claims["aud"] == (peer.token_audience or f"{peer.url}/token")
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert abs(claims["iat"] - time.time()) < 60
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    keys = httpx.get(f"{gateway_url}/.well-known/jwks.json").json()["keys"]
    assert header["alg"] == "RS256" and header["kid"] in {k["kid"] for k in keys}
    if peer.send_deployment_id:
        assert claims[DEPLOYMENT_CLAIM] == DEPLOYMENT_ID
    else:
        assert DEPLOYMENT_CLAIM not in claims
    SEEN_JTIS.append(claims["jti"])
    assert len(SEEN_JTIS) == len(set(SEEN_JTIS)), "a client assertion jti was reused"


def test_a_score_reaches_the_peer_once_with_a_token_the_peer_issued(world: World, peer: Peer) -> None:
    launch_id = launch(peer, "ada")
    shown = world.api.get(f"/api/v1/launches/{launch_id}").json()
    assert shown["services"]["ags"]["lineitem"] == peer.lineitem_url
    assert shown["services"]["ags"]["lineitems"] == peer.lineitems_url
    body = {
        "scoreGiven": 7.5,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "comment": "Well argued — see the margin notes.",
    }
    queued = world.api.post(f"/api/v1/launches/{launch_id}/score", json=body)
    assert queued.status_code == 202, queued.text

    job = settle(world.api, [queued.json()["id"]])[queued.json()["id"]]

    assert (job["status"], job["attempts"], job["last_status"]) == ("delivered", 1, 200)
    (post,) = peer.score_posts
    assert post["path"] == "/ctx/lineitems/li-1/scores"
    assert post["status"] == 200
    assert post["headers"]["content-type"] == "application/vnd.ims.lis.v1.score+json"
    sent = post["body"]
    assert set(sent) == {"userId", "timestamp", *body}
    assert sent["userId"] == "ada"
    assert {k: sent[k] for k in body} == body
    assert TIMESTAMP.match(sent["timestamp"]), sent["timestamp"]
    assert abs(datetime.fromisoformat(sent["timestamp"]).timestamp() - time.time()) < 60
    assert post["applied"] == ("li-1", sent)
    scheme, _, bearer = post["headers"]["authorization"].partition(" ")
    assert scheme == "Bearer"
    (token_call,) = peer.token_calls
    assert token_call["form"]["scope"] == SCORE_SCOPE
    assert token_call["granted"]["access_token"] == bearer
    issued = peer.access_token_claims(bearer)
    assert (issued["iss"], issued["sub"], issued["scopes"]) == (peer.url, CLIENT_ID, SCORE_SCOPE)
    check_assertion(peer, token_call, world.gateway.url)
    delivery = world.api.get(f"/api/v1/launches/{launch_id}/delivery").json()
    assert (delivery["status"], delivery["delivery"]["id"]) == ("delivered", job["id"])


def test_the_roster_is_read_from_the_peer_page_by_page(world: World, peer: Peer) -> None:
    launch_id = launch(peer, "grace")

    answer = world.api.get(f"/api/v1/launches/{launch_id}/members")

    assert answer.status_code == 200, answer.text
    members = answer.json()
    assert [(m["user_id"], m["roles"], m["name"], m["status"]) for m in members] == [
        ("grace", [INSTRUCTOR], "Grace Hopper", "Active"),
        ("ada", [LEARNER], "Ada Lovelace", "Active"),
        ("alan", [LEARNER], "Alan Turing", "Active"),
    ]
    assert members[0]["last_launch_id"] == launch_id
    assert [parse_qs(g["query"]).get("p", ["1"])[0] for g in peer.roster_gets] == ["1", "2"]
    assert all(g["status"] == 200 for g in peer.roster_gets)
    assert {g["headers"]["accept"] for g in peer.roster_gets} == {NRPS_MEDIA_TYPE}
    bearers = {g["headers"]["authorization"].partition(" ")[2] for g in peer.roster_gets}
    (token_call,) = peer.token_calls
    assert token_call["form"]["scope"] == NRPS_SCOPE
    assert bearers == {token_call["granted"]["access_token"]}
    assert peer.access_token_claims(bearers.pop())["scopes"] == NRPS_SCOPE
    check_assertion(peer, token_call, world.gateway.url)
    learners = world.api.get(f"/api/v1/launches/{launch_id}/members", params={"role": "Learner"}).json()
    assert [m["user_id"] for m in learners] == ["ada", "alan"]
