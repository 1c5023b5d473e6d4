"""The JSON log lines ltigate writes, captured in memory for a test."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ltigate.logs import JsonFormatter


class Lines(logging.Handler):
    """Every record of the `ltigate` loggers, formatted as in production and parsed back."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextmanager
def captured_lines() -> Iterator[Lines]:
    """The `ltigate` loggers at INFO into a Lines handler for the block; restored after."""
    handler, logger = Lines(), logging.getLogger("ltigate")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
