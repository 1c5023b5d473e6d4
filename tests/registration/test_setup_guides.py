"""The per-LMS guides in docs/lms are generated from the LMS profiles: checked in, and kept in step here."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltigate.lti.profiles import PROFILES, LmsProfile, ToolValue, profile_for, profile_named
from ltigate.services.gateway import ToolUrls
from ltigate.services.setup_guides import DOCS_BASE_URL, render_markdown, setup_guide

DOCS = Path(__file__).resolve().parents[2] / "docs" / "lms"
REGENERATE = (
    "regenerate with: for lms in {keys}; do ltigate setup-guide $lms --base-url {base} > docs/lms/$lms.md; done"
)


@pytest.mark.parametrize("profile", PROFILES, ids=[p.key for p in PROFILES])
def test_checked_in_guides_match_the_profiles(profile: LmsProfile) -> None:
    expected = render_markdown(setup_guide(profile, ToolUrls.for_base(DOCS_BASE_URL)))
    path = DOCS / f"{profile.key}.md"

    assert path.exists(), REGENERATE.format(keys=profile.key, base=DOCS_BASE_URL)
    assert path.read_text() == expected, REGENERATE.format(keys=profile.key, base=DOCS_BASE_URL)


def test_every_guide_has_a_profile_and_every_lms_of_the_design_has_a_guide() -> None:
    assert {path.stem for path in DOCS.glob("*.md")} == {p.key for p in PROFILES}
    assert [p.key for p in PROFILES] == [
        "canvas",
        "moodle",
        "brightspace",
        "blackboard",
        "sakai",
        "schoology",
        "openedx",
    ]


def test_every_profile_gives_the_three_urls_every_lms_asks_for() -> None:
    for profile in PROFILES:
        assert {ToolValue.LOGIN_URL, ToolValue.REDIRECT_URL, ToolValue.JWKS_URL} <= set(profile.tool_labels), (
            profile.key
        )


def test_profiles_are_found_by_product_family_code_and_name() -> None:
    assert profile_for("canvas").key == "canvas"
    assert profile_for("Moodle").key == "moodle"
    assert profile_for("desire2learn").key == "brightspace"
    assert profile_for("BlackboardLearn").key == "blackboard"
    assert profile_for("sakai").key == "sakai"
    assert profile_for("something-else").key == "generic"
    assert profile_for(None).key == "generic"
    assert profile_named("OpenEdX") is not None and profile_named("webct") is None
