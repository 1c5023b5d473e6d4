"""Every answer names its request id; the log lines of that request carry it and never the token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.conftest import Env, Registered
from tests.e2e.test_launch import launch
from tests.support.log_lines import Lines, captured_lines
from tests.support.platform import Browser, error_code

Register = Callable[..., Registered]


@pytest.fixture
def lines() -> Iterator[Lines]:
    with captured_lines() as handler:
        yield handler


def test_a_failed_launch_logs_its_code_under_the_request_id_of_its_answer(
    env: Env, register: Register, browser: Browser, lines: Lines
) -> None:
    reg = register()
    refused = launch(browser, reg, aud="someone-else")
    assert error_code(refused) == "audience_mismatch"
    rid = refused.headers["x-request-id"]
    mine = [line for line in lines.lines if line.get("request_id") == rid]
    assert [line["error_code"] for line in mine if line["message"] == "lti request failed"] == ["audience_mismatch"]
    assert "eyJ" not in json.dumps(lines.lines)


def test_a_plain_caller_request_id_is_kept_and_others_replaced(env: Env) -> None:
    kept = httpx.get(f"{env.gateway.url}/healthz", headers={"X-Request-ID": "lb-1234"})
    assert kept.headers["x-request-id"] == "lb-1234"
    replaced = httpx.get(f"{env.gateway.url}/healthz", headers={"X-Request-ID": "bad id\t<x>"})
    assert replaced.headers["x-request-id"] not in ("", "bad id\t<x>")
    assert httpx.get(f"{env.gateway.url}/healthz").headers["x-request-id"]
