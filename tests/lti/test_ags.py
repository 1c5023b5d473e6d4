"""Assignment and Grade Services 2.0: media types, scopes, URL derivation, scores, line items and results,
checked against the spec examples (AGS §3.2–3.4; lti-reference §4)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltigate.lti import ags
from ltigate.lti.ags import (
    LineItem,
    Result,
    format_timestamp,
    line_item_body,
    lineitems_query_url,
    next_page,
    parse_line_item,
    parse_line_items,
    parse_results,
    results_url,
    score_body,
    scores_url,
    service_url,
)
from ltigate.lti.errors import Culprit, LtiError

# lti-reference §4.3
SPEC_LINE_ITEM = {
    "id": "https://lms.example.com/context/2923/lineitems/1",
    "scoreMaximum": 60,
    "label": "Chapter 5 Test",
    "resourceId": "quiz-231",
    "tag": "grade",
    "resourceLinkId": "1g3k4dlk49fk",
    "startDateTime": "2018-03-06T20:05:02Z",
    "endDateTime": "2018-04-06T22:05:03Z",
    "gradesReleased": True,
}
# lti-reference §4.5 (without the optional `submission` object)
SPEC_SCORE = {
    "timestamp": "2017-04-16T18:54:36.736+00:00",
    "scoreGiven": 83,
    "scoreMaximum": 100,
    "comment": "This is exceptional work.",
    "activityProgress": "Completed",
    "gradingProgress": "FullyGraded",
    "userId": "5323497",
    "scoringUserId": "4567890",
}


SCORE_ARGS = {
    "user_id": "u-1",
    "timestamp": "2017-04-16T18:54:36.736+00:00",
    "activity_progress": "Completed",
    "grading_progress": "FullyGraded",
}


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


def test_media_types_and_scopes():
    assert ags.LINEITEM == "application/vnd.ims.lis.v2.lineitem+json"
    assert ags.LINEITEM_CONTAINER == "application/vnd.ims.lis.v2.lineitemcontainer+json"
    assert ags.SCORE == "application/vnd.ims.lis.v1.score+json"
    assert ags.RESULT_CONTAINER == "application/vnd.ims.lis.v2.resultcontainer+json"
    assert ags.SCOPE_LINEITEM == "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
    assert ags.SCOPE_LINEITEM_READONLY == "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
    assert ags.SCOPE_RESULT_READONLY == "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
    assert ags.SCOPE_SCORE == "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    assert ags.ACTIVITY_PROGRESS == ("Initialized", "Started", "InProgress", "Submitted", "Completed")
    assert ags.GRADING_PROGRESS == ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lineitem", "ending", "expected"),
    [
        ("https://lms.com/lineitems/7?p=1", "scores", "https://lms.com/lineitems/7/scores?p=1"),
        ("https://lms.com/lineitems/7", "/scores", "https://lms.com/lineitems/7/scores"),
        ("https://lms.com/lineitems/7/", "scores", "https://lms.com/lineitems/7/scores"),
        ("https://lms.com/lineitems/7/?p=1&q=2", "results", "https://lms.com/lineitems/7/results?p=1&q=2"),
        (
            "https://lms.example.com/2344/lineitems/1234/lineitem",
            "scores",
            "https://lms.example.com/2344/lineitems/1234/lineitem/scores",
        ),
        (
            "https://moodle.test/mod/lti/services.php/2/lineitems/9/lineitem?type_id=1",
            "scores",
            "https://moodle.test/mod/lti/services.php/2/lineitems/9/lineitem/scores?type_id=1",
        ),
        ("https://Canvas.test/API/Items/7?Token=AbC", "results", "https://Canvas.test/API/Items/7/results?Token=AbC"),
        ("https://lms.com", "scores", "https://lms.com/scores"),
    ],
)
def test_service_url_joins_the_path_and_keeps_the_query(lineitem, ending, expected):
    assert service_url(lineitem, ending) == expected


def test_scores_and_results_urls():
    assert scores_url("https://lms.com/lineitems/7?p=1") == "https://lms.com/lineitems/7/scores?p=1"
    assert results_url("https://lms.com/lineitems/7?p=1") == "https://lms.com/lineitems/7/results?p=1"
    assert (
        results_url("https://lms.com/lineitems/7?p=1", user_id="u 1", limit=1)
        == "https://lms.com/lineitems/7/results?p=1&user_id=u%201&limit=1"
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, "https://lms.com/2344/lineitems?type_id=3"),
        ({"resource_link_id": "rl-1"}, "https://lms.com/2344/lineitems?type_id=3&resource_link_id=rl-1"),
        (
            {"resource_id": "quiz 231", "tag": "grade", "limit": 10},
            "https://lms.com/2344/lineitems?type_id=3&resource_id=quiz%20231&tag=grade&limit=10",
        ),
        (
            {"resource_link_id": "a&b", "resource_id": "x=y"},
            "https://lms.com/2344/lineitems?type_id=3&resource_link_id=a%26b&resource_id=x%3Dy",
        ),
    ],
)
def test_lineitems_query_url(filters, expected):
    assert lineitems_query_url("https://lms.com/2344/lineitems?type_id=3", **filters) == expected


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_limit_must_be_a_positive_integer(limit):
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        lineitems_query_url("https://lms.com/lineitems", limit=limit)


def test_next_page():
    headers = {"Link": '<https://lms.com/lineitems?page=2>; rel="next", <https://lms.com/lineitems?page=5>; rel="last"'}
    assert next_page(headers) == "https://lms.com/lineitems?page=2"
    assert next_page({"link": '<https://lms.com/lineitems?page=5>; rel="last"'}) is None
    assert next_page({}) is None


# --- scores ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (1492368876.736, "2017-04-16T18:54:36.736+00:00"),
        (0, "1970-01-01T00:00:00.000+00:00"),
        (1_700_000_100, "2023-11-14T22:15:00.000+00:00"),
        (1_700_000_100.9996, "2023-11-14T22:15:01.000+00:00"),
        (1_700_000_100.0004, "2023-11-14T22:15:00.000+00:00"),
    ],
)
def test_format_timestamp(epoch, text):
    assert format_timestamp(epoch) == text


def test_spec_score_example():
    body = score_body(
        user_id="5323497",
        timestamp="2017-04-16T18:54:36.736+00:00",
        activity_progress="Completed",
        grading_progress="FullyGraded",
        score_given=83,
        score_maximum=100,
        comment="This is exceptional work.",
        scoring_user_id="4567890",
    )
    assert body == SPEC_SCORE
    assert json.loads(json.dumps(body)) == SPEC_SCORE


def test_basic_outcomes_delete_result_mapping():
    # lti-reference §4.7: deleteResult → no scoreGiven, NotReady, Initialized
    body = score_body(
        user_id="u-1",
        timestamp=format_timestamp(1_700_000_100.25),
        activity_progress="Initialized",
        grading_progress="NotReady",
    )
    assert body == {
        "userId": "u-1",
        "timestamp": "2023-11-14T22:15:00.250+00:00",
        "activityProgress": "Initialized",
        "gradingProgress": "NotReady",
    }


def test_score_may_exceed_maximum_and_be_zero():
    assert score_body(**{**SCORE_ARGS, "score_given": 120, "score_maximum": 100})["scoreGiven"] == 120
    assert score_body(**{**SCORE_ARGS, "score_given": 0, "score_maximum": 1})["scoreGiven"] == 0
    assert score_body(**{**SCORE_ARGS, "timestamp": "2017-04-16T18:54:36.736Z"})["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"user_id": ""}, "userId is empty"),
        ({"activity_progress": "Done"}, "activityProgress 'Done' is not one of Initialized, Started"),
        ({"activity_progress": "completed"}, "activityProgress 'completed'"),
        ({"grading_progress": "Graded"}, "gradingProgress 'Graded' is not one of FullyGraded, Pending"),
        ({"score_given": -1, "score_maximum": 10}, "scoreGiven -1 is not a number ≥ 0"),
        ({"score_given": math.nan, "score_maximum": 10}, "scoreGiven nan is not a number"),
        ({"score_given": math.inf, "score_maximum": 10}, "scoreGiven inf is not a number"),
        ({"score_given": True, "score_maximum": 10}, "scoreGiven True is not a number"),
        ({"score_given": "5", "score_maximum": 10}, "scoreGiven '5' is not a number"),
        ({"score_given": 5}, "scoreGiven 5 comes without scoreMaximum"),
        ({"score_given": 5, "score_maximum": 0}, "scoreMaximum 0 is not a number > 0"),
        ({"score_given": 5, "score_maximum": -3.5}, "scoreMaximum -3.5 is not a number > 0"),
        ({"score_maximum": math.inf}, "scoreMaximum inf is not a number > 0"),
        ({"scoring_user_id": ""}, "scoringUserId is empty"),
        ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not an ISO 8601 date-time"),
        ({"timestamp": "2017-04-16T18:54:36.736"}, "timestamp '2017-04-16T18:54:36.736' has no time zone"),
        ({"timestamp": ""}, "timestamp '' is not an ISO 8601"),
    ],
)
def test_invalid_scores(overrides, fragment):
    error = raised(score_body, **{**SCORE_ARGS, **overrides})
    assert error.code == "score_invalid"
    assert error.status == 422
    assert error.culprit is Culprit.APP
    assert fragment in error.message


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0, max_value=253402300799, allow_nan=False))
def test_timestamps_parse_back_to_the_millisecond(epoch):
    text = format_timestamp(epoch)
    parsed = datetime.fromisoformat(text)
    assert text.endswith("+00:00")
    assert len(text.split(".")[1]) == len("000+00:00")
    assert abs(parsed.timestamp() - epoch) <= 0.001
    score_body(**{**SCORE_ARGS, "timestamp": text})


# --- line items ------------------------------------------------------------------------------


def test_spec_line_item():
    item = parse_line_item(json.dumps(SPEC_LINE_ITEM).encode())
    assert item == LineItem(
        id="https://lms.example.com/context/2923/lineitems/1",
        label="Chapter 5 Test",
        score_maximum=60.0,
        resource_id="quiz-231",
        tag="grade",
        resource_link_id="1g3k4dlk49fk",
        start_date_time="2018-03-06T20:05:02Z",
        end_date_time="2018-04-06T22:05:03Z",
        grades_released=True,
        extensions={},
    )


def test_line_item_keeps_extensions_and_tolerates_missing_fields():
    item = parse_line_item(
        {
            "id": "https://canvas.test/api/lti/courses/1/line_items/7",
            "scoreMaximum": "ten",
            "label": "Quiz",
            "resourceId": "",
            "tag": None,
            "https://canvas.instructure.com/lti/submission_type": {"type": "external_tool"},
        }
    )
    assert item.label == "Quiz"
    assert item.score_maximum is None
    assert item.resource_id is None and item.tag is None and item.resource_link_id is None
    assert item.grades_released is None
    assert item.extensions == {"https://canvas.instructure.com/lti/submission_type": {"type": "external_tool"}}
    assert parse_line_item({"id": "https://lms.test/li/1"}) == LineItem(id="https://lms.test/li/1")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (b"<html>502 Bad Gateway</html>", "the line item is not JSON: '<html>502 Bad Gateway</html>'"),
        (b"[]", "a line item must be a JSON object, got an array"),
        (b'{"label": "Quiz"}', "a line item has no 'id' URL (id is null)"),
        (b'{"id": 7}', "a line item has no 'id' URL (id is int)"),
        (b'{"id": ""}', "a line item has no 'id' URL (id is a string)"),
    ],
)
def test_invalid_line_item(document, fragment):
    error = raised(parse_line_item, document)
    assert error.code == "service_response_invalid"
    assert fragment in error.message


def test_line_item_container():
    second = {"id": "https://lms.example.com/context/2923/lineitems/2", "label": "Essay", "scoreMaximum": 10.5}
    items = parse_line_items(json.dumps([SPEC_LINE_ITEM, second]).encode())
    assert [item.id for item in items] == [SPEC_LINE_ITEM["id"], second["id"]]
    assert items[1].score_maximum == 10.5
    assert parse_line_items(b"[]") == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "the line item container is not JSON"),
        (b'{"lineItems": []}', "the line item container must be a JSON array, got an object"),
        (b'"x"', "must be a JSON array, got a string"),
        (b"[1]", "a line item must be a JSON object, got int"),
        (b'[{"label": "no id"}]', "a line item has no 'id' URL"),
        (b"[" * 100_000, "the line item container is not JSON"),
        (b'[{"id": "https://lms.test/li/1", "label": "Quiz\\u0000"}]', "holds U+0000 or a lone surrogate"),
        (b'[{"id": "https://lms.test/li/1", "tag": "\\udfff"}]', "holds U+0000 or a lone surrogate"),
    ],
)
def test_invalid_line_item_container(body, fragment):
    error = raised(parse_line_items, body)
    assert error.code == "service_response_invalid"
    assert fragment in error.message


def test_line_item_body_for_create_and_update():
    assert line_item_body(label="Chapter 5 Test", score_maximum=60, resource_id="quiz-231", tag="grade") == {
        "label": "Chapter 5 Test",
        "scoreMaximum": 60,
        "resourceId": "quiz-231",
        "tag": "grade",
    }
    item = parse_line_item(SPEC_LINE_ITEM)
    update = line_item_body(
        line_item_id=item.id,
        label="Chapter 5 Test (retake)",
        score_maximum=item.score_maximum or 1,
        resource_id=item.resource_id,
        tag=item.tag,
        resource_link_id=item.resource_link_id,
        start_date_time=item.start_date_time,
        end_date_time=item.end_date_time,
        grades_released=item.grades_released,
        extensions={"https://canvas.instructure.com/lti/launch_url": "https://tool.test/x", "label": "sneaky"},
    )
    assert update == {**SPEC_LINE_ITEM, "label": "Chapter 5 Test (retake)", "scoreMaximum": 60.0} | {
        "https://canvas.instructure.com/lti/launch_url": "https://tool.test/x"
    }


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"label": "  ", "score_maximum": 1}, "label '  ' is blank"),
        ({"label": "Quiz", "score_maximum": 0}, "scoreMaximum 0 is not a number > 0"),
        ({"label": "Quiz", "score_maximum": math.nan}, "scoreMaximum nan is not a number > 0"),
    ],
)
def test_invalid_line_item_body(arguments, fragment):
    error = raised(line_item_body, **arguments)
    assert error.code == "line_item_invalid"
    assert error.status == 422
    assert error.culprit is Culprit.APP
    assert fragment in error.message


# --- results ---------------------------------------------------------------------------------


def test_results():
    body = json.dumps(
        [
            {
                "id": "https://lms.example.com/context/2923/lineitems/1/results/5323497",
                "scoreOf": "https://lms.example.com/context/2923/lineitems/1",
                "userId": "5323497",
                "resultScore": 0.83,
                "resultMaximum": 1,
                "scoringUserId": "4567890",
                "comment": "This is exceptional work.",
            },
            {"userId": "u-2", "resultScore": None},
            {"userId": "u-3", "resultScore": 4, "resultMaximum": 0},
            {"resultScore": 1},
            "junk",
        ]
    ).encode()
    assert parse_results(body) == [
        Result(
            user_id="5323497",
            id="https://lms.example.com/context/2923/lineitems/1/results/5323497",
            score_of="https://lms.example.com/context/2923/lineitems/1",
            result_score=0.83,
            result_maximum=1.0,
            scoring_user_id="4567890",
            comment="This is exceptional work.",
        ),
        Result(user_id="u-2"),
        Result(user_id="u-3", result_score=4.0, result_maximum=1.0),
    ]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"nope", "the result container is not JSON"),
        (b"{}", "JSON array"),
        (b'[{"userId": "u\\u0000"}]', "holds U+0000 or a lone surrogate"),
    ],
)
def test_invalid_results(body, fragment):
    error = raised(parse_results, body)
    assert error.code == "service_response_invalid"
    assert fragment in error.message


# --- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
line_item_like = st.fixed_dictionaries(
    {}, optional={key: json_values for key in ("id", "label", "scoreMaximum", "resourceId", "tag", "gradesReleased")}
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(json_values, st.lists(line_item_like, max_size=4)))
def test_parsers_end_in_values_or_service_response_invalid(document):
    body = json.dumps(document).encode()
    for parse in (parse_line_items, parse_results):
        try:
            parse(body)
        except LtiError as error:
            assert error.code == "service_response_invalid"


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["https://lms.test/li/7", "https://lms.test/li/7/", "https://lms.test/a/b/c"]),
    st.lists(st.tuples(st.text(min_size=1, max_size=5), st.text(max_size=5)), max_size=3),
)
def test_service_url_keeps_any_query(base, params):
    url = f"{base}?{urlencode(params)}" if params else base
    derived = urlsplit(service_url(url, "scores"))
    assert derived.path.endswith("/scores") and "//scores" not in derived.path
    assert parse_qsl(derived.query, keep_blank_values=True) == parse_qsl(urlsplit(url).query, keep_blank_values=True)
