"""The Activity page's CSV: every record its filter matches (all the page's pages, in its
order), times in the person's zone, names a spreadsheet would run as formulas neutralised;
refused to whoever may not read the Activity page."""

import csv
import html
import io
import re
from datetime import datetime

from helpers.stack import unique
from hubdesk import activity_csv
from hubdesk.extensions import shared

RECORDS = 57  # more than a page (50)


def said_on_every_page(stack, session, url: str) -> list[str]:
    """The sentences of the Activity page's records, over all its pages."""
    said = []
    while url:
        page = session.get(url).text
        said += [
            html.unescape(re.sub(r"<[^>]+>", "", s)).strip()
            for s in re.findall(r'<p class="mb-1" data-testid="said">(.*?)</p>', page, re.S)
        ]
        older = re.search(r'<a href="([^"]+)" data-testid="older">', page)
        url = stack.hub.public_url + html.unescape(older[1]) if older else None
    return said


def test_the_csv_holds_every_record_of_the_filter_in_the_persons_zone(stack, admin, monkeypatch):
    group, formula = unique("csv"), '=HYPERLINK("http://x")'
    trail = shared(stack.app).audit
    for i in range(RECORDS):
        trail.record(
            "group.members.add",
            {"group": group, "users": [f"{formula}{i}" if i % 10 == 0 else f"u{i}"], "count": 1},
            person="@admin" if i == 0 else "lead",
            outcome="200",
        )
    trail.record("group.create", {"group": unique("other")}, person="lead", outcome="201")
    monkeypatch.setattr(activity_csv, "BATCH", 7)  # several batches for a few records

    page_url = stack.url(f"activity?group={group}")
    page = admin.get(page_url).text
    link = re.search(r'data-testid="csv" href="([^"]+)"', page)[1]
    assert html.unescape(link).endswith(f"activity.csv?group={group}")
    admin.cookies.set("hubdesk-zone", "America/St_Johns")  # -03:30 in summer, -02:30 in winter
    try:
        got = admin.get(stack.hub.public_url + html.unescape(link))
    finally:
        admin.cookies.set("hubdesk-zone", None)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in got.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(got.text)))
    assert lines[0][0] == "time (America/St_Johns)"
    rows = lines[1:]
    assert len(rows) == RECORDS
    assert [r[3] for r in rows] == said_on_every_page(stack, admin, page_url)  # the page's order
    assert {r[4] for r in rows} == {group} and {r[2] for r in rows} == {"group.members.add"}
    assert all(re.search(r"-0[23]:30$", r[0]) for r in rows)
    times = [datetime.fromisoformat(r[0]) for r in rows]
    assert times == sorted(times, reverse=True)  # newest first, as the page
    assert rows[-1][1] == "'@admin"  # a cell a spreadsheet would run: text
    named = [r[5] for r in rows if "HYPERLINK" in r[5]]
    assert len(named) == 6 and all(n.startswith("'=") for n in named)
    assert {r[6] for r in rows} == {"done"}

    # a filter the page takes is the download's too: one person, no record of theirs
    only = admin.get(stack.url(f"activity.csv?group={group}&person=nobody-{group}")).text
    assert len(list(csv.reader(io.StringIO(only)))) == 1  # the header alone


def test_the_csv_is_refused_without_the_activity_pages_scopes(stack):
    helpdesk = stack.signin("helpdesk")
    assert helpdesk.get(stack.url("activity.csv")).status_code == 403
    page = helpdesk.get(stack.url("activity"))
    assert page.status_code == 403 and 'data-testid="csv"' not in page.text
