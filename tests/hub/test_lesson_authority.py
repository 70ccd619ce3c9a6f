"""Whose authority a lesson's runs use, against the real hub.

A start: its owner's, as the hub says it is at that moment, asked with their lesson
token (a hub API token of theirs, made with their sign-in), so it outlives the sign-in.
A stop: hubdesk's own, limited to the servers that occurrence's start started, so it
happens whatever became of the owner, and stops nothing else. Signing out revokes the
sign-in on the hub. (The same on hubdesk's database alone: tests/test_lesson_stops.py.)
"""

from __future__ import annotations

import re
import time

import pytest
from helpers.lessons import lesson_form, schedule
from helpers.servers import gone_or_stopped, running, server  # noqa: F401
from helpers.stack import STAFF_GROUP, alert, csrf_token, unique, wait_for
from hubdesk import db
from hubdesk.extensions import shared
from hubdesk.hub import HubAPIError, HubClient
from sqlalchemy import select, update

SERVER = "labs"  # every lesson here is on class-a's "labs": one more named server per member


def sign_in_token(stack, session) -> str:
    return stack.person_token(session.cookies["hubdesk-session"])


def as_person(stack, token: str) -> HubClient:
    return HubClient(stack.hub.api_url, token)


def kept_token(stack, person: str):
    """The person's lesson token as hubdesk keeps it (None: none)."""
    return shared(stack.app).lessons.lesson_token(person)


def hub_tokens(stack, person: str, signin: str) -> list[dict]:
    """The person's API tokens on the hub, asked with their sign-in (tokens!user)."""
    return as_person(stack, signin).get_json("users", person, "tokens")["api_tokens"]


def revoke_everything(stack, person: str) -> None:
    """Every token of the person revoked on the hub: their lesson token and every sign-in.

    The service token may not (no `tokens` scope), so this signs in as them once more and
    uses that sign-in (tokens!user), as they could on the hub's token page.
    """
    signin = sign_in_token(stack, stack.signin(person))
    me = as_person(stack, signin)
    own = me.whoami()["token_id"]
    for token in hub_tokens(stack, person, signin):
        if token["id"] != own:
            me.revoke_token(person, token["id"])
    me.revoke_token(person, own)  # a sign-in: every sign-in of theirs to hubdesk goes with it


@pytest.fixture
def staff(stack):
    """A fresh member of the staff group (servers of class-a): a role that can be lost."""
    name = unique("staff")
    stack.api.create_users([name])
    stack.api.add_group_members(STAFF_GROUP, [name])
    yield name
    stack.api.remove_group_members(STAFF_GROUP, [name])
    stack.api.request("DELETE", "users", name)


@pytest.fixture
def pupils(stack, users):  # noqa: F811
    names = users(2, prefix="pup")
    stack.api.add_group_members("class-a", names)
    yield names
    stack.api.remove_group_members("class-a", names)


def runs_made(stack, lesson: str) -> dict[str, list]:
    """The lesson's runs in hubdesk's database: {kind: [rows]}."""
    r = db.lesson_runs
    with shared(stack.app).database.read() as conn:
        rows = conn.execute(select(r).where(r.c.lesson_id == lesson)).all()
    found: dict[str, list] = {}
    for row in rows:
        found.setdefault(row.kind, []).append(row)
    return found


def stop_records(stack, lesson: str) -> list[dict]:
    return [r for r in stack.audit_records() if r["action"] == "lesson.stop" and lesson in str(r)]


def test_saving_a_lesson_makes_its_owner_a_lesson_token_with_only_what_a_start_needs(stack, staff):
    session = stack.signin(staff)
    assert kept_token(stack, staff) is None  # no lessons, no token
    lesson = schedule(session, stack, "class-a", lesson_form(start_in=3600, end_in=7200))
    kept = kept_token(stack, staff)
    assert kept and kept.token and kept.expires is None
    signin = sign_in_token(stack, session)
    (on_hub,) = [t for t in hub_tokens(stack, staff, signin) if t["id"] == kept.token_id]
    assert on_hub["note"] == "hubdesk lessons" and on_hub["expires_at"] is None
    bases = {s.partition("!")[0] for s in on_hub["scopes"]}
    assert "servers" in bases and not bases & {"tokens", "read:tokens", "groups", "users"}
    # filters kept: class-a's servers (the role), and their own (everyone's default role)
    assert {s.partition("!")[2] for s in kept.scopes} == {"group=class-a", f"user={staff}"}
    # a new sign-in renews it and revokes the one before
    again = stack.signin(staff)
    renewed = kept_token(stack, staff)
    assert renewed.token_id != kept.token_id
    ids = {t["id"] for t in hub_tokens(stack, staff, sign_in_token(stack, again))}
    assert renewed.token_id in ids and kept.token_id not in ids
    # the lesson token is no sign-in: it cannot open hubdesk
    r = stack.session().get(
        stack.url("groups/"), headers={"Authorization": f"token {renewed.token}"}
    )
    assert "/hub/" in r.url  # sent to sign in
    page = f"groups/class-a/lessons/{lesson}/cancel"
    again.post(stack.url(page), data={"csrf_token": csrf_token(again.get(stack.url()).text)})
    # no lessons left: the next sign-in revokes the token rather than keep it
    last = stack.signin(staff)
    assert kept_token(stack, staff) is None
    ids = {t["id"] for t in hub_tokens(stack, staff, sign_in_token(stack, last))}
    assert renewed.token_id not in ids


def test_a_stop_leaves_alone_what_its_start_did_not_start(stack, staff, pupils):
    # a hub admin (made by the hub admin: only an admin may make one) whose own "labs" runs
    admin_signin = sign_in_token(stack, stack.signin("admin"))
    boss = unique("boss")
    as_person(stack, admin_signin).request("POST", "users", boss, json={"admin": True})
    try:
        stack.api.start_server(boss, SERVER, {"profile": "small"})
        wait_for(lambda: running(stack, boss, SERVER))
        teacher = stack.signin(staff)
        # added to the class before the lesson's start
        stack.api.add_group_members("class-a", [boss])
        lesson = schedule(
            teacher, stack, "class-a", lesson_form(server=SERVER, start_in=6, end_in=26)
        )
        wait_for(lambda: all(running(stack, p, SERVER) for p in pupils), seconds=45)
        # the end: the pupils' servers stop; the admin's, running before the lesson, does not
        wait_for(lambda: all(gone_or_stopped(stack, p, SERVER) for p in pupils), seconds=60)
        (record,) = wait_for(lambda: stop_records(stack, lesson), seconds=20)
        assert record["person"] == staff and "hubdesk's own" in record["target"]["authority"]
        assert set(pupils) <= set(record["target"]["users"])
        assert boss not in record["target"]["users"]
        time.sleep(2)  # the stop job is done with the pupils: nothing more is sent
        assert running(stack, boss, SERVER)
        stops = [
            r
            for r in stack.audit_records()
            if r["action"] == "server.stop" and r["target"].get("user") == boss
        ]
        assert not stops, stops
        made = runs_made(stack, lesson)
        assert made["start"][0].job_id and made["stop"][0].job_id
        # the stop's page: its members, and whose authority it used
        job = teacher.get(stack.url(f"groups/class-a/servers/jobs/{made['stop'][0].job_id}"))
        assert "hubdesk&#39;s own, for the servers this lesson started" in job.text
        assert f'data-user="{boss}"' not in job.text
        assert all(f'data-user="{p}"' in job.text for p in pupils)
    finally:
        stack.api.remove_group_members("class-a", [boss])
        stack.api.stop_server(boss, SERVER)  # the hub deletes no user whose server runs
        wait_for(lambda: gone_or_stopped(stack, boss, SERVER))
        stack.api.request("DELETE", "users", boss)


def test_a_lesson_outlives_its_sign_in_and_its_stop_its_owners_rights(stack, staff, pupils):
    teacher = stack.signin(staff)
    lesson = schedule(teacher, stack, "class-a", lesson_form(server=SERVER, start_in=8, end_in=30))
    # "two weeks later": the sign-in is gone (revoked on the hub), the lesson token is kept
    signin = sign_in_token(stack, teacher)
    as_person(stack, signin).revoke_token(staff, as_person(stack, signin).whoami()["token_id"])
    with pytest.raises(HubAPIError) as refused:
        as_person(stack, signin).whoami()
    assert refused.value.status == 403
    # the start is made on the lesson token, with the owner's rights of now
    wait_for(lambda: all(running(stack, p, SERVER) for p in pupils), seconds=45)
    (start,) = wait_for(lambda: runs_made(stack, lesson).get("start"), 20)
    assert start.job_id and "refused" not in start.words
    # then every token of theirs is revoked, and they lose the role
    revoke_everything(stack, staff)
    stack.api.remove_group_members(STAFF_GROUP, [staff])
    # the stop still stops every server the lesson started, with hubdesk's own authority
    wait_for(lambda: all(gone_or_stopped(stack, p, SERVER) for p in pupils), seconds=60)
    (record,) = wait_for(lambda: stop_records(stack, lesson), seconds=20)
    assert record["person"] == staff, (record, lesson, staff)
    assert "hubdesk's own" in record["target"]["authority"] and "stopping the" in record["hub"]


def test_signing_out_revokes_the_sign_in_on_the_hub(stack):
    session = stack.signin("visitor")
    token = sign_in_token(stack, session)
    assert as_person(stack, token).whoami()["name"] == "visitor"
    page = session.get(stack.url("logout")).text
    assert 'data-testid="lessons-stranded"' not in page  # no lessons: nothing to say
    r = session.post(stack.url("logout"), data={"csrf_token": csrf_token(page)})
    assert r.url == stack.url("signed-out")
    with pytest.raises(HubAPIError) as refused:
        as_person(stack, token).whoami()
    assert refused.value.status == 403
    revoked = [r for r in stack.audit_records() if r["action"] == "token.revoke"]
    assert revoked and revoked[-1]["person"] == "visitor" and revoked[-1]["hub"] == "204"


def test_the_owner_is_warned_before_their_lessons_would_stop_starting(stack, staff):
    session = stack.signin(staff)
    lesson = schedule(session, stack, "class-a", lesson_form(start_in=3600, end_in=7200))
    database = shared(stack.app).database
    pages = ("groups/class-a/servers", "lessons/")

    def warnings(page: str) -> list[str]:
        text = session.get(stack.url(page)).text
        return [
            re.sub(r"\s+", " ", w)
            for w in re.findall(
                rf'data-testid="lesson-token-warning" data-person="{staff}">(.*?)</div>',
                text,
                re.S,
            )
        ]

    try:
        assert not any(warnings(p) for p in pages)  # a lesson token without expiry
        soon = time.time() + 3 * 86400
        with database.write() as conn:
            conn.execute(
                update(db.lesson_tokens)
                .where(db.lesson_tokens.c.person == staff)
                .values(expires=soon)
            )
        day = time.strftime("%Y-%m-%d", time.gmtime(soon))
        for page in pages:
            (words,) = warnings(page)
            assert day in words and f"{staff} must sign in to hubdesk before then" in words
        # sealed with a key hubdesk no longer has
        with database.write() as conn:
            conn.execute(
                update(db.lesson_tokens)
                .where(db.lesson_tokens.c.person == staff)
                .values(token="gAAAAA-not-sealed-by-this-key")
            )
        for page in pages:
            (words,) = warnings(page)
            assert "cannot be read" in words and f"{staff} must sign in to hubdesk again" in words
        # without a lesson token at all, the sign-out page says what signing out means
        with database.write() as conn:
            conn.execute(db.lesson_tokens.delete().where(db.lesson_tokens.c.person == staff))
        assert 'data-testid="lessons-stranded"' in session.get(stack.url("logout")).text
    finally:
        page = f"groups/class-a/lessons/{lesson}/cancel"
        session.post(
            stack.url(page), data={"csrf_token": csrf_token(session.get(stack.url()).text)}
        )
        with database.read() as conn:
            assert conn.execute(select(db.lessons.c.cancelled).where(db.lessons.c.id == lesson))


def test_where_the_hub_makes_no_lesson_token_lessons_run_on_the_sign_in(stack, staff, monkeypatch):
    """An older configuration (no tokens!user): the hub answers 403; it is said, not fatal."""

    def refused(self, user, scopes, **kwargs):
        raise HubAPIError(403, f"User {user} not found or no permissions to generate tokens")

    monkeypatch.setattr(HubClient, "create_token", refused)
    session = stack.signin(staff)
    page = "groups/class-a/lessons/new"
    r = session.post(
        stack.url(page),
        data={
            "csrf_token": csrf_token(session.get(stack.url(page)).text),
            **lesson_form(start_in=3600, end_in=7200),
        },
    )
    assert r.url == stack.url("groups/class-a/servers")
    assert "Your lessons run on your sign-in to hubdesk" in alert(r.text)
    assert "tokens!user" in alert(r.text)
    assert kept_token(stack, staff) is None
    lesson = shared(stack.app).lessons.active(["class-a"])
    (mine,) = [x for x in lesson if x.by == staff]
    health = shared(stack.app).lessons.token_health([mine])[staff]
    assert health.kind == "sign-in" and health.readable
    # signing out would leave their lessons without a way to start: the page says so
    assert 'data-testid="lessons-stranded"' in session.get(stack.url("logout")).text
    cancel = f"groups/class-a/lessons/{mine.id}/cancel"
    session.post(stack.url(cancel), data={"csrf_token": csrf_token(session.get(stack.url()).text)})
