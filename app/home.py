"""Home: what the signed-in person can do next, from their own scopes.

- a help desk (users to find, no groups to run): the users list's search first;
- a teacher (some groups, not all): their groups, each with its running servers and next
  lesson, as links to its roster;
- an admin (the whole hub): the counts as links, servers whose last start failed, and
  group actions under way.

Each part is a named step below; the home view calls them. The cost is bounded whatever the
hub's size: the group list is the per-process directory (no hub call), at most ``GROUPS_SHOWN``
groups are shown, their running servers come from one page of active users and their next
lessons from one query; failed servers are the running list's first page
(``servers.idle.running_page``, most recent first), actions under way one query of the jobs
table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import g, url_for

from . import permissions
from .access import can, person_client, reachable_groups, visible_groups
from .extensions import job_store, lesson_store, settings
from .jobs import PENDING, Job
from .lessons.panel import may_keep_lessons, upcoming
from .servers.idle import running_page
from .servers.model import Server
from .start_options import catalogue
from .words import plural, server_words

GROUPS_SHOWN = 10  # a teacher's groups on Home; the groups page lists every one
ACTIVE_READ = 200  # active users read to count a teacher's running servers (one hub page)
LESSONS_READ = 100  # the groups' lessons to come, soonest first (one query)
FAILED_LOOKED_AT = 50  # users with an active server, most recently active first
FAILED_SHOWN = 5
UNDER_WAY_SHOWN = 10


@dataclass
class GroupRow:
    name: str
    members: int
    running: int | None  # servers running or starting of the members they see (None: unknown)
    next_start: datetime | None  # its next lesson, if it has one that this person may see
    next_server: str = ""
    at_least: bool = False  # more active users than one page: ``running`` is a lower bound


def whole_hub(action: str) -> bool:
    """Whether the person's ``action`` reaches everything (an admin's), not a filtered part."""
    return permissions.reach(g.person.scopes, action, me=g.person.name, admin=g.person.admin) == []


def counts() -> list[tuple[int | None, str, str, str]]:
    """(number, one, many, link) for the lists the person sees whole: groups, users, running."""
    found = []
    if can("list_groups") and whole_hub("list_groups"):
        found.append((len(visible_groups()), "group", "groups", url_for("groups.index")))
    if can("list_users") and whole_hub("list_users"):
        hub = person_client()
        found.append((hub.count("users"), "user", "users", url_for("users.index")))
        active = hub.count("users", params={"state": "active"})
        found.append(
            (
                active,
                "user with running servers",
                "users with running servers",
                url_for("servers.running"),
            )
        )
    return found


def my_groups() -> tuple[list[GroupRow], int]:
    """The first GROUPS_SHOWN groups of a person who sees some groups but not all (a teacher),
    with their running servers and next lessons; and how many groups they see in all."""
    if not can("list_groups") or whole_hub("list_groups"):
        return [], 0
    entries = visible_groups()
    rows = [GroupRow(e.name, e.members, None, None) for e in entries[:GROUPS_SHOWN]]
    if not rows:
        return [], 0
    _count_running(rows)
    _next_lessons(rows)
    return rows, len(entries)


def _count_running(rows: list[GroupRow]) -> None:
    """One page of the active users the person may list (the hub filters them): their servers
    running or starting, by group."""
    if not can("list_users"):
        return
    by_name = {row.name: row for row in rows}
    page = person_client().list_users(limit=ACTIVE_READ, state="active")
    for row in rows:
        row.running, row.at_least = 0, page.next_offset is not None
    for user in page.items:
        servers = [
            s
            for s in (user.get("servers") or {}).values()
            if s.get("ready") or s.get("pending") == "spawn"
        ]
        for group in user.get("groups") or ():
            if group in by_name:
                by_name[group].running += len(servers)


def _next_lessons(rows: list[GroupRow]) -> None:
    """The next lesson of each group whose lessons the person keeps: one query."""
    kept = [row.name for row in rows if may_keep_lessons(row.name)]
    if not kept:
        return
    lessons, _ = lesson_store().upcoming(kept, limit=LESSONS_READ)
    by_name = {row.name: row for row in rows}
    for lesson, start, _end in upcoming(lessons):
        row = by_name[lesson.group]
        if row.next_start is None:
            row.next_start, row.next_server = start, lesson.server


def failed_servers() -> list[Server]:
    """Servers whose last start failed, as the running list finds them (its first page, most
    recently active users first: the latest failures; with the hub's reason), for someone who
    lists every user. Like that list, it sees only users with a server active."""
    if not (can("list_users") and whole_hub("list_users")):
        return []
    rows, _ = running_page(
        person_client(),
        offset=0,
        limit=FAILED_LOOKED_AT,
        newest_first=True,
        profiles=catalogue(),
        host=settings().hub_host,
    )
    return [s for s in rows if s.state == "failed"][:FAILED_SHOWN]


@dataclass
class UnderWay:
    job: Job
    words: str
    link: str
    done: int  # items finished
    total: int


def under_way() -> list[UnderWay]:
    """Group actions and long changes not finished yet (running or paused) that the person may
    follow: of the groups they may read; a hub-wide stop if they asked for it or are an admin."""
    groups = reachable_groups("read_group") if can("read_group") else set()
    if groups is not None and not groups and not g.person.admin:
        return []
    found = []
    for job in job_store().unfinished(None if g.person.admin else groups, UNDER_WAY_SHOWN):
        counts = job.result.get("counts", {})
        total = sum(counts.values())
        waiting = sum(n for outcome, n in counts.items() if outcome in PENDING)
        found.append(UnderWay(job, *_job_words(job), total - waiting, total))
    return found


def _job_words(job: Job) -> tuple[str, str]:
    """(what the job does, in words; its page)."""
    spec = job.spec
    if job.kind == "stop" and spec.servers:
        server = "the ticked servers"
    elif job.kind == "stop" and spec.server is None:
        server = "every running server"
    else:
        server = server_words(getattr(spec, "server", "") or "")
    if job.kind == "start":
        link = url_for("roster.group_job", group=job.group, job=job.id)
        return f"Starting {server} for {job.group}", link
    if job.kind == "stop":
        link = url_for("roster.group_job", group=job.group, job=job.id)
        return f"Stopping {server} for {job.group}", link
    if job.kind == "members":
        link = url_for("groups.members_job", name=job.group, job=job.id)
        return f"Changing the members of {job.group}", link
    servers = getattr(job.spec, "servers", ()) or ()
    return f"Stopping {plural(len(servers), 'server')}", url_for("servers.stop_job", job=job.id)
