"""A group's usage page (/usage/groups/<group>) and its CSVs, on a record seeded as the
sampler would leave it (tests/helpers/usage_seed.py), for a group and users of its own."""

import csv
import html
import io
import re
import time
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
from helpers.stack import unique
from helpers.usage_seed import Seeded, seed
from hubdesk.extensions import shared
from hubdesk.hub import HubAPIError
from hubdesk.usage import tables as t
from hubdesk.usage.days import date_of, day_of, day_start, week_ranges
from sqlalchemy import delete, event

H = 3600.0
D = 86400.0


@pytest.fixture(scope="module")
def usage(stack):
    """A group of 30 (alice, bob, carol, dave and 26 who never did anything) and its record."""
    zone = ZoneInfo(shared(stack.app).settings.usage_timezone)
    now = time.time()
    today = day_of(now, zone)
    t0 = day_start(today, zone)
    a, b, c, d = (unique(p) for p in ("alice", "bob", "carol", "dave"))
    idle = [unique("idle") for _ in range(26)]
    group = unique("usage")
    stack.api.create_users([a, b, c, d, *idle])
    stack.api.create_group(group, [a, b, c, d, *idle])
    sweep = now - 60

    def day(user, offset, start, end, active):
        """A session on day ``offset`` from ``start`` to ``end`` o'clock, active in ``active``."""
        at = t0 + offset * D
        return Seeded(
            user, at + start * H, at + end * H, active=[(at + active[0] * H, at + active[1] * H)]
        )

    sessions = [
        # alice: three hours on day -3 (two active), one hour on day -10 (all active)
        day(a, -3, 9, 12, (9, 11)),
        day(a, -10, 9, 10, (9, 10)),
        # bob: an hour and a half yesterday (half an hour active), and a server running now
        day(b, -1, 8, 9.5, (8, 8.5)),
        Seeded(b, now - 1800, None, server="labs"),
        # carol: an hour 60 days ago (outside the last 30 days)
        day(c, -60, 9, 10, (9, 10)),
        # in a gap (days -377 to -370): two days recorded, then nothing known, then a day
        day(a, -376, 9, 10, (9, 10)),
    ]
    for s in sessions:
        s.groups = (group,)
    coverage = [
        (t0 - 15 * D, sweep),
        (t0 - 377 * D, t0 - 375 * D + 12 * H),  # day -375: partly; -374 to -372: unknown
        (t0 - 371 * D, t0 - 369 * D),
    ]
    database = shared(stack.app).database
    with database.read() as conn:
        before = conn.execute(t.usage_coverage.select()).all()
    seed(database, zone.key, sessions, coverage=coverage)
    yield dict(
        group=group,
        a=a,
        b=b,
        c=c,
        d=d,
        idle=idle,
        now=now,
        t0=t0,
        today=today,
        zone=zone,
        sweep=sweep,
        sessions=sessions,
    )
    # the other tests' record stays as it was: no coverage of ours, no rows of ours
    with database.write() as conn:
        mine = [r.id for r in conn.execute(t.usage_coverage.select()).all() if r not in before]
        conn.execute(delete(t.usage_coverage).where(t.usage_coverage.c.id.in_(mine)))
        names = [a, b, c, d]
        conn.execute(delete(t.usage_activity).where(t.usage_activity.c.user.in_(names)))
        conn.execute(delete(t.usage_sessions).where(t.usage_sessions.c.user.in_(names)))
        conn.execute(delete(t.usage_days).where(t.usage_days.c.user.in_(names)))
        conn.execute(delete(t.usage_group_days).where(t.usage_group_days.c.group_name == group))
    for name in [a, b, c, d, *idle]:
        try:
            stack.api.delete_user(name)
        except HubAPIError:
            pass
    stack.api.delete_group(group)


def url(stack, group, path="", **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return stack.url(f"usage/groups/{group}{path}") + (f"?{query}" if query else "")


def members_table(page: str) -> dict[str, dict[str, str]]:
    """{member: {column: text}} of the members' table on the page."""
    rows = {}
    body = re.search(r'data-testid="usage-members">(.*?)</table>', page, re.S)[1]
    for name, row in re.findall(r'<tr data-member="([^"]+)">(.*?)</tr>', body, re.S):
        cells = dict(re.findall(r'data-col="(\w+)">(.*?)</td>', row, re.S))
        rows[html.unescape(name)] = {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in cells.items()}
    return rows


def order(page: str) -> list[str]:
    return [html.unescape(n) for n in re.findall(r'<tr data-member="([^"]+)">', page)]


def hours(seconds):
    return f"{seconds / H:.1f}"


def week_active(u, user, which):
    """Seeded active seconds of ``user`` in this week (0) or the previous one (1)."""
    rng = week_ranges(u["zone"], u["now"])[which]
    return sum(
        e - s
        for x in u["sessions"]
        if x.user == user
        for s, e in x.active
        if rng.first <= day_of(s, u["zone"]) <= rng.last
    )


def test_the_members_numbers_match_the_record(stack, admin, usage):
    u = usage
    r = admin.get(url(stack, u["group"]))
    assert r.status_code == 200
    page = r.text
    assert 'id="usage-record-note"' in page and "own record" in page
    rows = members_table(page)
    assert len(rows) == 30  # 50 a page: every member
    a, b = rows[u["a"]], rows[u["b"]]
    assert (a["days"], a["server"], a["active"]) == ("2", "4.0", "3.0")
    open_part = u["sweep"] - (u["now"] - 1800)
    assert (b["days"], b["server"], b["active"]) == ("1", hours(1.5 * H + open_part), "0.5")
    assert 'data-state="running"' in re.search(rf'data-member="{u["b"]}">(.*?)</tr>', page, re.S)[1]
    assert (rows[u["c"]]["days"], rows[u["c"]]["server"]) == ("0", "0.0")
    assert rows[u["d"]]["seen"] == "never"
    # last seen: the end of alice's latest session, in the person's zone (a <time> element)
    alice = re.search(rf'data-member="{u["a"]}">(.*?)</tr>', page, re.S)[1]
    seen = re.search(r'data-col="seen"><time datetime="([^"]+)"', alice)[1]
    assert seen.startswith(date_of(u["today"] - 3).isoformat())
    # this week against the previous one (active hours)
    for who in ("a", "b"):
        this, prev = week_active(u, u[who], 0), week_active(u, u[who], 1)
        assert (rows[u[who]]["week"], rows[u[who]]["previous"]) == (hours(this), hours(prev))
    # never started anything in the last 30 days: carol, dave and the idle ones
    never = re.search(r'data-testid="never">(.*?)</section>', page, re.S)[1]
    assert re.search(r'data-testid="never-count">(\d+)<', never)[1] == "28"
    assert u["c"] in never and u["d"] in never and u["a"] not in never and u["b"] not in never
    # over 90 days carol worked: she leaves the list
    page90 = admin.get(url(stack, u["group"], days=90)).text
    assert re.search(r'data-testid="never-count">(\d+)<', page90)[1] == "27"
    assert members_table(page90)[u["c"]]["days"] == "1"
    # the charts: drawn, with their numbers as tables
    assert page.count('role="img"') == 2
    active = re.search(r'id="chart-active-table">(.*?)</table>', page, re.S)[1]
    day3 = date_of(u["today"] - 3).isoformat()
    assert re.search(rf'<th scope="row">{day3}</th><td>1</td><td>yes</td>', active)
    server = re.search(r'id="chart-server-table">(.*?)</table>', page, re.S)[1]
    assert re.search(rf'<th scope="row">{day3}</th><td>3.0</td>', server)


def test_sort_both_ways_and_pages(stack, admin, usage):
    u = usage
    page = admin.get(url(stack, u["group"], sort="-server")).text
    assert order(page)[:2] == [u["a"], u["b"]]
    page = admin.get(url(stack, u["group"], sort="server")).text
    assert order(page)[-2:] == [u["b"], u["a"]]
    assert 'aria-sort="ascending"' in page
    for key in ("name", "days", "active", "seen", "week", "previous", "change"):
        for sort in (key, f"-{key}"):
            r = admin.get(url(stack, u["group"], sort=sort, limit=25))
            assert r.status_code == 200 and len(order(r.text)) == 25, sort
    # pages of 25: the second has the last 5, none twice
    first = order(admin.get(url(stack, u["group"], sort="name", limit=25)).text)
    second = order(admin.get(url(stack, u["group"], sort="name", limit=25, offset=25)).text)
    assert len(second) == 5 and not set(first) & set(second)
    assert sorted(first + second, key=str.casefold) == first + second
    only_never = order(admin.get(url(stack, u["group"], who="never")).text)
    assert len(only_never) == 28 and u["a"] not in only_never


def test_a_gap_is_unknown_not_zero(stack, admin, usage):
    u = usage
    start, end = date_of(u["today"] - 377).isoformat(), date_of(u["today"] - 370).isoformat()
    page = admin.get(url(stack, u["group"], start=start, end=end)).text
    table = re.search(r'id="chart-active-table">(.*?)</table>', page, re.S)[1]
    rows = re.findall(r'<th scope="row">([\d-]+)</th><td>([^<]*)</td><td>([^<]*)</td>', table)
    cells = {day: (value, recorded) for day, value, recorded in rows}
    for day in (-374, -373, -372):
        assert cells[date_of(u["today"] + day).isoformat()] == ("unknown", "no (unknown)")
    assert cells[date_of(u["today"] - 376).isoformat()] == ("1", "yes")  # alice that day
    assert cells[date_of(u["today"] - 375).isoformat()] == ("0", "partly")
    assert cells[date_of(u["today"] - 371).isoformat()] == ("0", "yes")  # recorded: nobody
    # the CSV says it the same way
    r = admin.get(url(stack, u["group"], "/days.csv", start=start, end=end))
    days = list(csv.reader(io.StringIO(r.text)))
    assert days[0][0].startswith("day (") and ["unknown", "unknown"] == days[4][1:3]


def test_the_csv_rows_match_the_table(stack, admin, usage):
    u = usage
    page = admin.get(url(stack, u["group"], sort="-active")).text
    shown = members_table(page)
    r = admin.get(url(stack, u["group"], "/members.csv", sort="-active"))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "member" and rows[0][4].startswith("last seen (")
    assert [row[0] for row in rows[1:]] == order(page)  # every member, in the page's order
    for name, days, server, active, seen, *_ in rows[1:]:
        assert shown[name]["days"] == days
        assert shown[name]["server"] == f"{float(server):.1f}"
        assert shown[name]["active"] == f"{float(active):.1f}"
        assert (seen == "") == (shown[name]["seen"] == "never")
    alice = dict((x[0], x[4]) for x in rows)[u["a"]]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", alice)


@contextmanager
def usage_reads(stack):
    """The statements hubdesk's database ran that touched the usage record."""
    seen = []

    def before(conn, cursor, statement, *args):
        if "usage_" in statement:
            seen.append(statement)

    engine = shared(stack.app).database.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_a_teacher_sees_class_a_and_is_refused_others_before_any_read(stack):
    teacher = stack.signin("teacher")
    r = teacher.get(url(stack, "class-a"))
    assert r.status_code == 200 and "Usage of “class-a”" in html.unescape(r.text)
    assert "student" in r.text
    for group in ("class-b", unique("made-up")):
        for path in ("", "/members.csv", "/days.csv"):
            with usage_reads(stack) as reads:
                r = teacher.get(url(stack, group, path))
            assert r.status_code == 403, (group, path)
            assert "Your hub scopes do not let you" in html.unescape(r.text)
            assert reads == []
    # the link from the group's roster shows to the teacher; the made-up group: 404 for the admin
    roster = teacher.get(stack.url("groups/class-a/servers")).text
    assert 'data-testid="usage-link"' in roster
    admin = stack.signin("admin")
    assert admin.get(url(stack, unique("made-up"))).status_code == 404
    assert 'data-testid="usage-link"' in admin.get(stack.url("groups/class-b")).text


def test_a_hostile_range_answers_400_in_words(stack, admin, usage):
    u = usage
    for args, words in (
        ({"days": "7;drop"}, "Choose the last 7, 30, 90 days"),
        ({"start": "<script>", "end": "2026-01-01"}, "Give dates as YYYY-MM-DD"),
        ({"start": "2026-05-02", "end": "2026-05-01"}, "swap them"),
        ({"start": "1900-01-01", "end": "2026-01-01"}, "at most 400 days"),
    ):
        r = admin.get(stack.url(f"usage/groups/{u['group']}"), params=args)
        assert r.status_code == 400 and words in html.unescape(r.text), args
        assert "<script>" not in r.text
        r = admin.get(stack.url(f"usage/groups/{u['group']}/members.csv"), params=args)
        assert r.status_code == 400
