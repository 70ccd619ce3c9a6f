"""Times in the zone the browser's cookie names, rendered by the server (no JavaScript here:
the browser's side is tests/browser/test_times_browser.py)."""

import html
import re

import pytest

FOOTER = re.compile(r'data-testid="time-zone"[^>]*>([^<]*)</footer>')


def zone_page(stack, session, cookie: str | None) -> str:
    """The admin's user page (it shows times) with this zone cookie (None: none)."""
    r = session.get(
        stack.url("users/admin"), cookies={} if cookie is None else {"hubdesk-zone": cookie}
    )
    assert r.status_code == 200
    return r.text


@pytest.mark.parametrize(
    ("cookie", "said", "title"),
    [
        (None, "Times in UTC: your browser's time zone is not known yet.", "UTC"),
        ("Europe/Rome", "Times in Europe/Rome (your browser's time zone).", "Europe/Rome"),
        ("Asia/Calcutta", "Times in Asia/Kolkata (your browser's time zone).", "Asia/Kolkata"),
        ("../../etc/passwd", "Times in UTC: your browser's time zone is not known yet.", "UTC"),
        (
            "<script>alert(1)</script>",
            "Times in UTC: your browser's time zone is not known yet.",
            "UTC",
        ),
    ],
)
def test_the_page_names_the_zone_once_and_shows_times_in_it(stack, admin, cookie, said, title):
    page = zone_page(stack, admin, cookie)
    assert [html.unescape(f) for f in FOOTER.findall(page)] == [said]
    titles = re.findall(r'<time datetime="[^"]+" title="[^"]+ ([^" ]+)">', page)
    assert titles and set(titles) == {title}
    assert "<script>alert" not in page and " UTC</" not in page
