"""Lessons under production's command: each run made exactly once by all the workers of
all the replicas on one database, and a run missed while hubdesk was down made late when
it comes back (a stop too: a stop is never skipped).

hubdesk runs under the image's gunicorn command, behind the counting proxy in front of
the real hub (test_durability's helpers). The times are real and seconds apart; the tests
wait for the hub's states and for the clock to pass a time, never a fixed sleep. Nothing
but /health is asked of a hubdesk that comes back: its runs are made with nobody looking.
"""

from __future__ import annotations

import html
import re
import signal
import time
from contextlib import ExitStack
from datetime import datetime, timedelta

import pytest
from helpers.durability import (  # noqa: F401  (fixtures)
    a_class,
    browser,
    copy_session,
    hubdesk,
    outcomes,
    starts,
)
from helpers.lessons import lesson_form
from helpers.servers import gone_or_stopped, running
from helpers.stack import alert, csrf_token, wait_for
from hubdesk import db
from hubdesk.db import Database
from sqlalchemy import select

MEMBERS = 3
LATE = "3"  # seconds: HUBDESK_LESSON_LATE_SECONDS in these tests (60 in production)


@pytest.fixture
def lesson_class(stack):
    yield from a_class(stack, "ldur", MEMBERS)


@pytest.fixture
def state(db_url):
    """hubdesk's database, read by the test: {kind: [run rows]} of a lesson."""
    database = Database(db_url)

    def runs(lesson: str) -> dict[str, list]:
        r = db.lesson_runs
        with database.read() as conn:
            rows = conn.execute(select(r).where(r.c.lesson_id == lesson)).all()
        found: dict[str, list] = {}
        for row in rows:
            found.setdefault(row.kind, []).append(row)
        return found

    yield runs
    database.dispose()


def schedule_on(s, base, group, **times) -> tuple[str, float, float]:
    """A lesson of ``group`` scheduled through the hubdesk at ``base``: (id, start, end)."""
    page = f"{base}groups/{group}/lessons/new"
    data = lesson_form(**times)
    r = s.post(page, data={"csrf_token": csrf_token(s.get(page).text), **data})
    assert r.url == f"{base}groups/{group}/servers", alert(r.text)
    ids = re.findall(r'data-lesson="([0-9a-f]{16})"', r.text)
    assert ids, r.text
    start, end = (
        datetime.fromisoformat(f"{data['day']}T{data[k]}+00:00") for k in ("starts", "ends")
    )
    if end <= start:
        end += timedelta(days=1)  # past midnight
    return ids[-1], start.timestamp(), end.timestamp()


def runs_on_page(s, base, group, lesson) -> list[tuple[str, str]]:
    """(kind, words) of the lesson's runs on its group's servers page."""
    page = s.get(f"{base}groups/{group}/servers").text
    card = re.search(rf'data-lesson="{lesson}"(.*?)</section>', page, re.S)
    text = card.group(0) if card else ""
    return [
        (kind, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()))
        for kind, body in re.findall(r'<li data-run="(\w+)">(.*?)</li>', text, re.S)
    ]


def stops(proxy, user) -> int:  # noqa: F811 - the fixture's name
    """How many stops of the user's "lab" the hub received."""
    return proxy.count("DELETE", rf"/hub/api/users/{user}/servers/lab", forwarded=True)


def all_running(stack, users) -> bool:
    return all(running(stack, u, "lab") for u in users)


def all_stopped(stack, users) -> bool:
    return all(gone_or_stopped(stack, u, "lab") for u in users)


def sigterm(process) -> None:
    """A graceful stop of hubdesk, waited for."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_two_hubdesks_on_one_database_run_a_lesson_once(
    stack,
    proxy,  # noqa: F811
    db_url,
    tmp_path,
    admin_cookie,  # noqa: F811
    lesson_class,
    state,
):
    """Two instances of 2 workers each look every 2/3 s; each run is made by one of them."""
    group, users = lesson_class
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    with ExitStack() as running_:
        settings = {"HUBDESK_LESSON_LATE_SECONDS": "10"}
        _, a = running_.enter_context(hubdesk(stack, proxy, db_url, tmp_path / "a", **settings))
        _, b = running_.enter_context(hubdesk(stack, proxy, db_url, tmp_path / "b", **settings))
        lesson, start, end = schedule_on(s, a, group, start_in=5, end_in=25)
        wait_for(lambda: all_running(stack, users), seconds=40)
        assert time.time() >= start
        wait_for(lambda: state(lesson).get("start"), seconds=10)
        assert [starts(proxy, u) for u in users] == [1] * MEMBERS
        (run,) = state(lesson)["start"]
        assert not run.late and run.job_id, run
        # a group action like any other, followed on either instance: each member's outcome
        job = f"groups/{group}/servers/jobs/{run.job_id}"
        wait_for(lambda: outcomes(s.get(b + job).text) == dict.fromkeys(users, "started"))

        # the end: the servers stop, once
        wait_for(lambda: all_stopped(stack, users), seconds=end - time.time() + 30)
        assert time.time() >= end
        wait_for(lambda: state(lesson).get("stop"), seconds=10)
        (run,) = state(lesson)["stop"]
        assert not run.late and run.job_id, run
        # every worker has looked at least once more since: still one run of each
        wait_for(lambda: time.time() > end + 3)
        assert {k: len(v) for k, v in state(lesson).items()} == {"start": 1, "stop": 1}
        assert [starts(proxy, u) for u in users] == [1] * MEMBERS
        assert [stops(proxy, u) for u in users] == [1] * MEMBERS


def test_hubdesk_down_over_a_lessons_start_starts_it_late_on_return(
    stack,
    proxy,  # noqa: F811
    db_url,
    tmp_path,
    admin_cookie,  # noqa: F811
    lesson_class,
    state,
):
    group, users = lesson_class
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    late = {"HUBDESK_LESSON_LATE_SECONDS": LATE}
    with hubdesk(stack, proxy, db_url, tmp_path / "first", **late) as (process, base):
        lesson, start, end = schedule_on(s, base, group, start_in=8, end_in=40)
        sigterm(process)
    assert time.time() < start, "hubdesk took too long to stop: the test proves nothing"
    assert state(lesson) == {}
    wait_for(lambda: time.time() > start + float(LATE) + 0.5, seconds=20)
    assert all_stopped(stack, users) and [starts(proxy, u) for u in users] == [0] * MEMBERS

    with hubdesk(stack, proxy, db_url, tmp_path / "second", **late) as (_, base):
        # nobody visits hubdesk: its workers make the run by themselves
        wait_for(lambda: all_running(stack, users), seconds=40)
        wait_for(lambda: state(lesson).get("start"), seconds=10)
        (run,) = state(lesson)["start"]
        assert run.late and run.job_id and run.words == "late", run
        assert [starts(proxy, u) for u in users] == [1] * MEMBERS
        ((kind, words),) = runs_on_page(s, base, group, lesson)
        assert kind == "start" and "late" in words, words

        # the end: the stop is made on time
        wait_for(lambda: all_stopped(stack, users), seconds=end - time.time() + 30)
        wait_for(lambda: state(lesson).get("stop"), seconds=10)
        (run,) = state(lesson)["stop"]
        assert not run.late and run.job_id, run
        assert [kind for kind, _ in runs_on_page(s, base, group, lesson)] == ["stop", "start"]
    assert [stops(proxy, u) for u in users] == [1] * MEMBERS


def test_hubdesk_down_over_a_lessons_end_still_stops_it_on_return(
    stack,
    proxy,  # noqa: F811
    db_url,
    tmp_path,
    admin_cookie,  # noqa: F811
    lesson_class,
    state,
):
    """A stop is never skipped: the stop missed while hubdesk was down is made late."""
    group, users = lesson_class
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    late = {"HUBDESK_LESSON_LATE_SECONDS": LATE}
    with hubdesk(stack, proxy, db_url, tmp_path / "first", **late) as (process, base):
        lesson, start, end = schedule_on(s, base, group, start_in=4, end_in=20)
        wait_for(lambda: all_running(stack, users), seconds=30)
        sigterm(process)
    assert time.time() < end, "the servers took too long to start: the test proves nothing"
    assert list(state(lesson)) == ["start"]
    wait_for(lambda: time.time() > end + float(LATE) + 0.5, seconds=30)
    assert all_running(stack, users)  # nobody stopped them meanwhile

    with hubdesk(stack, proxy, db_url, tmp_path / "second", **late) as (_, base):
        wait_for(lambda: all_stopped(stack, users), seconds=40)
        wait_for(lambda: state(lesson).get("stop"), seconds=10)
        (run,) = state(lesson)["stop"]
        assert run.late and run.job_id, run
        (stop, _) = runs_on_page(s, base, group, lesson)
        assert stop[0] == "stop" and "late" in stop[1], stop
    assert [starts(proxy, u) for u in users] == [1] * MEMBERS
    assert [stops(proxy, u) for u in users] == [1] * MEMBERS
