"""The demo LMS's LTI Advantage services: the token endpoint (client credentials with a signed JWT
assertion, lti-reference §3), Assignment and Grade Services (line items, scores, results; §4) and Names
and Role Provisioning (§5). Every service request is recorded (method, path, status and what was
checked) so the gradebook page and the tests can show what the tool sent.

The checks are strict on purpose: the demo LMS is where the gateway's service calls are first seen.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar
from urllib.parse import quote, urlencode

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ltigate.demo.course import COURSE_ID, COURSE_LABEL, COURSE_TITLE, MEMBERS, LmsConfig, find_member
from ltigate.demo.gradebook import (
    Gradebook,
    GradebookProblem,
    GradeRecord,
    LineItemFields,
    LineItemRecord,
    parse_line_item,
)
from ltigate.lti import ags, nrps
from ltigate.lti.errors import KeySetInvalid, ScoreInvalid
from ltigate.lti.keys import KeySet, parse_key_set
from ltigate.lti.platform import (
    FORM_MEDIA_TYPE,
    ClientAssertion,
    InvalidClient,
    TokenRequestError,
    UnknownAssertionKey,
    accepts,
    grant_scopes,
    link_header,
    media_type,
    parse_score,
    parse_token_request,
    verify_client_assertion,
)
from ltigate.lti.roles import normalise_role

T = TypeVar("T")
Note = dict[str, object]
Handler = Callable[[Request, Note], Awaitable[Response]]

# The scopes the launches offer (lti-reference §4.1) and the ones a token may carry.
AGS_SCOPES: Final = (ags.SCOPE_LINEITEM, ags.SCOPE_RESULT_READONLY, ags.SCOPE_SCORE)
ALLOWED_SCOPES: Final = (*AGS_SCOPES, ags.SCOPE_LINEITEM_READONLY, nrps.SCOPE)
TOKEN_LIFETIME_SECONDS: Final = 3600
MAX_TOKENS: Final = 10_000
MAX_JTIS: Final = 100_000
MAX_LOG: Final = 500
MAX_BODY_BYTES: Final = 64 * 1024
MAX_LOGGED_BODY_BYTES: Final = 4096
MAX_PAGE_SIZE: Final = 100
KEY_SET_TTL_SECONDS: Final = 300.0
KEY_SET_REFETCH_SECONDS: Final = 1.0  # an unknown kid re-fetches the tool's key set at most this often
KEY_SET_TIMEOUT_SECONDS: Final = 5.0
MAX_KEY_SET_BYTES: Final = 256 * 1024


class ServiceProblem(Exception):
    """An error answer of a service endpoint: `{"error": …, "error_description": …}` with `status`."""

    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers or {}


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """One request to a service endpoint as the LMS answered it; `note` holds what it checked and read."""

    at: float
    method: str
    path: str
    status: int
    note: Note = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"at": self.at, "method": self.method, "path": self.path, "status": self.status, **self.note}


class ServiceLog:
    """The last MAX_LOG service requests, oldest first."""

    def __init__(self) -> None:
        self._entries: deque[ServiceRequest] = deque(maxlen=MAX_LOG)

    def add(self, entry: ServiceRequest) -> None:
        self._entries.append(entry)

    def entries(self) -> list[ServiceRequest]:
        return list(self._entries)


class ToolKeySet:
    """The tool's key set, fetched from its JWKS URL and cached; an unknown kid fetches it again."""

    def __init__(
        self, url: str | None, clock: Callable[[], float], transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._url, self._clock, self._transport = url, clock, transport
        self._keys: KeySet | None = None
        self._fetched_at = -1e18
        self._lock = anyio.Lock()

    async def get(self, *, refresh: bool = False) -> KeySet:
        """The key set; `refresh` fetches it again unless that happened within KEY_SET_REFETCH_SECONDS.

        Raises ServiceProblem (503) when it cannot be fetched or read.
        """
        async with self._lock:
            age = self._clock() - self._fetched_at
            if self._keys is not None and age < (KEY_SET_REFETCH_SECONDS if refresh else KEY_SET_TTL_SECONDS):
                return self._keys
            self._keys = await self._fetch()
            self._fetched_at = self._clock()
            return self._keys

    async def _fetch(self) -> KeySet:
        if self._url is None:
            raise ServiceProblem(503, "temporarily_unavailable", "this LMS knows no key set URL for the tool")
        try:
            async with httpx.AsyncClient(timeout=KEY_SET_TIMEOUT_SECONDS, transport=self._transport) as client:
                response = await client.get(self._url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ServiceProblem(
                503,
                "temporarily_unavailable",
                f"the tool's key set at {self._url} is unreachable ({type(exc).__name__})",
            ) from None
        if response.status_code != 200 or len(response.content) > MAX_KEY_SET_BYTES:
            raise ServiceProblem(
                503,
                "temporarily_unavailable",
                f"the tool's key set at {self._url} answered HTTP {response.status_code} "
                f"with {len(response.content)} bytes",
            )
        try:
            return parse_key_set(response.content)
        except KeySetInvalid as error:
            raise ServiceProblem(503, "temporarily_unavailable", f"the tool's key set is unusable: {error}") from None


@dataclass(frozen=True, slots=True)
class Grant:
    scopes: tuple[str, ...]
    expires_at: float


class TokenIssuer:
    """Access tokens handed out, and the assertion ids already used (kept until the assertion expires)."""

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, Grant] = OrderedDict()
        self._jtis: dict[str, float] = {}

    def use_jti(self, jti: str, expires_at: float, now: float) -> None:
        """Remember `jti`; raises InvalidClient when it was seen before (RFC 7523 §3 item 7)."""
        if len(self._jtis) >= MAX_JTIS:
            self._jtis = {k: exp for k, exp in self._jtis.items() if exp > now}
        if jti in self._jtis:
            raise InvalidClient(f"the client assertion's jti {jti[:80]!r} was used before; an assertion is single-use")
        if len(self._jtis) >= MAX_JTIS:
            raise ServiceProblem(503, "temporarily_unavailable", "too many client assertions are still valid")
        self._jtis[jti] = expires_at

    def issue(self, scopes: tuple[str, ...], now: float) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = Grant(scopes=scopes, expires_at=now + TOKEN_LIFETIME_SECONDS)
        while len(self._tokens) > MAX_TOKENS:
            self._tokens.popitem(last=False)
        return token

    def grant(self, token: str, now: float) -> Grant | None:
        grant = self._tokens.get(token)
        if grant is not None and grant.expires_at <= now:
            del self._tokens[token]
            return None
        return grant


class LmsServices:
    """The service endpoints of the demo LMS over its gradebook; `routes()` mounts them."""

    def __init__(
        self,
        config: LmsConfig,
        gradebook: Gradebook,
        links: Sequence[str],
        *,
        clock: Callable[[], float],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config, self.gradebook, self.log = config, gradebook, ServiceLog()
        self._links = list(links)  # resource link ids of the course
        self._clock = clock
        self._keys = ToolKeySet(config.tool_jwks_url, clock, transport)
        self._tokens = TokenIssuer()
        self.token_url = f"{config.issuer}/token"

    def add_link(self, link_id: str) -> None:
        """A link added to the course (by deep linking): its line items may name it."""
        if link_id not in self._links:
            self._links.append(link_id)

    async def tool_keys(self, kid: str) -> KeySet:
        """The tool's key set, fetched again (at most every KEY_SET_REFETCH_SECONDS) when `kid` is unknown."""
        keys = await self._keys.get()
        return keys if keys.find(kid) is not None else await self._keys.get(refresh=True)

    # --- URLs --------------------------------------------------------------------------------------

    def lineitems_url(self) -> str:
        return f"{self.config.issuer}/courses/{COURSE_ID}/lineitems"

    def lineitem_url(self, number: int) -> str:
        return f"{self.lineitems_url()}/{number}"

    def memberships_url(self) -> str:
        return f"{self.config.issuer}/courses/{COURSE_ID}/memberships"

    def routes(self) -> list[Route]:
        base = "/courses/{course}"
        return [
            Route("/token", self._recorded(self._token), methods=["POST"]),
            Route(f"{base}/lineitems", self._recorded(self._lineitems), methods=["GET", "POST"]),
            Route(f"{base}/lineitems/{{item}}", self._recorded(self._lineitem), methods=["GET", "PUT", "DELETE"]),
            Route(f"{base}/lineitems/{{item}}/scores", self._recorded(self._scores), methods=["POST"]),
            Route(f"{base}/lineitems/{{item}}/results", self._recorded(self._results), methods=["GET"]),
            Route(f"{base}/memberships", self._recorded(self._memberships), methods=["GET"]),
            Route("/service-requests", self._service_requests, methods=["GET"]),
        ]

    def _recorded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            note: Note = {}
            try:
                response = await handler(request, note)
            except ServiceProblem as problem:
                note.update(error=problem.error, error_description=problem.description)
                response = JSONResponse(
                    {"error": problem.error, "error_description": problem.description},
                    status_code=problem.status,
                    headers={"Cache-Control": "no-store", **problem.headers},
                )
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            self.log.add(ServiceRequest(self._clock(), request.method, path, response.status_code, note))
            return response

        return endpoint

    async def _service_requests(self, request: Request) -> Response:
        return JSONResponse([entry.as_json() for entry in self.log.entries()], headers={"Cache-Control": "no-store"})

    # --- token endpoint (lti-reference §3) -----------------------------------------------------------

    async def _token(self, request: Request, note: Note) -> Response:
        content_type = request.headers.get("content-type")
        note["content_type"] = content_type
        fields: dict[str, str] = {}
        if media_type(content_type) == FORM_MEDIA_TYPE:
            form = await request.form(max_fields=20, max_files=0)
            fields = {name: value for name, value in form.items() if isinstance(value, str)}
        now = self._clock()
        try:
            token_request = parse_token_request(content_type, fields)
            note["scope_requested"] = list(token_request.scopes)
            keys = await self._keys.get()
            try:
                assertion = self._verify(token_request.assertion, keys, now)
            except UnknownAssertionKey:
                assertion = self._verify(token_request.assertion, await self._keys.get(refresh=True), now)
            self._tokens.use_jti(assertion.jti, assertion.expires_at, now)
            note.update(assertion_ok=True, checks=[*assertion.checks, "jti not replayed"], kid=assertion.kid)
            scopes = grant_scopes(token_request.scopes, ALLOWED_SCOPES)
        except TokenRequestError as error:
            raise ServiceProblem(error.status, error.code, error.message) from None
        note["scope_granted"] = list(scopes)
        body = {
            "access_token": self._tokens.issue(scopes, now),
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "scope": " ".join(scopes),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _verify(self, assertion: str, keys: KeySet, now: float) -> ClientAssertion:
        return verify_client_assertion(
            assertion, keys, client_id=self.config.client_id, audience=self.token_url, now=int(now)
        )

    def _authorize(self, request: Request, note: Note, allowed: tuple[str, ...]) -> Grant:
        """The grant of the request's bearer token, which must carry one of `allowed`. Raises ServiceProblem."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        challenge = 'Bearer realm="demo-lms"'
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceProblem(401, "invalid_request", "a bearer token is required", {"WWW-Authenticate": challenge})
        grant = self._tokens.grant(token.strip(), self._clock())
        if grant is None:
            raise ServiceProblem(
                401,
                "invalid_token",
                "the access token is unknown or expired",
                {"WWW-Authenticate": f'{challenge}, error="invalid_token"'},
            )
        if not any(scope in grant.scopes for scope in allowed):
            raise ServiceProblem(
                403,
                "insufficient_scope",
                f"the access token lacks the scope for this request ({' or '.join(allowed)})",
                {"WWW-Authenticate": f'{challenge}, error="insufficient_scope"'},
            )
        note["token_scopes"] = list(grant.scopes)
        return grant

    # --- AGS (lti-reference §4) ---------------------------------------------------------------------

    async def _lineitems(self, request: Request, note: Note) -> Response:
        self._course(request)
        if request.method == "POST":
            self._authorize(request, note, (ags.SCOPE_LINEITEM,))
            document = await self._json_body(request, note, ags.LINEITEM)
            record = self.gradebook.add(self._line_item_fields(document, None))
            note["lineitem"] = self.lineitem_url(record.number)
            return self._json(self._line_item_json(record), ags.LINEITEM, status=201)
        self._authorize(request, note, (ags.SCOPE_LINEITEM, ags.SCOPE_LINEITEM_READONLY))
        self._accept(request, note, ags.LINEITEM_CONTAINER)
        params = request.query_params
        items = self.gradebook.items(
            resource_link_id=params.get("resource_link_id"),
            resource_id=params.get("resource_id"),
            tag=params.get("tag"),
        )
        page, headers = self._page(request, items)
        return self._json([self._line_item_json(item) for item in page], ags.LINEITEM_CONTAINER, headers=headers)

    async def _lineitem(self, request: Request, note: Note) -> Response:
        self._course(request)
        record = self._line_item(request)
        if request.method == "GET":
            self._authorize(request, note, (ags.SCOPE_LINEITEM, ags.SCOPE_LINEITEM_READONLY))
            self._accept(request, note, ags.LINEITEM)
            return self._json(self._line_item_json(record), ags.LINEITEM)
        self._authorize(request, note, (ags.SCOPE_LINEITEM,))
        try:
            if request.method == "DELETE":
                self.gradebook.delete(record.number)
                return Response(status_code=204)
            document = await self._json_body(request, note, ags.LINEITEM)
            updated = self.gradebook.update(record.number, self._line_item_fields(document, record))
        except GradebookProblem as problem:
            raise ServiceProblem(problem.status, "invalid_request", problem.message) from None
        return self._json(self._line_item_json(updated), ags.LINEITEM)

    async def _scores(self, request: Request, note: Note) -> Response:
        self._course(request)
        record = self._line_item(request)
        self._authorize(request, note, (ags.SCOPE_SCORE,))
        document = await self._json_body(request, note, ags.SCORE)
        try:
            score = parse_score(document)
        except ScoreInvalid as error:
            raise ServiceProblem(400, "invalid_request", error.message) from None
        if find_member(score.user_id) is None:
            raise ServiceProblem(400, "invalid_request", f"userId {score.user_id[:80]!r} is not a member of the course")
        try:
            self.gradebook.record(record.number, score)
        except GradebookProblem as problem:
            raise ServiceProblem(problem.status, "invalid_request", problem.message) from None
        return Response(status_code=204)

    async def _results(self, request: Request, note: Note) -> Response:
        self._course(request)
        record = self._line_item(request)
        self._authorize(request, note, (ags.SCOPE_RESULT_READONLY,))
        self._accept(request, note, ags.RESULT_CONTAINER)
        grades = self.gradebook.results(record.number, request.query_params.get("user_id"))
        page, headers = self._page(request, grades)
        return self._json([self._result_json(record, grade) for grade in page], ags.RESULT_CONTAINER, headers=headers)

    # --- NRPS (lti-reference §5) --------------------------------------------------------------------

    async def _memberships(self, request: Request, note: Note) -> Response:
        self._course(request)
        self._authorize(request, note, (nrps.SCOPE,))
        self._accept(request, note, nrps.MEDIA_TYPE)
        params = request.query_params
        rlid = params.get("rlid")
        if rlid is not None and rlid not in self._links:
            raise ServiceProblem(404, "not_found", f"rlid {rlid[:80]!r} is not a link of this course")
        role = params.get("role")
        wanted = normalise_role(role) if role else None
        members = [m for m in MEMBERS if wanted is None or wanted in (normalise_role(r) for r in m.roles)]
        page, headers = self._page(request, members)
        container = {
            "id": self._self_url(request),
            "context": {"id": COURSE_ID, "label": COURSE_LABEL, "title": COURSE_TITLE},
            "members": [
                {
                    "status": "Active",
                    "user_id": m.sub,
                    "roles": list(m.roles),
                    "name": m.name,
                    "given_name": m.given_name,
                    "family_name": m.family_name,
                    "email": m.email,
                }
                for m in page
            ],
        }
        note["members"] = len(page)
        return self._json(container, nrps.MEDIA_TYPE, headers=headers)

    # --- helpers ------------------------------------------------------------------------------------

    def _course(self, request: Request) -> None:
        if request.path_params["course"] != COURSE_ID:
            raise ServiceProblem(404, "not_found", f"course {str(request.path_params['course'])[:80]!r} does not exist")

    def _line_item(self, request: Request) -> LineItemRecord:
        text = str(request.path_params["item"])
        record = self.gradebook.get(int(text)) if _whole(text) else None
        if record is None:
            raise ServiceProblem(404, "not_found", f"line item {text[:40]!r} does not exist")
        return record

    def _line_item_fields(self, document: object, current: LineItemRecord | None) -> LineItemFields:
        try:
            return parse_line_item(document, links=self._links, current=current.fields if current else None)
        except GradebookProblem as problem:
            raise ServiceProblem(problem.status, "invalid_request", problem.message) from None

    def _accept(self, request: Request, note: Note, offered: str) -> None:
        accept = request.headers.get("accept")
        note["accept"] = accept
        if not accepts(accept, offered):
            raise ServiceProblem(406, "not_acceptable", f"this resource is {offered}; the request accepts {accept!r}")

    async def _json_body(self, request: Request, note: Note, expected: str) -> object:
        content_type = request.headers.get("content-type")
        note["content_type"] = content_type
        if media_type(content_type) != expected:
            raise ServiceProblem(415, "unsupported_media_type", f"the body is {content_type!r}; expected {expected}")
        raw = bytearray()
        async for chunk in request.stream():
            raw.extend(chunk)
            if len(raw) > MAX_BODY_BYTES:
                raise ServiceProblem(413, "invalid_request", f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            document: object = json.loads(raw)
        except (ValueError, RecursionError):
            raise ServiceProblem(400, "invalid_request", "the body is not JSON") from None
        # The log keeps small bodies whole (a score, a line item) and only the size of large ones.
        note["body"] = document if len(raw) <= MAX_LOGGED_BODY_BYTES else f"({len(raw)} bytes)"
        return document

    def _page(self, request: Request, entries: list[T]) -> tuple[list[T], dict[str, str]]:
        """One page of `entries` (`limit`, `page` query parameters) and its `Link: <…>; rel="next"` header."""
        limit = self._positive(request, "limit", self.config.page_size, MAX_PAGE_SIZE)
        page = self._positive(request, "page", 1, 1_000_000)
        start = (page - 1) * limit
        headers: dict[str, str] = {}
        if start + limit < len(entries):
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
            query = urlencode([*params, ("page", str(page + 1))], quote_via=quote)
            headers["Link"] = link_header({"next": f"{self.config.issuer}{request.url.path}?{query}"})
        return entries[start : start + limit], headers

    @staticmethod
    def _positive(request: Request, name: str, default: int, most: int) -> int:
        text = request.query_params.get(name)
        if text is None:
            return default
        if not _whole(text) or not 1 <= int(text) <= most:
            raise ServiceProblem(400, "invalid_request", f"{name} {text[:20]!r} is not a whole number in 1..{most}")
        return int(text)

    def _self_url(self, request: Request) -> str:
        return f"{self.config.issuer}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "")

    @staticmethod
    def _json(document: object, media: str, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(document, status_code=status, media_type=media, headers=headers)

    def _line_item_json(self, record: LineItemRecord) -> dict[str, object]:
        f = record.fields
        optional = {
            "resourceId": f.resource_id,
            "tag": f.tag,
            "resourceLinkId": f.resource_link_id,
            "startDateTime": f.start_date_time,
            "endDateTime": f.end_date_time,
            "gradesReleased": f.grades_released,
        }
        body: dict[str, object] = {**f.extensions, "id": self.lineitem_url(record.number), "label": f.label}
        body["scoreMaximum"] = number(f.score_maximum)
        body.update({k: v for k, v in optional.items() if v is not None})
        return body

    def _result_json(self, record: LineItemRecord, grade: GradeRecord) -> dict[str, object]:
        item = self.lineitem_url(record.number)
        body: dict[str, object] = {
            "id": f"{item}/results/{quote(grade.user_id, safe='')}",
            "scoreOf": item,
            "userId": grade.user_id,
            "resultScore": number(grade.score_given),
            "resultMaximum": number(grade.score_maximum or record.fields.score_maximum),
        }
        if grade.comment is not None:
            body["comment"] = grade.comment
        if grade.scoring_user_id is not None:
            body["scoringUserId"] = grade.scoring_user_id
        return body


def _whole(text: str) -> bool:
    """Whether `text` is a small whole number in ASCII digits (`²` is a digit to str.isdigit, not to int)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def number(value: float | None) -> float | int | None:
    """A JSON number as people write it: 3 rather than 3.0."""
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
