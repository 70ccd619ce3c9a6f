"""Making a lesson's runs when they are due: every worker looks, one makes each run.

Called by the job runner at each of its looks (every few seconds, on every worker of
every replica). For each start due (``schedule.due_runs``; a stop: below), in named steps:

1. who may: the person who scheduled the lesson, with their permissions *now*: the hub
   is asked with their own token (``GET /user``; the hub resolves a token's scopes from
   its owner's roles at each use), so a lost role refuses the run, in words; the token
   is their lesson token (``tokens``), else the sign-in saved with the lesson;
2. whom: the group's members at this moment (who joined since is included);
3. a start's own checks (``start_check``): raw user_options JSON needs its owner to hold
   that permission still; hub admins and staff accounts among the members are left out
   ("skipped") unless the lesson names them;
4. the run and its job in one transaction: the run's row is the lock (its primary key);
   the worker whose row lands runs the job (a group action, with per-member results),
   the others find the row and do nothing.

A refused run is a row too (no job, the reason in words), and an audit record.

Only lessons whose ``next_due`` has come are read at each look (O(due), not O(lessons));
after its runs a lesson's ``next_due`` is set again from them (``LessonStore.set_next_due``):
a run that could not be made (the hub away) leaves it due, so it is tried at the next look,
and one missed while hubdesk was down is made late on its return.

A *stop* is another matter (``make_stop``): it stops exactly the servers that
occurrence's start started, found in the start's job, with hubdesk's own authority
limited to those servers. It needs neither the scheduler's rights nor their token
(which may have expired, or been sealed with a key hubdesk no longer has): a stop is
never skipped, and never stops anything the lesson did not start.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from .. import permissions
from ..audit import MAX_NAMES, AuditTrail
from ..hub import HubAPIError, HubClient, HubUnreachable
from ..jobs import JobRunner, StartSpec, StopSpec
from ..words import plural, server_words
from . import schedule
from .store import Lesson, LessonStore

log = logging.getLogger(__name__)


def run_due(
    runner: JobRunner,
    lessons: LessonStore,
    audit: AuditTrail,
    *,
    late_after: float = schedule.LATE_SECONDS,
    now: datetime | None = None,
) -> list[str]:
    """Make every run that is due now; the ids of the jobs this worker started."""
    now = now or datetime.now(UTC)
    due_now = lessons.due(now.timestamp())
    if not due_now:
        return []
    since = (now - schedule.LOOK_BACK - timedelta(days=1)).timestamp()
    done = lessons.done(since, [lesson.id for lesson in due_now])
    started = []
    for lesson in due_now:
        ran = done.get(lesson.id, set())
        try:
            for due in schedule.due_runs(lesson.when, now, ran, late_after=late_after):
                job_id = make_run(runner, lessons, audit, lesson, due)
                if job_id:
                    started.append(job_id)
        except HubAPIError as e:
            # the hub answered this lesson's calls with an error: the others still run; this
            # one stays due (its next_due is not moved) and is tried again at the next look
            log.warning(
                "lesson %s of %s: the hub answered %s; trying again", lesson.id, lesson.group, e
            )
            continue
        lessons.set_next_due(lesson, now.timestamp())
    return started


def make_run(runner, lessons, audit, lesson: Lesson, due: schedule.Due) -> str | None:
    """One run: checked, then recorded with its job (or its refusal), exactly once.

    A start here; a stop is :func:`make_stop`'s."""
    if due.kind == "stop":
        return make_stop(runner, lessons, audit, lesson, due)
    hub: HubClient = runner.hub
    try:
        scopes, refused = current_scopes(hub, lessons, lesson)
        if not refused and not permissions.allowed_both(
            scopes, runner.service_scopes, "start_server", group=lesson.group
        ):
            refused = f"{lesson.by} may no longer start servers for “{lesson.group}” on the hub"
        members = [] if refused else members_of(hub, lesson.group)
        if members is None:
            refused = f"the group “{lesson.group}” no longer exists"
        skipped = []
        if not refused:
            refused, skipped = start_check(hub, runner.service_scopes, scopes, lesson, members)
    except HubUnreachable:
        return None  # the hub is away: the next look tries again (the run is late then)
    words = f"refused: {refused}" if refused else ("late" if due.late else "")
    try:
        with runner.store.database.write() as conn:
            if lessons.taken(conn, lesson, due):
                return None  # another worker made it
            job_id = None
            if not refused:
                job_id = runner.store.create(
                    due.kind,
                    lesson.group,
                    by=lesson.by,
                    spec=run_spec(lesson, due),
                    scopes=scopes,
                    items=[(m, "") for m in sorted(members, key=str.casefold)],
                    owner=runner.owner,
                    conn=conn,
                )
                if skipped:  # an outcome already: the group action leaves them alone
                    runner.store.set_outcome(job_id, skipped, "skipped", SKIP_WORDS, conn=conn)
            if not lessons.record_run(conn, lesson, due, job_id=job_id, words=words):
                raise _Lost()  # rolls the job back: another worker's row landed first
    except _Lost:
        return None
    audit.record(
        f"lesson.{due.kind}",
        {
            "group": lesson.group,
            "lesson": lesson.id,
            "server": lesson.server,
            "due": datetime.fromtimestamp(due.at.timestamp(), UTC).isoformat(),
            "late": due.late,
            "job": job_id,
        },
        person=lesson.by,
        outcome=f"refused: {refused}" if refused else "job started",
    )
    log.info(
        "lesson %s of %s: %s %s%s",
        lesson.id,
        lesson.group,
        due.kind,
        server_words(lesson.server),
        f" refused ({refused})" if refused else (" (late)" if due.late else ""),
    )
    if job_id:
        runner.run_here(job_id)
    return job_id


SKIP_WORDS = (
    "not started: a hub admin or staff account; tick them by name on the lesson to include them"
)


def start_check(hub: HubClient, service_scopes, scopes, lesson: Lesson, members: list[str]):
    """A start's own checks, with its owner's scopes now: (refusal in words, members skipped).

    - user_options of the owner's own (raw JSON) need ``raw_user_options`` (the hub's
      ``admin:servers``) now, as they did when the lesson was saved: a lesson saved by an
      admin who is one no more is refused, not sent on with their old power;
    - members who are hub admins or hold a role beyond ``user`` (their models now) are
      skipped unless the lesson names them (``privileged_names``): a lesson acts on
      whoever is a member when it runs, and whoever keeps the class list may add anyone.
    """
    if lesson.spec.get("raw_user_options") and not permissions.allowed_both(
        scopes, service_scopes, "raw_user_options"
    ):
        return (
            f"{lesson.by} may no longer start servers with user_options of their own (JSON), "
            "which this lesson was saved with (the hub's admin:servers): save it again with "
            "a profile",
            [],
        )
    named = set(lesson.spec.get("privileged_names") or ())
    models = hub.user_models(members)
    roles = hub.group_roles(permissions.groups_of(models.values()) - {lesson.group})
    skipped = [
        m
        for m in members
        if m not in named
        and permissions.privileged_account(models.get(m) or {}, roles, besides=lesson.group)
    ]
    return "", sorted(skipped, key=str.casefold)


class _Lost(Exception):
    """Another worker made this run between our look and our write."""


def current_scopes(hub: HubClient, lessons: LessonStore, lesson: Lesson):
    """(scopes, refusal) of the person who scheduled the lesson, asked of the hub now.

    With their lesson token when they have one (it outlives their sign-in), else with the
    sign-in saved with the lesson; either way the hub answers with its owner's scopes of
    this moment. A lesson token the hub no longer takes (revoked on the hub's token page)
    is forgotten, and the sign-in is tried.
    """
    kept = lessons.lesson_token(lesson.by)
    if kept is not None and kept.token:
        try:
            model = hub.for_token(kept.token).whoami()
            return frozenset(model.get("scopes", ())), ""
        except HubAPIError as e:
            if e.status not in (401, 403):
                raise
            log.warning("%s's lesson token was refused by the hub: trying their sign-in", lesson.by)
            lessons.forget_lesson_token(lesson.by, kept.token_id)
    token = lessons.token_of(lesson.id)
    if not token:
        return (
            frozenset(),
            f"{lesson.by}'s sign-in cannot be read any more: they must sign in again",
        )
    try:
        model = hub.for_token(token).whoami()
    except HubAPIError as e:
        if e.status in (401, 403):
            return frozenset(), (
                f"{lesson.by}'s sign-in has expired or was revoked on the hub: "
                "they must sign in to hubdesk again (their lessons then run again)"
            )
        raise
    return frozenset(model.get("scopes", ())), ""


# what a start's item says when its request went out: the server may be up because of it
STARTED = frozenset({"started", "starting", "unknown"})


def started_by_start(runner: JobRunner, lessons: LessonStore, lesson: Lesson, due):
    """(server, members) that this occurrence's start started, from its job's items.

    "running" (already running before the lesson), failed, forbidden, cancelled: not
    started by it, so not stopped by it. An item still waiting that was sent may be coming
    up: counted. No start job (the start was refused): nothing.
    """
    job_id = lessons.start_job_of(lesson.id, due.occurrence)
    job = runner.store.get(job_id) if job_id else None
    if job is None:
        return lesson.server, []
    if not job.done:
        # still starting at the lesson's end (a big class): what it has not sent yet is
        # cancelled (pool_map looks about once a second), what it sent is stopped below
        runner.store.cancel(job_id, "the lesson's end")
        job = runner.store.get(job_id) or job
    members = [
        item.name
        for item in job.items.values()
        if item.outcome in STARTED or (item.outcome == "waiting" and item.sent)
    ]
    # the server the start started, even if the lesson was changed since
    return job.spec.server or "", sorted(members, key=str.casefold)


def stop_scopes(server: str, members) -> frozenset:
    """hubdesk's own authority for a lesson's stop: exactly these servers, nothing else."""
    return frozenset(f"delete:servers!server={user}/{server}" for user in members)


AUTHORITY = "hubdesk's own, for the servers this lesson started"


def make_stop(runner, lessons, audit, lesson: Lesson, due: schedule.Due) -> str | None:
    """A lesson's stop: the servers its start started, stopped with hubdesk's own authority.

    Not the scheduler's: whether they lost their role, or their token expired or cannot
    be opened any more, the servers the lesson started are stopped, and only those (a
    member added since, or whose server was running before the lesson, is left alone).
    The job's scopes name each server: its items are checked against them as any job's.
    """
    server, members = started_by_start(runner, lessons, lesson, due)
    words = "late" if due.late else ""
    if not members:
        words = "nothing to stop: this lesson's start started no server"
    try:
        with runner.store.database.write() as conn:
            if lessons.taken(conn, lesson, due):
                return None  # another worker made it
            job_id = None
            if members:
                job_id = runner.store.create(
                    "stop",
                    lesson.group,
                    by=lesson.by,
                    spec=replace(run_spec(lesson, due), server=server, authority=AUTHORITY),
                    scopes=stop_scopes(server, members),
                    items=[(m, "") for m in members],
                    owner=runner.owner,
                    conn=conn,
                )
            if not lessons.record_run(conn, lesson, due, job_id=job_id, words=words):
                raise _Lost()
    except _Lost:
        return None
    audit.record(
        "lesson.stop",
        {
            "group": lesson.group,
            "lesson": lesson.id,
            "server": server,
            "due": datetime.fromtimestamp(due.at.timestamp(), UTC).isoformat(),
            "late": due.late,
            "job": job_id,
            "authority": AUTHORITY,
            "users": members[:MAX_NAMES],
            "count": len(members),
        },
        person=lesson.by,
        outcome=(
            f"job started: stopping the {plural(len(members), 'server')} this lesson started"
            if members
            else words
        ),
    )
    log.info(
        "lesson %s of %s: stop %s for %d members (hubdesk's own authority)%s",
        lesson.id,
        lesson.group,
        server_words(server),
        len(members),
        " (late)" if due.late else "",
    )
    if job_id:
        runner.run_here(job_id)
    return job_id


def members_of(hub: HubClient, group: str) -> list[str] | None:
    try:
        return list(hub.get_group(group).get("users") or ())
    except HubAPIError as e:
        if e.status == 404:
            return None
        raise


def run_spec(lesson: Lesson, due: schedule.Due) -> StartSpec | StopSpec:
    """The group action's spec: a start with the lesson's profile, or a stop of its server."""
    run = {"lesson": lesson.id, "occurrence": due.occurrence, "late": due.late}
    if due.kind == "stop":
        return StopSpec(server=lesson.server, **run)  # only that server: the others are left alone
    return StartSpec(
        server=lesson.server,
        user_options=lesson.spec.get("user_options"),
        display_name=lesson.spec.get("display_name") or "",
        hub_major=lesson.spec.get("hub_major"),
        profile=lesson.spec.get("profile"),
        **run,
    )
