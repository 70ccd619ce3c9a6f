"""What hubdesk remembers survives what production does to it: killed workers, a second
replica, a database that goes away.

hubdesk runs under the image's own gunicorn command, on SQLite and on the suite's
PostgreSQL server, behind a counting proxy in front of the real hub, so that each
test can say how many starts the hub really received. A person's session is
copied into the database under test (as if they had signed in on that
deployment): signing in itself is tested in test_signin.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from contextlib import ExitStack

import pytest
from helpers.durability import (
    _servers,
    a_class,
    browser,
    copy_session,
    hubdesk,
    outcomes,
    starts,
)
from helpers.faultproxy import delay
from helpers.stack import PREFIX, audit_rows, csrf_token, unique, wait_for
from hubdesk import create_app, db
from hubdesk.db import Database
from hubdesk.extensions import shared
from sqlalchemy import insert, select

MEMBERS = 6


@pytest.fixture
def class_of_six(stack):
    yield from a_class(stack, "dur", MEMBERS)


def start_for_group(s, base, group) -> str:
    token = csrf_token(s.get(f"{base}groups/{group}/servers").text)
    data = {"csrf_token": token, "action": "start", "server": "lab", "profile": "slow"}
    r = s.post(f"{base}groups/{group}/servers", data=dict(data, confirm="yes"))
    assert "/servers/jobs/" in r.url, (r.status_code, r.url)
    return r.url.split(PREFIX, 1)[1]


def job_row(db_url, job_id):
    database = Database(db_url)
    with database.read() as conn:
        row = conn.execute(select(db.jobs).where(db.jobs.c.id == job_id)).one()
    database.dispose()
    return row


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_group_start_survives_its_hubdesk_being_killed(
    stack, proxy, db_url, tmp_path, admin_cookie, class_of_six, how
):
    """Every process of hubdesk dies mid-start; a new one on the same database finishes it,
    and the hub receives exactly one start per member."""
    group, users = class_of_six
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    with hubdesk(stack, proxy, db_url, tmp_path / "first") as (process, base):
        job = start_for_group(s, base, group)
        # some members are under way or done, the rest not asked for yet
        wait_for(
            lambda: (
                (got := outcomes(s.get(base + job).text))
                and any(o in ("starting", "started") for o in got.values())
                and list(got.values()).count("waiting") >= 2
            ),
            seconds=30,
            every=0.1,
        )
        sent_before = sum(starts(proxy, u) for u in users)
        if how == "SIGKILL":
            os.killpg(process.pid, signal.SIGKILL)  # gunicorn and its workers, at once
        else:
            process.send_signal(signal.SIGTERM)  # a graceful stop: leases are given back
        process.wait(timeout=30)
    assert 0 < sent_before < MEMBERS

    with hubdesk(stack, proxy, db_url, tmp_path / "second") as (_, base):
        page = wait_for(
            lambda: (
                (p := s.get(base + job).text)
                and 'data-state="done" data-testid="job-state"' in p
                and p
            ),
            seconds=90,
        )
    got = outcomes(page)
    assert got == {u: "started" for u in users}, got
    for user in users:
        assert (_servers(stack, user).get("lab") or {}).get("ready"), user
        assert starts(proxy, user) == 1, (user, starts(proxy, user))
    assert job_row(db_url, job.rsplit("/", 1)[1]).takeovers >= 1


def test_two_replicas_sharing_only_a_database_agree(
    stack, proxy, postgres, tmp_path, admin_cookie, class_of_six
):
    """Separate state folders, one PostgreSQL database: a job started on A is followed on B;
    a group made on A is in B's list on its next page; signing out on A ends it on B."""
    db_url = postgres.create_database(unique("replicas").replace("-", "_"))
    group, users = class_of_six
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    with ExitStack() as running:
        _, a = running.enter_context(hubdesk(stack, proxy, db_url, tmp_path / "a"))
        _, b = running.enter_context(hubdesk(stack, proxy, db_url, tmp_path / "b"))
        assert "Hello, admin" in s.get(b).text  # B's group list is read now
        made = unique("replica")
        r = s.post(f"{a}groups/", data={"csrf_token": csrf_token(s.get(a).text), "name": made})
        assert "Created group" in r.text
        try:
            # B's next page shows it: its list applied A's change, no cache lifetime to wait
            assert f">{made}</a>" in s.get(f"{b}groups/?q={made}").text
        finally:
            stack.api.delete_group(made)

        job = start_for_group(s, a, group)
        page = wait_for(
            lambda: (
                (p := s.get(b + job).text)
                and 'data-state="done" data-testid="job-state"' in p
                and p
            ),
            seconds=90,
        )
        assert set(outcomes(page).values()) == {"started"}
        assert all(starts(proxy, u) == 1 for u in users)

        # both show the same audit trail
        assert "server.start" in s.get(f"{b}activity?user={users[0]}").text

        # signing out on A ends the session on B too
        token = csrf_token(s.get(f"{a}logout").text)
        s.post(f"{a}logout", data={"csrf_token": token})
        stolen = browser(admin_cookie)  # the old cookie, as copied before
        r = stolen.get(b, allow_redirects=False)
        assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_database_that_goes_away_mid_action_is_a_503_then_the_action_finishes(
    stack, proxy, postgres, tmp_path, admin_cookie, class_of_six
):
    db_url = postgres.create_database(unique("away").replace("-", "_"))
    group, users = class_of_six
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    with hubdesk(stack, proxy, db_url, tmp_path / "one") as (_, base):
        job = start_for_group(s, base, group)
        wait_for(lambda: "started" in outcomes(s.get(base + job).text).values(), seconds=30)
        postgres.kill()
        try:
            for path in ("", f"groups/{group}", job):
                r = s.get(base + path)
                assert r.status_code == 503, (path, r.status_code)
                assert "hubdesk cannot reach its database" in r.text, path
                assert "Traceback" not in r.text and stack.token not in r.text
            health = s.get(f"{base}health")
            assert health.status_code == 503 and health.json()["database"] == "down"
        finally:
            postgres.restart()
        # back without a restart of hubdesk: the job is carried on and finishes
        page = wait_for(
            lambda: (
                (p := s.get(base + job).text)
                and 'data-state="done" data-testid="job-state"' in p
                and p
            ),
            seconds=90,
        )
        assert s.get(f"{base}health").json()["database"] == "up"
    assert set(outcomes(page).values()) == {"started"}, outcomes(page)
    for user in users:
        assert starts(proxy, user) == 1, user
    # every start the hub received has its audit record, with the hub's answer
    database = Database(db_url)
    with database.read() as conn:
        rows = conn.execute(select(db.audit).where(db.audit.c.action == "server.start")).all()
    database.dispose()
    started = [json.loads(r.target)["user"] for r in rows]
    assert sorted(started) == sorted(users)


# -- the database full, read-only or damaged ----------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own (tmpfs), for a database that fills it or turns read-only."""
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI: {mounted.stderr.decode()}")
        pytest.skip("mounting a small file system needs root")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def in_process(stack, admin_cookie, db_url, tmp_path):
    """hubdesk in this process on ``db_url``, with the admin signed in."""
    copy_session(stack, admin_cookie, db_url)
    env = dict(stack.env, HUBDESK_DB_URL=db_url, HUBDESK_STATE_DIR=str(tmp_path / "state"))
    app = create_app(env)
    client = app.test_client()
    client.set_cookie("hubdesk-session", admin_cookie, path=PREFIX)
    return app, client


def group_exists(stack, name) -> bool:
    return any(g["name"] == name for g in stack.api.iter_groups())


def fill(where) -> None:
    """Fill the file system to the last byte."""
    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)


def test_a_full_disk_refuses_changes_in_words_sends_nothing_and_recovers(
    stack, small_disk, tmp_path, admin_cookie
):
    app, client = in_process(stack, admin_cookie, f"sqlite:///{small_disk}/h.sqlite", tmp_path)
    token = csrf_token(client.get(f"{PREFIX}groups/").get_data(as_text=True))
    before = len(audit_rows(app))
    fill(small_disk)
    name = unique("full")
    r = client.post(f"{PREFIX}groups/", data={"csrf_token": token, "name": name})
    page = r.get_data(as_text=True)
    assert r.status_code == 503 and "hubdesk cannot reach its database" in page, page
    assert "the disk is full" in page and "nothing more was changed" in page
    assert not group_exists(stack, name)  # the intent could not be written: nothing was sent
    health = client.get(f"{PREFIX}health")
    assert health.status_code == 503
    assert health.get_json()["database"] == "failing"
    assert health.get_json()["database_problem"] == "the disk is full"

    (small_disk / "filler").unlink()  # space again: no restart needed
    r = client.post(f"{PREFIX}groups/", data={"csrf_token": token, "name": name})
    try:
        assert r.status_code == 302, r.get_data(as_text=True)
        assert group_exists(stack, name)
        assert client.get(f"{PREFIX}health").status_code == 200
        records = audit_rows(app)[before:]
        assert [(r["action"], r["hub"]) for r in records] == [("group.create", "201")]
    finally:
        stack.api.delete_group(name)


def test_a_read_only_database_refuses_a_bulk_add_and_the_hub_is_untouched(
    stack, small_disk, tmp_path, admin_cookie
):
    app, client = in_process(stack, admin_cookie, f"sqlite:///{small_disk}/h.sqlite", tmp_path)
    group = unique("ro")
    stack.api.create_group(group)
    try:
        token = csrf_token(client.get(f"{PREFIX}groups/{group}").get_data(as_text=True))
        shared(app).database.dispose()  # no file open for writing: the kernel lets it go ro
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        try:
            r = client.post(
                f"{PREFIX}groups/{group}/add",
                data={"csrf_token": token, "names": "student mrossi outsider"},
            )
            page = r.get_data(as_text=True)
            assert r.status_code == 503 and "hubdesk cannot reach its database" in page, page
            assert "Traceback" not in page and stack.token not in page
            assert stack.api.get_group(group)["users"] == []  # not half done: not done at all
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        r = client.post(
            f"{PREFIX}groups/{group}/add",
            data={"csrf_token": token, "names": "student mrossi outsider"},
        )
        assert r.status_code == 302
        assert sorted(stack.api.get_group(group)["users"]) == ["mrossi", "outsider", "student"]
    finally:
        stack.api.delete_group(group)


def test_a_damaged_job_row_spoils_neither_the_groups_page_nor_its_own(
    stack, tmp_path, admin_cookie
):
    db_url = f"sqlite:///{tmp_path}/h.sqlite"
    app, client = in_process(stack, admin_cookie, db_url, tmp_path)
    database = shared(app).database
    with database.write() as conn:
        conn.execute(
            insert(db.jobs).values(
                id="00000000000000bd",
                kind="start",
                group_name="class-a",
                by="admin",
                spec="[not, json",
                scopes="{}",
                created=1,
                updated=1,
                state="running",
                takeovers=0,
            )
        )
    r = client.get(f"{PREFIX}groups/class-a/servers")
    assert r.status_code == 200
    r = client.get(f"{PREFIX}groups/class-a/servers/jobs/00000000000000bd")
    page = r.get_data(as_text=True)
    assert r.status_code == 404 and "is damaged, so it cannot be shown" in page
    # the job runner finds it unowned, cannot read it, and sets it aside (once, not forever)
    shared(app).jobs.ensure_started()

    def state():
        with database.read() as conn:
            return conn.execute(select(db.jobs.c.state)).scalar()

    wait_for(lambda: state() == "damaged", seconds=20)
    shared(app).jobs.stop()


def test_a_long_membership_change_killed_midway_is_finished_by_the_next_hubdesk(
    stack, proxy, db_url, tmp_path, admin_cookie
):
    """300 names in chunks of 40, each chunk slow at the hub; every hubdesk process dies after
    the second. The next one sends only what is open; every chunk the hub received is in the
    audit trail."""
    group, names = unique("long"), [unique("m") for _ in range(300)]
    stack.api.create_users(names)
    stack.api.create_group(group)
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    adds = rf"/hub/api/groups/{group}/users"
    proxy.when("POST", adds, delay(2.5))  # 8 chunks: longer than a page waits (10 s)
    try:
        with hubdesk(stack, proxy, db_url, tmp_path / "first", HUBDESK_MEMBERSHIP_CHUNK="40") as (
            process,
            base,
        ):
            token = csrf_token(s.get(f"{base}groups/{group}").text)
            r = s.post(
                f"{base}groups/{group}/add",
                data={"csrf_token": token, "names": "\n".join(names)},
                allow_redirects=False,
                timeout=60,
            )
            assert r.status_code == 302 and "/members/jobs/" in r.headers["Location"]
            page = r.headers["Location"]
            wait_for(lambda: proxy.count("POST", adds, forwarded=True) >= 2, seconds=60)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        received_before = proxy.count("POST", adds, forwarded=True)
        assert 2 <= received_before < 8
        with hubdesk(stack, proxy, db_url, tmp_path / "second") as (_, base):
            job = page.split(PREFIX, 1)[1]
            done = wait_for(
                lambda: (
                    (p := s.get(base + job).text)
                    and 'data-state="done" data-testid="job-state"' in p
                    and p
                ),
                seconds=120,
            )
        assert "Added 300 members to" in done, done
        assert sorted(stack.api.get_group(group)["users"]) == sorted(names)
        # at most the chunk in flight at the kill was sent again: 8 chunks, 9 sends at most
        assert proxy.count("POST", adds, forwarded=True) <= 9
        database = Database(db_url)
        with database.read() as conn:
            rows = conn.execute(
                select(db.audit).where(
                    db.audit.c.action == "group.members.add", db.audit.c.group_name == group
                )
            ).all()
        database.dispose()
        # every chunk the hub received has its record (written before it was sent)
        assert len(rows) >= proxy.count("POST", adds, forwarded=True)
        assert sum(json.loads(r.target)["count"] for r in rows) >= 300
    finally:
        stack.api.delete_group(group)
        for name in names:
            stack.api.request("DELETE", "users", name)


def test_whoever_may_run_a_group_action_may_cancel_what_is_not_sent_yet(
    stack, proxy, tmp_path, admin_cookie, class_of_six
):
    db_url = f"sqlite:///{tmp_path}/h.sqlite"
    group, users = class_of_six
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    with hubdesk(stack, proxy, db_url, tmp_path / "one") as (_, base):
        job = start_for_group(s, base, group)
        page = wait_for(lambda: (p := s.get(base + job).text) and 'data-testid="cancel"' in p and p)
        token = csrf_token(page)
        r = s.post(f"{base}{job}/cancel", data={"csrf_token": token})
        assert r.status_code == 200 and "Cancelled:" in r.text
        page = wait_for(
            lambda: (
                (p := s.get(base + job).text)
                and 'data-state="done" data-testid="job-state"' in p
                and p
            ),
            seconds=60,
        )
    got = outcomes(page)
    assert "Cancelled by admin" in page and "cancelled" in got.values(), got
    for user, outcome in got.items():
        assert outcome in ("started", "cancelled"), (user, outcome)
        assert starts(proxy, user) == (1 if outcome == "started" else 0), user
