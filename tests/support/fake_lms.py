"""A fake LMS for the grades and rosters tests, written from the specs, not from ltigate's code:

- launches: RS256 id_tokens and a JWKS (ScriptedPlatform), carrying the AGS and NRPS claims (AGS §3.1, NRPS §3);
- a client-credentials token endpoint that checks every client assertion the way Security Framework §4.1.1
  asks (signature by the tool's JWKS, iss = sub = client_id, aud, exp/iat, jti never reused, deployment_id);
- the AGS score and result endpoints of line items (AGS §3.3, §3.4), which misbehave on command, one fault
  per request: 500, 503, 429 with Retry-After: 1, a slow answer, a 401 for an expired token, a permanent 400;
- the NRPS membership container (NRPS §2), served in pages with Canvas-style Link headers.

Every request is recorded, with the requests in flight per score, so tests can assert that the gateway never
posts one score twice at once.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ltigate.lti import ags, nrps
from tests.support.platform import Browser, ScriptedPlatform

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AGS_SCOPES = (ags.SCOPE_LINEITEM, ags.SCOPE_RESULT_READONLY, ags.SCOPE_SCORE)
FAULTS = ("ok", "500", "503", "429", "slow", "expire", "400")


@dataclass
class TokenRequest:
    """One request to the token endpoint: the form, the assertion's header and claims, what was wrong."""

    form: dict[str, str]
    header: dict[str, Any]
    claims: dict[str, Any]
    problems: list[str]
    access_token: str | None


@dataclass
class Issued:
    scopes: tuple[str, ...]
    expired: bool = False


@dataclass
class ScoreCall:
    """One POST to a score endpoint. `outcome`: applied, the fault answered, or `abandoned` (the client left)."""

    key: str
    item: str
    body: dict[str, Any]
    content_type: str | None
    token: str | None
    started: float  # time.monotonic()
    at: float = field(default_factory=time.time)  # wall clock, to compare with leases
    ended: float = 0.0
    status: int = 0
    outcome: str = ""


@dataclass
class ServiceRead:
    """One GET of a result container or a membership page."""

    path: str
    query: str
    accept: str | None
    token: str | None
    scopes: tuple[str, ...]
    status: int


@dataclass
class FakeLms:
    client_id: str = "lms-client"
    deployment_id: str = "lms-deployment"
    token_audience: str | None = None  # what the client assertion's aud must be; default: the token URL
    expect_deployment_id: bool = False  # the assertion must (True) or must not (False) carry deployment_id
    delay: float = 0.0  # every score answer waits this long
    slow_seconds: float = 4.0  # how long a "slow" answer takes when the client stays
    page_size: int = 50
    hold: bool = False  # while True, score requests wait before they are answered
    platform: ScriptedPlatform = field(default_factory=ScriptedPlatform)
    url: str = ""
    gateway_url: str = ""
    faults: dict[str, deque[str]] = field(default_factory=dict)
    token_requests: list[TokenRequest] = field(default_factory=list)
    tokens: dict[str, Issued] = field(default_factory=dict)
    score_calls: list[ScoreCall] = field(default_factory=list)
    reads: list[ServiceRead] = field(default_factory=list)
    results: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    max_in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _jtis: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what tests configure and read -------------------------------------------------------------

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def lineitem_url(self, item: str = "1") -> str:
        return f"{self.url}/ctx/lineitems/{item}"

    @property
    def memberships_url(self) -> str:
        return f"{self.url}/ctx/memberships"

    def script(self, key: str, *faults: str) -> None:
        """The next answers for the score whose comment is `key`, one per request; then `ok`."""
        assert all(f in FAULTS for f in faults), faults
        with self._lock:
            self.faults[key] = deque(faults)

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (as after a key rotation or a revocation)."""
        with self._lock:
            for issued in self.tokens.values():
                issued.expired = True

    def calls(self, key: str) -> list[ScoreCall]:
        with self._lock:
            return [c for c in self.score_calls if c.key == key]

    def applied(self) -> dict[str, int]:
        """How many times each score (by key) was applied to the gradebook."""
        counts: dict[str, int] = defaultdict(int)
        with self._lock:
            for call in self.score_calls:
                if call.outcome == "applied":
                    counts[call.key] += 1
        return dict(counts)

    def started_keys(self) -> set[str]:
        with self._lock:
            return {c.key for c in self.score_calls}

    def in_flight_now(self) -> set[str]:
        with self._lock:
            return {key for key, count in self.in_flight.items() if count > 0}

    def services_claims(self, item: str = "1", *, lineitem: bool = True) -> dict[str, object]:
        """The AGS and NRPS claims of a launch from this LMS."""
        endpoint: dict[str, object] = {"scope": list(AGS_SCOPES), "lineitems": f"{self.url}/ctx/lineitems"}
        if lineitem:
            endpoint["lineitem"] = self.lineitem_url(item)
        return {
            AGS_CLAIM: endpoint,
            NRPS_CLAIM: {"context_memberships_url": self.memberships_url, "service_versions": ["2.0"]},
        }

    def platform_fields(self, **overrides: object) -> dict[str, object]:
        fields = self.platform.platform_fields(self.url, **overrides)
        if self.token_audience is not None:
            fields.setdefault("token_audience", self.token_audience)
        if self.expect_deployment_id:
            fields.setdefault("send_deployment_id", True)
        return fields

    # -- the app ---------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        self.platform.client_id = self.client_id
        self.platform.deployment_id = self.deployment_id
        jwks = self.platform.app().routes[0]
        return Starlette(
            routes=[
                jwks,
                Route("/token", self._token, methods=["POST"]),
                Route("/ctx/lineitems/{item}/scores", self._score, methods=["POST"]),
                Route("/ctx/lineitems/{item}/results", self._results, methods=["GET"]),
                Route("/ctx/memberships", self._memberships, methods=["GET"]),
            ]
        )

    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        assertion = form.get("client_assertion", "")
        problems: list[str] = []
        header: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            problems.append(f"unreadable assertion: {error}")
        if not problems:
            problems.extend(await self._check_assertion(assertion, header, claims, form))
        access_token = None
        with self._lock:
            if not problems:
                access_token = "tok-" + secrets.token_urlsafe(16)
                self.tokens[access_token] = Issued(scopes=tuple(form.get("scope", "").split()))
            self.token_requests.append(TokenRequest(form, header, claims, problems, access_token))
        if problems:
            return JSONResponse({"error": "invalid_client", "error_description": "; ".join(problems)}, 401)
        return JSONResponse(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600, "scope": form["scope"]},
            headers={"Cache-Control": "no-store"},
        )

    async def _check_assertion(
        self, assertion: str, header: dict[str, Any], claims: dict[str, Any], form: dict[str, str]
    ) -> list[str]:
        problems: list[str] = []
        if form.get("grant_type") != "client_credentials":
            problems.append("grant_type")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            problems.append("client_assertion_type")
        async with httpx.AsyncClient(timeout=5) as http:
            key_set = (await http.get(f"{self.gateway_url}/.well-known/jwks.json")).json()
        keys = {k.get("kid"): k for k in key_set.get("keys", [])}
        if header.get("alg") != "RS256" or header.get("kid") not in keys:
            return [*problems, f"header {header} names no RS256 key of the tool's JWKS"]
        try:
            jwt.decode(
                assertion,
                jwt.PyJWK(keys[header["kid"]]).key,
                algorithms=["RS256"],
                audience=self.token_audience or self.token_url,
                issuer=self.client_id,
                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]},
            )
        except jwt.PyJWTError as error:
            problems.append(f"assertion: {error}")
        if claims.get("sub") != self.client_id:
            problems.append("sub is not the client_id")
        if not isinstance(claims.get("aud"), str):
            problems.append("aud is not a single string")
        if not 0 < claims.get("exp", 0) - claims.get("iat", 0) <= 300:
            problems.append("exp - iat is outside 1..300 s")
        with self._lock:
            if claims.get("jti") in self._jtis:
                problems.append("jti replayed")
            self._jtis.add(str(claims.get("jti")))
        if self.expect_deployment_id and claims.get(DEPLOYMENT_CLAIM) != self.deployment_id:
            problems.append("deployment_id missing or wrong")
        if not self.expect_deployment_id and DEPLOYMENT_CLAIM in claims:
            problems.append("deployment_id sent although not asked for")
        return problems

    def _bearer(self, request: Request) -> tuple[str | None, Issued | None]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None, None
        with self._lock:
            return token, self.tokens.get(token)

    async def _score(self, request: Request) -> Response:
        item = request.path_params["item"]
        try:
            body = json.loads(await request.body())
        except ClientDisconnect:  # the client died while sending: the score never arrived
            return Response(status_code=499)
        key = str(body.get("comment") or body.get("userId"))
        token, issued = self._bearer(request)
        call = ScoreCall(key, item, body, request.headers.get("content-type"), token, time.monotonic())
        with self._lock:
            script = self.faults.get(key)
            fault = script.popleft() if script else "ok"
            self.score_calls.append(call)
            self.in_flight[key] += 1
            self.max_in_flight[key] = max(self.max_in_flight[key], self.in_flight[key])
        try:
            response = await self._answer_score(request, call, fault, issued)
        finally:
            with self._lock:
                self.in_flight[key] -= 1
                call.ended = time.monotonic()
                call.status = response.status_code if call.outcome != "abandoned" else 0
        return response

    async def _answer_score(self, request: Request, call: ScoreCall, fault: str, issued: Issued | None) -> Response:
        while self.hold:  # set by the test's thread: an anyio.Event belongs to this loop  # noqa: ASYNC110
            await anyio.sleep(0.01)
        if issued is None or issued.expired or ags.SCOPE_SCORE not in issued.scopes:
            call.outcome = "401"
            return _invalid_token()
        if fault == "expire":
            issued.expired = True
            call.outcome = "401"
            return _invalid_token("the access token expired")
        if call.content_type != ags.SCORE:
            call.outcome = "415"
            return JSONResponse({"error": "unsupported media type"}, 415)
        if fault in ("500", "503"):
            call.outcome = fault
            return JSONResponse({"error": "the gradebook is down"}, int(fault))
        if fault == "429":
            call.outcome = "429"
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": "1"})
        if fault == "400":
            call.outcome = "400"
            return JSONResponse({"error": "scoreGiven is not acceptable for this line item"}, 400)
        if fault == "slow":
            deadline = time.monotonic() + self.slow_seconds
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    call.outcome = "abandoned"  # the client gave up before the score was applied
                    return Response(status_code=499)
                await anyio.sleep(0.02)
        elif self.delay:
            await anyio.sleep(self.delay)
        with self._lock:
            self.results[(call.item, str(call.body["userId"]))] = (
                call.body.get("scoreGiven"),
                call.body.get("scoreMaximum"),
            )
            call.outcome = "applied"
        return JSONResponse({"resultUrl": f"{self.lineitem_url(call.item)}/results?user_id={call.body['userId']}"})

    def _read(self, request: Request, scope: str, media_type: str) -> tuple[ServiceRead, Response | None]:
        token, issued = self._bearer(request)
        read = ServiceRead(
            path=request.url.path,
            query=request.url.query,
            accept=request.headers.get("accept"),
            token=token,
            scopes=issued.scopes if issued else (),
            status=200,
        )
        refusal: Response | None = None
        if issued is None or issued.expired or scope not in issued.scopes:
            refusal = _invalid_token()
        elif read.accept != media_type:
            refusal = JSONResponse({"error": f"Accept must be {media_type}"}, 406)
        read.status = refusal.status_code if refusal is not None else 200
        with self._lock:
            self.reads.append(read)
        return read, refusal

    async def _results(self, request: Request) -> Response:
        _, refusal = self._read(request, ags.SCOPE_RESULT_READONLY, ags.RESULT_CONTAINER)
        if refusal is not None:
            return refusal
        item, wanted = request.path_params["item"], request.query_params.get("user_id")
        with self._lock:
            found = [(user, value) for (i, user), value in self.results.items() if i == item]
        body = [
            {
                "id": f"{self.lineitem_url(item)}/results/{user}",
                "scoreOf": self.lineitem_url(item),
                "userId": user,
                "resultScore": given,
                "resultMaximum": maximum,
            }
            for user, (given, maximum) in found
            if wanted is None or user == wanted
        ]
        return Response(json.dumps(body), media_type=ags.RESULT_CONTAINER)

    async def _memberships(self, request: Request) -> Response:
        _, refusal = self._read(request, nrps.SCOPE, nrps.MEDIA_TYPE)
        if refusal is not None:
            return refusal
        page = int(request.query_params.get("page", "1"))
        per_page = self.page_size
        with self._lock:
            everyone = list(self.members)
        last = max(1, -(-len(everyone) // per_page))
        chunk = everyone[(page - 1) * per_page : page * per_page]

        def link(number: int) -> str:
            return f"{self.memberships_url}?page={number}&per_page={per_page}"

        # Canvas order: current first, so a parser that takes the first URL instead of rel="next" loops.
        links = [f'<{link(page)}>; rel="current"']
        if page < last:
            links.append(f'<{link(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        links += [f'<{link(1)}>; rel="first"', f'<{link(last)}>; rel="last"']
        body = {
            "id": self.memberships_url,
            "context": {"id": "ctx-1", "label": "C101", "title": "Course 101"},
            "members": chunk,
        }
        return Response(json.dumps(body), media_type=nrps.MEDIA_TYPE, headers={"Link": ",".join(links)})


def _invalid_token(description: str = "the access token is not valid") -> Response:
    return JSONResponse(
        {"error": "invalid_token", "error_description": description},
        401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
    )


_logins = itertools.count(1)


def launch(browser: Browser, lms: FakeLms, sub: str, *, resource: str = "quiz", **claims: object) -> str:
    """A launch of `resource` by `sub` from the fake LMS with its AGS and NRPS claims; returns the launch id."""
    login = browser.login(lms.platform, resource)
    target = f"{browser.gateway_url}/lti/launch?resource={resource}"
    overrides: dict[str, object] = {**lms.services_claims(), "sub": sub, **claims}
    token = lms.platform.token(lms.platform.claims(nonce=login.nonce, target_link_uri=target, **overrides))
    response = browser.launch(token, login.state)
    assert response.status_code == 303, response.text[:500]
    ticket = response.headers["location"].split("ticket=", 1)[1]
    payload = jwt.decode(ticket, options={"verify_signature": False})
    return str(payload["sub"])  # the ticket's subject is the launch id


def wait_until(condition: Any, seconds: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(step)


def settle(api: httpx.Client, job_ids: list[str], seconds: float = 30.0) -> dict[str, dict[str, Any]]:
    """Poll the deliveries until none is pending; returns each job as the API shows it."""
    jobs: dict[str, dict[str, Any]] = {}

    def done() -> bool:
        for job_id in job_ids:
            if jobs.get(job_id, {}).get("status") in (None, "pending"):
                answer = api.get(f"/api/v1/deliveries/{job_id}")
                assert answer.status_code == 200, answer.text
                jobs[job_id] = answer.json()
        return all(jobs[j]["status"] != "pending" for j in job_ids)

    try:
        wait_until(done, seconds, "the score jobs to settle", step=0.1)
    except AssertionError:
        pending = {j: jobs[j] for j in job_ids if jobs[j]["status"] == "pending"}
        raise AssertionError(f"still pending after {seconds:g} s: {pending}") from None
    return jobs
