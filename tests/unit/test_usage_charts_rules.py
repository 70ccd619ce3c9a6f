"""The usage charts' rules (hubdesk.usage.charts) and the hub-wide page's pure pieces
(hubdesk.usage.hubwide): no script, no style, no style attribute; named images; hostile labels
escaped; unknown values drawn as bands, never as zeros; the heatmap's buckets and its week."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hubdesk.db import Database
from hubdesk.usage import charts, hubwide
from hubdesk.usage import tables as tables
from hubdesk.usage.days import day_of
from sqlalchemy import insert

HOSTILE = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


def drawn():
    labels = [f"{d} Dec" for d in range(1, 31)]
    yield charts.bars("Started", labels, [("started", [1] * 30), ("failed", [0] * 30)])
    yield charts.bars("Stacked", labels[:5], [("a", [1, 2, 3, 4, 5])], stacked=True, whole=True)
    yield charts.lines("Peaks", labels, [("every profile", [2] * 30), ("small", [1] * 30)])
    yield charts.lines("Areas", labels[:3], [("a", [1, None, 2])], stacked=True, dots=True)
    yield charts.timeline("Sessions", [("labs", [(0, 5), (7, 9)]), ("", [])])


@pytest.mark.parametrize("svg", list(drawn()), ids=["bars", "stacked", "lines", "areas", "time"])
def test_a_chart_has_no_script_no_style_and_is_a_named_image(svg):
    assert "<script" not in svg and "<style" not in svg
    assert not re.search(r"\sstyle=", svg)
    assert not re.search(r"\son\w+=", svg)  # no event handlers
    root = re.match(r"<svg [^>]*>", svg).group(0)
    assert 'role="img"' in root and 'aria-label="' in root
    assert "viewBox=" in root and " width=" not in root  # it scales to its box
    ids = re.findall(r'\sid="([^"]+)"', svg)
    assert all(i.startswith("hd-hatch-") for i in ids), ids  # pygal's legend ids are gone


def test_hostile_titles_and_labels_are_escaped():
    svg = charts.bars(HOSTILE, [HOSTILE, "b"], [(HOSTILE, [1, 2]), ("x", [0, 1])])
    assert "<script>" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg
    svg = charts.timeline(HOSTILE, [(HOSTILE, [(0, 1)])], x_labels=[(0, HOSTILE)])
    assert "<script>" not in svg and "<img" not in svg


def bands(svg: str) -> list[tuple[float, float]]:
    found = re.findall(r'<rect class="hd-unknown" x="([\d.]+)" y="0" width="([\d.]+)"', svg)
    return [(float(x), float(w)) for x, w in found]


def test_unknown_values_are_hatched_bands_and_zeros_are_not():
    labels = [f"day {i}" for i in range(10)]
    known = charts.bars("All known", labels, [("n", [0] * 10)])
    assert bands(known) == [] and "hd-hatch" not in known
    svg = charts.bars("Gaps", labels, [("n", [1, None, None, 0, 2, 0, None, 1, 1, 1])])
    (a, wa), (b, wb) = bands(svg)  # days 1-2 (one band), day 6
    assert wa == pytest.approx(2 * wb, rel=0.01) and a < b
    pattern = re.search(r'<pattern id="(hd-hatch-\d+)"', svg).group(1)
    assert svg.count(f'fill="url(#{pattern})"') == 2
    # told, rather than guessed from the values
    svg = charts.lines("Told", labels[:4], [("n", [0, 0, 0, 0])], unknown=[0, 0, 0, 1])
    assert len(bands(svg)) == 1
    # two charts on a page: their patterns do not share an id
    assert re.search(r'<pattern id="(hd-hatch-\d+)"', charts.bars("x", ["a"], [("n", [None])]))
    ids = {
        re.search(r'<pattern id="([^"]+)"', charts.bars("x", ["a"], [("n", [None])])).group(1)
        for _ in range(2)
    }
    assert len(ids) == 2


def test_counts_have_whole_ticks_and_a_phone_sees_few_labels():
    svg = charts.bars("Counts", ["a", "b"], [("n", [1, 3])], whole=True)
    ticks = re.findall(r'<g class="axis y[^"]*">(.*?)</g></g>', svg)[0]
    assert "0.5" not in ticks and ">3<" in ticks
    svg = charts.lines("90 days", [f"d{i}" for i in range(90)], [("n", list(range(90)))])
    axis = re.search(r'<g class="axis x[^"]*">(.*?)</g></g>', svg, re.S).group(0)
    assert len(re.findall(r"<text ", axis)) <= charts.MAX_MAJOR_LABELS


@pytest.mark.parametrize(
    ("value", "top", "level"),
    [
        (None, 3, "heat-unknown"),
        (0, 3, "heat-0"),
        (0.0, 0, "heat-0"),
        (0.1, 4, "heat-1"),
        (1, 4, "heat-2"),
        (2, 4, "heat-3"),
        (3.9, 4, "heat-4"),
        (4, 4, "heat-5"),
        (9, 4, "heat-5"),  # never past the last
    ],
)
def test_the_heatmaps_buckets(value, top, level):
    assert hubwide.heat_level(value, top) == level


def test_the_week_is_in_the_persons_zone_and_unknown_where_nothing_was_recorded():
    monday_9_utc = 4 * 24 + 9  # 1970-01-05 was a Monday
    covered = {monday_9_utc, monday_9_utc + 1}
    week = hubwide.week_of(covered, {monday_9_utc: 2.5}, ZoneInfo("Asia/Tokyo"))  # UTC+9
    assert week[0][18] == 2.5 and week[0][19] == 0.0  # covered, none running: 0
    assert week[0][9] is None and week[3][18] is None  # nothing recorded: unknown
    utc = hubwide.week_of(covered, {monday_9_utc: 2.5}, UTC)
    assert utc[0][9] == 2.5
    usage = hubwide.HubUsage([], [], week)
    assert usage.week_top == 2.5
    header, rows = hubwide.week_table(usage)
    assert header[1] == "Monday" and len(rows) == 24 and rows[18][1] == "2.5"
    assert rows[9][1] == "unknown" and rows[19][1] == "0"


def test_bars_and_dots_say_their_value_on_hover_without_a_script():
    svg = charts.bars("S", ["1 Dec", "2 Dec"], [("started", [2, 0]), ("failed", [1, None])])
    assert "<title>1 Dec, started: 2</title>" in svg and "<title>1 Dec, failed: 1</title>" in svg
    assert "<title>2 Dec, started: 0</title>" in svg and "2 Dec, failed" not in svg  # unknown
    svg = charts.lines("L", ["a", "b"], [(HOSTILE, [1, 2])], dots=True)
    assert "<title>a, &lt;script&gt;" in svg and "<script>" not in svg


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns"])
def test_each_profiles_daily_peak_is_summed_up_by_the_database_as_python_would(tmp_path, zone):
    """profile_peaks: the day of each hour (its start's, in the usage zone, across a change of
    summer time and with offsets of half an hour) worked out by SQL, as day_of does."""
    database = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
    database.upgrade()
    tz = ZoneInfo(zone)
    first = int(datetime(2026, 3, 27, tzinfo=UTC).timestamp() // 3600)  # Paris: 29 March
    hours = range(first, first + 5 * 24)
    with database.write() as conn:
        conn.execute(
            insert(tables.usage_hours),
            [dict(hour=h, profile="small", peak=h % 7, running_sum=0, samples=1) for h in hours],
        )
    expected = {}
    for h in hours:
        day = day_of(h * 3600, tz)
        expected[day] = max(expected.get(day, 0), h % 7)
    got = {
        day: peak for profile, day, peak in hubwide.profile_peaks(database, hours[0], hours[-1], tz)
    }
    assert got == expected
    database.dispose()
