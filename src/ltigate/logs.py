"""Logging for `serve` and `worker`: one JSON object a line (or plain text), every line of a request
carrying its request id, and no secrets: values under secret-sounding names and anything shaped like a
JWT are replaced before a line is written.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from contextvars import ContextVar
from typing import Final

REQUEST_ID: ContextVar[str | None] = ContextVar("ltigate_request_id", default=None)
REQUEST_ID_HEADER: Final = "x-request-id"
_GIVEN_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SECRET_NAME: Final = re.compile(r"pass|secret|token|key|authorization|cookie|assertion|ticket|nonce|state", re.I)
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*")
HIDDEN: Final = "[hidden]"
# Attributes every LogRecord has; anything else on a record came in through `extra=` and is logged.
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def request_id(given: str | None) -> str:
    """The id of a request: the caller's X-Request-ID when it is a plain token, else a new one."""
    if given and _GIVEN_ID.fullmatch(given):
        return given
    return secrets.token_hex(8)


def scrub(name: str, value: object) -> object:
    """`value` as it may be logged under `name`."""
    if _SECRET_NAME.search(name):
        return HIDDEN
    if isinstance(value, str):
        return _JWT.sub(HIDDEN, value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _JWT.sub(HIDDEN, record.getMessage()),
        }
        rid = REQUEST_ID.get()
        if rid is not None:
            line["request_id"] = rid
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = scrub(name, value)
        if record.exc_info:
            line["error"] = _JWT.sub(HIDDEN, self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = REQUEST_ID.get()
        text = _JWT.sub(HIDDEN, super().format(record))
        return f"{text} [request {rid}]" if rid else text


def configure(level: str, fmt: str) -> None:
    """Send every logger (ours, uvicorn's) to stderr in `fmt` ("json" or "text") at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the schema check at start is not news
