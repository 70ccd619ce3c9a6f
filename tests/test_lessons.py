"""Lessons against the real hub: scheduled a few seconds ahead, they start every member's
server at their time and stop it at their end; with lost permissions, a run is refused.

The times are real and seconds apart; the tests wait for the hub's states (and for the
clock to pass a time), never a fixed sleep.
"""

import html
import re
from datetime import UTC, datetime, timedelta

from conftest import STAFF_GROUP, alert, unique, wait_for
from test_servers import gone_or_stopped, outcomes, post, running, server, users  # noqa: F401


def at(seconds: float) -> tuple[str, str]:
    """(date, HH:MM:SS) in UTC, ``seconds`` from now."""
    t = datetime.now(UTC) + timedelta(seconds=seconds)
    return t.date().isoformat(), t.strftime("%H:%M:%S")


def lesson_form(server="lab", profile="small", start_in=4, end_in=20, **extra) -> dict:
    day, starts = at(start_in)
    _, ends = at(end_in)
    return {
        "tz": "UTC",
        "day": day,
        "starts": starts,
        "ends": ends,
        "lead": "0",
        "server": server,
        "profile": profile,
        **extra,
    }


def schedule(session, stack, group, data):
    """Schedule through the form; the new lesson's id (the one the group's page did not list
    before: it also lists lessons held and over, after those to come)."""
    lesson_ids = re.compile(r'data-lesson="([0-9a-f]{16})"')
    before = set(lesson_ids.findall(session.get(stack.url(f"groups/{group}/servers")).text))
    page = f"groups/{group}/lessons/new"
    r = post(session, stack, page, data, page)
    assert r.url == stack.url(f"groups/{group}/servers"), alert(r.text)
    (new,) = set(lesson_ids.findall(r.text)) - before
    return new


def runs_of(session, stack, group, lesson) -> list[tuple[str, str]]:
    """(kind, words) of the lesson's runs on its group's page."""
    page = session.get(stack.url(f"groups/{group}/servers")).text
    # up to the next lesson's card: the runs of lessons listed after it are not its own
    card = re.search(
        rf'data-lesson="{lesson}"(.*?)(?=data-lesson="|</section>)|data-lesson="{lesson}"(.*)',
        page,
        re.S,
    )
    text = card.group(0) if card else ""
    return [
        (kind, html.unescape(re.sub(r"<[^>]+>", " ", body)))
        for kind, body in re.findall(r'<li data-run="(\w+)">(.*?)</li>', text, re.S)
    ]


def test_a_lesson_starts_everyones_server_then_stops_only_that_one(stack, admin, users):  # noqa: F811
    a, b = users(2, prefix="les")
    group = unique("les")
    stack.api.create_group(group, users=[a])
    try:
        stack.api.start_server(a, "other", {"profile": "small"})  # left alone by the lesson
        wait_for(lambda: running(stack, a, "other"))
        lesson = schedule(admin, stack, group, lesson_form(start_in=5, end_in=25))
        stack.api.add_group_members(group, [b])  # joined before the run: included
        wait_for(lambda: running(stack, a, "lab") and running(stack, b, "lab"), seconds=40)
        assert server(stack, b, "lab")["user_options"] == {"profile": "small"}
        runs = wait_for(lambda: runs_of(admin, stack, group, lesson), seconds=10)
        assert runs[0][0] == "start" and "late" not in runs[0][1]
        # the end: "lab" stops for both; a's "other" goes on
        wait_for(lambda: gone_or_stopped(stack, a, "lab") and gone_or_stopped(stack, b, "lab"), 60)
        assert running(stack, a, "other")
        kinds = wait_for(
            lambda: (
                [k for k, _ in runs_of(admin, stack, group, lesson)] == ["stop", "start"] or None
            ),
            20,
        )
        assert kinds
        # each run links to its results: the group action's page with every member
        page = admin.get(stack.url(f"groups/{group}/servers")).text
        jobs = re.findall(rf'href="[^"]*/groups/{group}/servers/jobs/([0-9a-f]{{16}})"', page)
        started = admin.get(stack.url(f"groups/{group}/servers/jobs/{jobs[-1]}")).text
        assert set(outcomes(started)) == {a, b}
        # audit: the scheduling and both runs, by admin
        actions = [r["action"] for r in stack.audit_records() if group in str(r)]
        assert {"lesson.schedule", "lesson.start", "lesson.stop"} <= set(actions), actions
    finally:
        stack.api.delete_group(group)


def test_a_lesson_runs_with_its_schedulers_permissions_checked_again(stack, users):  # noqa: F811
    (a,) = users(1, prefix="perm")
    teacher = unique("staff")
    stack.api.create_users([teacher])
    stack.api.add_group_members(STAFF_GROUP, [teacher])
    stack.api.add_group_members("class-a", [a])
    try:
        staff = stack.signin(teacher)
        lesson = schedule(
            staff, stack, "class-a", lesson_form(server="quiz", start_in=6, end_in=30)
        )
        # the role is taken away before the start (they leave the staff group)
        stack.api.remove_group_members(STAFF_GROUP, [teacher])
        runs = wait_for(
            lambda: runs_of(stack.signin("admin"), stack, "class-a", lesson), seconds=40
        )
        kind, words = runs[0]
        assert kind == "start" and "refused" in words and f"{teacher} may no longer start" in words
        assert server(stack, a, "quiz") is None  # nothing was started
        refused = [
            r for r in stack.audit_records() if r["action"] == "lesson.start" and lesson in str(r)
        ]
        assert refused and "refused" in str(refused[-1])
    finally:
        stack.api.remove_group_members("class-a", [a])
        stack.api.remove_group_members(STAFF_GROUP, [teacher])
        stack.api.request("DELETE", "users", teacher)


def test_who_may_schedule_change_and_cancel(stack, admin, users):  # noqa: F811
    teacher = stack.signin("teacher")
    # not their group: refused, nothing saved
    r = post(teacher, stack, "groups/class-b/lessons/new", lesson_form(), "groups/class-a/servers")
    assert r.status_code == 403
    # bad times: refused in words, the form keeps what was typed
    bad = lesson_form(starts="9 o'clock")
    r = post(teacher, stack, "groups/class-a/lessons/new", bad, "groups/class-a/lessons/new")
    assert r.status_code == 400 and "start time must be a time" in alert(r.text)
    assert 'value="9 o&#39;clock"' in r.text and 'value="lab"' in r.text
    # schedule far ahead, change, cancel
    later = lesson_form(start_in=3600, end_in=7200)
    lesson = schedule(teacher, stack, "class-a", later)
    upcoming = teacher.get(stack.url("lessons/")).text
    assert f'data-lesson="{lesson}"' in upcoming
    change = f"groups/class-a/lessons/{lesson}"
    r = post(teacher, stack, change, dict(later, server="exam"), change)
    assert "Changed" in alert(r.text) and "“exam”" in html.unescape(r.text)
    r = post(teacher, stack, f"{change}/cancel", {}, change)
    assert "Cancelled the lesson" in alert(r.text)
    assert f'data-lesson="{lesson}"' not in teacher.get(stack.url("lessons/")).text
    actions = [r["action"] for r in stack.audit_records() if lesson in str(r)]
    assert actions[-3:] == ["lesson.schedule", "lesson.change", "lesson.cancel"], actions
    # the admin's list shows every group's lessons; the teacher's only theirs
    other = schedule(admin, stack, "class-b", later)
    assert f'data-lesson="{other}"' in admin.get(stack.url("lessons/")).text
    assert f'data-lesson="{other}"' not in teacher.get(stack.url("lessons/")).text
    r = post(admin, stack, f"groups/class-b/lessons/{other}/cancel", {}, "groups/class-b/servers")
    assert "Cancelled the lesson" in alert(r.text)
