"""`/metrics`: launches by outcome and error code, request latency, key-set cache and outbox readings, in
the Prometheus text format, for API keys only."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from tests.e2e.conftest import Env, Registered
from tests.e2e.test_launch import launch, ticket_of
from tests.support.platform import Browser, error_code

Register = Callable[..., Registered]


def scrape(env: Env) -> dict[str, float]:
    response = httpx.get(f"{env.gateway.url}/metrics", headers={"Authorization": f"Bearer {env.api_key}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_count_launches_by_outcome_and_code(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    before = scrape(env)
    ticket_of(launch(browser, reg))
    ticket_of(launch(browser, reg))
    refused = launch(browser, reg, aud="someone-else")
    assert error_code(refused) == "audience_mismatch"
    after = scrape(env)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    ok = 'ltigate_launches_total{outcome="succeeded",error_code="",message_type="LtiResourceLinkRequest"}'
    failed = 'ltigate_launches_total{outcome="failed",error_code="audience_mismatch",message_type=""}'
    assert delta(ok) == 2
    assert delta(failed) == 1
    assert delta('ltigate_request_duration_seconds_count{path="/lti/launch"}') == 3
    assert delta('ltigate_request_duration_seconds_count{path="/lti/login"}') == 3
    assert after['ltigate_request_duration_seconds_bucket{path="/lti/launch",le="+Inf"}'] >= 3
    assert delta("ltigate_jwks_fetches_total") == 1  # the new platform's key set, once
    assert delta("ltigate_jwks_cache_hits_total") >= 2
    assert "ltigate_token_requests_total" in after


def test_metrics_need_an_api_key_and_hold_no_secrets(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    ticket_of(launch(browser, reg))
    assert httpx.get(f"{env.gateway.url}/metrics").status_code == 401
    wrong = httpx.get(f"{env.gateway.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    body = httpx.get(f"{env.gateway.url}/metrics", headers={"Authorization": f"Bearer {env.api_key}"}).text
    assert env.api_key not in body
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}", body)  # no tokens
    assert reg.platform.issuer not in body and "user-1" not in body  # no issuers or users as labels
