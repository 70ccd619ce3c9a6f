"""The circuit breaker of bulk starts against a real hub: a broken profile pauses the action,
the hub lives on.

JupyterHub exits after ``Spawner.consecutive_failure_limit`` spawn failures in a row
(zero-to-jupyterhub: 5). This module runs a real hub of its own with
``consecutive_failure_limit = 5`` (the session's hub has none, and other modules spawn the
broken profile too), with hubdesk's default limit of 3. The breaker's logic and a whole start
job against a pretend hub (no hub, fast): tests/unit/test_breaker.py.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import pytest
import requests
from helpers.lessons import lesson_form, schedule
from helpers.servers import outcomes, post, running, server  # noqa: F401
from helpers.stack import (
    METRICS_TOKEN,
    USERS,
    csrf_token,
    running_stack,
    stack_roles,
    unique,
    wait_for,
)
from hubdesk import db
from hubdesk.extensions import shared
from sqlalchemy import select

HUB_LIMIT = 5  # the hub's consecutive_failure_limit, as zero-to-jupyterhub sets it
LIMIT = 3  # hubdesk's HUBDESK_BULK_FAILURE_LIMIT (its default)


# -- against a real hub with consecutive_failure_limit = 5 ------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """This module's own hub: it exits after 5 spawn failures in a row, as z2jh's does."""
    with running_stack(
        tmp_path_factory.mktemp("breaker-hub"),
        users={**USERS, "reader": {}},
        roles=stack_roles(reader=["reader"]),
        hub_options={"consecutive_failure_limit": HUB_LIMIT},
    ) as made:
        yield made


def hub_alive(stack) -> bool:
    return stack.hub.process.poll() is None


def reset_hub_count(stack, user):
    """A spawn that succeeds: the hub's count of failures in a row goes back to 0 (and
    hubdesk's hub-wide count with it, as a bulk start's success would)."""
    stack.api.start_server(user, "fine", {"profile": "small"})
    wait_for(lambda: running(stack, user, "fine"))
    stack.api.stop_server(user, "fine")
    shared(stack.app).jobs.store.count_spawn(False, "", 900)


@pytest.fixture(autouse=True)
def hubdesk_count_reset(request):
    """Each real-hub test starts with no failures in a row (the module's hub is shared):
    hubdesk's hub-wide count would otherwise pause the next test's starts at once."""
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        shared(stack.app).jobs.store.count_spawn(False, "", 900)


def start_group(session, stack, group, data) -> str:
    """Review and confirm a group action; its page's URL."""
    r = post(session, stack, f"groups/{group}/servers", data)
    assert 'name="confirm" value="yes"' in r.text, r.text
    r = post(session, stack, f"groups/{group}/servers", dict(data, confirm="yes"))
    assert "/servers/jobs/" in r.url
    return r.url


def wait_state(session, url, state, seconds=90) -> str:
    return wait_for(
        lambda: (
            (p := session.get(url).text)
            and f'data-state="{state}" data-testid="job-state"' in p
            and p
        ),
        seconds=seconds,
    )


def job_row(stack, job_id):
    with shared(stack.app).database.read() as conn:
        return conn.execute(select(db.jobs).where(db.jobs.c.id == job_id)).one()


def test_a_broken_group_start_pauses_and_the_hub_lives_on(stack, admin, users):  # noqa: F811
    members = users(9, prefix="brk")
    group = unique("brk")
    stack.api.create_group(group, users=members)
    reset_hub_count(stack, members[0])
    audit_from = stack.last_audit_id()
    try:
        url = start_group(
            admin, stack, group, {"action": "start", "server": "lab", "profile": "broken"}
        )
        job_id = url.rstrip("/").rsplit("/", 1)[1]
        page = wait_state(admin, url, "paused")
        got = outcomes(page)
        failed = [m for m, o in got.items() if o == "failed"]
        assert len(failed) == LIMIT, got  # no more than the limit were sent
        assert sorted(o for o in got.values() if o != "failed") == ["paused"] * (9 - LIMIT)
        text = html.unescape(page)
        assert "3 starts in a row failed: the “broken” demo profile never starts" in text
        assert "so that the hub does not shut itself down" in text
        assert "not started: the action is paused" in text
        assert 'data-testid="resume"' in page and 'data-testid="cancel"' in page
        assert 'http-equiv="refresh"' not in page  # nothing changes until someone acts
        # the database says so, in the words other parts rely on
        row = job_row(stack, job_id)
        assert row.state == "paused"
        assert json.loads(row.result)["paused"].startswith("3 starts in a row failed:")
        assert shared(stack.app).jobs.store.get(job_id).state == "paused"
        # the hub would have exited 2 s after a fifth failure: it is still there, and starts
        time.sleep(3)
        assert hub_alive(stack) and stack.api.version()
        for m in members:
            if got[m] == "paused":
                assert server(stack, m, "lab") is None  # never sent
        reset_hub_count(stack, members[0])
        # the roster shows it paused, with why
        roster = admin.get(stack.url(f"groups/{group}/servers")).text
        assert 'data-testid="recent-paused"' in roster and 'data-testid="job-paused"' in roster
        # on record: the pause, and a metric
        paused = [r for r in stack.audit_records(audit_from) if r["action"] == "group.start.pause"]
        assert len(paused) == 1 and paused[0]["person"] == "admin"
        assert paused[0]["target"] == {"group": group, "job": job_id, "server": "lab"}
        assert paused[0]["hub"].startswith("3 starts in a row failed:")
        metrics = requests.get(
            stack.url("metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        ).text
        assert re.search(r"^hubdesk_jobs_paused_total [1-9]", metrics, re.M), metrics[-2000:]

        # resume: one probe start, which fails too: paused again
        r = post(
            admin,
            stack,
            f"groups/{group}/servers/jobs/{job_id}/resume",
            {},
            url[len(stack.url()) :],
        )
        assert r.status_code == 200 and "one start goes first" in html.unescape(r.text)
        page = wait_for(
            lambda: (
                (p := admin.get(url).text)
                and 'data-state="paused" data-testid="job-state"' in p
                and list(outcomes(p).values()).count("failed") == LIMIT + 1
                and p
            ),
            seconds=60,
        )
        assert list(outcomes(page).values()).count("paused") == 9 - LIMIT - 1
        time.sleep(2.5)
        assert hub_alive(stack)
        reset_hub_count(stack, members[0])

        # cancel: the members never started are cancelled, the job is done
        r = post(
            admin,
            stack,
            f"groups/{group}/servers/jobs/{job_id}/cancel",
            {},
            url[len(stack.url()) :],
        )
        page = admin.get(url).text
        assert 'data-state="done" data-testid="job-state"' in page
        got = outcomes(page)
        assert list(got.values()).count("cancelled") == 9 - LIMIT - 1
        assert list(got.values()).count("failed") == LIMIT + 1
        assert job_row(stack, job_id).state == "done"
        actions = [r["action"] for r in stack.audit_records(audit_from) if job_id in str(r)]
        assert actions == [
            "group.start.pause",
            "group.start.resume",
            "group.start.pause",
            "group.start.cancel",
        ], actions
    finally:
        stack.api.delete_group(group)


def test_a_group_reader_may_not_cancel_or_resume_anyones_action(stack, admin, users):  # noqa: F811
    members = users(4, prefix="rdr")
    stack.api.add_group_members("class-a", members)
    reset_hub_count(stack, members[0])
    reader = stack.signin("reader")
    try:
        # a running start (the slow profile takes 3 s a member)
        url = start_group(
            admin, stack, "class-a", {"action": "start", "server": "slowlab", "profile": "slow"}
        )
        job_id = url.rstrip("/").rsplit("/", 1)[1]
        page = reader.get(url)
        assert page.status_code == 200  # they may read the group and its actions
        assert 'data-testid="cancel"' not in page.text and 'data-testid="resume"' not in page.text
        token = csrf_token(reader.get(stack.url()).text)
        for verb in ("cancel", "resume"):
            r = reader.post(
                stack.url(f"groups/class-a/servers/jobs/{job_id}/{verb}"),
                data={"csrf_token": token},
            )
            assert r.status_code == 403, (verb, r.status_code)
        assert job_row(stack, job_id).cancel_by is None
        page = wait_state(admin, url, "done")
        assert set(outcomes(page).values()) <= {"started", "running"}, outcomes(page)

        # a paused one: refused alike, nothing changes
        url = start_group(
            admin, stack, "class-a", {"action": "start", "server": "badlab", "profile": "broken"}
        )
        job_id = url.rstrip("/").rsplit("/", 1)[1]
        wait_state(admin, url, "paused")
        before = outcomes(admin.get(url).text)
        for verb in ("cancel", "resume"):
            r = reader.post(
                stack.url(f"groups/class-a/servers/jobs/{job_id}/{verb}"),
                data={"csrf_token": token},
            )
            assert r.status_code == 403, (verb, r.status_code)
        row = job_row(stack, job_id)
        assert row.state == "paused" and row.cancel_by is None
        assert outcomes(admin.get(url).text) == before
        # the teacher of class-a may (what running it needs, for that group)
        teacher = stack.signin("teacher")
        r = post(
            teacher,
            stack,
            f"groups/class-a/servers/jobs/{job_id}/cancel",
            {},
            url[len(stack.url()) :],
        )
        assert r.status_code == 200 and job_row(stack, job_id).state == "done"
        reset_hub_count(stack, members[0])
    finally:
        for m in [*members, "student"]:
            for name in ("slowlab", "badlab"):
                try:
                    stack.api.stop_server(m, name, remove=True)
                except Exception:  # noqa: BLE001 - not there
                    pass
        stack.api.remove_group_members("class-a", members)


def test_a_lesson_with_a_broken_profile_pauses_too(stack, admin, users):  # noqa: F811
    members = users(7, prefix="lbr")
    group = unique("lbr")
    stack.api.create_group(group, users=members)
    reset_hub_count(stack, members[0])
    audit_from = stack.last_audit_id()
    try:
        lesson = schedule(
            admin, stack, group, lesson_form(server="lab", profile="broken", start_in=4, end_in=600)
        )
        roster = wait_for(
            lambda: (
                (p := admin.get(stack.url(f"groups/{group}/servers")).text)
                and 'data-testid="recent-paused"' in p
                and p
            ),
            seconds=60,
        )
        job_id = re.search(rf"/groups/{group}/servers/jobs/([0-9a-f]{{16}})", roster).group(1)
        page = admin.get(stack.url(f"groups/{group}/servers/jobs/{job_id}")).text
        assert (
            'data-state="paused" data-testid="job-state"' in page
            and "3 starts in a row failed" in html.unescape(page)
        )
        got = outcomes(page)
        assert list(got.values()).count("failed") == LIMIT
        assert list(got.values()).count("paused") == len(members) - LIMIT
        assert job_row(stack, job_id).state == "paused"
        time.sleep(2.5)
        assert hub_alive(stack)
        paused = [r for r in stack.audit_records(audit_from) if r["action"] == "group.start.pause"]
        assert paused and paused[-1]["target"]["lesson"] == lesson
        reset_hub_count(stack, members[0])
    finally:
        stack.api.delete_group(group)


def test_this_module_ran_its_own_hub(stack):
    settings = json.loads(Path(stack.hub.root / "settings.json").read_text())
    assert settings["consecutive_failure_limit"] == HUB_LIMIT


def test_who_started_an_action_may_cancel_it_without_rights_on_the_group(stack):
    """The reader may start only their own server: as a member of class-a, "start for the
    ticked members" does that for them (the others are refused member by member), and the
    action they started is theirs to cancel."""
    stack.api.add_group_members("class-a", ["reader"])
    reader = stack.signin("reader")
    page_url = "groups/class-a/servers"
    data = {"action": "start-selected", "server": "own", "profile": "slow"}
    ticked = dict(data, selected=["reader/", "student/"])
    try:
        r = post(reader, stack, page_url, dict(ticked, confirm="yes"), page_url)
        assert "/servers/jobs/" in r.url, r.text
        got = outcomes(wait_state(reader, r.url, "done"))
        assert got == {"reader": "started", "student": "forbidden"}, got
        assert running(stack, "reader", "own") and server(stack, "student", "own") is None
        stack.api.stop_server("reader", "own", remove=True)
        wait_for(lambda: server(stack, "reader", "own") is None)

        r = post(reader, stack, page_url, dict(ticked, confirm="yes"), page_url)
        job_id = r.url.rstrip("/").rsplit("/", 1)[1]
        assert 'data-testid="cancel"' in r.text  # theirs: the button is there
        r = post(reader, stack, f"{page_url}/jobs/{job_id}/cancel", {}, page_url)
        assert r.status_code == 200 and job_row(stack, job_id).cancel_by == "reader"
        got = outcomes(wait_state(reader, stack.url(f"{page_url}/jobs/{job_id}"), "done"))
        assert got["reader"] in ("started", "cancelled") and got["student"] in (
            "forbidden",
            "cancelled",
        ), got
    finally:
        wait_for(lambda: not (server(stack, "reader", "own") or {}).get("pending"), seconds=30)
        if server(stack, "reader", "own") is not None:
            stack.api.stop_server("reader", "own", remove=True)
        stack.api.remove_group_members("class-a", ["reader"])
