"""Learner accounts over real HTTP: found or created per platform and `sub`, details kept up to date, the
stable user id in the ticket and the launch view, no account for anonymous launches, the LTI 1.1 user id
from the migration claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.seats.conftest import LTI1P1, Env, Registered, launch, ticket_summary
from tests.support.platform import Browser

Register = Callable[..., Registered]


def learners_of(client: httpx.Client, platform_id: str, q: str | None = None) -> list[dict[str, object]]:
    params = {"platform_id": platform_id, **({"q": q} if q is not None else {})}
    response = client.get("/api/v1/learners", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def redeem(client: httpx.Client, response: httpx.Response) -> dict[str, object]:
    ticket = response.headers["location"].split("ticket=")[1]
    redeemed = client.post("/api/v1/tickets/redeem", json={"ticket": ticket})
    assert redeemed.status_code == 200, redeemed.text
    return redeemed.json()  # type: ignore[no-any-return]


def test_a_launch_creates_the_learner_and_hands_the_app_their_stable_id(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    response = launch(
        browser,
        reg,
        "u-42",
        name="Ada Lovelace",
        given_name="Ada",
        family_name="Lovelace",
        email="ada@example.edu",
        picture="https://lms.example.edu/ada.png",
    )
    summary = ticket_summary(response)
    with env.api() as client:
        [learner] = learners_of(client, reg.id)
        assert summary["user_id"] == learner["id"] and summary["sub"] == "u-42"
        assert {k: learner[k] for k in ("platform_id", "sub", "name", "given_name", "family_name", "email")} == {
            "platform_id": reg.id,
            "sub": "u-42",
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@example.edu",
        }
        assert learner["picture"] == "https://lms.example.edu/ada.png"
        assert learner["lti11_user_id"] is None
        assert learner["created_at"] == learner["updated_at"] == learner["last_launch_at"]

        view = redeem(client, response)
        assert view["user"]["id"] == learner["id"]  # type: ignore[index]
        assert client.get(f"/api/v1/launches/{view['id']}").json()["user"]["id"] == learner["id"]
        detail = client.get(f"/api/v1/learners/{learner['id']}").json()
        assert detail["seat"]["allocated_at"] == learner["created_at"]  # unlimited platforms count seats too
        missing = client.get("/api/v1/learners/nope")
        assert (missing.status_code, missing.json()["error"]) == (
            404,
            {"code": "not_found", "message": "learner 'nope' does not exist"},
        )


def test_later_launches_update_changed_details_and_keep_those_not_sent(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    first = ticket_summary(launch(browser, reg, "u-1", name="Grace Murray", email="grace@old.example"))
    with env.api() as client:
        [before] = learners_of(client, reg.id)
        time.sleep(0.05)
        same = ticket_summary(launch(browser, reg, "u-1", name="Grace Murray", email="grace@old.example"))
        [unchanged] = learners_of(client, reg.id)
        assert same["user_id"] == first["user_id"]
        assert unchanged["updated_at"] == before["updated_at"]  # nothing changed: no new updated_at
        assert unchanged["last_launch_at"] > before["last_launch_at"]  # type: ignore[operator]

        time.sleep(0.05)
        ticket_summary(launch(browser, reg, "u-1", name="Grace Hopper", email="grace@navy.example"))
        [changed] = learners_of(client, reg.id)
        assert (changed["id"], changed["name"], changed["email"]) == (
            first["user_id"],
            "Grace Hopper",
            "grace@navy.example",
        )
        assert changed["updated_at"] > before["updated_at"]  # type: ignore[operator]

        # A launch without email (a placement that shares no PII) keeps what is known.
        ticket_summary(launch(browser, reg, "u-1", name="Grace Hopper", email=None))
        [kept] = learners_of(client, reg.id)
        assert (kept["name"], kept["email"]) == ("Grace Hopper", "grace@navy.example")
        assert kept["updated_at"] == changed["updated_at"]


def test_the_identity_is_platform_and_sub(env: Env, register: Register, browser: Browser) -> None:
    one, two = register(), register()
    on_one = ticket_summary(launch(browser, one, "same-sub"))["user_id"]
    on_two = ticket_summary(launch(browser, two, "same-sub"))["user_id"]
    other = ticket_summary(launch(browser, one, "other-sub"))["user_id"]
    assert len({on_one, on_two, other}) == 3
    with env.api() as client:
        assert {learner["id"] for learner in learners_of(client, one.id)} == {on_one, other}
        assert [learner["id"] for learner in learners_of(client, two.id)] == [on_two]


def test_an_anonymous_launch_gets_in_without_an_account_or_a_seat(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register(seats=1)
    ticket_summary(launch(browser, reg, "ada"))  # the only seat is taken
    response = launch(browser, reg, None)
    summary = ticket_summary(response)
    assert summary["user_id"] is None and summary["sub"] is None
    with env.api() as client:
        assert [learner["sub"] for learner in learners_of(client, reg.id)] == ["ada"]
        view = redeem(client, response)
        assert view["user"]["id"] is None and view["user"]["sub"] is None  # type: ignore[index]
        usage = client.get(f"/api/v1/platforms/{reg.id}/seats").json()["usage"]
        assert (usage["used"], usage["remaining"]) == (1, 0)


def test_the_lti11_user_id_comes_from_the_migration_claim(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    lti1p1 = {"user_id": "legacy-7", "oauth_consumer_key": "key", "oauth_consumer_key_sign": "c2lnbg=="}
    response = launch(browser, reg, "u-7", **{LTI1P1: lti1p1})
    learner_id = ticket_summary(response)["user_id"]
    with env.api() as client:
        learner = client.get(f"/api/v1/learners/{learner_id}").json()
        assert learner["lti11_user_id"] == "legacy-7"
        assert redeem(client, response)["user"]["lti11_user_id"] == "legacy-7"  # type: ignore[index]


def test_learners_are_searched_by_name_email_or_sub(env: Env, register: Register, browser: Browser) -> None:
    reg = register()
    ticket_summary(launch(browser, reg, "s-1", name="Ada Lovelace", email="ada@example.edu"))
    ticket_summary(launch(browser, reg, "s-2", name="Grace Hopper", email="grace@navy.example"))
    ticket_summary(launch(browser, reg, "s_3", name="Alan 100% Turing", email="alan@example.edu"))
    with env.api() as client:
        assert {x["sub"] for x in learners_of(client, reg.id, "LOVE")} == {"s-1"}
        assert {x["sub"] for x in learners_of(client, reg.id, "example.edu")} == {"s-1", "s_3"}
        assert {x["sub"] for x in learners_of(client, reg.id, "s-2")} == {"s-2"}
        assert {x["sub"] for x in learners_of(client, reg.id, "100%")} == {"s_3"}
        assert learners_of(client, reg.id, "s%") == []  # wildcards match themselves
        assert [x["sub"] for x in learners_of(client, reg.id)] == ["s_3", "s-2", "s-1"]  # latest launch first
        paged = client.get("/api/v1/learners", params={"platform_id": reg.id, "limit": 1, "offset": 1}).json()
        assert [x["sub"] for x in paged] == ["s-2"]
