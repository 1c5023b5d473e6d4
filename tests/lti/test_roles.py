"""Role URIs, their short names and the staff test (LTI Core 1.3 Appendix A.2; lti-reference §2.6)."""

from __future__ import annotations

import pytest

from ltigate.lti.roles import (
    INSTITUTION,
    LTI_SYSTEM,
    MEMBERSHIP,
    SYSTEM,
    is_staff,
    normalise_role,
    short_role,
    short_roles,
)

SUB = "http://purl.imsglobal.org/vocab/lis/v2/membership/"
UNKNOWN = "http://purl.imsglobal.org/vocab/lis/v2/unknown/unknown#Helper"


@pytest.mark.parametrize(
    ("role", "full"),
    [
        ("Instructor", MEMBERSHIP + "Instructor"),
        ("Learner", MEMBERSHIP + "Learner"),
        ("Administrator", MEMBERSHIP + "Administrator"),
        ("ContentDeveloper", MEMBERSHIP + "ContentDeveloper"),
        ("Mentor", MEMBERSHIP + "Mentor"),
        ("Manager", MEMBERSHIP + "Manager"),
        ("Member", MEMBERSHIP + "Member"),
        ("Officer", MEMBERSHIP + "Officer"),
        ("urn:lti:role:ims/lis/Instructor", MEMBERSHIP + "Instructor"),
        ("urn:lti:role:ims/lis/Learner", MEMBERSHIP + "Learner"),
        ("urn:lti:role:ims/lis/TeachingAssistant", MEMBERSHIP + "TeachingAssistant"),
        ("urn:lti:role:ims/lis/Instructor/TeachingAssistant", SUB + "Instructor#TeachingAssistant"),
        ("urn:lti:role:ims/lis/Learner/NonCreditLearner", SUB + "Learner#NonCreditLearner"),
        ("urn:lti:instrole:ims/lis/Faculty", INSTITUTION + "Faculty"),
        ("urn:lti:instrole:ims/lis/Student", INSTITUTION + "Student"),
        ("urn:lti:sysrole:ims/lis/Administrator", SYSTEM + "Administrator"),
        ("http://purl.imsglobal.org/vocab/lis/v2/person#Faculty", INSTITUTION + "Faculty"),
        (MEMBERSHIP + "Instructor", MEMBERSHIP + "Instructor"),
        (SUB + "Instructor#TeachingAssistant", SUB + "Instructor#TeachingAssistant"),
        (INSTITUTION + "Faculty", INSTITUTION + "Faculty"),
        (LTI_SYSTEM + "TestUser", LTI_SYSTEM + "TestUser"),
        (UNKNOWN, UNKNOWN),
        ("instructor", "instructor"),
        ("", ""),
    ],
)
def test_normalise_role(role, full):
    assert normalise_role(role) == full


@pytest.mark.parametrize(
    ("role", "short"),
    [
        ("Instructor", "Instructor"),
        ("Learner", "Learner"),
        (MEMBERSHIP + "Instructor", "Instructor"),
        (MEMBERSHIP + "Mentor", "Mentor"),
        ("urn:lti:role:ims/lis/Instructor", "Instructor"),
        (SUB + "Instructor#TeachingAssistant", "TeachingAssistant"),
        (SUB + "Administrator#Administrator", "Administrator"),
        (SUB + "Learner#Learner", "Learner"),
        (SUB + "Learner#Instructor", "Learner#Instructor"),
        ("urn:lti:role:ims/lis/Instructor/TeachingAssistant", "TeachingAssistant"),
        (INSTITUTION + "Faculty", "institution:Faculty"),
        ("urn:lti:instrole:ims/lis/Faculty", "institution:Faculty"),
        ("http://purl.imsglobal.org/vocab/lis/v2/person#Student", "institution:Student"),
        (SYSTEM + "Administrator", "system:Administrator"),
        ("urn:lti:sysrole:ims/lis/SysAdmin", "system:SysAdmin"),
        (LTI_SYSTEM + "TestUser", "lti:TestUser"),
        (UNKNOWN, None),
        ("https://example.com/roles#Instructor", None),
        ("", None),
        (MEMBERSHIP, None),
        (SUB + "Instructor#", None),
        (SUB + "Instructor", None),
    ],
)
def test_short_role(role, short):
    assert short_role(role) == short


def test_short_roles_are_deduplicated_in_first_seen_order():
    roles = ("Learner", UNKNOWN, MEMBERSHIP + "Learner", INSTITUTION + "Student", "", "urn:lti:role:ims/lis/Learner")

    assert short_roles(roles) == ("Learner", "institution:Student")


def test_short_roles_of_nothing():
    assert short_roles(()) == ()


@pytest.mark.parametrize(
    ("roles", "staff"),
    [
        (("Instructor",), True),
        ((MEMBERSHIP + "Instructor",), True),
        (("urn:lti:role:ims/lis/Instructor",), True),
        ((MEMBERSHIP + "Administrator",), True),
        ((MEMBERSHIP + "ContentDeveloper",), True),
        ((INSTITUTION + "Faculty",), True),
        (("urn:lti:instrole:ims/lis/Faculty",), True),
        ((INSTITUTION + "Administrator",), True),
        ((INSTITUTION + "Instructor",), True),
        ((SYSTEM + "Administrator",), True),
        ((SYSTEM + "SysAdmin",), True),
        (("Learner", INSTITUTION + "Faculty"), True),
        (("Learner",), False),
        ((MEMBERSHIP + "Mentor",), False),
        ((SUB + "Instructor#TeachingAssistant",), False),
        (("urn:lti:role:ims/lis/Instructor/TeachingAssistant",), False),
        ((SUB + "Learner#Instructor",), False),
        ((INSTITUTION + "Student",), False),
        ((SYSTEM + "User",), False),
        ((LTI_SYSTEM + "TestUser",), False),
        ((UNKNOWN,), False),
        (("https://evil.test/vocab#Instructor",), False),
        (("",), False),
        ((), False),
    ],
)
def test_is_staff(roles, staff):
    assert is_staff(roles) is staff
