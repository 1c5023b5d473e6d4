"""Any form, query string or body at /lti/login, /lti/launch and /lti/launch/continue gets a 4xx page with an
error code: arbitrary fields and values, urlencoded and multipart, wrong content types, invalid UTF-8, huge
field counts and repeated fields. Never a 500, never a hang.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltigate.web.forms import MAX_FIELDS
from tests.hostile.conftest import FUZZ, Env, Register, Registered, assert_coded_4xx

LTI_FIELDS = [
    "iss",
    "login_hint",
    "target_link_uri",
    "client_id",
    "lti_message_hint",
    "lti_deployment_id",
    "lti_storage_target",
    "id_token",
    "state",
    "error",
    "error_description",
    "storage_state",
    "storage_nonce",
    "storage_failure",
    "storage_detail",
]
PATHS = ["/lti/login", "/lti/launch", "/lti/launch/continue"]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=latin-1",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "",
    "x" * 300,
    "application/x-www-form-urlencoded; charset=utf-16; boundary=--",
]

names = st.one_of(st.sampled_from(LTI_FIELDS), st.text(max_size=20))
values = st.one_of(
    st.text(max_size=200),  # any code point: NUL, controls, RTL marks, emoji
    st.text(alphabet=string.ascii_letters + string.digits + "-_.", max_size=300),
    st.sampled_from(["", "https://canvas.test", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "..", "%", "%ZZ", "&", "="]),
)
pairs = st.lists(st.tuples(names, values), max_size=20)  # names repeat freely


def _raw_pairs(items: list[tuple[bytes, bytes]]) -> bytes:
    return b"&".join(name + b"=" + value for name, value in items)


bodies = st.one_of(
    pairs.map(lambda p: urlencode(p).encode()),
    pairs.map(lambda p: urlencode(p, encoding="latin-1", errors="replace").encode()),
    pairs.map(lambda p: urlencode(p, encoding="utf-16").encode()),
    st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=80)), max_size=10).map(_raw_pairs),
    st.binary(max_size=400),  # invalid UTF-8, NUL, lone continuation bytes
)


@pytest.fixture
def client(env: Env) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=env.gateway.url, timeout=10) as c:
        yield c


@FUZZ
@given(path=st.sampled_from(PATHS), body=bodies, content_type=st.sampled_from(CONTENT_TYPES))
def test_any_body_under_any_content_type_gets_a_coded_4xx(
    client: httpx.Client, path: str, body: bytes, content_type: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert_coded_4xx(client.post(path, content=body, headers=headers))


@FUZZ
@given(path=st.sampled_from(PATHS), fields=pairs, query=pairs)
def test_any_urlencoded_fields_with_any_query_get_a_coded_4xx(
    client: httpx.Client, path: str, fields: list[tuple[str, str]], query: list[tuple[str, str]]
) -> None:
    response = client.post(
        path + "?" + urlencode(query),
        content=urlencode(fields).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_coded_4xx(response)


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    fields=st.dictionaries(st.sampled_from(LTI_FIELDS), values, min_size=1, max_size=6),
    files=st.dictionaries(st.sampled_from(LTI_FIELDS), st.binary(min_size=1, max_size=100), min_size=1, max_size=2),
)
def test_multipart_forms_are_refused_as_unsupported(
    client: httpx.Client, path: str, fields: dict[str, str], files: dict[str, bytes]
) -> None:
    # Platforms post urlencoded forms (OIDC form_post); a multipart body is never read as one.
    response = client.post(path, data=fields, files={name: ("f.bin", data) for name, data in files.items()})

    assert (response.status_code, assert_coded_4xx(response)) == (415, "form_unsupported")


# What a URL may carry literally stays literal (stray '%', '&&', ';', '+'), the rest is percent-encoded.
QUERY_SAFE = "&=;%+/?:@!$'()*,[]"


@FUZZ
@given(
    query=st.one_of(
        pairs.map(urlencode),
        st.text(max_size=300).map(lambda text: quote(text, safe=QUERY_SAFE)),
        st.binary(max_size=100).map(lambda data: quote(data, safe=QUERY_SAFE)),
    )
)
def test_any_login_query_string_gets_a_coded_4xx(client: httpx.Client, query: str) -> None:
    assert_coded_4xx(client.get(httpx.URL("/lti/login", query=query.encode("ascii"))))


@pytest.mark.parametrize("count", [MAX_FIELDS + 1, 1_000, 12_000])  # 12 000 fields: ~84 KB, under the size cap
@pytest.mark.parametrize("path", PATHS)
def test_too_many_body_fields(client: httpx.Client, path: str, count: int) -> None:
    body = "&".join(f"f{i}=" for i in range(count)).encode()

    response = client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})

    assert (response.status_code, assert_coded_4xx(response)) == (415, "form_unsupported")
    assert f"the form has more than {MAX_FIELDS} fields" in response.text


@pytest.mark.parametrize("count", [MAX_FIELDS + 1, 5_000])
@pytest.mark.parametrize(("method", "path"), [("GET", "/lti/login"), *[("POST", p) for p in PATHS]])
def test_too_many_query_fields(client: httpx.Client, method: str, path: str, count: int) -> None:
    query = "&".join(f"f{i}=1" for i in range(count))

    response = client.request(method, f"{path}?{query}")

    assert (response.status_code, assert_coded_4xx(response)) == (415, "form_unsupported")
    assert f"the query string has more than {MAX_FIELDS} fields" in response.text


@pytest.mark.parametrize("path", PATHS)
def test_repeated_fields(client: httpx.Client, path: str) -> None:
    body = "&".join(["state=a", "state=b", "id_token=x.y.z", "id_token=", "iss=", "iss=https://x.test"] * 10)

    response = client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})

    assert_coded_4xx(response)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "body",
    [
        b"id_token=\xff\xfe&state=\xc3\x28",  # invalid UTF-8 bytes, raw
        b"id_token=%ff%fe&state=%c3%28",  # invalid UTF-8, percent-encoded
        b"state=%00&id_token=%00.%00.%00",  # NUL characters (PostgreSQL refuses them in text)
        b"state=s&error=%00&error_description=a%00b",  # quoted into the launch log's message
        b"iss=%00&login_hint=%00&target_link_uri=%00&client_id=%00",  # looked up in the database
        b"\x00" * 500,
        b"=" * 1000,
        b"&" * 5000,
        b"state=" + b"%" * 3000,
        "state=\U0001f600&id_token=\u202e".encode(),
    ],
)
def test_malformed_encodings(client: httpx.Client, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})

    assert_coded_4xx(response)


# --- login with a registered issuer: deeper into the login code -----------------------------------


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["login_hint", "target_link_uri", "lti_message_hint", "lti_deployment_id", "client_id"]),
        values,
    ),
    method=st.sampled_from(["GET", "POST"]),
    good_target=st.booleans(),
)
def test_login_for_a_registered_issuer_redirects_only_to_its_platform(
    env: Env, approved: Registered, params: dict[str, str], method: str, good_target: bool
) -> None:
    query = {"iss": approved.platform.issuer, **params}
    if good_target:
        query["target_link_uri"] = f"{env.gateway.url}/lti/launch?resource=quiz"
    with httpx.Client(base_url=env.gateway.url, timeout=10) as client:
        response = client.get("/lti/login", params=query) if method == "GET" else client.post("/lti/login", data=query)
    if response.status_code == 302:
        location = urlsplit(response.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{approved.url}/auth"
        assert parse_qs(location.query)["client_id"] == [approved.platform.client_id]
    else:
        assert_coded_4xx(response)


def test_a_huge_login_query_string_is_refused(client: httpx.Client, register: Register) -> None:
    reg = register()
    response = client.get("/lti/login", params={"iss": reg.platform.issuer, "login_hint": "x" * 60_000})

    assert assert_coded_4xx(response) == "login_parameter_missing"
    assert "has 60000 characters; at most 4096" in response.text
