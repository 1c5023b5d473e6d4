"""`ltigate seats`: usage and the seat list of a platform, releasing one seat, releasing idle ones."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ltigate.lti.message import parse_message
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields
from tests.cli.harness import Cli, failed
from tests.support.platform import LEARNER, ScriptedPlatform


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in list(os.environ):
        if name.startswith("LTIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    cli = Cli(data_dir=tmp_path / "data")
    cli.ok("migrate")
    return cli


def seat_learners(cli: Cli, seats: int, subs: list[str]) -> tuple[str, dict[str, str]]:
    """A platform with `seats` seats and the given learners admitted through the use cases, as launches do;
    returns the platform id and the learner ids by sub."""
    platform = ScriptedPlatform(issuer="https://lms.example.edu")

    async def work(gateway: Gateway) -> tuple[str, dict[str, str]]:
        fields = PlatformFields(**platform.platform_fields("https://lms.example.edu", seats=seats))  # type: ignore[arg-type]
        created = await gateway.platforms.create(fields)
        ids = {}
        for sub in subs:
            claims = platform.claims(nonce="n", target_link_uri="https://lti.example.edu/lti/launch?resource=q")
            claims.update(sub=sub, name=f"Name of {sub}", email=f"{sub}@example.edu")
            message = parse_message(claims, platform.client_id)
            visit = await gateway.learners.visit(created, message, time.time())
            assert visit is not None
            await gateway.seats.admit(created, visit, (LEARNER,), time.time())
            ids[sub] = visit.learner.id
        return created.id, ids

    return cli.gateway(work)


def test_seats_shows_usage_and_the_holders(cli: Cli) -> None:
    platform_id, ids = seat_learners(cli, 5, ["ada", "grace"])
    table = cli.ok("seats", platform_id).stdout
    assert "2 of 5 used, 3 remaining" in table
    assert ids["ada"] in table and "Name of grace" in table and "ada@example.edu" in table
    assert cli.ok("seats", "list", platform_id).stdout == table

    listed = json.loads(cli.ok("seats", platform_id, "--json").stdout)
    assert listed["usage"] == {"platform_id": platform_id, "seats_licensed": 5, "used": 2, "remaining": 3}
    assert [s["learner_id"] for s in listed["seats"]] == [ids["ada"], ids["grace"]]
    assert listed["next_offset"] is None
    paged = json.loads(cli.ok("seats", platform_id, "--limit", "1", "--json").stdout)
    assert ([s["sub"] for s in paged["seats"]], paged["next_offset"]) == (["ada"], 1)
    assert "More seats: --offset 1" in cli.ok("seats", platform_id, "--limit", "1").stdout


def test_release_one_seat(cli: Cli) -> None:
    platform_id, ids = seat_learners(cli, 2, ["ada", "grace"])
    done = cli.ok("seats", "release", platform_id, ids["ada"]).stdout
    assert f"Released the seat of learner {ids['ada']} on platform {platform_id} (1 of 2 used, 1 remaining)" in done
    line = failed(cli("seats", "release", platform_id, ids["ada"]), "not_found")
    assert f"learner '{ids['ada']}' holds no seat on platform '{platform_id}'" in line
    assert [s["sub"] for s in json.loads(cli.ok("seats", platform_id, "--json").stdout)["seats"]] == ["grace"]


def test_release_idle_seats(cli: Cli) -> None:
    platform_id, _ = seat_learners(cli, 0, ["ada"])
    done = cli.ok("seats", "release-idle", platform_id, "--days", "30").stdout
    assert f"Released 0 seats idle for 30 days or more on platform {platform_id} (1 used, unlimited)" in done
    assert cli("seats", "release-idle", platform_id, "--days", "0").exit_code == 2  # refused by the option's range
    assert cli("seats", "release-idle", platform_id).exit_code == 2  # --days is required


def test_an_unknown_platform_is_one_error_line(cli: Cli) -> None:
    assert "platform 'nope' does not exist" in failed(cli("seats", "nope"), "not_found")
    assert "No seats are held." in cli.ok("seats", seat_learners(cli, 3, [])[0]).stdout
