"""The end of term's pure parts: its spec as a record, reading what was asked, judging whom."""

from datetime import UTC, date, datetime

import pytest
from hubdesk.jobs import DeleteUsersSpec
from hubdesk.people.leavers import Choice, ChoiceError, judge, parse_choice
from werkzeug.datastructures import MultiDict


def test_the_spec_reads_back_what_it_wrote_and_refuses_a_damaged_one():
    spec = DeleteUsersSpec(group="g", inactive_since="2026-06-30", admins=("a",), by_admin=True)
    assert DeleteUsersSpec.from_json(spec.to_json()) == spec
    assert DeleteUsersSpec.from_json({}) == DeleteUsersSpec()
    with pytest.raises(ValueError):
        DeleteUsersSpec.from_json({"admins": "a"})


def test_what_was_asked_is_read_or_refused_in_words():
    asked = parse_choice(
        MultiDict(
            [("group", " g "), ("inactive_since", "2026-06-30"), ("user", "a"), ("user", "a")]
        )
    )
    assert asked == Choice("g", date(2026, 6, 30), ("a",))
    assert ("inactive_since", "2026-06-30") in asked.fields()
    with pytest.raises(ChoiceError, match="YYYY-MM-DD"):
        parse_choice(MultiDict([("inactive_since", "June")]))
    with pytest.raises(ChoiceError, match="at most 500"):
        parse_choice(MultiDict([("user", f"u{n}") for n in range(501)]))
    assert not parse_choice(MultiDict()).given


def test_admins_the_person_new_accounts_and_the_forbidden_are_left_out():
    start = datetime(2026, 6, 30, tzinfo=UTC)
    models = [
        {"name": "old", "created": "2026-01-01T00:00:00Z"},
        {"name": "new", "created": "2026-07-01T00:00:00Z"},
        {"name": "boss", "admin": True},
        {"name": "me"},
        {"name": "theirs", "groups": ["other"]},
    ]

    def may(name, groups):
        return "other" not in groups

    seen = judge(models, Choice(), person="me", person_admin=True, start=start, may=may)
    assert seen.names == ["old"] and seen.admins == ["boss"] and seen.yourself
    assert seen.made_since == ["new"] and seen.not_allowed == ["theirs"]
    ticked = judge(
        models, Choice(also=("boss", "me")), person="me", person_admin=True, start=start, may=may
    )
    assert ticked.names == ["boss", "me", "old"]
    not_admin = judge(
        models, Choice(also=("boss",)), person="me", person_admin=False, start=None, may=may
    )
    assert "boss" in not_admin.not_allowed and "boss" not in not_admin.names
