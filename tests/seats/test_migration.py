"""Migration 0003: existing platforms start with no seats used, existing launches with no learner, and the
downgrade to 0002 removes learners and seats again."""

from __future__ import annotations

import anyio
import pytest
from alembic import command
from sqlalchemy import text

from ltigate.db.engine import create_engine
from ltigate.db.migrate import alembic_config

pytestmark = pytest.mark.anyio


async def test_upgrade_from_0002_counts_no_seats_and_downgrade_removes_them(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    await anyio.to_thread.run_sync(command.upgrade, config, "0002")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO platforms (id, name, issuer, client_id, auth_url, token_url, jwks_url, seats,"
                    " grade_passback, licence_note, deployment_policy, active, created_at, updated_at)"
                    " VALUES ('p1', 'LMS', 'https://lms.test', 'c', 'https://a', 'https://t', 'https://j', 25,"
                    " true, '', 'pending', true, 1.0, 1.0)"
                )
            )
            await connection.execute(text("INSERT INTO deployments VALUES ('p1', 'd1', 'approved', 1.0)"))
            await connection.execute(
                text(
                    "INSERT INTO launches (id, created_at, outcome, platform_id) VALUES ('l1', 1.0, 'succeeded', 'p1')"
                )
            )
        await engine.dispose()
        await anyio.to_thread.run_sync(command.upgrade, config, "0003")
        async with engine.begin() as connection:
            platform = (await connection.execute(text("SELECT seats, seats_used FROM platforms"))).one()
            launch = (await connection.execute(text("SELECT id, learner_id FROM launches"))).one()
            deployments = (await connection.execute(text("SELECT count(*) FROM deployments"))).scalar()
            await connection.execute(
                text(
                    "INSERT INTO learners (id, platform_id, sub, created_at, updated_at) VALUES ('u1', 'p1', 's', 1, 1)"
                )
            )
            await connection.execute(text("INSERT INTO seats VALUES ('p1', 'u1', 2.0)"))
        assert tuple(platform) == (25, 0)
        assert tuple(launch) == ("l1", None)
        assert deployments == 1  # SQLite's batch migration must not cascade into the child table
        await engine.dispose()

        await anyio.to_thread.run_sync(command.downgrade, config, "0002")
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(sync.dialect.get_table_names(sync)))
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in sync.dialect.get_columns(sync, "platforms")}
            )
            kept = (await connection.execute(text("SELECT count(*) FROM launches"))).scalar()
        assert not {"learners", "seats"} & tables
        assert "seats_used" not in columns
        assert kept == 1
    finally:
        await engine.dispose()
