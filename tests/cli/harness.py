"""Running `ltigate` in-process for the CLI tests, and reading its one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from typer.testing import CliRunner, Result

from ltigate.bootstrap import build_gateway
from ltigate.cli.main import build_app
from ltigate.config import load_settings
from ltigate.services.gateway import Gateway

T = TypeVar("T")
BASE_URL = "https://lti.example.edu"


@dataclass
class Cli:
    data_dir: Path

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run `ltigate <args>` with LTIGATE_DATA_DIR and LTIGATE_BASE_URL pointing at this test's setup."""
        variables = self.env(**(env or {}))
        return CliRunner().invoke(build_app(), list(args), env=variables, catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of this test's setup, with `extra` variables."""
        return {"LTIGATE_DATA_DIR": str(self.data_dir), "LTIGATE_BASE_URL": BASE_URL, **extra}

    def gateway(self, work: Callable[[Gateway], Awaitable[T]], **extra: str) -> T:
        """Run `work` with a gateway on the same data directory (and `extra` variables), as another process
        would."""
        settings = load_settings(env=self.env(**extra))

        async def session() -> T:
            gateway = await build_gateway(settings)
            try:
                return await work(gateway)
            finally:
                await gateway.close()

        return asyncio.run(session())


def failed(result: Result, code: str) -> str:
    """The one error line of a command that exited with status 2 and printed `code`; no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error {code}"), lines[0]
    return lines[0]
