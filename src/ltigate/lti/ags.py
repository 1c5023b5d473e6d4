"""Assignment and Grade Services 2.0: media types, scopes, service URLs, line items, scores and results
(AGS §3.2–3.4; lti-reference §4).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from ltigate.lti.errors import LineItemInvalid, ScoreInvalid, ServiceResponseInvalid
from ltigate.lti.links import append_query, parse_link_headers
from ltigate.lti.text import may_hold_unstorable_text, storable

LINEITEM: Final = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER: Final = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE: Final = "application/vnd.ims.lis.v1.score+json"
RESULT_CONTAINER: Final = "application/vnd.ims.lis.v2.resultcontainer+json"

_SCOPE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_LINEITEM: Final = _SCOPE + "lineitem"
SCOPE_LINEITEM_READONLY: Final = _SCOPE + "lineitem.readonly"
SCOPE_RESULT_READONLY: Final = _SCOPE + "result.readonly"
SCOPE_SCORE: Final = _SCOPE + "score"

ACTIVITY_PROGRESS: Final = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS: Final = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")

SCORES: Final = "scores"
RESULTS: Final = "results"

# Line item members with a field of their own; every other member is kept in `LineItem.extensions`.
_LINE_ITEM_MEMBERS: Final = frozenset(
    {
        "id",
        "label",
        "scoreMaximum",
        "resourceId",
        "tag",
        "resourceLinkId",
        "startDateTime",
        "endDateTime",
        "gradesReleased",
    }
)


@dataclass(frozen=True, slots=True)
class LineItem:
    """A line item as the platform reports it (AGS §3.2; lti-reference §4.3). Blank tool strings read as None."""

    id: str
    label: str = ""
    score_maximum: float | None = None
    resource_id: str | None = None
    tag: str | None = None
    resource_link_id: str | None = None
    start_date_time: str | None = None
    end_date_time: str | None = None
    grades_released: bool | None = None
    extensions: Mapping[str, object] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Result:
    """One entry of a result container (AGS §3.3; lti-reference §4.6)."""

    user_id: str
    id: str | None = None
    score_of: str | None = None
    result_score: float | None = None
    result_maximum: float = 1.0
    scoring_user_id: str | None = None
    comment: str | None = None


def service_url(lineitem_url: str, ending: str) -> str:
    """The `scores` or `results` endpoint of a line item: `ending` joins the URL's path, the query stays.

    `https://lms.com/lineitems/7?p=1` → `https://lms.com/lineitems/7/scores?p=1` (AGS §3.3.1, §3.4.1). A
    trailing `/` on the path is dropped first.
    """
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{ending.strip('/')}"))


def scores_url(lineitem_url: str) -> str:
    return service_url(lineitem_url, SCORES)


def results_url(lineitem_url: str, *, user_id: str | None = None, limit: int | None = None) -> str:
    """The results endpoint, filtered to one user and/or limited to a page size."""
    return append_query(service_url(lineitem_url, RESULTS), _params(user_id=user_id, limit=limit))


def lineitems_query_url(
    lineitems_url: str,
    *,
    resource_link_id: str | None = None,
    resource_id: str | None = None,
    tag: str | None = None,
    limit: int | None = None,
) -> str:
    """The line item container URL with the filters of AGS §3.2.2 appended to its own query."""
    params = _params(resource_link_id=resource_link_id, resource_id=resource_id, tag=tag, limit=limit)
    return append_query(lineitems_url, params)


def next_page(headers: Mapping[str, str]) -> str | None:
    """The `Link: <…>; rel="next"` URL of a container page, to be followed verbatim; None on the last page."""
    return parse_link_headers(headers).get("next")


def line_item_body(
    *,
    label: str,
    score_maximum: float,
    resource_id: str | None = None,
    tag: str | None = None,
    resource_link_id: str | None = None,
    start_date_time: str | None = None,
    end_date_time: str | None = None,
    grades_released: bool | None = None,
    line_item_id: str | None = None,
    extensions: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The JSON body to create (POST, no id) or update (PUT the full item, with its id) a line item.

    Raises LineItemInvalid for a blank label or a scoreMaximum that is not a finite number > 0
    (AGS §3.2.7). `extensions` are added first, so they cannot override the standard members.
    """
    if not label.strip():
        raise LineItemInvalid(f"label {label!r} is blank; a line item needs a label")
    if (maximum := _number(score_maximum)) is None or maximum <= 0:
        raise LineItemInvalid(f"scoreMaximum {score_maximum!r} is not a number > 0")
    body: dict[str, object] = {k: v for k, v in (extensions or {}).items() if k not in _LINE_ITEM_MEMBERS}
    optional = {
        "id": line_item_id,
        "resourceId": resource_id,
        "tag": tag,
        "resourceLinkId": resource_link_id,
        "startDateTime": start_date_time,
        "endDateTime": end_date_time,
        "gradesReleased": grades_released,
    }
    body.update({"label": label, "scoreMaximum": score_maximum})
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def parse_line_item(document: bytes | Mapping[str, object]) -> LineItem:
    """Parse one line item (a response body or a decoded JSON object).

    Raises ServiceResponseInvalid when it is not a JSON object or has no `id` string; optional members of
    the wrong type read as absent.
    """
    obj = _decode(document, "the line item") if isinstance(document, bytes) else document
    if not isinstance(obj, Mapping):
        raise ServiceResponseInvalid(f"a line item must be a JSON object, got {_kind(obj)}")
    item_id = obj.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise ServiceResponseInvalid(f"a line item has no 'id' URL (id is {_kind(item_id)})")
    released = obj.get("gradesReleased")
    return LineItem(
        id=item_id,
        label=_text(obj, "label") or "",
        score_maximum=_number(obj.get("scoreMaximum")),
        resource_id=_text(obj, "resourceId"),
        tag=_text(obj, "tag"),
        resource_link_id=_text(obj, "resourceLinkId"),
        start_date_time=_text(obj, "startDateTime"),
        end_date_time=_text(obj, "endDateTime"),
        grades_released=released if isinstance(released, bool) else None,
        extensions={k: v for k, v in obj.items() if k not in _LINE_ITEM_MEMBERS},
    )


def parse_line_items(body: bytes) -> list[LineItem]:
    """Parse a line item container page: a JSON array of line items (AGS §3.2.2).

    Raises ServiceResponseInvalid for non-JSON, a non-array, or any item parse_line_item refuses: an item
    skipped here could be created again.
    """
    items = _decode(body, "the line item container")
    if not isinstance(items, list):
        raise ServiceResponseInvalid(f"the line item container must be a JSON array, got {_kind(items)}")
    return [parse_line_item(item) for item in items]


def format_timestamp(epoch_seconds: float) -> str:
    """An AGS score timestamp: ISO 8601 in UTC with milliseconds, `2017-04-16T18:54:36.736+00:00`."""
    # Whole milliseconds first: float seconds such as …36.736 would otherwise truncate to .735.
    instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=round(epoch_seconds * 1000))
    return instant.isoformat(timespec="milliseconds")


def score_body(
    *,
    user_id: str,
    timestamp: str,
    activity_progress: str,
    grading_progress: str,
    score_given: float | None = None,
    score_maximum: float | None = None,
    comment: str | None = None,
    scoring_user_id: str | None = None,
) -> dict[str, object]:
    """The JSON body of a score POST (AGS §3.4; lti-reference §4.5).

    Raises ScoreInvalid, quoting the value, for: an empty user_id or scoring_user_id; a timestamp that is
    not ISO 8601 with a zone; a progress value outside ACTIVITY_PROGRESS / GRADING_PROGRESS; a
    scoreGiven that is not a finite number ≥ 0, or given without scoreMaximum; a scoreMaximum that is not
    a finite number > 0. Without scoreGiven the platform clears the score; without comment, the comment.
    """
    if not user_id:
        raise ScoreInvalid("userId is empty; a score needs the LTI user id (the launch 'sub')")
    _check_timestamp(timestamp)
    if activity_progress not in ACTIVITY_PROGRESS:
        raise ScoreInvalid(f"activityProgress {activity_progress!r} is not one of {', '.join(ACTIVITY_PROGRESS)}")
    if grading_progress not in GRADING_PROGRESS:
        raise ScoreInvalid(f"gradingProgress {grading_progress!r} is not one of {', '.join(GRADING_PROGRESS)}")
    if score_given is not None and ((given := _number(score_given)) is None or given < 0):
        raise ScoreInvalid(f"scoreGiven {score_given!r} is not a number ≥ 0")
    if score_maximum is not None and ((maximum := _number(score_maximum)) is None or maximum <= 0):
        raise ScoreInvalid(f"scoreMaximum {score_maximum!r} is not a number > 0")
    if score_given is not None and score_maximum is None:
        raise ScoreInvalid(f"scoreGiven {score_given!r} comes without scoreMaximum, which it requires")
    if scoring_user_id is not None and not scoring_user_id:
        raise ScoreInvalid("scoringUserId is empty; leave it out instead")
    optional = {
        "scoreGiven": score_given,
        "scoreMaximum": score_maximum,
        "comment": comment,
        "scoringUserId": scoring_user_id,
    }
    body: dict[str, object] = {
        "userId": user_id,
        "timestamp": timestamp,
        "activityProgress": activity_progress,
        "gradingProgress": grading_progress,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def _check_timestamp(timestamp: str) -> None:
    try:
        parsed = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        raise ScoreInvalid(f"timestamp {timestamp!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ScoreInvalid(f"timestamp {timestamp!r} has no time zone; AGS requires one")


def parse_results(body: bytes) -> list[Result]:
    """Parse a result container page: a JSON array of results (AGS §3.3).

    Raises ServiceResponseInvalid for non-JSON or a non-array; entries that are not objects or have no
    `userId` are skipped.
    """
    entries = _decode(body, "the result container")
    if not isinstance(entries, list):
        raise ServiceResponseInvalid(f"the result container must be a JSON array, got {_kind(entries)}")
    results = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not (user_id := _text(entry, "userId")):
            continue
        results.append(
            Result(
                user_id=user_id,
                id=_text(entry, "id"),
                score_of=_text(entry, "scoreOf"),
                result_score=_number(entry.get("resultScore")),
                result_maximum=maximum if (maximum := _number(entry.get("resultMaximum"))) and maximum > 0 else 1.0,
                scoring_user_id=_text(entry, "scoringUserId"),
                comment=_text(entry, "comment"),
            )
        )
    return results


def _params(*, limit: int | None, **values: str | None) -> list[tuple[str, str]]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    params = [(name, value) for name, value in values.items() if value is not None]
    return params + ([("limit", str(limit))] if limit is not None else [])


def _decode(body: bytes, what: str) -> object:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        snippet = " ".join(body[:120].decode("utf-8", "replace").split())
        raise ServiceResponseInvalid(f"{what} is not JSON: {snippet!r}") from None
    if may_hold_unstorable_text(body) and not storable(document):
        raise ServiceResponseInvalid(f"{what} holds U+0000 or a lone surrogate, which no LTI value holds")
    return document


def _text(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _number(value: object) -> float | None:
    """`value` as a float when it is a finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        return None
    return number if math.isfinite(number) else None


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )
