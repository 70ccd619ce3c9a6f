"""Times in the person's time zone, in a browser whose zone is not UTC (Asia/Kolkata): the
first page says UTC, every page after it shows local times and names the zone once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from helpers.browser import TIMEOUT_MS, sign_in
from helpers.lessons import lesson_form, schedule
from helpers.servers import post
from helpers.stack import wait_for
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ZONE = "Asia/Kolkata"  # UTC+05:30 all year: no clock change to reckon with


def shown_in(page, zone: str) -> list[tuple[str, str]]:
    """(shown, as it should read in ``zone``) for each <time> of the page's main part."""
    pairs = []
    for t in page.locator("main time").all():
        at = datetime.fromisoformat(t.get_attribute("datetime")).astimezone(ZoneInfo(zone))
        shown = t.inner_text()
        pairs.append((shown, at.strftime("%Y-%m-%d %H:%M" + (":%S" if len(shown) > 16 else ""))))
    return pairs


def test_times_in_the_browsers_zone_named_once(stack, browser, admin):
    # a lesson at 09:00–10:00 in Rome (UTC+1 in January): 13:30–14:30 in Kolkata
    data = lesson_form(tz="Europe/Rome", day="2099-01-05", starts="09:00", ends="10:00", lead="1")
    lesson = schedule(admin, stack, "class-b", data)
    context = browser.new_context(locale="en-US", timezone_id=ZONE)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, stack, "admin")  # hubdesk.js tells the server the zone on that page
        wait_for(lambda: any(c["name"] == "hubdesk-zone" for c in context.cookies()))
        zone_cookie = next(c for c in context.cookies() if c["name"] == "hubdesk-zone")
        # Chromium names it by its old name, as browsers do: shown by its current one
        assert zone_cookie["value"] in (ZONE, "Asia/Calcutta") and zone_cookie["sameSite"] == "Lax"
        assert zone_cookie["path"] == "/services/hubdesk/", zone_cookie

        # as on a first page: the server does not know the zone yet, and says so
        context.clear_cookies(name="hubdesk-zone")
        page.goto(stack.url("users/admin"))
        footer = page.get_by_test_id("time-zone")
        expect(footer).to_have_text(
            "Times in UTC: your browser's time zone is not known yet."
            " From the next page on, in your browser's time zone."
        )
        assert shown_in(page, "UTC") and all(a == b for a, b in shown_in(page, "UTC"))

        # from the next page on: local times, the zone named once, no UTC label anywhere
        page.reload()
        expect(footer).to_have_text(f"Times in {ZONE} (your browser's time zone).")
        pairs = shown_in(page, ZONE)
        assert pairs and all(a == b for a, b in pairs), pairs
        body = page.locator("body").inner_text()
        assert "UTC" not in body and body.count(ZONE) == 1, body

        # a lesson in another zone: its hours in its own zone once, the next one in yours
        page.goto(stack.url("groups/class-b/servers"))
        card = page.locator(f'[data-lesson="{lesson}"]')
        expect(card).to_contain_text("09:00–10:00 (Europe/Rome)")
        expect(card).to_contain_text(
            "Next: 2099-01-05 13:30–14:30 your time, servers from 1 minute before"
        )
        expect(footer).to_have_text(f"Times in {ZONE} (your browser's time zone).")
        page.goto(stack.url("lessons/?limit=200"))
        expect(page.locator(f'tr[data-lesson="{lesson}"] td').first).to_have_text(
            "2099-01-05 13:30–14:30 your time"
        )
    finally:
        context.close()
        post(admin, stack, f"groups/class-b/lessons/{lesson}/cancel", {}, "lessons/")
