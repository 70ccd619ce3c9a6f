"""Lessons against the real hub: scheduled a few seconds ahead, they start every member's
server at their time and stop it at their end; with lost permissions, a run is refused.

The times are real and seconds apart; the tests wait for the hub's states (and for the
clock to pass a time), never a fixed sleep.
"""

import dataclasses
import html
import json
import re

import pytest
from helpers.lessons import lesson_form, schedule
from helpers.servers import gone_or_stopped, outcomes, post, running, server  # noqa: F401
from helpers.stack import STAFF_GROUP, alert, csrf_token, unique, wait_for
from hubdesk.hub import HubAPIError


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


# -- issue 18: hostile values, limits, one rule, raw options, privileged members, pauses --


def standing_lessons(stack, group) -> list[str]:
    """Ids of the lessons of ``group`` not cancelled, read from hubdesk's database."""
    from hubdesk import db
    from hubdesk.extensions import shared
    from sqlalchemy import select

    t = db.lessons
    with shared(stack.app).database.read() as conn:
        return list(
            conn.execute(
                select(t.c.id).where(t.c.group_name == group, t.c.cancelled.is_(None))
            ).scalars()
        )


@pytest.fixture
def limits(stack, monkeypatch):
    """Set hubdesk's lesson limits for one test (the app runs in the test's process)."""
    from hubdesk.extensions import shared

    box = shared(stack.app)

    def set_to(**values):
        monkeypatch.setattr(box, "settings", dataclasses.replace(box.settings, **values))

    return set_to


HOSTILE = [
    ({"lead": "inf"}, "a number of minutes", 'value="inf"'),
    ({"lead": "1e309"}, "a number of minutes", 'value="1e309"'),
    ({"lead": "nan"}, "a number of minutes", 'value="nan"'),
    ({"day": "", "weekdays": "²"}, "weekdays must be chosen", 'value="lab"'),
    ({"tz": "localtime"}, "not a time zone", 'value="localtime"'),
    ({"tz": "Factory"}, "not a time zone", 'value="Factory"'),
    ({"day": "2020-01-06"}, "would be over already", 'value="2020-01-06"'),
]


def test_hostile_lesson_forms_are_refused_in_words_and_nothing_is_saved(stack, admin):
    group = unique("hostile")
    stack.api.create_group(group)
    try:
        page = f"groups/{group}/lessons/new"
        for change, words, kept in HOSTILE:
            r = post(admin, stack, page, lesson_form(start_in=3600, end_in=7200, **change), page)
            assert r.status_code == 400, (change, r.status_code)
            assert words in alert(r.text), (change, alert(r.text))
            assert kept in r.text, change  # the form keeps what was typed
        # earlier today and over: refused; under way now: taken (its start runs at once)
        r = post(admin, stack, page, lesson_form(start_in=-7200, end_in=-3600), page)
        assert r.status_code == 400 and "would be over already" in alert(r.text)
        assert standing_lessons(stack, group) == []
        lesson = schedule(admin, stack, group, lesson_form(start_in=-60, end_in=3600))
        assert standing_lessons(stack, group) == [lesson]
        # changing to hostile values is refused the same way
        change = f"groups/{group}/lessons/{lesson}"
        r = post(admin, stack, change, lesson_form(lead="inf"), change)
        assert r.status_code == 400 and "a number of minutes" in alert(r.text)
    finally:
        stack.api.delete_group(group)


def test_lessons_are_limited_per_group_and_per_person(stack, admin, limits):
    g1, g2 = unique("lim"), unique("lim")
    for g in (g1, g2):
        stack.api.create_group(g)
    far = lesson_form(start_in=3600, end_in=7200)
    try:
        limits(lessons_per_group=2, lessons_per_person=1000)
        first = schedule(admin, stack, g1, far)
        schedule(admin, stack, g1, far)
        page = f"groups/{g1}/lessons/new"
        r = post(admin, stack, page, far, page)
        assert r.status_code == 400
        assert "HUBDESK_LESSONS_PER_GROUP" in alert(r.text) and "2 lessons" in alert(r.text)
        assert len(standing_lessons(stack, g1)) == 2
        # a cancelled lesson does not count
        post(admin, stack, f"groups/{g1}/lessons/{first}/cancel", {}, f"groups/{g1}/servers")
        schedule(admin, stack, g1, far)
        # per person: every group's lessons saved last by them
        from hubdesk.extensions import shared

        with stack.app.app_context():
            held = shared(stack.app).lessons.count_of("admin")
        limits(lessons_per_group=1000, lessons_per_person=held + 1)
        schedule(admin, stack, g2, far)
        page = f"groups/{g2}/lessons/new"
        r = post(admin, stack, page, far, page)
        assert r.status_code == 400 and "HUBDESK_LESSONS_PER_PERSON" in alert(r.text)
        assert len(standing_lessons(stack, g2)) == 1
    finally:
        for g in (g1, g2):
            for lesson in standing_lessons(stack, g):
                post(admin, stack, f"groups/{g}/lessons/{lesson}/cancel", {}, "lessons/")
            stack.api.delete_group(g)


def test_one_rule_for_schedule_change_cancel_and_the_roster(stack, admin):
    """The README's class-a-servers role (the helpdesk persona: servers!group=class-a, no
    read:groups) may do none of the four; the teacher (read, start, stop) all four."""
    lesson = schedule(admin, stack, "class-a", lesson_form(start_in=3600, end_in=7200))
    try:
        desk = stack.signin("helpdesk")
        token = csrf_token(desk.get(stack.url("users/")).text)

        def send(method, path, data=None):
            if method == "GET":
                return desk.get(stack.url(path))
            return desk.post(stack.url(path), data={"csrf_token": token, **(data or {})})

        tried = [
            ("GET", "groups/class-a/servers", None),
            ("GET", "groups/class-a/lessons/new", None),
            ("POST", "groups/class-a/lessons/new", lesson_form(start_in=3600, end_in=7200)),
            ("GET", f"groups/class-a/lessons/{lesson}", None),
            ("POST", f"groups/class-a/lessons/{lesson}", lesson_form(server="exam")),
            ("POST", f"groups/class-a/lessons/{lesson}/cancel", {}),
        ]
        for method, path, data in tried:
            assert send(method, path, data).status_code == 403, (method, path)
        assert standing_lessons(stack, "class-a").count(lesson) == 1
        teacher = stack.signin("teacher")
        page = teacher.get(stack.url("groups/class-a/servers")).text
        assert f'data-lesson="{lesson}"' in page
        assert f"lessons/{lesson}/cancel" in page  # the teacher may: the panel offers it
        assert teacher.get(stack.url(f"groups/class-a/lessons/{lesson}")).status_code == 200
    finally:
        post(admin, stack, f"groups/class-a/lessons/{lesson}/cancel", {}, "lessons/")


def admin_api(stack):
    """The hub's API as the hub admin (only an admin may make or unmake admins)."""
    from hubdesk.hub import HubClient

    session = stack.signin("admin")
    return HubClient(stack.hub.api_url, stack.person_token(session.cookies["hubdesk-session"]))


def test_raw_user_options_are_refused_once_their_owner_is_no_admin(stack, users):  # noqa: F811
    (a,) = users(1, prefix="raw")
    boss = unique("boss")
    stack.api.create_users([boss])
    hub_admin = admin_api(stack)
    hub_admin.request("PATCH", "users", boss, json={"admin": True})
    stack.api.add_group_members(STAFF_GROUP, [boss])  # keeps class-a's servers after
    stack.api.add_group_members("class-a", [a])
    try:
        s = stack.signin(boss)
        options = json.dumps({"profile": "small"})
        form = lesson_form(server="rawq", profile="__raw__", options=options, start_in=6)
        lesson = schedule(s, stack, "class-a", form)
        hub_admin.request("PATCH", "users", boss, json={"admin": False})
        runs = wait_for(
            lambda: runs_of(stack.signin("admin"), stack, "class-a", lesson), seconds=40
        )
        kind, words = runs[0]
        assert kind == "start" and "refused" in words, words
        assert "user_options of their own" in words, words
        assert server(stack, a, "rawq") is None
    finally:
        stack.api.remove_group_members("class-a", [a])
        stack.api.remove_group_members(STAFF_GROUP, [boss])
        hub_admin.request("PATCH", "users", boss, json={"admin": False})
        stack.api.request("DELETE", "users", boss)


def test_the_add_preview_names_a_standing_lesson(stack, admin, users):  # noqa: F811
    (plain,) = users(1, prefix="pl")
    chief = unique("chief")
    stack.api.create_users([chief])
    admin_api(stack).request("PATCH", "users", chief, json={"admin": True})
    group = unique("prev")
    stack.api.create_group(group)
    try:
        # no lesson: the admin adding an admin is asked nothing (nothing new in reach)
        token = csrf_token(admin.get(stack.url(f"groups/{group}")).text)
        r = admin.post(stack.url(f"groups/{group}/add"), data={"csrf_token": token, "names": plain})
        assert 'data-testid="lesson-reach"' not in r.text
        lesson = schedule(admin, stack, group, lesson_form(start_in=3600, end_in=7200))
        # a student: still no question
        stack.api.remove_group_members(group, [plain])
        r = admin.post(stack.url(f"groups/{group}/add"), data={"csrf_token": token, "names": plain})
        assert 'data-testid="lesson-reach"' not in r.text and plain in stack.api.get_group(
            group
        ).get("users")
        # a hub admin: the preview names the lesson, its server and times, and whose it is
        r = admin.post(stack.url(f"groups/{group}/add"), data={"csrf_token": token, "names": chief})
        assert r.status_code == 200 and 'data-testid="lesson-reach"' in r.text
        text = html.unescape(re.sub(r"<[^>]+>", " ", r.text))
        assert f'data-lesson="{lesson}"' in r.text and "admin's lesson" in text
        assert "“lab”" in text and "(UTC)" in text and chief in text
        assert chief not in stack.api.get_group(group).get("users")  # asked first
    finally:
        stack.api.delete_group(group)
        admin_api(stack).request("PATCH", "users", chief, json={"admin": False})
        stack.api.request("DELETE", "users", chief)


def test_a_lesson_start_skips_an_admin_member_unless_named(stack, admin, users):  # noqa: F811
    (a, tutor) = users(2, prefix="sk")
    chief = unique("chief")
    stack.api.create_users([chief])
    admin_api(stack).request("PATCH", "users", chief, json={"admin": True})
    # staff through a group's role (the user model lists no role of theirs): skipped too
    stack.api.add_group_members(STAFF_GROUP, [tutor])
    group = unique("skip")
    stack.api.create_group(group, users=[a, chief, tutor])
    try:
        plain = schedule(admin, stack, group, lesson_form(server="lab", start_in=5, end_in=40))
        named = schedule(
            admin,
            stack,
            group,
            lesson_form(server="lab2", start_in=5, end_in=40, privileged=chief),
        )
        wait_for(lambda: running(stack, a, "lab") and running(stack, a, "lab2"), seconds=40)
        wait_for(lambda: running(stack, chief, "lab2"), seconds=20)  # named: started
        assert server(stack, chief, "lab") is None  # not named: left alone
        assert server(stack, tutor, "lab") is None and server(stack, tutor, "lab2") is None
        page = admin.get(stack.url(f"groups/{group}/servers")).text
        card = page[page.index(f'data-lesson="{plain}"') :]
        job = re.search(rf"/groups/{group}/servers/jobs/([0-9a-f]{{16}})", card).group(1)
        result = admin.get(stack.url(f"groups/{group}/servers/jobs/{job}")).text
        got = outcomes(result)
        assert got.get(chief) == "skipped" and got.get(tutor) == "skipped", got
        assert "a hub admin or staff account" in html.unescape(result)
        changed = admin.get(stack.url(f"groups/{group}/lessons/{named}")).text
        assert f'value="{chief}"' in changed  # the name is kept on the lesson
    finally:
        stack.api.remove_group_members(STAFF_GROUP, [tutor])
        stack.api.delete_group(group)
        for s in ("lab", "lab2"):
            try:
                stack.api.stop_server(chief, s, remove=True)
            except HubAPIError:
                pass
        admin_api(stack).request("PATCH", "users", chief, json={"admin": False})
        wait_for(lambda: not (stack.api.get_user(chief).get("servers") or {}), seconds=20)
        stack.api.request("DELETE", "users", chief)


def test_a_paused_run_says_so_on_the_roster_and_the_lessons_page(stack, admin):
    from hubdesk import db
    from hubdesk.extensions import shared
    from sqlalchemy import insert, update

    lesson = schedule(admin, stack, "class-b", lesson_form(start_in=3600, end_in=7200))
    box = shared(stack.app)
    try:
        with stack.app.app_context():
            job = box.jobs.store.create(
                "start", "class-b", by="admin", spec={"server": "lab"}, scopes=[], items=[]
            )
        reason = "3 starts failed in a row (the hub may be in trouble)"
        with box.database.write() as conn:
            conn.execute(
                update(db.jobs)
                .where(db.jobs.c.id == job)
                .values(state="paused", result=json.dumps({"paused": reason}))
            )
            conn.execute(
                insert(db.lesson_runs).values(
                    lesson_id=lesson,
                    kind="start",
                    occurrence=1.0,
                    due=1.0,
                    ran=1.0,
                    late=False,
                    job_id=job,
                    words="",
                )
            )
        link = f"/groups/class-b/servers/jobs/{job}"
        for page in ("groups/class-b/servers", "lessons/"):
            text = admin.get(stack.url(page)).text
            said = html.unescape(re.sub(r"<[^>]+>", " ", text))
            assert f"start paused: {reason}" in said, page
            assert "see the results" in said and link in text, page
    finally:
        post(admin, stack, f"groups/class-b/lessons/{lesson}/cancel", {}, "lessons/")
