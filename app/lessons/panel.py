"""What a group's roster shows of its lessons, and who may keep them.

``may_keep_lessons`` is the one rule for scheduling, changing, cancelling and showing a group's
lessons with their actions; ``group_lessons`` is the roster's lessons panel (one page of them
and their last runs, never every lesson of the hub); ``live_until`` says how long the roster
follows itself around a run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import g

from .. import permissions
from ..extensions import lesson_store, service_scopes
from ..words import duration_words, local_text

PAST_SHOWN = 5  # lessons held and over, on their group's page
SHOWN_ON_ROSTER = 50  # a group's lessons to come on its roster (the limit is 20 by default)


def may_keep_lessons(group: str) -> bool:
    """The one rule for scheduling, changing, cancelling and showing a group's lessons with
    their actions: read the group, and start and stop servers for it
    (``permissions.LESSON_ACTIONS``)."""
    person = g.get("person")
    return person is not None and permissions.may_keep_lessons(person.scopes, service_scopes, group)


WARN_BEFORE = timedelta(days=7)  # a lesson's owner is warned this long before its token ends


def token_warnings(store, lessons, now: datetime | None = None) -> list[dict]:
    """For each owner of these lessons whose starts would soon stop working: whose, when, and
    what to do, in words (``{"person", "words"}``). Stops need no token: only starts."""
    now = now or datetime.now(UTC)
    found = []
    for person, health in sorted(store.token_health(lessons).items()):
        on = "their lesson token" if health.kind == "lesson" else "their sign-in to hubdesk"
        if not health.readable:
            words = (
                f"{person}'s lessons cannot start their servers: {on} cannot be read any more "
                f"(hubdesk's secret key was changed). {person} must sign in to hubdesk again."
            )
        elif health.expires is None:
            continue
        else:
            ends = datetime.fromtimestamp(health.expires, UTC)
            if ends - now > WARN_BEFORE:
                continue
            day = local_text(ends)
            about = "" if health.kind == "lesson" else " (about: 14 days after they signed in)"
            if ends <= now:
                words = (
                    f"{person}'s lessons no longer start their servers: {on} expired on "
                    f"{day}{about}. {person} must sign in to hubdesk again."
                )
            else:
                words = (
                    f"{person}'s lessons run on {on}, which expires on {day}, in "
                    f"{duration_words((ends - now).total_seconds(), parts=1)}{about}: "
                    f"{person} must sign in to hubdesk before then, or their servers will "
                    "not start."
                )
        found.append({"person": person, "words": words})
    return found


def group_lessons(group: str) -> dict:
    """What a group's servers page shows of its lessons: upcoming ones and their last runs.

    One page of them (``SHOWN_ON_ROSTER``, by their next run), the last few held and over,
    and their runs with their jobs' states in one query: never every lesson of the hub.
    """
    store = lesson_store()
    coming, over = store.of_group(group, limit=SHOWN_ON_ROSTER, past=PAST_SHOWN)
    rows = upcoming(coming)
    shown = {lesson.id for lesson, _, _ in rows}
    # held and over (a lesson held once): still shown with its runs, after the upcoming ones
    past = [(lesson, None, None) for lesson in coming + over if lesson.id not in shown]
    runs = store.runs([lesson.id for lesson, _, _ in rows + past])
    past = [row for row in past if runs[row[0].id]]
    past.sort(key=lambda row: -runs[row[0].id][0].ran)
    return {
        "rows": rows + past[:PAST_SHOWN],
        "runs": runs,
        "may": may_keep_lessons(group),
        "live_until": max(live_until(rows), settling_until(coming + over, runs)),
        "token_warnings": token_warnings(store, [lesson for lesson, _, _ in rows]),
    }


LIVE_BEFORE = timedelta(minutes=15)  # a roster follows itself this long before a lesson's run
LIVE_AFTER = timedelta(minutes=5)  # and this long after its start or its end


def live_until(rows, now: datetime | None = None) -> float:
    """Until when (epoch seconds) the roster should follow itself: a run is near or under way."""
    now = now or datetime.now(UTC)
    until = 0.0
    for lesson, start, end in rows:
        begins = start - timedelta(seconds=lesson.when.lead)
        if begins - LIVE_BEFORE <= now <= end + LIVE_AFTER:
            # through the start's run, and again from just before the end's
            last = start + LIVE_AFTER if now < start + LIVE_AFTER else end + LIVE_AFTER
            until = max(until, last.timestamp())
    return until


SETTLE_AT_MOST = timedelta(minutes=10)  # after a lesson's end, followed at most this long


def settling_until(lessons, runs, now: datetime | None = None) -> float:
    """Until when (epoch seconds) the roster should follow a lesson that has ended: until its
    stop has run and its job is done (the rows then show each server stopping, and the roster
    follows those by their state), at most ``SETTLE_AT_MOST`` after the end; 0: nothing to wait
    for. The stop runs a few seconds after the end, so the end itself is no place to stop.

    ``runs``: each lesson's latest runs, newest first (``LessonStore.runs``)."""
    now = now or datetime.now(UTC)
    until = 0.0
    for lesson in lessons:
        ended = last_ended(lesson.when, now)
        if ended is None or now > ended[1] + SETTLE_AT_MOST:
            continue
        key = ended[0].timestamp()
        mine = [r for r in runs.get(lesson.id) or () if r.occurrence == key]
        if not any(r.kind == "start" for r in mine):
            continue  # never started (cancelled before, say): nothing will stop
        stop = next((r for r in mine if r.kind == "stop"), None)
        if stop is None or (stop.job_id and stop.job_state != "done"):
            until = max(until, (ended[1] + SETTLE_AT_MOST).timestamp())
    return until


def last_ended(when, now: datetime):
    """The (start, end) of a lesson's latest holding that has ended by ``now``, if any."""
    if when.day:
        holding = when.holding()
        return holding if holding[1] <= now else None
    ended = [o for o in when.occurrences(now - SETTLE_AT_MOST, now) if o[1] <= now]
    return max(ended) if ended else None


def upcoming(lessons, now: datetime | None = None):
    """(lesson, next start, next end) for each lesson still to come or under way, soonest first."""
    now = now or datetime.now(UTC)
    found = []
    for lesson in lessons:
        nxt = lesson.when.next_after(now)
        if nxt:
            found.append((lesson, *nxt))
    return sorted(found, key=lambda x: x[1])
