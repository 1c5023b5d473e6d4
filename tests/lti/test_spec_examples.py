"""The decoded id_tokens of lti-reference Appendix A and the JWKS of Appendix B, signed and verified."""

from __future__ import annotations

import pytest

from ltigate.lti import claims as c
from ltigate.lti.deep_linking import parse_settings
from ltigate.lti.errors import ClaimMissing, SignatureInvalid
from ltigate.lti.jws import verify_signature
from ltigate.lti.keys import parse_key_set
from ltigate.lti.launch import check_nonce, check_target_link_uri, read_unverified_launch
from ltigate.lti.message import parse_message

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"

A1_RESOURCE_LINK = {
    "iss": "https://lms.example.edu",
    "aud": "tool-client-1",
    "sub": "u-123",
    "iat": 1700000000,
    "exp": 1700000300,
    "nonce": "n-9f2c",
    "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
    "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
    "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "dep-1",
    "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "https://tool.example.com/lti/launch",
    "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "rl-42"},
    "https://purl.imsglobal.org/spec/lti/claim/roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
}

A2_DEEP_LINKING = {
    "iss": "https://lms.example.edu",
    "aud": ["tool-client-1"],
    "azp": "tool-client-1",
    "sub": "u-7",
    "iat": 1700000000,
    "exp": 1700000300,
    "nonce": "n-77aa",
    "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingRequest",
    "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
    "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "dep-1",
    "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "https://tool.example.com/lti/dl",
    "https://purl.imsglobal.org/spec/lti/claim/roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
    "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
        "deep_link_return_url": "https://lms.example.edu/deep_links/return",
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_multiple": False,
        "accept_lineitem": True,
        "data": "opaque-abc",
    },
}

A3_SUBMISSION_REVIEW = {
    "iss": "https://lms.example.edu",
    "aud": "tool-client-1",
    "sub": "teacher-1",
    "iat": 1700000000,
    "exp": 1700000300,
    "nonce": "n-5e01",
    "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiSubmissionReviewRequest",
    "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
    "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "dep-1",
    "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "https://tool.example.com/lti/review",
    "https://purl.imsglobal.org/spec/lti/claim/roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
    "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "rl-42"},
    "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
        "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
        "lineitem": "https://lms.example.edu/ctx/9/lineitems/3",
    },
    "https://purl.imsglobal.org/spec/lti/claim/for_user": {
        "user_id": "u-123",
        "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    },
}

APPENDIX_B_JWKS = {
    "keys": [
        {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": "UkKVyenJM5t9x8pMTmIrs3zxcfT607QIbIcg_WZfjxk",
            "e": "AQAB",
            "n": "nQKMk3rsGboV_AFAnDoq2ZNxA_dwSaPgGIO73UwY_vHmflbpAwDgwKlNjQ-eMjASM0wJY7dt9cVbbKN6NV-9h31fTR0qDcCidOGR"
            "p_QMIgU8Vync9datBjLgYFRieIhwu1dipHPV2nYNAX9U7xyq6y4bsKqke1P68c6D7rO-Wbb9H893expc8J3RivZIR10FA20iYQ4qaTLXy"
            "6Xbb4kEh8cC6hTB5_3KNTRkSsjfu6RsdoqRlepIDGjuMZG-gfBgLDGBVMUKj_uhIzKRKoQNV3Ki9INFznJukQoadg99MNJfkWktw1pbUz"
            "vsyKGTq4-iX6cKmPCeARw_z2E0z0mVgw",
        }
    ]
}


def test_a1_resource_link_is_signed_verified_and_parsed(sign_claims, verify):
    token = sign_claims(A1_RESOURCE_LINK)

    launch = read_unverified_launch(token)
    assert (launch.header.alg, launch.header.kid, launch.header.typ) == ("RS256", "k1", "JWT")
    assert (launch.issuer, launch.audiences) == ("https://lms.example.edu", ("tool-client-1",))

    claims = verify(token)
    check_nonce(claims, "n-9f2c")
    message = parse_message(claims, "tool-client-1")
    check_target_link_uri(message.target_link_uri, "https://tool.example.com/lti/launch")

    assert message.issuer == "https://lms.example.edu"
    assert message.client_id == "tool-client-1"
    assert message.deployment_id == "dep-1"
    assert message.message_type == c.RESOURCE_LINK_REQUEST
    assert message.target_link_uri == "https://tool.example.com/lti/launch"
    assert message.user.sub == "u-123"
    assert message.roles == (LEARNER,)
    assert message.short_roles == ("Learner",)
    assert message.resource_link is not None and message.resource_link.id == "rl-42"
    assert message.context is None
    assert message.services == ()
    assert message.claims == A1_RESOURCE_LINK


def test_a1_passes_at_the_edges_of_its_lifetime(sign_claims, verify):
    token = sign_claims(A1_RESOURCE_LINK)

    verify(token, now=1700000000, leeway=0)
    verify(token, now=1700000299, leeway=0)


def test_a2_deep_linking_request_parses_with_its_settings(sign_claims, verify):
    claims = verify(sign_claims(A2_DEEP_LINKING))
    check_nonce(claims, str(A2_DEEP_LINKING["nonce"]))

    message = parse_message(claims, "tool-client-1")
    settings = parse_settings(message.deep_linking)

    assert message.is_deep_linking and not message.is_submission_review
    assert message.resource_link is None
    assert settings.return_url == "https://lms.example.edu/deep_links/return"
    assert settings.accept_types == ("ltiResourceLink",)
    assert settings.accept_presentation_document_targets == ("iframe", "window")
    assert (settings.accept_multiple, settings.accept_lineitem, settings.auto_create) == (False, True, False)
    assert (settings.data, settings.has_data) == ("opaque-abc", True)


def test_a3_submission_review_request_parses_with_for_user(sign_claims, verify):
    message = parse_message(verify(sign_claims(A3_SUBMISSION_REVIEW)), "tool-client-1")

    assert message.is_submission_review
    assert message.for_user is not None
    assert message.for_user.user_id == "u-123"
    assert message.for_user.roles == ("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",)
    assert message.resource_link is not None and message.resource_link.id == "rl-42"
    assert message.ags is not None and message.ags.lineitem == "https://lms.example.edu/ctx/9/lineitems/3"


@pytest.mark.parametrize(
    ("payload", "claim"),
    [
        (A2_DEEP_LINKING, "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"),
        (A3_SUBMISSION_REVIEW, "https://purl.imsglobal.org/spec/lti/claim/for_user"),
        (A3_SUBMISSION_REVIEW, "https://purl.imsglobal.org/spec/lti/claim/resource_link"),
    ],
    ids=["DL without settings", "review without for_user", "review without resource_link"],
)
def test_a2_a3_without_their_required_claim(sign_claims, verify, payload, claim):
    claims = verify(sign_claims({k: v for k, v in payload.items() if k != claim}))

    with pytest.raises(ClaimMissing) as caught:
        parse_message(claims, "tool-client-1")

    assert caught.value.code == "claim_missing"
    assert claim in caught.value.message


def test_a2_array_audience_with_azp_is_accepted(sign_claims):
    launch = read_unverified_launch(sign_claims(A2_DEEP_LINKING))

    assert launch.audiences == ("tool-client-1",)


def test_appendix_b_key_set_parses():
    keys = parse_key_set(APPENDIX_B_JWKS)

    assert keys.kids == ("UkKVyenJM5t9x8pMTmIrs3zxcfT607QIbIcg_WZfjxk",)
    key = keys.find("UkKVyenJM5t9x8pMTmIrs3zxcfT607QIbIcg_WZfjxk")
    assert key is not None
    assert key.alg == "RS256"
    assert key.key.raw_value.key_size == 2048


def test_appendix_b_kid_is_the_rfc7638_thumbprint():
    key = parse_key_set(APPENDIX_B_JWKS).find("UkKVyenJM5t9x8pMTmIrs3zxcfT607QIbIcg_WZfjxk")

    assert key is not None
    assert key.key.thumbprint() == "UkKVyenJM5t9x8pMTmIrs3zxcfT607QIbIcg_WZfjxk"


def test_a1_does_not_verify_with_the_appendix_b_key(sign_claims):
    # The example JWKS has a kid nobody signs with; under our kid it must still reject our signature.
    token = sign_claims(A1_RESOURCE_LINK)
    foreign = parse_key_set({"keys": [dict(APPENDIX_B_JWKS["keys"][0], kid="k1")]}).find("k1")
    assert foreign is not None

    with pytest.raises(SignatureInvalid) as caught:
        verify_signature(token, foreign, read_unverified_launch(token).header)
    assert caught.value.code == "signature_invalid"
    assert "does not verify with key 'k1'" in caught.value.message
