"""JSON log lines: request id on every line of a request, secrets never written."""

from __future__ import annotations

import json
import logging

from ltigate.logs import HIDDEN, REQUEST_ID, JsonFormatter, TextFormatter, request_id

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def record(message: str, **extra: object) -> logging.LogRecord:
    item = logging.LogRecord("ltigate.web", logging.INFO, __file__, 1, message, (), None)
    for name, value in extra.items():
        setattr(item, name, value)
    return item


def test_a_line_is_one_json_object_with_the_request_id_and_extras() -> None:
    token = REQUEST_ID.set("req-42")
    try:
        line = json.loads(JsonFormatter().format(record("lti request failed", error_code="kid_not_found")))
    finally:
        REQUEST_ID.reset(token)
    assert line["level"] == "info" and line["logger"] == "ltigate.web"
    assert line["message"] == "lti request failed"
    assert line["request_id"] == "req-42"
    assert line["error_code"] == "kid_not_found"
    assert line["time"].endswith("Z")


def test_outside_a_request_there_is_no_request_id() -> None:
    assert "request_id" not in json.loads(JsonFormatter().format(record("housekeeping")))


def test_secrets_and_tokens_are_hidden() -> None:
    line = json.loads(
        JsonFormatter().format(
            record(
                f"got {JWT} from the LMS",
                id_token=JWT,
                client_assertion="abc",
                password="pw",
                api_key="k",
                detail=f"bearer {JWT}",
                count=3,
            )
        )
    )
    assert JWT not in json.dumps(line)
    assert line["message"] == f"got {HIDDEN} from the LMS"
    assert line["id_token"] == line["client_assertion"] == line["password"] == line["api_key"] == HIDDEN
    assert line["detail"] == f"bearer {HIDDEN}"
    assert line["count"] == 3


def test_text_lines_name_the_request_and_hide_tokens() -> None:
    token = REQUEST_ID.set("req-7")
    try:
        text = TextFormatter().format(record(f"token {JWT}"))
    finally:
        REQUEST_ID.reset(token)
    assert text.endswith("[request req-7]") and JWT not in text and HIDDEN in text


def test_request_ids_from_callers_are_kept_only_when_plain() -> None:
    assert request_id("abc-123_X.y") == "abc-123_X.y"
    for given in (None, "", "x" * 65, "a b", "a\nb", "<script>"):
        generated = request_id(given)
        assert generated != given and len(generated) == 16 and int(generated, 16) >= 0
    assert request_id(None) != request_id(None)
