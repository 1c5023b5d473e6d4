"""The demo LMS's gradebook, in memory: line items (AGS §3.2) and the latest score of each member on each
(AGS §3.4), with the checks a platform makes before it changes either (lti-reference §4.3–4.5).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from ltigate.lti.platform import ReceivedScore

MAX_LINE_ITEMS: Final = 1000
MAX_TEXT: Final = 1000

# Members with a meaning of their own; everything else the tool sends is kept as an extension.
_STANDARD: Final = frozenset(
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


class GradebookProblem(Exception):
    """A request the gradebook refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True, slots=True)
class LineItemFields:
    label: str
    score_maximum: float
    resource_id: str | None = None
    tag: str | None = None
    resource_link_id: str | None = None
    start_date_time: str | None = None
    end_date_time: str | None = None
    grades_released: bool | None = None
    extensions: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LineItemRecord:
    number: int
    fields: LineItemFields
    coupled: bool  # created by the LMS for one course link, and named by that link's launches


@dataclass(frozen=True, slots=True)
class GradeRecord:
    """The latest score of one member on one line item, as the gradebook shows it."""

    user_id: str
    timestamp: datetime
    timestamp_text: str
    activity_progress: str
    grading_progress: str
    score_given: float | None
    score_maximum: float | None
    comment: str | None
    scoring_user_id: str | None


def parse_line_item(
    document: object, *, links: Collection[str], current: LineItemFields | None = None
) -> LineItemFields:
    """Check a line item body the tool POSTs (`current` None) or PUTs (AGS §3.2; lti-reference §4.3).

    Raises GradebookProblem: 400 for a blank label, a scoreMaximum that is not a number > 0 or a member of
    the wrong type; 404 for a resourceLinkId that is not a link of this course (AGS §3.2.4). On PUT the
    resourceLinkId is the stored one whatever the body says: the tool must not change it.
    """
    if not isinstance(document, Mapping):
        raise GradebookProblem("a line item must be a JSON object")
    label = document.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_TEXT:
        raise GradebookProblem(f"label is {label!r:.80}; a line item needs a non-blank label")
    maximum = document.get("scoreMaximum")
    if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or not math.isfinite(maximum) or maximum <= 0:
        raise GradebookProblem(f"scoreMaximum is {maximum!r:.40}; it must be a number > 0")
    texts = {name: _optional_text(document, name) for name in ("resourceId", "tag", "startDateTime", "endDateTime")}
    released = document.get("gradesReleased")
    if released is not None and not isinstance(released, bool):
        raise GradebookProblem(f"gradesReleased is {released!r:.40}; it must be true or false")
    if current is None:
        link = _optional_text(document, "resourceLinkId")
        if link is not None and link not in links:
            raise GradebookProblem(f"resourceLinkId {link!r:.80} is not a link of this course", 404)
    else:
        link = current.resource_link_id
    return LineItemFields(
        label=label,
        score_maximum=float(maximum),
        resource_id=texts["resourceId"],
        tag=texts["tag"],
        resource_link_id=link,
        start_date_time=texts["startDateTime"],
        end_date_time=texts["endDateTime"],
        grades_released=released,
        extensions={k: v for k, v in document.items() if k not in _STANDARD and isinstance(k, str) and "/" in k},
    )


def _optional_text(document: Mapping[str, object], name: str) -> str | None:
    value = document.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise GradebookProblem(f"{name} is {value!r:.80}; it must be a string of at most {MAX_TEXT} characters")
    return value


class Gradebook:
    """Line items by number and the latest grade per (line item, member)."""

    def __init__(self) -> None:
        self._items: dict[int, LineItemRecord] = {}
        self._grades: dict[tuple[int, str], GradeRecord] = {}
        self._next = 1

    def add(self, fields: LineItemFields, *, coupled: bool = False) -> LineItemRecord:
        if len(self._items) >= MAX_LINE_ITEMS:
            raise GradebookProblem(f"the course already has {MAX_LINE_ITEMS} line items", 409)
        record = LineItemRecord(number=self._next, fields=fields, coupled=coupled)
        self._items[record.number] = record
        self._next += 1
        return record

    def get(self, number: int) -> LineItemRecord | None:
        return self._items.get(number)

    def items(
        self, *, resource_link_id: str | None = None, resource_id: str | None = None, tag: str | None = None
    ) -> list[LineItemRecord]:
        """Line items in creation order, filtered (the filters AND together, AGS §3.2.2)."""
        return [
            item
            for item in self._items.values()
            if (resource_link_id is None or item.fields.resource_link_id == resource_link_id)
            and (resource_id is None or item.fields.resource_id == resource_id)
            and (tag is None or item.fields.tag == tag)
        ]

    def update(self, number: int, fields: LineItemFields) -> LineItemRecord:
        record = replace(self._require(number), fields=fields)
        self._items[number] = record
        return record

    def delete(self, number: int) -> None:
        record = self._require(number)
        if record.coupled:
            raise GradebookProblem("the line item of a course link belongs to the LMS and cannot be deleted", 403)
        del self._items[number]
        for key in [key for key in self._grades if key[0] == number]:
            del self._grades[key]

    def record(self, number: int, score: ReceivedScore) -> GradeRecord:
        """Apply a score: it replaces the member's grade, so no scoreGiven clears it and no comment clears that.

        Raises GradebookProblem (404) for an unknown line item, (400) for a timestamp not strictly after the
        last applied one for this member (lti-reference §4.5).
        """
        self._require(number)
        last = self._grades.get((number, score.user_id))
        if last is not None and score.timestamp <= last.timestamp:
            raise GradebookProblem(
                f"timestamp {score.timestamp_text!r} is not after {last.timestamp_text!r}, "
                f"the last score for {score.user_id!r} on this line item"
            )
        grade = GradeRecord(
            user_id=score.user_id,
            timestamp=score.timestamp,
            timestamp_text=score.timestamp_text,
            activity_progress=score.activity_progress,
            grading_progress=score.grading_progress,
            score_given=score.score_given,
            score_maximum=score.score_maximum,
            comment=score.comment,
            scoring_user_id=score.scoring_user_id,
        )
        self._grades[(number, score.user_id)] = grade
        return grade

    def grade(self, number: int, user_id: str) -> GradeRecord | None:
        return self._grades.get((number, user_id))

    def results(self, number: int, user_id: str | None = None) -> list[GradeRecord]:
        """The grades with a score on a line item (AGS §3.3 lets a platform omit empty ones)."""
        self._require(number)
        return [
            grade
            for (item, user), grade in self._grades.items()
            if item == number and grade.score_given is not None and (user_id is None or user == user_id)
        ]

    def _require(self, number: int) -> LineItemRecord:
        record = self._items.get(number)
        if record is None:
            raise GradebookProblem(f"line item {number} does not exist", 404)
        return record
