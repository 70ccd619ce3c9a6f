"""When lessons start and stop: pure logic (time zones, clock changes, late runs)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hubdesk.lessons import schedule
from hubdesk.lessons.schedule import ScheduleError, When, due_runs, parse_when

ROME = "Europe/Rome"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_weekly_lesson_in_its_own_time_zone():
    w = parse_when(tz=ROME, starts="09:00", ends="10:30", weekdays=["0", "2"], lead_minutes="5")
    assert w.words() == "Mondays and Wednesdays, 09:00–10:30 (Europe/Rome)"
    found = w.occurrences(utc(2026, 11, 30), utc(2026, 12, 6))  # Mon 30 Nov .. Sun 6 Dec
    starts = [s for s, _ in found if s >= utc(2026, 11, 30)]
    # 09:00 in Rome in winter is 08:00 UTC
    assert starts == [utc(2026, 11, 30, 8), utc(2026, 12, 2, 8)]
    assert all(e - s == timedelta(minutes=90) for s, e in found)


def test_summer_time_moves_the_lesson_with_the_clocks():
    w = When(tz=ROME, starts=time(9), ends=time(10), weekdays=(6,))  # Sundays
    before = w.occurrences(utc(2027, 3, 21), utc(2027, 3, 21, 23))  # CET
    after = w.occurrences(utc(2027, 3, 28), utc(2027, 3, 28, 23))  # CEST from 28 March
    assert [s for s, _ in before if s.day == 21] == [utc(2027, 3, 21, 8)]
    assert [s for s, _ in after if s.day == 28] == [utc(2027, 3, 28, 7)]


def test_a_time_skipped_by_the_clocks_moves_forward_by_the_jump():
    w = When(tz=ROME, starts=time(2, 30), ends=time(4), day=date(2027, 3, 28))
    ((start, end),) = w.occurrences(utc(2027, 3, 27), utc(2027, 3, 29))
    assert start == utc(2027, 3, 28, 1, 30)  # 03:30 CEST, as calendars do
    assert end == utc(2027, 3, 28, 2)  # 04:00 CEST


def test_a_lesson_past_midnight_ends_the_next_day():
    w = When(tz="UTC", starts=time(23), ends=time(1), day=date(2026, 12, 7))
    ((start, end),) = w.occurrences(utc(2026, 12, 6), utc(2026, 12, 8))
    assert (start, end) == (utc(2026, 12, 7, 23), utc(2026, 12, 8, 1))


def test_due_runs_start_before_the_lesson_and_stop_at_its_end():
    w = When(tz="UTC", starts=time(9), ends=time(10), day=date(2026, 12, 7), lead=300)
    key = utc(2026, 12, 7, 9).timestamp()
    assert due_runs(w, utc(2026, 12, 7, 8, 54), set()) == []
    (run,) = due_runs(w, utc(2026, 12, 7, 8, 55), set())
    assert (run.kind, run.occurrence, run.late) == ("start", key, False)
    assert due_runs(w, utc(2026, 12, 7, 8, 56), {("start", key)}) == []
    # after the end: the stop, once
    (run,) = due_runs(w, utc(2026, 12, 7, 10), {("start", key)})
    assert (run.kind, run.late) == ("stop", False)
    assert due_runs(w, utc(2026, 12, 7, 10, 1), {("start", key), ("stop", key)}) == []


def test_a_run_missed_while_hubdesk_was_down_is_late_and_a_stop_is_never_skipped():
    w = When(tz="UTC", starts=time(9), ends=time(10), day=date(2026, 12, 7))
    key = utc(2026, 12, 7, 9).timestamp()
    (run,) = due_runs(w, utc(2026, 12, 7, 9, 20), set())  # back at 09:20: still worth starting
    assert run.kind == "start" and run.late
    assert due_runs(w, utc(2026, 12, 7, 10, 5), set()) == []  # back after the end: no start
    # started, then down over the end: the stop runs on return, days later too
    (run,) = due_runs(w, utc(2026, 12, 9, 12), {("start", key)})
    assert run.kind == "stop" and run.late


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"tz": "Mars/Olympus"}, "not a time zone"),
        ({"starts": "9am"}, "start time must be a time"),
        ({"ends": "09:00"}, "end at another time"),
        ({"ends": "08:00"}, r"ends \(08:00\) before it starts \(09:00\).*ends the next day"),
        ({"overnight": True}, "“Ends the next day” is ticked, but 10:00 is after 09:00"),
        ({"day": "", "weekdays": ["0"], "ends": "08:59"}, "before it starts"),
        ({"day": "", "weekdays": []}, "Choose a date, or the weekdays"),
        ({"day": "7 December"}, "date must be like"),
        ({"lead_minutes": "500"}, "between 0 and 120"),
        ({"lead_minutes": "soon"}, "a number of minutes"),
    ],
)
def test_bad_times_are_refused_in_words(fields, words):
    good = {"tz": ROME, "starts": "09:00", "ends": "10:00", "day": "2026-12-07"}
    with pytest.raises(ScheduleError, match=words):
        parse_when(**{**good, **fields})


def test_a_lesson_survives_its_row():
    w = parse_when(tz=ROME, starts="09:00:30", ends="10:00", weekdays=["4"], lead_minutes="2.5")

    class Row:
        pass

    row = Row()
    for k, v in schedule.as_row(w).items():
        setattr(row, k, v)
    assert schedule.from_row(row) == w
    assert w.lead == 150


def test_the_roster_follows_itself_around_a_lessons_runs():
    from hubdesk.lessons.panel import live_until

    w = When(tz="UTC", starts=time(9), ends=time(10), day=date(2026, 12, 7), lead=300)

    class Lesson:
        when = w

    row = (Lesson, utc(2026, 12, 7, 9), utc(2026, 12, 7, 10))
    assert live_until([row], utc(2026, 12, 7, 8, 30)) == 0  # long before: a still page
    # from 15 minutes before the servers start, until 5 minutes after the lesson's start
    assert live_until([row], utc(2026, 12, 7, 8, 45)) == utc(2026, 12, 7, 9, 5).timestamp()
    # then until 5 minutes after its end (the stop)
    assert live_until([row], utc(2026, 12, 7, 9, 30)) == utc(2026, 12, 7, 10, 5).timestamp()
    assert live_until([row], utc(2026, 12, 7, 10, 10)) == 0


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"lead_minutes": "inf"}, "a number of minutes"),
        ({"lead_minutes": "-inf"}, "a number of minutes"),
        ({"lead_minutes": "1e309"}, "a number of minutes"),
        ({"lead_minutes": "nan"}, "a number of minutes"),
        ({"lead_minutes": "-1"}, "between 0 and 120"),
        ({"day": "", "weekdays": ["²"]}, "weekdays must be chosen"),
        ({"day": "", "weekdays": ["0", "7"]}, "weekdays must be chosen"),
        ({"day": "", "weekdays": ["٣"]}, "weekdays must be chosen"),  # an Arabic-Indic 3
        ({"tz": "localtime"}, "not a time zone"),
        ({"tz": "Factory"}, "not a time zone"),
        ({"tz": "posix/Europe/Rome"}, "not a time zone"),
        ({"tz": "right/UTC"}, "not a time zone"),
    ],
)
def test_hostile_values_are_refused_in_words(fields, words):
    good = {"tz": ROME, "starts": "09:00", "ends": "10:00", "day": "2030-01-07"}
    with pytest.raises(ScheduleError, match=words):
        parse_when(**{**good, **fields})


def test_real_zone_names_and_utc_are_taken():
    for tz in ("UTC", ROME, "America/Argentina/Buenos_Aires", "Asia/Kolkata"):
        assert parse_when(tz=tz, starts="09:00", ends="10:00", weekdays=["1"]).tz == tz
    assert "localtime" not in schedule.zones() and "Factory" not in schedule.zones()


def test_a_lesson_held_once_that_would_be_over_already_is_refused():
    now = utc(2026, 12, 7, 12)
    with pytest.raises(ScheduleError, match="would be over already"):
        parse_when(tz="UTC", starts="09:00", ends="10:00", day="2026-12-07", now=now)
    with pytest.raises(ScheduleError, match="would be over already"):
        parse_when(tz="UTC", starts="09:00", ends="10:00", day="2020-01-01", now=now)
    # under way now: taken (its start runs at once, late); past midnight: ends tomorrow
    assert parse_when(tz="UTC", starts="11:00", ends="13:00", day="2026-12-07", now=now)
    assert parse_when(
        tz="UTC", starts="23:00", ends="12:30", day="2026-12-06", overnight=True, now=now
    )
    # far ahead: taken, and shown as to come (not only within the next week)
    w = parse_when(tz="UTC", starts="09:00", ends="10:00", day="2030-01-07", now=now)
    assert w.next_after(now) == (utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))


@pytest.mark.parametrize("weekly", [True, False])
def test_a_lesson_starting_in_the_spring_forward_gap_is_held_an_hour_later(weekly):
    """Europe/Rome, last Sunday of March 2027: 02:00 becomes 03:00. A lesson at 02:30–03:00
    (whose end, 03:00 CEST, is before its moved start) is held 03:30–04:00 CEST, not skipped."""
    day = date(2027, 3, 28)
    timing = {"weekdays": (6,)} if weekly else {"day": day}
    w = When(tz=ROME, starts=time(2, 30), ends=time(3), **timing)
    found = [o for o in w.occurrences(utc(2027, 3, 27), utc(2027, 3, 29)) if o[0].day == 28]
    assert found == [(utc(2027, 3, 28, 1, 30), utc(2027, 3, 28, 2))]
    (run,) = due_runs(w, utc(2027, 3, 28, 1, 30), set())
    assert run.kind == "start" and not run.late
    (run,) = due_runs(w, utc(2027, 3, 28, 2), {("start", run.occurrence)})
    assert run.kind == "stop"
    # the autumn night's 02:30 (shown twice) is the first of the two: CEST, 00:30 UTC
    w = When(tz=ROME, starts=time(2, 30), ends=time(3, 30), day=date(2027, 10, 31))
    assert w.holding() == (utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 2, 30))


def test_next_due_is_the_next_start_or_a_pending_stop_and_never_skips_one():
    w = When(tz="UTC", starts=time(9), ends=time(10), weekdays=(0,), lead=300)  # Mondays
    monday = utc(2026, 12, 7, 9).timestamp()
    # before: the start less its lead
    assert schedule.next_due(w, utc(2026, 12, 6), set()) == utc(2026, 12, 7, 8, 55).timestamp()
    # hubdesk was down over the start: still due (in the past), so the look finds it late
    assert (
        schedule.next_due(w, utc(2026, 12, 7, 9, 30), set()) == utc(2026, 12, 7, 8, 55).timestamp()
    )
    # started: the stop, at the end, however late hubdesk looks (days later too)
    assert (
        schedule.next_due(w, utc(2026, 12, 7, 9, 1), {("start", monday)})
        == utc(2026, 12, 7, 10).timestamp()
    )
    assert (
        schedule.next_due(w, utc(2026, 12, 9), {("start", monday)})
        == utc(2026, 12, 7, 10).timestamp()
    )
    # stopped: next Monday's start
    done = {("start", monday), ("stop", monday)}
    assert schedule.next_due(w, utc(2026, 12, 7, 10), done) == utc(2026, 12, 14, 8, 55).timestamp()
    # missed entirely (down over the whole lesson): nothing to start, next week's
    assert schedule.next_due(w, utc(2026, 12, 7, 11), set()) == utc(2026, 12, 14, 8, 55).timestamp()
    # held once and over: never again; far ahead: its start
    once = When(tz="UTC", starts=time(9), ends=time(10), day=date(2030, 1, 7))
    key = utc(2030, 1, 7, 9).timestamp()
    assert schedule.next_due(once, utc(2026, 12, 7), set()) == key
    assert schedule.next_due(once, utc(2030, 1, 7, 11), {("start", key), ("stop", key)}) is None
    # each time next_due says "now", due_runs finds the run it promised
    for now, ran in [(utc(2026, 12, 7, 9, 30), set()), (utc(2026, 12, 9), {("start", monday)})]:
        assert schedule.next_due(w, now, ran) <= now.timestamp()
        assert due_runs(w, now, ran)


def test_the_roster_follows_an_ended_lesson_until_its_stop_has_run_and_settled():
    from types import SimpleNamespace

    from hubdesk.lessons.panel import SETTLE_AT_MOST, settling_until
    from hubdesk.lessons.store import Run

    once = When(tz="UTC", starts=time(9), ends=time(10), day=date(2030, 1, 7))
    lesson = SimpleNamespace(id="l1", when=once)
    key = utc(2030, 1, 7, 9).timestamp()
    bound = (utc(2030, 1, 7, 10) + SETTLE_AT_MOST).timestamp()

    def run(kind, job_state="done", job_id="j"):
        return Run("l1", kind, key, key, key, False, job_id, "", job_state=job_state)

    just_after = utc(2030, 1, 7, 10, 0, 3)
    started = {"l1": [run("start")]}
    # the end has come, the stop has not run yet: followed (to a bound), not stopped at the end
    assert settling_until([lesson], started, just_after) == bound
    # the stop's job is under way: still followed; done (or nothing to stop): no longer
    stopping = {"l1": [run("stop", "running"), run("start")]}
    assert settling_until([lesson], stopping, just_after) == bound
    assert settling_until([lesson], {"l1": [run("stop"), run("start")]}, just_after) == 0
    nothing = run("stop", None, None)  # "nothing to stop": a run without a job
    assert settling_until([lesson], {"l1": [nothing, run("start")]}, just_after) == 0
    # never started (no start run), before its end, or long after: nothing to follow
    assert settling_until([lesson], {"l1": []}, just_after) == 0
    assert settling_until([lesson], started, utc(2030, 1, 7, 9, 59)) == 0
    assert settling_until([lesson], started, utc(2030, 1, 7, 11)) == 0
