"""Times in the person's time zone and durations in words (app/words.py; no hub)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask, g
from hubdesk.words import (
    ZONE_COOKIE,
    duration_words,
    lesson_next,
    local_text,
    person_zone,
    when,
    zone_named,
    zone_words,
)

WINTER = datetime(2026, 12, 7, 8, 27, 30, tzinfo=UTC)  # 09:27 in Rome, 13:57 in Kolkata


@pytest.fixture
def app():
    return Flask(__name__)


def page_for(app, zone: str | None):
    """A request from a browser whose zone cookie says ``zone`` (None: no cookie)."""
    headers = {"Cookie": f"{ZONE_COOKIE}={zone}"} if zone is not None else {}
    return app.test_request_context("/", headers=headers)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (59.7, "1 minute"),  # rounded, carried into the larger unit
        (60, "1 minute"),
        (90, "1 minute 30 seconds"),
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (7500, "2 hours 5 minutes"),
        (7529, "2 hours 5 minutes"),
        (3 * 86400, "3 days"),
        (86400 + 3600 + 59, "1 day 1 hour"),
        (2 * 86400 - 1, "2 days"),  # 1 day 23 hours 59 minutes 59 seconds, to the hour
        (400 * 86400, "400 days"),
        (-120, "2 minutes"),
    ],
)
def test_durations_in_words(seconds, words):
    assert duration_words(seconds) == words


def test_durations_to_one_unit_and_no_number():
    assert duration_words(5400, parts=1) == "2 hours"
    assert duration_words(7 * 60 + 20, parts=1) == "7 minutes"
    assert [duration_words(x) for x in (None, "soon", float("nan"), float("inf"))] == [""] * 4


def test_times_are_utc_and_said_so_until_the_browser_names_its_zone(app):
    with page_for(app, None):
        assert not person_zone().known
        shown = when(WINTER)
        assert re.fullmatch(
            r'<time datetime="2026-12-07T08:27:30\+00:00" title="2026-12-07 08:27:30 UTC">'
            r"2026-12-07 08:27</time>",
            shown,
        ), shown
        assert zone_words() == "Times in UTC: your browser's time zone is not known yet."
        assert g.times_shown


def test_times_in_the_browsers_zone_once_it_is_known(app):
    with page_for(app, "Asia/Kolkata"):
        shown = when(WINTER, seconds=True)
        assert 'datetime="2026-12-07T08:27:30+00:00"' in shown  # the instant, always UTC
        assert 'title="2026-12-07 13:57:30 Asia/Kolkata">2026-12-07 13:57:30</time>' in shown
        assert local_text(WINTER.timestamp()) == "2026-12-07 13:57"
        assert local_text("2026-12-07T08:27:30Z") == "2026-12-07 13:57"
        assert zone_words() == "Times in Asia/Kolkata (your browser's time zone)."
    with page_for(app, "Europe/Rome"):
        assert local_text(WINTER) == "2026-12-07 09:27"
        assert local_text(datetime(2026, 7, 1, 8, tzinfo=UTC)) == "2026-07-01 10:00"  # summer


def test_a_zones_old_name_is_shown_by_its_current_one(app):
    with page_for(app, "Asia/Calcutta"):  # what Chromium says in India
        zone = person_zone()
        assert (zone.name, zone.given) == ("Asia/Kolkata", "Asia/Calcutta")
        assert zone_words() == "Times in Asia/Kolkata (your browser's time zone)."
        assert "your time" not in lesson_next(WINTER, WINTER, "Asia/Calcutta")
    assert zone_named("Europe/Rome").given == "Europe/Rome"


def test_the_zone_is_read_once_a_request(app):
    with page_for(app, "Europe/Rome"):
        assert person_zone() is person_zone()
    assert not person_zone().known  # outside a request: UTC


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        "Nowhere/Atlantis",
        "../../../../etc/passwd",
        "/etc/localtime",
        "localtime",
        "Factory",
        "posixrules",
        "posix/Europe/Rome",
        "right/UTC",
        "Europe/Rome/..",
        "Europe//Rome",
        "europe/rome",
        "Europe/Rome\x00",
        "<script>alert(1)</script>",
        "%2Fetc%2Fpasswd",
        "A" * 5000,
        "Ä/Ö",
    ],
)
def test_a_hostile_or_unknown_zone_cookie_is_ignored(app, cookie):
    with page_for(app, cookie):
        zone = person_zone()
        assert (zone.name, zone.known) == ("UTC", False)
        shown = when(WINTER) + lesson_next(WINTER, WINTER, "Europe/Rome")
        assert "UTC" in shown and "<script" not in shown and "etc" not in shown
    assert not zone_named(None).known and not zone_named(["Europe/Rome"]).known
    assert not zone_named('"Europe/Rome"').known and not zone_named("Europe/Rome; x").known


@pytest.mark.parametrize(
    "name", ["UTC", "Europe/Rome", "America/Argentina/Buenos_Aires", "Etc/GMT+5"]
)
def test_every_zone_a_browser_names(name):
    assert zone_named(name).name == name and zone_named(name).known


def test_a_lessons_next_holding_names_whose_time_it_is(app):
    start, end = datetime(2099, 1, 5, 8, tzinfo=UTC), datetime(2099, 1, 5, 9, tzinfo=UTC)

    def said(zone, lesson_zone):
        with page_for(app, zone):
            return re.sub(r"<[^>]+>", "", lesson_next(start, end, lesson_zone))

    # a lesson at 09:00–10:00 Europe/Rome, seen from Kolkata: "your time", the footer names it
    assert said("Asia/Kolkata", "Europe/Rome") == "2099-01-05 13:30–14:30 your time"
    assert said("Europe/Rome", "Europe/Rome") == "2099-01-05 09:00–10:00"
    assert said(None, "Europe/Rome") == "2099-01-05 08:00–09:00 UTC"  # not known: named
    assert said(None, "UTC") == "2099-01-05 08:00–09:00"
    # an end on another day in the person's zone has its date
    with page_for(app, "America/New_York"):
        late = lesson_next(
            datetime(2099, 1, 6, 4, 30, tzinfo=UTC), datetime(2099, 1, 6, 5, 30, tzinfo=UTC), "UTC"
        )
        assert re.sub(r"<[^>]+>", "", late) == "2099-01-05 23:30–2099-01-06 00:30 your time"
    with page_for(app, None):
        assert "—" in lesson_next(None, None, "UTC")
