"""The hub-wide usage page (/usage/) against a seeded record: its charts' numbers, the busiest
hours of the week in the person's zone, the hours nobody recorded (unknown, never 0), the CSVs
(the tables' rows), and who is refused (a teacher, the help desk: filtered list:users)."""

import csv
import html
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from helpers.stack import unique
from helpers.usage_seed import Seeded, seed
from hubdesk.extensions import shared
from hubdesk.usage.days import date_of, today

DAY = 86400
PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@pytest.fixture(scope="module")
def record(stack):
    """Seven days long ago (no other test's usage there): recorded on days 0-1 and 4-6; days
    2 and 3 in a gap. Days 0 and 4 have servers (two profiles); day 1 a start that failed."""
    d0 = today(ZoneInfo("UTC")) - 340
    t0 = d0 * DAY
    u = [unique("hw") for _ in range(4)]
    sessions = [
        Seeded(u[0], t0 + 9 * 3600, t0 + 11.5 * 3600, profile="small"),
        Seeded(u[1], t0 + 10 * 3600, t0 + 10.75 * 3600, profile="large"),
        Seeded(
            u[2],
            t0 + DAY + 14 * 3600 + 600,
            t0 + DAY + 14 * 3600 + 1200,
            profile="small",
            failed=True,
        ),
        Seeded(u[3], t0 + 4 * DAY + 8 * 3600, t0 + 4 * DAY + 9 * 3600, profile="large"),
    ]
    coverage = [(t0, t0 + 2 * DAY - 300), (t0 + 4 * DAY, t0 + 7 * DAY - 300)]
    seed(shared(stack.app).database, "UTC", sessions, coverage=coverage)
    first, last = date_of(d0).isoformat(), date_of(d0 + 6).isoformat()
    return {"d0": d0, "query": f"start={first}&end={last}"}


@pytest.fixture(scope="module")
def paris_admin(stack):
    s = stack.signin("admin")
    s.cookies.set("hubdesk-zone", "Europe/Paris")
    return s


def table(page: str, table_id: str) -> list[list[str]]:
    """A table's rows (the header first) as text."""
    body = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', page, re.S).group(1)
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def download(session, stack, name: str, query: str) -> list[list[str]]:
    r = session.get(stack.url(f"usage/hub.csv?table={name}&{query}"))
    assert r.status_code == 200, r.status_code
    assert r.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.text)))


def test_the_hub_wide_page_shows_the_record_and_the_gap_as_unknown(stack, record, paris_admin):
    r = paris_admin.get(stack.url(f"usage/?{record['query']}"))
    assert r.status_code == 200, r.status_code
    page = r.text
    assert "hubdesk&#39;s own record" in page or "hubdesk's own record" in page
    assert page.count('role="img"') == 2
    assert 'aria-label="Running servers at each day&#39;s peak"' in page or (
        'aria-label="Running servers at each day\'s peak"' in page
    )
    assert "<script" not in page.split("<main")[1].split("</main>")[0]

    peaks = table(page, "usage-peaks-table")
    profiles = ["peak, every profile", "peak, large", "peak, small"]
    assert peaks[0] == ["day", *profiles, "hours recorded"]
    by_day = {row[0]: row[1:] for row in peaks[1:]}
    d = [date_of(record["d0"] + i).isoformat() for i in range(7)]
    assert by_day[d[0]] == ["2", "1", "1", "24"]
    assert by_day[d[1]] == ["1", "0", "1", "24"]  # the failed start's hour
    assert by_day[d[2]] == ["unknown", "unknown", "unknown", "0"]  # the gap: not 0
    assert by_day[d[3]] == ["unknown", "unknown", "unknown", "0"]
    assert by_day[d[4]] == ["1", "1", "0", "24"]
    assert by_day[d[5]] == ["0", "0", "0", "24"]  # recorded, nothing ran: 0

    starts = table(page, "usage-starts-table")
    assert starts[0] == ["day", "servers started", "of which failed", "hours recorded"]
    by_day = {row[0]: row[1:3] for row in starts[1:]}
    assert [by_day[x] for x in d] == [
        ["2", "0"],
        ["1", "1"],
        ["unknown"] * 2,
        ["unknown"] * 2,
        ["1", "0"],
        ["0", "0"],
        ["0", "0"],
    ]
    # the charts: a band behind each unknown run of days (days 2-3: one band), not a zero bar
    assert page.count('class="hd-unknown"') == 2

    # the week in Paris (UTC+1 in winter, +2 in summer: computed, not assumed)
    week = table(page, "usage-week-table")
    assert week[0] == ["hour", *[w[:3] for w in WEEKDAYS]]
    cells = {row[0]: row[1:] for row in week[1:]}

    def cell(day_offset, utc_hour):
        local = datetime.fromtimestamp((record["d0"] + day_offset) * DAY + utc_hour * 3600, PARIS)
        return cells[f"{local.hour:02d}:00"][local.weekday()]

    assert cell(0, 10) == "2" and cell(0, 9) == "1" and cell(0, 11) == "1"
    assert cell(4, 8) == "1" and cell(5, 12) == "0"
    assert cell(2, 12) == "unknown" and cell(3, 0) == "unknown"  # in the gap
    classes = re.findall(r'<td class="(heat-[\w-]+)">', page)
    assert len(classes) == 7 * 24 and "heat-5" in classes and "heat-unknown" in classes
    busiest = datetime.fromtimestamp(record["d0"] * DAY + 10 * 3600, PARIS)
    row = re.search(rf"<th scope=\"row\">{busiest.hour:02d}:00</th>(.*?)</tr>", page).group(1)
    assert re.findall(r'<td class="([\w-]+)">', row)[busiest.weekday()] == "heat-5"

    # the CSVs: the tables' rows; the week's hours name the person's zone
    assert download(paris_admin, stack, "peaks", record["query"]) == peaks
    assert download(paris_admin, stack, "starts", record["query"]) == starts
    hours = download(paris_admin, stack, "hours", record["query"])
    assert hours[0] == ["hour (Europe/Paris)", *WEEKDAYS]
    assert hours[1:] == week[1:]


def test_bad_ranges_and_tables_are_refused_in_words(stack, paris_admin):
    r = paris_admin.get(stack.url("usage/?start=2026-13-01"))
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    assert 'role="img"' not in r.text
    r = paris_admin.get(stack.url("usage/?days=12"))
    assert r.status_code == 400 and "Choose the last 7, 30, 90 days" in html.unescape(r.text)
    r = paris_admin.get(stack.url("usage/hub.csv?table=secrets"))
    assert r.status_code == 400 and "peaks, hours or starts" in r.text


def test_the_default_range_and_the_navbar(stack, paris_admin):
    page = paris_admin.get(stack.url("usage/")).text
    assert "the last 30 days" in page
    nav = r'<a class="nav-link active" aria-current="page" href="[^"]*/usage/">Usage'
    assert re.search(nav, page)
    assert 'data-testid="usage-line"' in paris_admin.get(stack.url()).text


@pytest.mark.parametrize("persona", ["teacher", "helpdesk"])
def test_a_teacher_and_the_help_desk_are_refused(stack, persona):
    s = stack.signin(persona)
    for path in ("usage/", "usage/hub.csv?table=peaks"):
        r = s.get(stack.url(path))
        assert r.status_code == 403, (path, r.status_code)
        assert "Your hub scopes do not let you see how the whole hub is used" in html.unescape(
            r.text
        )
    home = s.get(stack.url()).text
    assert 'data-testid="usage-line"' not in home and "/usage/" not in home
