"""Fixtures for the CLI tests: the Typer app run in-process by CliRunner against a fresh SQLite data
directory, with the developer's own LTIGATE_* variables kept out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.harness import Cli


@pytest.fixture(autouse=True)
def _no_ltigate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("LTIGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # a command that wrongly used the default ./.ltigate leaves it here


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(data_dir=tmp_path / "data")


@pytest.fixture
def migrated(cli: Cli) -> Cli:
    cli.ok("migrate")
    return cli
