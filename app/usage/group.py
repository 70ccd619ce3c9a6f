"""A group's usage, read: per member over a range, and the group's days for its charts.

What a teacher opens to answer "who in my class actually worked this week, and for how
long?". Every number comes from hubdesk's own record (``hubdesk.usage.tables``), never from
summing a member's days:

- **per member** (:func:`member_usage`): days active, server hours, active hours and the
  last time seen over the range, and active hours this week against the previous week,
  from the running totals of ``usage_days``: for each member and each range bound one
  index seek (the member's latest row on or before the bound), all members in one query
  (:func:`totals`); then the sessions still open (``ended is null``: O(running)) add their
  server time up to the latest sweep. A page of 5,000 members costs one query of 5,000
  rows, a sort in memory and a slice (``benchmarks/results/usage.md``).
- **per day** (:func:`day_usage`): active members and server hours per day from
  ``usage_group_days`` (O(days), whatever the group's size) plus today's open sessions;
  a day outside every span hubdesk sampled is *unknown* (``None``), one partly sampled
  says so.

"This week against the previous" compares **active hours** (time during which a member's
server saw them working), what a teacher reads best: a server left running over the weekend
is server time, not work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..cache import TTLCache
from ..db import Database
from ..hub import HubAPIError, HubClient
from . import tables as db
from .coverage import latest_sweep, spans
from .days import Range, date_of, day_start, split_by_day

PAGE_SIZES = (25, 50, 100, 200)
# column key -> its words; "-key" sorts the other way (the most first)
SORTS = {
    "name": "member",
    "days": "days active",
    "server": "server hours",
    "active": "active hours",
    "seen": "last seen",
    "week": "active hours this week",
    "previous": "active hours the previous week",
    "change": "change from the previous week",
}
WHO = {  # the members' table's filter (short: it is a select on a phone)
    "": "every member",
    "used": "who used a server",
    "never": "who never started",
}
# a computed table is kept this long (per process): paging and sorting it costs nothing more
TABLE_SECONDS = 30
tables = TTLCache(TABLE_SECONDS, max_entries=32)


class NoSuchGroup(LookupError):
    """The hub has no group of that name."""


@dataclass(frozen=True)
class MemberUsage:
    """One member's usage over a range (seconds; ``last_seen`` epoch seconds, None: never)."""

    name: str
    days_active: int = 0
    server_seconds: float = 0.0
    active_seconds: float = 0.0
    last_seen: float | None = None
    this_week: float = 0.0  # active seconds, Monday to now
    previous_week: float = 0.0  # active seconds, the whole week before
    running: int = 0  # sessions open at the latest sweep

    @property
    def change(self) -> float:
        return self.this_week - self.previous_week

    @property
    def never(self) -> bool:
        """Nothing at all in the range: no server time, no activity, nothing running."""
        return self.server_seconds <= 0 and self.active_seconds <= 0 and not self.running


@dataclass(frozen=True)
class DayUsage:
    """The group's day: ``None`` numbers when hubdesk was not sampling at all that day."""

    day: int
    active_members: int | None
    server_seconds: float | None
    recorded: str  # "yes", "partly" or "no"

    @property
    def date(self) -> str:
        return date_of(self.day).isoformat()


@dataclass(frozen=True)
class Question:
    """How the person wants the members' table: sort, filter, page."""

    sort: str = "name"
    who: str = ""
    offset: int = 0
    limit: int = 50


def question(args, *, offset: int, limit: int) -> Question:
    """The table's question from the URL arguments (anything unknown: the default)."""
    sort = args.get("sort", "name")
    who = args.get("who", "")
    return Question(
        sort=sort if sort.removeprefix("-") in SORTS else "name",
        who=who if who in WHO else "",
        offset=offset,
        limit=limit,
    )


# -- step 1: the members, from the hub (after the permission check) --------------------------


def group_members(client: HubClient, group: str) -> list[str]:
    """The group's members as the hub has them now (the service token: the person's own may
    not read groups; ``group_usage`` was checked before); ``NoSuchGroup`` if there is none."""
    try:
        model = client.get_group(group)
    except HubAPIError as e:
        if e.status == 404:
            raise NoSuchGroup(group) from None
        raise
    return list(model.get("users") or ())


# -- step 2: the running totals at each bound, all members in one query ---------------------


CHUNK = 10_000  # members a statement (within SQLite's and PostgreSQL's limits on parameters)


def totals(
    database: Database, members: Sequence[str], bounds: Iterable[int]
) -> dict[int, dict[str, tuple]]:
    """{bound: {member: (cum_days, cum_server, cum_active, last_seen)}} for each member's
    latest ``usage_days`` row on or before each bound (a member without one: absent, zero).

    Per member and bound one seek, backwards, in the covering index ``ix_usage_days_totals``
    (no table read), all members in one statement: never a scan of a member's days. Written
    as SQL text: SQLAlchemy's compiler took ~0.4 s for a 5,000-row VALUES list."""
    bounds = sorted(set(bounds))
    out: dict[int, dict[str, tuple]] = {b: {} for b in bounds}
    if not members or not bounds:
        return out
    postgres = database.engine.dialect.name == "postgresql"
    with database.read() as conn:
        if postgres:  # its JIT costs ~20 ms here and saves nothing on index seeks
            conn.exec_driver_sql("SET LOCAL jit = off")
        for i in range(0, len(members), CHUNK):
            chunk = list(members[i : i + CHUNK])
            if postgres:
                rows = conn.exec_driver_sql(lateral_sql(bounds), (chunk,)).all()
                for row in rows:
                    for k, bound in enumerate(bounds):
                        if row[1 + 4 * k] is not None:
                            out[bound][row[0]] = tuple(row[1 + 4 * k : 5 + 4 * k])
            else:
                rows = conn.exec_driver_sql(packed_sql(len(chunk), bounds), tuple(chunk)).all()
                for name, *packed in rows:
                    for bound, text in zip(bounds, packed, strict=True):
                        if text is not None:
                            out[bound][name] = unpack(text)
    return out


# nothing from a request is written into these statements: the names are parameters, the
# bounds whole numbers (int())
_LATEST = (
    'FROM usage_days x WHERE x."user" = m.name AND x.day <= {bound} ORDER BY x.day DESC LIMIT 1'
)


def lateral_sql(bounds: Sequence[int]) -> str:
    """PostgreSQL: the names as one array, a LATERAL seek per bound (four columns at once)."""
    seeks = " ".join(
        f"LEFT JOIN LATERAL (SELECT x.cum_days, x.cum_server, x.cum_active, x.last_seen "
        f"{_LATEST.format(bound=int(b))}) d{k} ON true"
        for k, b in enumerate(bounds)
    )
    picked = ", ".join(
        f"d{k}.cum_days, d{k}.cum_server, d{k}.cum_active, d{k}.last_seen"
        for k in range(len(bounds))
    )
    return f"SELECT m.name, {picked} FROM unnest(%s::text[]) AS m(name) {seeks}"  # noqa: S608


def packed_sql(count: int, bounds: Sequence[int]) -> str:
    """SQLite (no LATERAL): a scalar subquery per bound, its four columns in one text."""
    names = ", ".join("(?)" for _ in range(count))
    seeks = ", ".join(
        "(SELECT x.cum_days || ' ' || x.cum_server || ' ' || x.cum_active || ' ' || "
        f"ifnull(x.last_seen, '') {_LATEST.format(bound=int(b))})"
        for b in bounds
    )
    return f"WITH m(name) AS (VALUES {names}) SELECT m.name, {seeks} FROM m"  # noqa: S608


def unpack(packed: str) -> tuple:
    """The four totals in :func:`packed_sql`'s text."""
    days, server, active, seen = packed.split(" ")
    return int(days), float(server), float(active), float(seen) if seen else None


def between(at: dict[int, dict[str, tuple]], member: str, first: int, last: int) -> tuple:
    """(days active, server seconds, active seconds) of ``member`` over first..last."""
    hi = at[last].get(member, (0, 0.0, 0.0, None))
    lo = at[first - 1].get(member, (0, 0.0, 0.0, None))
    return hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]


# -- step 3: the sessions still open (O(running)) ---------------------------------------------


def open_sessions(database: Database, members: Iterable[str]) -> list[tuple[str, float]]:
    """[(member, started)] of the sessions open at the latest sweep."""
    wanted = set(members)
    s = db.usage_sessions.c
    with database.read() as conn:
        rows = conn.execute(select(s.user, s.started).where(s.ended.is_(None))).all()
    return [(user, started) for user, started in rows if user in wanted]


def overlap(a: float, b: float, start: float, end: float) -> float:
    return max(0.0, min(b, end) - max(a, start))


# -- the members' table --------------------------------------------------------------------


def member_usage(
    database: Database, members: Sequence[str], rng: Range, zone: ZoneInfo
) -> list[MemberUsage]:
    """Every member's usage over ``rng`` (in the group's order; weeks not read yet: see
    :func:`with_weeks`). Two bounds a member: the range's last day and the day before it."""
    at = totals(database, members, [rng.last, rng.first - 1])
    latest = latest_sweep(database)
    start, end = day_start(rng.first, zone), day_start(rng.last + 1, zone)
    running: dict[str, list[float]] = {}
    for user, started in open_sessions(database, members):
        running.setdefault(user, []).append(started)
    out = []
    for name in members:
        days, server, active = between(at, name, rng.first, rng.last)
        seen = at[rng.last].get(name, (0, 0, 0, None))[3]
        opened = running.get(name, [])
        if opened and latest is not None:
            server += sum(overlap(s, latest, start, end) for s in opened)
            seen = max(seen or 0.0, latest)
        out.append(
            MemberUsage(
                name=name,
                days_active=days,
                server_seconds=server,
                active_seconds=active,
                last_seen=seen,
                running=len(opened),
            )
        )
    return out


def with_weeks(
    database: Database, rows: Sequence[MemberUsage], weeks: tuple[Range, Range]
) -> list[MemberUsage]:
    """``rows`` with their active seconds this week and the previous one (three bounds a
    member: read for a page's rows, or for all when the table is sorted by them)."""
    this, previous = weeks
    at = totals(database, [r.name for r in rows], [this.last, this.first - 1, previous.first - 1])
    return [
        replace(
            r,
            this_week=between(at, r.name, this.first, this.last)[2],
            previous_week=between(at, r.name, previous.first, previous.last)[2],
        )
        for r in rows
    ]


WEEK_SORTS = ("week", "previous", "change")


def needs_weeks(q: Question) -> bool:
    """Whether the whole table needs the weeks read (sorted by them) before it is paged."""
    return q.sort.removeprefix("-") in WEEK_SORTS


def sort_key(sort: str):
    """The key for ``sort`` (without its "-"): the value, then the name (A to Z)."""
    key = sort.removeprefix("-")
    if key == "name":
        return lambda r: (r.name.casefold(), r.name)
    value = {
        "days": lambda r: r.days_active,
        "server": lambda r: r.server_seconds,
        "active": lambda r: r.active_seconds,
        "seen": lambda r: r.last_seen if r.last_seen is not None else float("-inf"),
        "week": lambda r: r.this_week,
        "previous": lambda r: r.previous_week,
        "change": lambda r: r.change,
    }[key]
    return lambda r: value(r)


def arranged(rows: Sequence[MemberUsage], q: Question) -> list[MemberUsage]:
    """The table's rows for ``q``: filtered, sorted both ways (ties: by name, A to Z)."""
    if q.who == "never":
        rows = [r for r in rows if r.never]
    elif q.who == "used":
        rows = [r for r in rows if not r.never]
    by_name = sorted(rows, key=sort_key("name"))
    if q.sort.removeprefix("-") == "name":
        return by_name[::-1] if q.sort.startswith("-") else by_name
    return sorted(by_name, key=sort_key(q.sort), reverse=q.sort.startswith("-"))


# -- the group's days (charts) --------------------------------------------------------------


def recorded(
    day: int, covered: list[tuple[float, float]], zone: ZoneInfo, now: float, slack: float
) -> str:
    """Whether hubdesk sampled all of ``day`` (up to now): "yes", "partly" or "no"."""
    start, end = day_start(day, zone), min(day_start(day + 1, zone), now)
    seconds = sum(overlap(a, b, start, end) for a, b in covered)
    if seconds <= 0:
        return "no"
    return "yes" if seconds >= (end - start) - slack else "partly"


def day_usage(
    database: Database,
    group: str,
    members: Sequence[str],
    rng: Range,
    zone: ZoneInfo,
    *,
    now: float,
    sample_seconds: float,
) -> list[DayUsage]:
    """The group's days over ``rng`` (O(days) rows, plus the open sessions)."""
    g = db.usage_group_days.c
    with database.read() as conn:
        rows = {
            day: (members_n, server)
            for day, members_n, server in conn.execute(
                select(g.day, g.active_members, g.server_seconds).where(
                    g.group_name == group, g.day >= rng.first, g.day <= rng.last
                )
            )
        }
    latest = latest_sweep(database)
    extra: dict[int, float] = {}
    start = day_start(rng.first, zone)
    if latest is not None:
        for _, started in open_sessions(database, members):
            for day, secs in split_by_day(max(started, start), latest, zone):
                extra[day] = extra.get(day, 0.0) + secs
    covered = spans(database, start, day_start(rng.last + 1, zone))
    out = []
    for day in rng:
        state = recorded(day, covered, zone, now, 2 * sample_seconds)
        members_n, server = rows.get(day, (0, 0.0))
        if state == "no" and day not in rows and day not in extra:
            out.append(DayUsage(day, None, None, "no"))
        else:
            out.append(DayUsage(day, members_n, server + extra.get(day, 0.0), state))
    return out


# -- the whole reading, kept briefly ----------------------------------------------------------


@dataclass(frozen=True)
class GroupUsage:
    members: tuple[MemberUsage, ...]
    days: tuple[DayUsage, ...]


def read(
    database: Database,
    client: HubClient,
    group: str,
    rng: Range,
    zone: ZoneInfo,
    *,
    now: float,
    sample_seconds: float,
) -> GroupUsage:
    """The group's members from the hub, then their usage and the group's days; the same
    question within :data:`TABLE_SECONDS` is answered from memory (paging, sorting)."""
    key = (group, rng.first, rng.last)
    hit = tables.get(key)
    if hit is not None:
        return hit
    members = group_members(client, group)
    usage = GroupUsage(
        tuple(member_usage(database, members, rng, zone)),
        tuple(
            day_usage(database, group, members, rng, zone, now=now, sample_seconds=sample_seconds)
        ),
    )
    tables.set(key, usage)
    return usage


def weekly(
    database: Database, group: str, rng: Range, usage: GroupUsage, weeks: tuple[Range, Range]
) -> tuple[MemberUsage, ...]:
    """Every member's row with its weeks (kept as the table is)."""
    key = (group, rng.first, rng.last, "weeks", weeks[0].first)
    hit = tables.get(key)
    if hit is None:
        hit = tuple(with_weeks(database, usage.members, weeks))
        tables.set(key, hit)
    return hit


def table(
    database: Database,
    group: str,
    rng: Range,
    usage: GroupUsage,
    weeks: tuple[Range, Range],
    q: Question,
) -> tuple[list[MemberUsage], int]:
    """The page of the table ``q`` asks for (with its weeks), and how many rows match."""
    rows = weekly(database, group, rng, usage, weeks) if needs_weeks(q) else usage.members
    found = arranged(rows, q)
    page = found[q.offset : q.offset + q.limit]
    if not needs_weeks(q):
        page = with_weeks(database, page, weeks)
    return page, len(found)


def hours(seconds: float | None) -> str:
    """Seconds as hours with one decimal ("unknown" for None)."""
    if seconds is None:
        return "unknown"
    return f"{seconds / 3600:.1f}"


def signed_hours(seconds: float) -> str:
    text = hours(abs(seconds))
    if text == "0.0":
        return "0.0"
    return ("+" if seconds > 0 else "−") + text
