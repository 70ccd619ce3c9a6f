"""Stopping for a whole group, reviewed server by server before anything stops.

"Stop for everyone…" asks which servers: only the ones of one name (the natural choice,
prefilled with the name the group's lesson or its last start used: ``usual_name``), or
every running server of each member, said so explicitly. Its confirmation page
(``preview``) lists the servers that will stop, a page of members at a time (O(page) hub
calls, as the roster), and says what is knowable cheaply about other classes: members who
are in other groups too (their models say so), servers of another name than the usual one,
and lessons of those other groups that use the same server name (one database query).

The job stops, at each member's turn, what the rule matches and was already running when
the page was confirmed (``StopSpec.listed_at``): a server started after that is left alone,
and its member's outcome says so (``actions.stop_member``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..names import NamesError, check_server_name
from ..servers.model import Server, servers_of
from .page import matching

NAMED, EVERY = "named", "every"
SIZES = (50, 100, 200)  # members a page of the confirmation
MAX_OTHER_GROUPS = 50  # other groups whose lessons are looked at, per page


@dataclass
class StopRow:
    """One server that will stop, and what is known about other classes using it."""

    server: Server
    other_groups: list[str]  # the member's other groups (their model's "groups")
    other_name: bool  # every-server stop: not the group's usual server name
    lessons: list[str] = field(default_factory=list)  # other groups' lessons using this name


@dataclass
class StopPreview:
    which: str  # NAMED or EVERY
    server: str | None  # NAMED: the server name ("": the default server); EVERY: None
    rows: list[StopRow]
    members: list[str]  # the page's members
    idle: list[str]  # the page's members with nothing to stop
    total: int  # members of the group

    def warned(self) -> list[StopRow]:
        """The page's servers that another class may be using too."""
        return [r for r in self.rows if r.other_groups or r.other_name or r.lessons]


def read_which(which: str, name: str, *, hub_major: int) -> tuple[str, str | None]:
    """The stop's choice, checked: (NAMED, name) or (EVERY, None); NamesError in words.

    No choice sent is the named one: an empty name is then the default server, never
    "every server" (which must be asked for by its own choice).
    """
    which = (which or NAMED).strip()
    if which not in (NAMED, EVERY):
        raise NamesError("Choose which servers stop: only those of one name, or every one.")
    if which == EVERY:
        return EVERY, None
    name = (name or "").strip()
    return NAMED, check_server_name(name, hub_major=hub_major) if name else ""


def usual_name(lessons_rows, recent_jobs, roster_rows) -> str:
    """The server name this group uses: its next lesson's, else its last start's, else the
    commonest name among the roster's servers that are not stopped ("" when none)."""
    for lesson, _start, _end in lessons_rows:
        return lesson.server
    for job in recent_jobs:
        if job.kind == "start" and job.spec.server is not None:
            return job.spec.server
    names = Counter(r.server.name for r in roster_rows if r.server and r.server.active)
    return names.most_common(1)[0][0] if names else ""


def preview(
    client,
    members: list[str],
    *,
    group: str,
    which: str,
    server: str | None,
    usual: str,
    offset: int,
    limit: int,
    profiles,
    lessons_of=None,
) -> StopPreview:
    """The servers a group stop will stop among one page of members, each with its warnings.

    ``lessons_of(groups)``: the lessons to come of those groups (for names they share).
    """
    ordered = matching(members, "")
    shown = ordered[offset : offset + limit]
    models = client.user_models(shown, by_name=True)
    rows, idle = [], []
    for name in shown:
        model = models.get(name) or {}
        others = sorted((set(model.get("groups") or ()) - {group}), key=str.casefold)
        mine = [
            s
            for s in (servers_of(model, profiles) if model else [])
            if s.state != "stopped" and (server is None or s.name == server)
        ]
        if not mine:
            idle.append(name)
        rows += [StopRow(s, others, which == EVERY and s.name != usual) for s in mine]
    _mark_lessons(rows, lessons_of)
    return StopPreview(which, server, rows, shown, idle, len(members))


def _mark_lessons(rows: list[StopRow], lessons_of) -> None:
    """Each row: the other groups' lessons to come that use its server's name (one query)."""
    others = sorted({g for r in rows for g in r.other_groups}, key=str.casefold)
    if not others or lessons_of is None:
        return
    by_group: dict[str, list] = {}
    for lesson in lessons_of(others[:MAX_OTHER_GROUPS]):
        by_group.setdefault(lesson.group, []).append(lesson)
    for r in rows:
        r.lessons = [
            f"{g}: {lesson.when.words()}"
            for g in r.other_groups
            for lesson in by_group.get(g, ())
            if lesson.server == r.server.name
        ]
