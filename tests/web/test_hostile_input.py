"""Whatever arrives at the LTI endpoints gets a 4xx page with an error code, never a 500."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.gateway import GatewayHarness, running_gateway
from tests.support.platform import error_code, raw_token

FIELDS = ["iss", "login_hint", "target_link_uri", "client_id", "lti_message_hint", "id_token", "state", "error"]
STORAGE_FIELDS = ["lti_storage_target", "storage_state", "storage_nonce", "storage_failure", "storage_detail"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayHarness]:
    tmp: Path = tmp_path_factory.mktemp("hostile")
    with running_gateway(tmp) as harness:
        yield harness


@pytest.fixture(scope="module")
def client(gateway: GatewayHarness) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as c:
        yield c


token_like = st.one_of(
    st.text(max_size=300),
    st.builds(
        raw_token,
        st.dictionaries(
            st.sampled_from(["alg", "kid", "typ", "crit", "jku"]),
            st.one_of(st.text(max_size=20), st.integers(), st.none()),
        ),
        st.dictionaries(
            st.text(max_size=30), st.one_of(st.text(max_size=30), st.integers(), st.lists(st.integers(), max_size=3))
        ),
    ),
)
forms = st.dictionaries(
    st.sampled_from(FIELDS + STORAGE_FIELDS), st.one_of(st.text(max_size=200), token_like), max_size=6
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=forms,
    path=st.sampled_from(["/lti/login", "/lti/launch", "/lti/launch/continue"]),
    cookie=st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40),
)
def test_any_form_gets_a_coded_4xx(client: httpx.Client, form: dict[str, str], path: str, cookie: str) -> None:
    client.cookies.clear()
    if form.get("state"):
        client.cookies.set("ltigate_state_x", cookie)
    response = client.post(path, data=form)
    assert 400 <= response.status_code < 500, response.text[:300]
    assert error_code(response), response.text[:300]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=100), max_size=5))
def test_any_login_query_gets_a_coded_4xx(client: httpx.Client, query: dict[str, str]) -> None:
    response = client.get("/lti/login", params=query)
    assert 400 <= response.status_code < 500 and error_code(response)


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage", b"id_token=" + b"a" * 70_000 + b"&state=s", b"&&&===", b"state=%ZZ&id_token=%"],
)
def test_malformed_bodies(client: httpx.Client, body: bytes) -> None:
    client.cookies.clear()
    response = client.post("/lti/launch", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert 400 <= response.status_code < 500 and error_code(response)
