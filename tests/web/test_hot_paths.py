"""/lti/login and /lti/launch driven in-process as ASGI messages: the exact status and header list of every
answer (the success paths build theirs as bytes, web.hot_path), the form caps, the request id, the latency
metric, and what the methods these paths do not take get.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import Message, Receive, Scope, Send

from ltigate.bootstrap import build_gateway, migrate
from ltigate.config import Settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import DeploymentPolicy, PlatformFields, ResourceFields
from ltigate.web.app import HotPaths, create_app
from ltigate.web.forms import MAX_FIELDS, MAX_FORM_BYTES, query_text
from ltigate.web.hot_path import Redirect, read_head
from ltigate.web.platform_storage import CONTINUE_PATH
from tests.support.gateway import GatewayHarness, make_settings
from tests.support.log_lines import Lines, captured_lines
from tests.support.platform import ScriptedPlatform
from tests.support.servers import ServerThread

pytestmark = pytest.mark.anyio

APP_URL = "http://127.0.0.1:9/app"
FORM = b"application/x-www-form-urlencoded"
PAGE_HEADERS = [b"cache-control", b"content-security-policy", b"referrer-policy", b"content-length", b"content-type"]
_CODE = re.compile(rb'data-testid="error-code">([a-z_]+)<')
FUZZ = settings(max_examples=300, deadline=None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Lms:
    platform: ScriptedPlatform
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def lms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lms]:
    """A platform serving its key set over HTTP, registered with a migrated gateway database (never served:
    the tests call the ASGI app themselves)."""
    tmp: Path = tmp_path_factory.mktemp("hot")
    platform = ScriptedPlatform()
    settings, cleanup = make_settings(tmp, "sqlite", 8999)
    with ServerThread(platform.app(), lifespan="off") as server:
        platform.issuer = f"{server.url}/lms"
        migrate(settings)

        async def seed(gateway: Gateway) -> None:
            fields = platform.platform_fields(server.url, deployment_policy=DeploymentPolicy.APPROVE)
            await gateway.platforms.create(PlatformFields(**fields))  # type: ignore[arg-type]
            await gateway.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=APP_URL))

        GatewayHarness(settings=settings, url=settings.base_url).run(seed)
        yield Lms(platform=platform, url=server.url, settings=settings)
    cleanup()


@pytest.fixture
async def gateway(lms: Lms) -> AsyncIterator[Gateway]:
    built = await build_gateway(lms.settings)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def app(gateway: Gateway) -> HotPaths:
    return create_app(gateway)


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: bytes) -> bytes:
        (value,) = [v for k, v in self.headers if k == name]
        return value

    @property
    def names(self) -> list[bytes]:
        return [name for name, _ in self.headers]

    @property
    def code(self) -> str | None:
        match = _CODE.search(self.body)
        if match:
            return match.group(1).decode()
        if self.headers and self.header(b"content-type") == b"application/json":
            return str(json.loads(self.body)["error"]["code"])
        return None


async def call(
    app: HotPaths,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Sequence[tuple[bytes, bytes]] = (),
    chunks: Sequence[bytes] = (),
    disconnect: bool = False,
) -> Answer:
    """One request: the body arrives in `chunks` (then, with `disconnect`, the client goes away)."""
    messages: list[dict[str, object]] = [
        {"type": "http.request", "body": chunk, "more_body": disconnect or n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ] or [{"type": "http.request", "body": b"", "more_body": disconnect}]
    if disconnect:
        messages.append({"type": "http.disconnect"})
    answer = Answer()

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            answer.status = int(message["status"])  # type: ignore[call-overload]
            answer.headers = [(bytes(k), bytes(v)) for k, v in message["headers"]]  # type: ignore[attr-defined]
        else:
            assert message["type"] == "http.response.body" and not message.get("more_body")
            answer.body += message["body"]  # type: ignore[operator]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8999"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8999),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return answer


async def post(app: HotPaths, path: str, form: bytes, *headers: tuple[bytes, bytes], query: str = "") -> Answer:
    return await call(
        app,
        "POST",
        path,
        query=query,
        headers=[(b"content-type", FORM), (b"content-length", str(len(form)).encode()), *headers],
        chunks=[form],
    )


def initiation(lms: Lms, **extra: str) -> dict[str, str]:
    return {
        "iss": lms.platform.issuer,
        "login_hint": "user-1",
        "target_link_uri": f"{lms.settings.base_url}/lti/launch?resource=quiz",
        "client_id": lms.platform.client_id,
        "lti_deployment_id": lms.platform.deployment_id,
        **extra,
    }


def cookie_name(state: str) -> str:
    return "ltigate_state_" + hashlib.sha256(state.encode()).hexdigest()[:20]


def expected_login_headers(answer: Answer, rid: bytes) -> list[tuple[bytes, bytes]]:
    """What the 302 of a login carries, given its Location (whose state and nonce are random)."""
    location = answer.header(b"location")
    state = parse_qs(urlsplit(location.decode()).query)["state"][0]
    cookie = f"{cookie_name(state)}={state}; Max-Age=600; Path=/lti/launch; HttpOnly; SameSite=Lax"
    return [
        (b"cache-control", b"no-store"),
        (b"content-length", b"0"),
        (b"location", location),
        (b"set-cookie", cookie.encode()),
        (b"x-request-id", rid),
    ]


def auth_request(lms: Lms, answer: Answer) -> dict[str, list[str]]:
    location = urlsplit(answer.header(b"location").decode())
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{lms.url}/auth"
    return parse_qs(location.query)


async def test_a_posted_login_is_a_302_to_the_platform_with_the_state_cookie(app: HotPaths, lms: Lms) -> None:
    answer = await post(app, "/lti/login", urlencode(initiation(lms)).encode(), (b"x-request-id", b"lb-1"))

    assert answer.status == 302
    assert answer.headers == expected_login_headers(answer, b"lb-1")
    assert answer.body == b""
    params = auth_request(lms, answer)
    assert params["login_hint"] == ["user-1"] and params["client_id"] == [lms.platform.client_id]
    assert params["redirect_uri"] == [f"{lms.settings.base_url}/lti/launch"]


async def test_a_login_by_get_is_the_same_302(app: HotPaths, lms: Lms) -> None:
    answer = await call(app, "GET", "/lti/login", query=urlencode(initiation(lms)), headers=[(b"x-request-id", b"g")])

    assert answer.status == 302
    assert answer.headers == expected_login_headers(answer, b"g")
    assert answer.body == b""


async def test_the_body_wins_over_the_query_string(app: HotPaths, lms: Lms) -> None:
    query = urlencode(initiation(lms, login_hint="from-query", lti_message_hint="q"))

    answer = await post(app, "/lti/login", b"login_hint=from-body", query=query)

    assert answer.status == 302
    params = auth_request(lms, answer)
    assert (params["login_hint"], params["lti_message_hint"]) == (["from-body"], ["q"])


async def test_a_request_id_is_made_when_none_or_an_odd_one_is_given(app: HotPaths, lms: Lms) -> None:
    form = urlencode(initiation(lms)).encode()
    for sent_id in [(), ((b"x-request-id", b"bad id <x>"),)]:
        answer = await post(app, "/lti/login", form, *sent_id)

        assert answer.status == 302
        assert re.fullmatch(rb"[0-9a-f]{16}", answer.header(b"x-request-id"))
        assert answer.headers == expected_login_headers(answer, answer.header(b"x-request-id"))


async def test_a_login_in_a_frame_gets_the_storage_page_with_the_cookie(app: HotPaths, lms: Lms) -> None:
    form = urlencode(initiation(lms)).encode()

    answer = await post(app, "/lti/login", form, (b"sec-fetch-dest", b"iframe"), (b"x-request-id", b"f"))

    assert answer.status == 200
    assert answer.names == [
        b"cache-control",
        b"content-security-policy",
        b"referrer-policy",
        b"x-content-type-options",
        b"content-length",
        b"content-type",
        b"set-cookie",
        b"x-request-id",
    ]
    assert answer.header(b"content-type") == b"text/html; charset=utf-8"
    assert answer.header(b"set-cookie").startswith(b"ltigate_state_")
    assert int(answer.header(b"content-length")) == len(answer.body)


async def login(app: HotPaths, lms: Lms) -> tuple[str, str, str]:
    """A login for user-1: (state, nonce, the Cookie header the browser sends back)."""
    answer = await post(app, "/lti/login", urlencode(initiation(lms)).encode())
    assert answer.status == 302
    params = auth_request(lms, answer)
    cookie = answer.header(b"set-cookie").decode().split(";", 1)[0]
    return params["state"][0], params["nonce"][0], cookie


def id_token(lms: Lms, nonce: str) -> str:
    target = f"{lms.settings.base_url}/lti/launch?resource=quiz"
    return lms.platform.token(lms.platform.claims(nonce=nonce, target_link_uri=target))


async def test_a_launch_is_a_303_to_the_app(app: HotPaths, lms: Lms) -> None:
    state, nonce, cookie = await login(app, lms)
    form = urlencode({"id_token": id_token(lms, nonce), "state": state}).encode()

    answer = await post(app, "/lti/launch", form, (b"cookie", cookie.encode()), (b"x-request-id", b"l-1"))

    assert answer.status == 303
    location = answer.header(b"location")
    assert re.fullmatch(rb"http://127\.0\.0\.1:9/app\?ticket=[A-Za-z0-9_.~-]+", location), location
    assert answer.headers == [
        (b"cache-control", b"no-store"),
        (b"content-length", b"0"),
        (b"location", location),
        (b"x-request-id", b"l-1"),
    ]
    assert answer.body == b""


@pytest.mark.parametrize(
    "cookies",
    [
        ["a=1; {cookie}; b=2"],
        ["a=1", "{cookie}"],  # one Cookie header per cookie, as HTTP/2 sends them
        ['{name}="{state}"'],  # a quoted value
        ["{name}=stale", "c=3; {cookie}"],  # the last one wins
    ],
)
async def test_the_launch_finds_its_state_cookie_among_others(app: HotPaths, lms: Lms, cookies: list[str]) -> None:
    state, nonce, cookie = await login(app, lms)
    form = urlencode({"id_token": id_token(lms, nonce), "state": state}).encode()
    headers = [(b"cookie", c.format(cookie=cookie, name=cookie_name(state), state=state).encode()) for c in cookies]

    answer = await post(app, "/lti/launch", form, *headers)

    assert answer.status == 303, answer.code


async def test_a_launch_without_its_state_cookie_is_an_error_page(app: HotPaths, lms: Lms) -> None:
    state, nonce, _ = await login(app, lms)
    form = urlencode({"id_token": id_token(lms, nonce), "state": state}).encode()

    answer = await post(app, "/lti/launch", form, (b"cookie", b"other=1"), (b"x-request-id", b"e"))

    assert (answer.status, answer.code) == (400, "state_missing")
    assert answer.names == [*PAGE_HEADERS, b"x-request-id"]


HOT = [("POST", "/lti/login"), ("POST", "/lti/launch")]


@pytest.mark.parametrize(("method", "path"), HOT)
@pytest.mark.parametrize("declared", [str(MAX_FORM_BYTES + 1), "10485760", "abc", "-1"])
async def test_a_declared_length_above_the_cap_is_refused_unread(
    app: HotPaths, method: str, path: str, declared: str
) -> None:
    answer = await call(
        app, method, path, headers=[(b"content-type", FORM), (b"content-length", declared.encode())], disconnect=True
    )

    assert (answer.status, answer.code) == (413, "form_too_large")
    assert answer.names == [*PAGE_HEADERS, b"x-request-id"]
    assert answer.header(b"content-security-policy").endswith(b"frame-ancestors 'none'")


@pytest.mark.parametrize(("method", "path"), HOT)
async def test_a_body_passing_the_cap_is_refused_as_it_arrives(app: HotPaths, method: str, path: str) -> None:
    chunk = b"a" * 8192
    chunks = [chunk] * (MAX_FORM_BYTES // len(chunk)) + [b"b"] + [chunk] * 100

    answer = await call(app, method, path, headers=[(b"content-type", FORM)], chunks=chunks)

    assert (answer.status, answer.code) == (413, "form_too_large")
    assert f"the form exceeds {MAX_FORM_BYTES} bytes".encode() in answer.body


@pytest.mark.parametrize(("method", "path"), HOT)
async def test_a_client_leaving_mid_body(app: HotPaths, method: str, path: str) -> None:
    answer = await call(
        app, method, path, headers=[(b"content-type", FORM)], chunks=[b"state=abc", b"&id_"], disconnect=True
    )

    assert (answer.status, answer.code) == (400, "form_incomplete")
    assert b"the client disconnected after 13 bytes of the form" in answer.body


@pytest.mark.parametrize(("method", "path"), HOT)
@pytest.mark.parametrize(
    ("content_type", "body", "query", "message"),
    [
        (b"application/json", b'{"state": "s"}', "", "content type &#39;application/json&#39; is not accepted"),
        (b"multipart/form-data; boundary=x", b"--x--", "", "content type &#39;multipart/form-data&#39;"),
        (b"", b"state=s", "", "content type &#39;&#39; is not accepted"),
        (FORM, b"state=\xff", "", "the form is not valid UTF-8"),
        (FORM, b"state=s%00", "", "the form holds a NUL character"),
        (FORM, b"state=s\x00", "", "the form holds a NUL character"),
        (FORM, b"state=s", "a=%00", "the query string holds a NUL character"),
        (FORM, "&".join(f"f{i}=" for i in range(MAX_FIELDS + 1)).encode(), "", "the form has more than"),
        (FORM, b"state=s", "&".join(f"f{i}=1" for i in range(MAX_FIELDS + 1)), "the query string has more than"),
    ],
)
async def test_forms_that_are_not_urlencoded_lti_forms_are_refused(
    app: HotPaths, method: str, path: str, content_type: bytes, body: bytes, query: str, message: str
) -> None:
    headers = [(b"content-type", content_type)] if content_type else []

    answer = await call(app, method, path, query=query, headers=headers, chunks=[body])

    assert (answer.status, answer.code) == (415, "form_unsupported")
    assert message.encode() in answer.body


@pytest.mark.parametrize(("method", "path"), HOT)
async def test_an_empty_body_is_no_form_whatever_its_content_type(app: HotPaths, method: str, path: str) -> None:
    answer = await call(app, method, path, headers=[(b"content-type", b"application/json")])

    assert (answer.status, answer.code) == {
        "/lti/login": (400, "login_parameter_missing"),
        "/lti/launch": (400, "token_malformed"),
    }[path]


async def test_head_is_answered_as_get_and_other_methods_as_before(app: HotPaths, lms: Lms) -> None:
    head = await call(app, "HEAD", "/lti/login", headers=[(b"x-request-id", b"h")])
    get = await call(app, "GET", "/lti/login", headers=[(b"x-request-id", b"h")])
    assert (head.status, head.headers, head.code) == (get.status, get.headers, "login_parameter_missing")
    head = await call(app, "HEAD", "/lti/login", query=urlencode(initiation(lms)))
    assert head.status == 302

    for method, path, allowed in [
        ("PUT", "/lti/login", {"GET", "HEAD", "POST"}),
        ("DELETE", "/lti/login", {"GET", "HEAD", "POST"}),
        ("GET", "/lti/launch", {"POST"}),
        ("HEAD", "/lti/launch", {"POST"}),
    ]:
        answer = await call(app, method, path, headers=[(b"x-request-id", b"m")])

        assert (answer.status, answer.code) == (405, "method_not_allowed"), (method, path)
        allow = answer.header(b"allow").decode()
        assert set(allow.split(", ")) == allowed, (method, path, allow)
        assert answer.headers == [
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(answer.body)).encode()),
            (b"content-type", b"application/json"),
            (b"allow", allow.encode()),
            (b"x-request-id", b"m"),
        ]


async def test_the_latency_of_both_requests_is_recorded_by_path(app: HotPaths, gateway: Gateway, lms: Lms) -> None:
    state, nonce, _ = await login(app, lms)
    await post(app, "/lti/launch", urlencode({"id_token": id_token(lms, nonce), "state": state}).encode())
    await call(app, "PUT", "/lti/login")

    text = await gateway.metrics.render()

    assert 'ltigate_request_duration_seconds_count{path="/lti/login"} 1' in text
    assert 'ltigate_request_duration_seconds_count{path="/lti/launch"} 1' in text


@pytest.fixture
def lines() -> Iterator[Lines]:
    with captured_lines() as handler:
        yield handler


async def test_the_log_lines_of_a_request_carry_its_id(app: HotPaths, lms: Lms, lines: Lines) -> None:
    await post(app, "/lti/launch", b"state=s&id_token=x", (b"x-request-id", b"log-1"))
    unknown = urlencode(initiation(lms, iss="https://x.test")).encode()
    await post(app, "/lti/login", unknown, (b"x-request-id", b"log-2"))

    failed = [
        (line["request_id"], line["error_code"]) for line in lines.lines if line["message"] == "lti request failed"
    ]
    assert failed == [("log-1", "token_malformed"), ("log-2", "unknown_issuer")]


# --- the parts, against what starlette makes of the same request and the same redirect -------------------

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
cookie_names = st.sampled_from(["ltigate_state_1", "a", "b c", "x"])
cookie_pairs = st.lists(
    st.tuples(st.one_of(cookie_names, header_text), st.sampled_from(["=", " = ", '="', ""]), header_text), max_size=5
).map(lambda pairs: "; ".join(f"{name}{sep}{value}" for name, sep, value in pairs))


def scope_of(headers: list[tuple[bytes, bytes]], query: bytes) -> dict[str, object]:
    return {"type": "http", "method": "POST", "path": "/lti/launch", "query_string": query, "headers": headers}


@FUZZ
@given(
    cookies=st.lists(st.one_of(cookie_pairs, header_text), max_size=3),
    name=cookie_names,
    query=st.text(st.sampled_from([*string.printable, "\x00", "é", "€"]), max_size=40).map(str.encode),
    others=st.lists(
        st.tuples(
            st.sampled_from([b"content-type", b"content-length", b"sec-fetch-dest", b"host", b"x-other"]), header_text
        ),
        max_size=6,
    ),
)
def test_the_head_holds_what_starlettes_request_reads(
    cookies: list[str], name: str, query: bytes, others: list[tuple[bytes, str]]
) -> None:
    headers = [(b"cookie", c.encode("latin-1")) for c in cookies] + [(k, v.encode("latin-1")) for k, v in others]
    headers.insert(len(headers) // 2, (b"host", b"gate.test"))
    scope = scope_of(headers, query)
    request = Request(scope)

    head = read_head(scope)

    assert head.cookie(name) == request.cookies.get(name)
    assert query_text(head.raw_query) == request.url.query
    assert head.method == request.method
    assert head.content_length == request.headers.get("content-length")
    assert head.content_type == request.headers.get("content-type", "")
    assert head.fetch_dest == request.headers.get("sec-fetch-dest")


@pytest.mark.parametrize(("method", "path"), [*HOT, ("GET", "/lti/login"), ("POST", CONTINUE_PATH)])
async def test_a_query_string_that_is_not_utf8_is_refused(app: HotPaths, method: str, path: str) -> None:
    answer = await call(app, method, path, query="iss=\xff")

    assert (answer.status, answer.code) == (415, "form_unsupported")
    assert b"the query string is not valid UTF-8" in answer.body


async def sent(app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> list[Message]:
    messages: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("a response reads nothing")

    async def send(message: Message) -> None:
        messages.append(message)

    await app({"type": "http"}, receive, send)
    return messages


@FUZZ
@given(
    url=st.text(st.one_of(st.sampled_from(string.printable), st.characters(exclude_categories=["Cs"])), max_size=80),
    status=st.sampled_from([302, 303]),
    cookie=st.one_of(st.none(), header_text),
)
def test_a_redirect_sends_what_redirect_response_sends(url: str, status: int, cookie: str | None) -> None:
    response = RedirectResponse(url, status, headers={"Cache-Control": "no-store"})
    if cookie is not None:
        response.headers.append("set-cookie", cookie)

    assert asyncio.run(sent(Redirect(status, url, set_cookie=cookie))) == asyncio.run(sent(response))
