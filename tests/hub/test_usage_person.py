"""A person's usage (``/usage/users/<user>``) against the real hub, from a seeded record:
its numbers, its sessions a page at a time, its timeline (the gap in the record as unknown),
its CSV matching its table; who may see it (the help desk: class-a's members, not class-b's,
refused before any of the record is read); ranges it cannot show, in words."""

import csv
import html
import io
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import has_request_context
from helpers.stack import unique
from helpers.usage_seed import Seeded, seed
from hubdesk.extensions import shared
from hubdesk.usage.person import UNKNOWN_ROW
from hubdesk.words import server_words
from sqlalchemy import event

# the record's days (HUBDESK_USAGE_TIMEZONE: UTC here), ~300 days back: no other test's
FIRST = datetime.now(UTC).date() - timedelta(days=300)
DAYS = 11
GAP_DAY = 5  # hubdesk not recording from 10:00 to 20:00 on that day


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime.combine(FIRST + timedelta(days=day), time(hour, minute), UTC).timestamp()


def sessions_of(user: str) -> list[Seeded]:
    """Three sessions a day (servers and profiles taking turns), 20 active minutes each; on
    the gap's day, one that ended while hubdesk was not recording; a start that failed."""
    made = []
    for day in range(DAYS):
        for i, hour in enumerate((8, 12, 16)):
            if day == GAP_DAY and hour > 8:
                continue  # in the gap: hubdesk saw nothing
            made.append(
                Seeded(
                    user,
                    at(day, hour),
                    at(day, hour + 1),
                    server="" if i % 2 == 0 else "labs",
                    profile=("small", "large", "")[i],
                    active=[(at(day, hour), at(day, hour, 20))],
                )
            )
    made.append(Seeded(user, at(GAP_DAY, 9, 30), at(GAP_DAY, 10), ended_in_gap=True))
    made.append(Seeded(user, at(6, 13), at(6, 13, 5), server="labs", failed=True))
    return made


COVERAGE = [(at(0, 0), at(GAP_DAY, 10)), (at(GAP_DAY, 20), at(DAYS, 0))]
RANGE = f"start={FIRST.isoformat()}&end={(FIRST + timedelta(days=DAYS - 1)).isoformat()}"


@pytest.fixture(scope="module")
def people(stack):
    """A class-a member with a seeded record, a class-b member with one, and a name with a
    record and no account (deleted since)."""
    mine, theirs, gone = unique("use-a"), unique("use-b"), unique("use-gone")
    stack.api.create_users([mine, theirs])
    stack.api.add_group_members("class-a", [mine])
    stack.api.add_group_members("class-b", [theirs])
    record = sessions_of(mine)
    seed(
        shared(stack.app).database,
        "UTC",
        record + [Seeded(theirs, at(1, 9), at(1, 10)), Seeded(gone, at(2, 9), at(2, 11))],
        coverage=COVERAGE,
    )
    yield mine, theirs, gone, record
    stack.api.remove_group_members("class-a", [mine])
    stack.api.remove_group_members("class-b", [theirs])
    for name in (mine, theirs):
        stack.api.delete_user(name)


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def table_rows(page: str) -> list[dict]:
    """The sessions table's rows: server, profile, started (an instant), state."""
    body = re.search(r'data-testid="sessions">.*?<tbody>(.*?)</tbody>', page, re.S)[1]
    found = []
    for row in re.findall(r"<tr data-session[^>]*>(.*?)</tr>", body, re.S):
        cells = dict(re.findall(r'<td[^>]*data-label="([^"]+)"[^>]*>(.*?)</td>', row, re.S))
        started = re.search(r'<time datetime="([^"]+)"', cells["Started"])[1]
        found.append(
            {
                "server": text(cells["Server"]),
                "profile": text(cells["Profile"]).replace("none", ""),
                "started": datetime.fromisoformat(started),
                "state": re.search(r'data-state="([^"]+)"', cells["State"])[1],
                "gap": "ended-in-gap" in cells["State"],
            }
        )
    return found


def every_page(stack, session, url: str) -> tuple[list[dict], int]:
    """The table's rows over all its pages (following "Older sessions"), and how many."""
    rows, pages = [], 0
    while url:
        page = session.get(url).text
        rows += table_rows(page)
        pages += 1
        older = re.search(r'href="([^"]+)" data-testid="older"', page)
        url = (stack.hub.public_url + html.unescape(older[1])) if older else None
    return rows, pages


def test_a_persons_usage_numbers_sessions_timeline_and_csv(stack, admin, people):
    mine, _, _, record = people
    url = stack.url(f"usage/users/{mine}?{RANGE}")
    page = admin.get(url)
    assert page.status_code == 200, page.text
    said = page.text
    assert "hubdesk's own record" in said

    # the numbers: from the running totals of the seeded days
    numbers = dict(re.findall(r'data-number="([^"]+)">(.*?)</dd>', said, re.S))
    closed = sum(s.end - s.start for s in record)
    active = sum(b - a for s in record for a, b in s.active)
    assert text(numbers["days"]) == str(DAYS)  # activity every day
    assert text(numbers["server"]).startswith(f"{round(closed / 3600, 1)} h")
    assert text(numbers["active"]).startswith(f"{round(active / 3600, 1)} h")
    assert text(numbers["started"]).startswith(str(len(record)))
    assert "failed" in numbers["started"]  # the failed start, in the shared words

    # the table, newest first, a page at a time: every session once
    rows, pages = every_page(stack, admin, url)
    assert pages == 2
    starts = [r["started"].timestamp() for r in rows]
    assert starts == sorted((s.start for s in record), reverse=True)
    profiles = {p.slug: p.display_name for p in shared(stack.app).settings.profiles}
    by_start = {s.start: s for s in record}
    for row in rows:
        s = by_start[row["started"].timestamp()]
        assert row["server"] == server_words(s.server)
        assert row["profile"] == profiles.get(s.profile, "")
        assert row["state"] == ("failed" if s.failed else "stopped")
        assert row["gap"] == s.ended_in_gap

    # the timeline: one row per server and profile, the gap as a row of its own (unknown)
    assert re.search(r'<svg[^>]*role="img"', said) and "<script" not in said.split("<svg")[1]
    chart = re.search(r'id="usage-timeline-table">(.*?)</table>', said, re.S)[1]
    labels = [text(x) for x in re.findall(r'<th scope="row">(.*?)</th>', chart)]
    assert labels.count(UNKNOWN_ROW) == 1 and len(labels) == len(record) + 1
    assert {"The default server · Small (1 CPU, 2 GB)", "“labs” · Large (4 CPU, 16 GB)"} < set(
        labels
    )
    assert "whether a server ran then is not known" in said

    # the CSV: the table's rows, in its order, times in the person's zone
    admin.cookies.set("hubdesk-zone", "Asia/Kolkata")
    try:
        got = admin.get(stack.url(f"usage/users/{mine}/sessions.csv?{RANGE}"))
    finally:
        admin.cookies.set("hubdesk-zone", None)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(got.text)))
    assert lines[0][:4] == ["server", "profile", "started (Asia/Kolkata)", "ended (Asia/Kolkata)"]
    assert all(line[2].endswith("+05:30") for line in lines[1:])
    assert [(r["server"], r["profile"], r["started"], r["state"]) for r in rows] == [
        (server_words(line[0]), line[1], datetime.fromisoformat(line[2]), line[4])
        for line in lines[1:]
    ]
    gap_rows = [line for line in lines[1:] if line[7] == "yes"]
    assert len(gap_rows) == 1
    assert datetime.fromisoformat(gap_rows[0][3]).timestamp() == at(GAP_DAY, 10)

    # a person's page links here; a deleted account's record is the admin's to see
    assert f'usage/users/{mine}"' in admin.get(stack.url(f"users/{mine}")).text
    _, _, gone, _ = people
    left = admin.get(stack.url(f"usage/users/{gone}?{RANGE}"))
    assert left.status_code == 200 and 'data-testid="gone"' in left.text
    assert admin.get(stack.url(f"usage/users/{unique('nobody')}")).status_code == 404


def test_the_help_desk_sees_class_a_and_is_refused_class_b_before_any_read(stack, people):
    mine, theirs, gone, _ = people
    helpdesk = stack.signin("helpdesk")
    assert helpdesk.get(stack.url(f"usage/users/{mine}?{RANGE}")).status_code == 200
    assert f'usage/users/{mine}"' in helpdesk.get(stack.url(f"users/{mine}")).text

    statements = []

    def seen(conn, cursor, statement, *args):
        if has_request_context():  # a page's read (not the job runner's, nor the sampler's)
            statements.append(statement)

    engine = shared(stack.app).database.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for path in (
            f"usage/users/{theirs}",
            f"usage/users/{theirs}/sessions.csv",
            f"usage/users/{gone}",  # no account, and not by name: the same answer
            f"usage/users/{unique('nobody')}",
        ):
            refused = helpdesk.get(stack.url(path))
            assert refused.status_code == 403, (path, refused.status_code)
            assert "do not let you see the usage" in html.unescape(refused.text)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "usage_" in s], statements


HOSTILE = [
    ("start=2026-13-45&end=2026-01-01", "Give dates as YYYY-MM-DD"),
    ("start=<script>alert(1)</script>", "Give dates as YYYY-MM-DD"),
    ("days=-7", "Choose the last 7, 30, 90 days"),
    ("start=2026-02-01&end=2026-01-01", "swap them"),
    ("start=1970-01-01&end=2026-01-01", "at most 400 days"),
]


def test_a_range_it_cannot_show_is_a_400_in_words(stack, admin, people):
    mine = people[0]
    for query, words in HOSTILE:
        for path in (f"usage/users/{mine}", f"usage/users/{mine}/sessions.csv"):
            r = admin.get(stack.url(f"{path}?{query}"))
            assert r.status_code == 400, (path, query, r.status_code)
            assert words in html.unescape(r.text) and "<script>alert" not in r.text, query
