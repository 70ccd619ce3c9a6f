"""A group's usage: the pure pieces (the table's question, sorting, a day's record) and the
running-totals reading on both databases (tests/helpers/usage_seed.py writes the record)."""

from zoneinfo import ZoneInfo

from helpers.usage_seed import Seeded, seed
from hubdesk.db import Database
from hubdesk.usage import group as reading
from hubdesk.usage.days import Range, day_start

UTC = ZoneInfo("UTC")
H, D = 3600.0, 86400.0
DAY = 20_000  # 2024-10-04, a Friday


def test_the_question_keeps_only_what_it_knows():
    q = reading.question({"sort": "-active", "who": "never"}, offset=25, limit=25)
    assert (q.sort, q.who, q.offset, q.limit) == ("-active", "never", 25, 25)
    q = reading.question({"sort": "password", "who": "<b>"}, offset=0, limit=50)
    assert (q.sort, q.who) == ("name", "")
    q = reading.question({"sort": "--days"}, offset=0, limit=50)
    assert q.sort == "name"


def test_sorting_both_ways_ties_by_name_and_never_seen_first():
    rows = [
        reading.MemberUsage("bea", active_seconds=10, last_seen=5.0),
        reading.MemberUsage("Al", active_seconds=10),
        reading.MemberUsage("cy", active_seconds=30, last_seen=9.0),
    ]
    names = lambda sort: [r.name for r in reading.arranged(rows, reading.Question(sort=sort))]  # noqa: E731
    assert names("name") == ["Al", "bea", "cy"]
    assert names("-name") == ["cy", "bea", "Al"]
    assert names("active") == ["Al", "bea", "cy"]
    assert names("-active") == ["cy", "Al", "bea"]  # ties: A to Z, whichever way
    assert names("seen") == ["Al", "bea", "cy"]  # never seen: first
    assert [r.name for r in reading.arranged(rows, reading.Question(who="never"))] == []
    rows.append(reading.MemberUsage("dee"))
    assert [r.name for r in reading.arranged(rows, reading.Question(who="never"))] == ["dee"]
    assert len(reading.arranged(rows, reading.Question(who="used"))) == 3


def test_a_day_is_recorded_all_partly_or_not():
    start = day_start(DAY, UTC)
    later = start + 2 * D

    def recorded(*spans, now=later):
        return reading.recorded(DAY, list(spans), UTC, now, 600)

    assert recorded((start - D, start + D)) == "yes"
    assert recorded((start + 300, start + D - 300)) == "yes"  # within two sweeps of midnight
    assert recorded((start + 6 * H, start + D)) == "partly"
    assert recorded((start - D, start)) == "no"
    # today: recorded up to now is all of it
    assert recorded((start, start + 5 * H), now=start + 5 * H + 60) == "yes"


def test_hours_in_words():
    assert reading.hours(None) == "unknown"
    assert reading.hours(5400) == "1.5"
    assert reading.signed_hours(-5400) == "−1.5"
    assert reading.signed_hours(5400) == "+1.5"
    assert reading.signed_hours(10) == "0.0"


def test_members_from_the_running_totals(db_url):
    database = Database(db_url)
    database.upgrade()
    t0 = day_start(DAY, UTC)
    at = t0 - 5 * D
    sessions = [
        Seeded("ann", at + 9 * H, at + 11 * H, active=[(at + 9 * H, at + 10 * H)]),
        Seeded("ann", t0 - 40 * D, t0 - 40 * D + H, active=[(t0 - 40 * D, t0 - 40 * D + H)]),
        # across midnight: a day and a half of server time, cut at the midnights
        Seeded("ben", t0 - 3 * D + 12 * H, t0 - D, active=[(t0 - 2 * D + H, t0 - 2 * D + 2 * H)]),
        Seeded("cat", t0 - 2 * H, None),  # open: counted up to the latest sweep
    ]
    for s in sessions:
        s.groups = ("g",)
    seed(database, "UTC", sessions, coverage=[(t0 - 50 * D, t0 - H)])
    rng = Range(DAY - 29, DAY)
    weeks = (Range(DAY - 4, DAY), Range(DAY - 11, DAY - 5))  # DAY is a Friday
    rows = {
        r.name: r
        for r in reading.with_weeks(
            database, reading.member_usage(database, ["ann", "ben", "cat", "dan"], rng, UTC), weeks
        )
    }
    ann = rows["ann"]
    assert (ann.days_active, ann.server_seconds, ann.active_seconds) == (1, 2 * H, H)
    assert (rows["ann"].this_week, rows["ann"].previous_week) == (0, H)
    assert ann.last_seen == at + 11 * H
    assert (rows["ben"].days_active, rows["ben"].server_seconds) == (1, 1.5 * D)
    assert rows["ben"].this_week == H
    assert rows["cat"].server_seconds == H and rows["cat"].running == 1
    assert rows["cat"].last_seen == t0 - H
    assert rows["dan"].never and not rows["cat"].never
    days = {
        d.day: d
        for d in reading.day_usage(
            database, "g", ["ann", "ben", "cat"], rng, UTC, now=t0 + H, sample_seconds=300
        )
    }
    assert days[DAY - 5].active_members == 1 and days[DAY - 5].server_seconds == 2 * H
    assert days[DAY - 2].server_seconds == D  # ben's whole day
    assert days[DAY].recorded == "no" and days[DAY].server_seconds is None  # after the record
    assert days[DAY - 1].server_seconds == H  # cat's open hour, up to the latest sweep
    database.dispose()
