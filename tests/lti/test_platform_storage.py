"""Platform storage in the protocol core (lti-reference §8): keys, target origin, the check page's report,
and the new-window login of `ltigate.lti.login`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltigate.lti.errors import (
    LtiError,
    StorageMismatch,
    StorageOriginMismatch,
    StorageUnavailable,
    StorageValueMissing,
)
from ltigate.lti.login import parse_login_initiation, reopening_params
from ltigate.lti.platform_storage import (
    MAX_DETAIL,
    MAX_REPORTED_VALUE,
    StorageReport,
    check_storage_report,
    nonce_key,
    read_storage_report,
    state_key,
    storage_origin,
)

STATE, NONCE = "s" * 43, "n" * 43
ORIGIN = "https://tool.example.com"


def refusal(report: StorageReport) -> LtiError:
    with pytest.raises(LtiError) as caught:
        check_storage_report(report, state=STATE, nonce=NONCE)
    return caught.value


def test_keys_are_those_of_the_1edtech_library() -> None:
    assert state_key("abc") == "lti_state_abc"
    assert nonce_key("xyz") == "lti_nonce_xyz"


@pytest.mark.parametrize(
    ("auth_url", "origin"),
    [
        ("https://sso.canvaslms.com/api/lti/authorize_redirect", "https://sso.canvaslms.com"),
        ("https://LMS.example.edu:8443/mod/lti/auth.php?x=1", "https://lms.example.edu:8443"),
        ("http://localhost:8001/auth", "http://localhost:8001"),
    ],
)
def test_messages_go_to_the_origin_of_the_authorization_endpoint(auth_url: str, origin: str) -> None:
    assert storage_origin(auth_url) == origin


def test_the_values_read_back_complete_the_check() -> None:
    check_storage_report(StorageReport(state=STATE, nonce=NONCE), state=STATE, nonce=NONCE)


@pytest.mark.parametrize(
    ("report", "error", "quoted"),
    [
        (StorageReport(None, None, "origin", "https://evil.example"), StorageOriginMismatch, "https://evil.example"),
        (StorageReport(None, None, "missing", "no value for the state"), StorageValueMissing, "no value"),
        (StorageReport(None, None, "unavailable", "lti.get_data: no answer"), StorageUnavailable, "no answer"),
        (StorageReport(None, None, "gremlins"), StorageUnavailable, "'gremlins'"),
        (StorageReport(STATE, NONCE, "origin"), StorageOriginMismatch, "another origin"),
        (StorageReport(None, NONCE), StorageValueMissing, "state"),
        (StorageReport(STATE, None), StorageValueMissing, "nonce"),
        (StorageReport("t" * 43, NONCE), StorageMismatch, "state"),
        (StorageReport(STATE, "m" * 43), StorageMismatch, "nonce"),
    ],
)
def test_each_failure_has_its_code_and_says_what_went_wrong(
    report: StorageReport, error: type[LtiError], quoted: str
) -> None:
    raised = refusal(report)
    assert type(raised) is error
    assert quoted in raised.message
    assert raised.status == 403 and raised.code.startswith("storage_")


def test_a_reported_failure_wins_over_values() -> None:
    assert isinstance(refusal(StorageReport(STATE, NONCE, "missing")), StorageValueMissing)


def test_control_characters_in_the_detail_are_not_echoed() -> None:
    raised = refusal(StorageReport(None, None, "origin", "https://evil.example\r\nX-Injected: 1"))
    assert "\r" not in raised.message and "\n" not in raised.message


def test_the_report_is_read_from_the_form_cut_to_size() -> None:
    report = read_storage_report(
        {
            "storage_state": "x" * 5000,
            "storage_nonce": "",
            "storage_failure": "origin" * 20,
            "storage_detail": "d" * 5000,
            "id_token": "ignored",
        }
    )
    assert report == StorageReport(
        state="x" * MAX_REPORTED_VALUE, nonce=None, failure=("origin" * 20)[:40], detail="d" * MAX_DETAIL
    )
    assert read_storage_report({}) == StorageReport(None, None, None, None)


@given(state=st.text(min_size=1, max_size=60), nonce=st.text(min_size=1, max_size=60))
def test_any_value_but_the_issued_one_is_refused(state: str, nonce: str) -> None:
    report = StorageReport(state=state, nonce=nonce)
    if (state, nonce) == (STATE, NONCE):
        check_storage_report(report, state=STATE, nonce=NONCE)
    else:
        with pytest.raises(StorageMismatch):
            check_storage_report(report, state=STATE, nonce=NONCE)


@given(
    hint=st.text(min_size=1, max_size=40),
    message_hint=st.none() | st.text(min_size=1, max_size=40),
    client_id=st.none() | st.text(min_size=1, max_size=20),
    deployment_id=st.none() | st.text(min_size=1, max_size=20),
    storage_target=st.none() | st.text(min_size=1, max_size=20),
)
def test_the_reopened_login_is_the_same_initiation_without_its_storage_frame(
    hint: str, message_hint: str | None, client_id: str | None, deployment_id: str | None, storage_target: str | None
) -> None:
    params = {"iss": "https://lms.example.edu", "login_hint": hint, "target_link_uri": f"{ORIGIN}/lti/launch"}
    optional = {
        "lti_message_hint": message_hint,
        "client_id": client_id,
        "lti_deployment_id": deployment_id,
        "lti_storage_target": storage_target,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    initiation = parse_login_initiation(params, ORIGIN)
    reopened = parse_login_initiation(reopening_params(initiation), ORIGIN)
    assert reopened.storage_target is None
    assert (reopened.issuer, reopened.login_hint, reopened.target_link_uri) == (
        initiation.issuer,
        initiation.login_hint,
        initiation.target_link_uri,
    )
    assert (reopened.lti_message_hint, reopened.client_id, reopened.deployment_id) == (
        message_hint,
        client_id,
        deployment_id,
    )
