"""Seat rules over real HTTP: the first launch allocates, later ones reuse, staff never count, a full
platform refuses new learners with the seats_exhausted page (and logs it), releases make room, and a
lowered cap blocks new learners only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.seats.conftest import INSTITUTION_ADMIN, Env, Registered, launch, refused, ticket_summary
from tests.support.platform import INSTRUCTOR, LEARNER, Browser

Register = Callable[..., Registered]


def seats_of(client: httpx.Client, platform_id: str, **params: object) -> dict[str, object]:
    response = client.get(f"/api/v1/platforms/{platform_id}/seats", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def usage_of(client: httpx.Client, platform_id: str) -> tuple[int, int, int | None]:
    usage = seats_of(client, platform_id)["usage"]
    assert isinstance(usage, dict)
    return usage["seats_licensed"], usage["used"], usage["remaining"]


def holders(client: httpx.Client, platform_id: str) -> dict[str, dict[str, object]]:
    """The seats by the learners' sub."""
    seats = seats_of(client, platform_id, limit=500)["seats"]
    assert isinstance(seats, list)
    return {s["sub"]: s for s in seats}


def test_the_first_launch_allocates_a_seat_and_later_launches_reuse_it(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register(seats=3)
    with env.api() as client:
        assert usage_of(client, reg.id) == (3, 0, 3)
        first = ticket_summary(launch(browser, reg, "ada", name="Ada Lovelace", email="ada@example.edu"))
        assert usage_of(client, reg.id) == (3, 1, 2)
        seat = holders(client, reg.id)["ada"]
        assert seat["learner_id"] == first["user_id"]
        assert (seat["name"], seat["email"]) == ("Ada Lovelace", "ada@example.edu")
        assert seat["allocated_at"] == seat["last_used_at"]

        time.sleep(0.05)
        again = ticket_summary(launch(browser, reg, "ada"))
        assert again["user_id"] == first["user_id"]
        assert usage_of(client, reg.id) == (3, 1, 2)
        reused = holders(client, reg.id)["ada"]
        assert reused["allocated_at"] == seat["allocated_at"]
        assert reused["last_used_at"] > seat["last_used_at"]  # type: ignore[operator]

        platform = client.get(f"/api/v1/platforms/{reg.id}").json()
        assert (platform["seats"], platform["seats_used"], platform["seats_remaining"]) == (3, 1, 2)


def test_instructors_and_administrators_never_take_a_seat_and_always_get_in(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register(seats=1)
    ticket_summary(launch(browser, reg, "teacher", roles=[INSTRUCTOR]))
    ticket_summary(launch(browser, reg, "admin", roles=[LEARNER, INSTITUTION_ADMIN]))
    with env.api() as client:
        assert usage_of(client, reg.id) == (1, 0, 1)
        ticket_summary(launch(browser, reg, "ada"))
        assert usage_of(client, reg.id) == (1, 1, 0)
        ticket_summary(launch(browser, reg, "teacher", roles=[INSTRUCTOR]))  # the platform is full
        ticket_summary(launch(browser, reg, "admin", roles=[LEARNER, INSTITUTION_ADMIN]))
        assert usage_of(client, reg.id) == (1, 1, 0)
        assert set(holders(client, reg.id)) == {"ada"}


def test_a_full_platform_refuses_a_new_learner_with_a_friendly_page_and_logs_it(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register(seats=2, name="Canvas (production)")
    ticket_summary(launch(browser, reg, "ada"))
    ticket_summary(launch(browser, reg, "grace"))

    response = launch(browser, reg, "alan", name="Alan Turing")
    refused(response, 403, "seats_exhausted")
    assert "All seats are taken" in response.text
    assert "platform &#39;Canvas (production)&#39; has 2 seats licensed and 2 in use" in response.text
    assert "ltigate seats release-idle" in response.text  # the fix for administrators
    ticket_summary(launch(browser, reg, "ada"))  # a learner holding a seat still gets in

    with env.api() as client:
        assert usage_of(client, reg.id) == (2, 2, 0)
        failed = client.get(
            "/api/v1/launches", params={"platform_id": reg.id, "outcome": "failed", "error_code": "seats_exhausted"}
        ).json()
        assert [(f["error_code"], f["sub"], f["user_name"]) for f in failed] == [
            ("seats_exhausted", "alan", "Alan Turing")
        ]
        assert failed[0]["error_message"].startswith("all seats are taken: platform 'Canvas (production)' has 2")
        alan = client.get("/api/v1/learners", params={"platform_id": reg.id, "q": "alan"}).json()
        assert [learner["sub"] for learner in alan] == ["alan"]  # the account exists, without a seat
        assert client.get(f"/api/v1/learners/{alan[0]['id']}").json()["seat"] is None


def test_a_released_seat_lets_a_new_learner_in_and_its_former_holder_needs_a_fresh_one(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register(seats=1)
    ada = ticket_summary(launch(browser, reg, "ada"))["user_id"]
    refused(launch(browser, reg, "grace"), 403, "seats_exhausted")
    with env.api() as client:
        released = client.delete(f"/api/v1/platforms/{reg.id}/seats/{ada}")
        assert released.status_code == 204
        assert usage_of(client, reg.id) == (1, 0, 1)
        again = client.delete(f"/api/v1/platforms/{reg.id}/seats/{ada}")
        assert again.status_code == 404
        assert again.json()["error"] == {
            "code": "not_found",
            "message": f"learner '{ada}' holds no seat on platform '{reg.id}'",
        }

        ticket_summary(launch(browser, reg, "grace"))
        refused(launch(browser, reg, "ada"), 403, "seats_exhausted")
        assert set(holders(client, reg.id)) == {"grace"}
        assert usage_of(client, reg.id) == (1, 1, 0)

        unknown = client.delete("/api/v1/platforms/nope/seats/x")
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
        assert unknown.json()["error"]["message"] == "platform 'nope' does not exist"


def age_learner(env: Env, learner_id: str, days: float) -> None:
    """Make a learner's last launch `days` older, as if that time had passed (the test stands in for the clock)."""

    async def run() -> None:
        engine = create_async_engine(env.gateway.settings.database_url)
        try:
            async with engine.begin() as connection:
                shift = days * 86400
                await connection.execute(
                    text("UPDATE learners SET last_launch_at = last_launch_at - :s WHERE id = :id"),
                    {"s": shift, "id": learner_id},
                )
                await connection.execute(
                    text("UPDATE seats SET allocated_at = allocated_at - :s WHERE learner_id = :id"),
                    {"s": shift, "id": learner_id},
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_seats_idle_for_some_days_are_released_in_bulk(env: Env, register: Register, browser: Browser) -> None:
    reg = register(seats=3)
    ids = {sub: ticket_summary(launch(browser, reg, sub))["user_id"] for sub in ("ada", "grace", "alan")}
    age_learner(env, str(ids["ada"]), 40)
    age_learner(env, str(ids["grace"]), 10)
    with env.api() as client:
        path = f"/api/v1/platforms/{reg.id}/seats/release-idle"
        none = client.post(path, json={"days": 60})
        assert none.json() == {
            "released": 0,
            "usage": {"platform_id": reg.id, "seats_licensed": 3, "used": 3, "remaining": 0},
        }
        one = client.post(path, json={"days": 30}).json()
        assert (one["released"], one["usage"]["used"], one["usage"]["remaining"]) == (1, 2, 1)
        assert set(holders(client, reg.id)) == {"grace", "alan"}
        assert client.post(path, json={"days": 7}).json()["released"] == 1
        assert set(holders(client, reg.id)) == {"alan"}

        bad = client.post(path, json={"days": 0})
        assert (bad.status_code, bad.json()["error"]["code"], bad.json()["error"]["field"]) == (
            422,
            "invalid_request",
            "days",
        )
    ticket_summary(launch(browser, reg, "ada"))  # back after the break: a fresh seat
    with env.api() as client:
        assert usage_of(client, reg.id) == (3, 2, 1)


def test_lowering_the_cap_below_the_seats_used_blocks_new_learners_only(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register(seats=3)
    ids = {sub: ticket_summary(launch(browser, reg, sub))["user_id"] for sub in ("ada", "grace", "alan")}
    with env.api() as client:
        lowered = client.patch(f"/api/v1/platforms/{reg.id}", json={"seats": 1}).json()
        assert (lowered["seats"], lowered["seats_used"], lowered["seats_remaining"]) == (1, 3, 0)
        for sub in ("ada", "grace", "alan"):
            ticket_summary(launch(browser, reg, sub))  # holders keep their seats
        refused(launch(browser, reg, "edsger"), 403, "seats_exhausted")

        for sub in ("ada", "grace"):
            assert client.delete(f"/api/v1/platforms/{reg.id}/seats/{ids[sub]}").status_code == 204
        assert usage_of(client, reg.id) == (1, 1, 0)
        refused(launch(browser, reg, "edsger"), 403, "seats_exhausted")  # still at the cap

        assert client.delete(f"/api/v1/platforms/{reg.id}/seats/{ids['alan']}").status_code == 204
        ticket_summary(launch(browser, reg, "edsger"))
        assert usage_of(client, reg.id) == (1, 1, 0)

        unlimited = client.patch(f"/api/v1/platforms/{reg.id}", json={"seats": 0}).json()
        assert (unlimited["seats_used"], unlimited["seats_remaining"]) == (1, None)
        ticket_summary(launch(browser, reg, "ada"))
        assert usage_of(client, reg.id) == (0, 2, None)


def test_the_seat_list_pages(env: Env, register: Register, browser: Browser) -> None:
    reg = register(seats=0)
    for n in range(5):
        ticket_summary(launch(browser, reg, f"learner-{n}", name=f"Learner {n}"))
    with env.api() as client:
        first = seats_of(client, reg.id, limit=2)
        second = seats_of(client, reg.id, limit=2, offset=2)
        last = seats_of(client, reg.id, limit=2, offset=4)
        assert first["usage"] == {"platform_id": reg.id, "seats_licensed": 0, "used": 5, "remaining": None}
        pages = [first, second, last]
        assert [[s["sub"] for s in p["seats"]] for p in pages] == [  # type: ignore[attr-defined]
            ["learner-0", "learner-1"],
            ["learner-2", "learner-3"],
            ["learner-4"],
        ]
        assert [p["next_offset"] for p in pages] == [2, 4, None]
        missing = client.get("/api/v1/platforms/nope/seats")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
