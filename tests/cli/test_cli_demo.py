"""`ltigate demo`: migrates its own data directory first, ignores a real installation's location settings."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli.harness import Cli, failed
from tests.support.servers import free_port


def test_demo_migrates_its_own_database_and_reports_a_taken_port(cli: Cli, tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(
            "demo", "--data-dir", str(demo_dir), "--port", str(port),
            "--lms-port", str(free_port()), "--app-port", str(free_port()),
            # a real installation's database, which the demo must not use
            env={"LTIGATE_DATABASE_URL": "postgresql://ltigate@127.0.0.1:1/production"},
        )  # fmt: skip

    line = failed(result, "demo_failed")
    assert f"127.0.0.1:{port}" in line
    assert "revision" in result.stdout
    assert (demo_dir / "ltigate.db").exists()
    assert not cli.data_dir.exists()
