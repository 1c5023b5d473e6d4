"""Shared fixtures for the outbound HTTP tests: async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:
    import ltigate  # noqa: F401
except ModuleNotFoundError:  # the package is not installed into the venv yet: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
