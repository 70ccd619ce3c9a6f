"""A person's usage, read (``hubdesk.usage.person``) from a record written as the sampler
leaves it (``helpers.usage_seed``), on SQLite and PostgreSQL; and the Activity CSV's words."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from helpers.usage_seed import Seeded, seed
from hubdesk import activity_csv
from hubdesk.audit_words import Link
from hubdesk.db import Database
from hubdesk.usage import person
from hubdesk.usage.days import Range, day_number

ZONE = "Europe/Paris"
TZ = ZoneInfo(ZONE)


def at(day: int, hour: int, minute: int = 0) -> float:
    """Epoch seconds of 2026-11-<day> hour:minute in Paris."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


def nov(day: int) -> int:
    return day_number(date(2026, 11, day))


# a failed start, a morning's session, one over midnight on another server, one still open;
# hubdesk was not recording on Nov 3 from 12:00 to 20:00
SESSIONS = [
    Seeded("ana", at(1, 8), at(1, 8, 5), failed=True),
    Seeded("ana", at(2, 10), at(2, 12), profile="small", active=[(at(2, 10, 10), at(2, 10, 40))]),
    Seeded("ana", at(3, 23), at(4, 1), server="labs", active=[(at(3, 23, 30), at(4, 0, 30))]),
    Seeded("ana", at(5, 9), None, profile="large", active=[(at(5, 9), at(5, 9, 20))]),
    Seeded("bob", at(2, 9), at(2, 17), active=[(at(2, 9), at(2, 17))]),  # someone else
]
COVERAGE = [(at(1, 7), at(3, 12)), (at(3, 20), at(5, 10))]


@pytest.fixture
def database(db_url):
    database = Database(db_url)
    database.upgrade()
    seed(database, ZONE, SESSIONS, coverage=COVERAGE)
    yield database
    database.dispose()


def test_numbers_are_running_totals_plus_open_sessions(database):
    n = person.numbers(database, "ana", Range(nov(2), nov(5)), TZ)
    assert n.days_active == 4  # Nov 2, 3 and 4 (the midnight's session), 5
    # 2 h + 2 h (over midnight) + the open one to the latest sweep (09:00 to 10:00)
    assert n.server_seconds == pytest.approx(5 * 3600)
    assert n.active_seconds == pytest.approx((30 + 60 + 20) * 60)
    assert (n.started, n.failed, n.running) == (3, 0, 1)
    assert n.last_seen == pytest.approx(at(5, 10))  # the open session, at the latest sweep

    one = person.numbers(database, "ana", Range(nov(4), nov(4)), TZ)
    assert one.days_active == 1
    assert one.server_seconds == pytest.approx(3600)  # midnight to 01:00
    assert one.active_seconds == pytest.approx(30 * 60)
    assert (one.started, one.failed, one.running) == (0, 0, 0)
    assert one.last_seen == pytest.approx(at(4, 1))

    first = person.numbers(database, "ana", Range(nov(1), nov(1)), TZ)
    assert (first.started, first.failed, first.days_active) == (1, 1, 0)
    nobody = person.numbers(database, "nobody", Range(nov(1), nov(5)), TZ)
    assert (nobody.days_active, nobody.server_seconds, nobody.last_seen) == (0, 0, None)


def test_sessions_newest_first_a_page_at_a_time(database):
    rng = Range(nov(1), nov(5))
    page, older = person.sessions_page(database, "ana", rng, TZ, limit=2)
    assert [s.started for s in page] == [at(5, 9), at(3, 23)]
    assert [s.state for s in page] == ["running", "stopped"]
    assert page[1].active_seconds == pytest.approx(3600) and page[1].server == "labs"
    rest, last = person.sessions_page(database, "ana", rng, TZ, before=older, limit=2)
    assert [s.started for s in rest] == [at(2, 10), at(1, 8)] and last is None
    assert [s.state for s in rest] == ["stopped", "failed"]
    assert [s.id for s in person.every_session(database, "ana", rng, TZ)] == [
        s.id for s in page + rest
    ]
    # a session of someone else as the key: from the newest again, never bob's
    bob = person.sessions_page(database, "bob", rng, TZ)[0][0]
    assert person.sessions_page(database, "ana", rng, TZ, before=bob.id, limit=2)[0] == page
    # a range holds the sessions that overlap it: the one over midnight is Nov 4's too
    nov4 = person.sessions_page(database, "ana", Range(nov(4), nov(4)), TZ)[0]
    assert [s.server for s in nov4] == ["labs"]
    assert person.has_record(database, "ana") and not person.has_record(database, "nobody")


def test_timeline_rows_per_server_and_profile_and_the_gap_as_unknown(database):
    line = person.timeline(database, "ana", Range(nov(2), nov(5)), TZ, [], now=at(5, 10))
    assert line.rows == [
        ("The default server · large", [(at(5, 9), at(5, 10))]),
        ("The default server · small", [(at(2, 10), at(2, 12))]),
        ("“labs”", [(at(3, 23), at(4, 1))]),
        (person.UNKNOWN_ROW, [(at(3, 12), at(3, 20))]),
    ]
    assert line.gaps == [(at(3, 12), at(3, 20))]
    assert [words for _, words in line.ticks] == ["Nov 2", "Nov 3", "Nov 4", "Nov 5"]
    assert person.in_hours([(at(2, 10), at(2, 12))], line.start) == [(10.0, 12.0)]
    # later than the record: unknown up to now, not running
    later = person.timeline(database, "ana", Range(nov(5), nov(5)), TZ, [], now=at(5, 12))
    assert later.rows[-1] == (person.UNKNOWN_ROW, [(at(5, 10), at(5, 12))])


def test_states_durations_and_ticks():
    s = person.Session(1, "", "", {}, 100.0, None, None, False, False)
    assert s.state == "starting" and s.seconds(160.0) == 60
    assert person.Session(1, "", "", {}, 100.0, 101.0, None, False, False).state == "running"
    gone = person.Session(1, "x", "", {}, 100.0, 101.0, 400.0, True, False)
    assert gone.state == "stopped" and gone.seconds(999.0) == 300
    assert person.clip(0, 10, 5, 20) == 5 and person.clip(0, 10, 20, 30) == 0
    ninety = person.day_ticks(Range(nov(1) - 89, nov(1)), TZ)
    assert len(ninety) <= person.MAX_LABELS and ninety[0][0] == 0


def test_the_activity_csv_says_records_as_the_page_does():
    parts = ["added 2 members to ", Link("group", ""), " and ", Link("user", "ana")]
    assert activity_csv.words(parts) == "added 2 members to a group and ana"
