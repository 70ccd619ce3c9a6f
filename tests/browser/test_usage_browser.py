"""The usage pages' charts in Chromium: at 390 px and at a desktop's width, light and dark,
each chart an image named by its title (``svg[role=img]``) with its numbers as a table, the
SVG within the page (no sideways scroll), its text in the page's colours, axe-core clean
(the phone test's checks: ``check_page``). The group's and the person's pages are checked
once they exist (a 404 here: not merged yet, skipped)."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo

import pytest
from helpers.browser import ARTIFACTS, TIMEOUT_MS
from helpers.cleanup import _delete_group_quietly, _delete_users_quietly
from helpers.stack import unique
from helpers.usage_seed import Seeded, seed
from hubdesk.extensions import shared
from hubdesk.usage.days import date_of, today
from playwright.sync_api import expect
from test_pages_on_a_phone import LAYOUTS, SCHEMES, check_page, signed_in  # noqa: F401

pytestmark = pytest.mark.browser

DAY = 86400
USAGE_PAGES = ["usage/", "usage/groups/{group}", "usage/users/{user}"]
# axe-core takes 2-3 s a run: the hub's page gets every variant, the group's and the person's
# (the same charts and macro) these two, which between them see both widths and both schemes
AXED = {("phone", "light"), ("desktop", "dark")}


@pytest.fixture(scope="module")
def seeded(stack):
    """A week long ago (no other test's days): a group of two, sessions on two profiles, a day
    in a gap (hatched), a start that failed."""
    group, user, other = unique("use-class"), unique("use-ana"), unique("use-bo")
    stack.api.create_users([user, other])
    stack.api.create_group(group, [user, other])
    d0 = today(ZoneInfo("UTC")) - 380
    t0 = d0 * DAY
    sessions = [
        Seeded(
            user,
            t0 + 9 * 3600,
            t0 + 12 * 3600,
            profile="small",
            groups=(group,),
            active=[(t0 + 9 * 3600, t0 + 10 * 3600)],
        ),
        Seeded(
            other,
            t0 + 10 * 3600,
            t0 + 11 * 3600,
            server="labs",
            profile="large",
            groups=(group,),
            active=[(t0 + 10 * 3600, t0 + 10.5 * 3600)],
        ),
        Seeded(
            user, t0 + 4 * DAY + 8 * 3600, t0 + 4 * DAY + 8.1 * 3600, groups=(group,), failed=True
        ),
        Seeded(
            other,
            t0 + 5 * DAY + 14 * 3600,
            t0 + 5 * DAY + 16 * 3600,
            profile="small",
            groups=(group,),
            active=[(t0 + 5 * DAY + 14 * 3600, t0 + 5 * DAY + 15 * 3600)],
        ),
    ]
    seed(
        shared(stack.app).database,
        "UTC",
        sessions,
        coverage=[(t0, t0 + 2 * DAY - 300), (t0 + 3 * DAY, t0 + 7 * DAY - 300)],
    )
    query = f"start={date_of(d0).isoformat()}&end={date_of(d0 + 6).isoformat()}"
    try:
        yield {"group": group, "user": user, "query": query}
    finally:
        _delete_group_quietly(stack, group)
        _delete_users_quietly(stack, [user, other])


# the chart's text drawn in the page's own colour (light and dark alike), its box within the
# window, and each chart's numbers as a table beside it
CHARTS = """() => [...document.querySelectorAll("svg[role=img]")].map((svg) => {
  const text = svg.querySelector(".axis text");
  const box = svg.getBoundingClientRect();
  return {
    name: svg.getAttribute("aria-label"),
    table: !!svg.closest("figure") && !!svg.closest("figure").querySelector("table th"),
    fill: text ? getComputedStyle(text).fill : "",
    body: getComputedStyle(document.body).color,
    right: box.right, width: box.width,
  };
})"""


@pytest.mark.parametrize("path", USAGE_PAGES)
def test_usage_charts_at_a_phone_and_a_desktop_in_light_and_dark(
    stack,
    browser,
    signed_in,  # noqa: F811 (the phone test's fixture, imported)
    seeded,
    path,
):
    url = stack.url(path.format(**seeded) + "?" + seeded["query"])
    context = browser.new_context(storage_state=signed_in, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"script error: {e}"))
    try:
        for layout, size in LAYOUTS.items():
            for scheme in SCHEMES:
                page.set_viewport_size(size)
                page.emulate_media(color_scheme=scheme)
                response = page.goto(url)
                if response.status == 404 and path != "usage/":
                    pytest.skip(f"{path}: not in this branch yet (404)")
                assert response.status == 200, (path, response.status)
                expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
                images = page.locator("svg[role=img]")
                expect(images.first).to_be_visible()
                found = page.evaluate(CHARTS)
                for chart in found:
                    assert chart["name"] and chart["table"], (layout, scheme, chart)
                    assert chart["fill"] == chart["body"], (layout, scheme, chart)
                    assert chart["right"] <= size["width"] and chart["width"] > 300, chart
                if path == "usage/":
                    peaks = page.get_by_role("img", name="Running servers at each day's peak")
                    expect(peaks).to_be_visible()
                    week = page.get_by_role("table", name="Average running servers")
                    expect(week).to_be_visible()
                    assert page.locator("svg .hd-unknown").count() == 2  # the gap, in each
                if os.environ.get("HUBDESK_SAVE_PAGES"):  # to look at them: test-artifacts/pages/
                    name = path.split("/")[1] or "hub"
                    shot = ARTIFACTS / "pages" / f"usage-{name}-{layout}-{scheme}.png"
                    page.screenshot(path=str(shot), full_page=True)
                if path != "usage/" and (layout, scheme) not in AXED:
                    continue  # the charts' own checks above; axe-core and the rest at two
                problems = check_page(page, layout, scheme)
                assert not problems, f"{path} at {layout}, {scheme}:\n- " + "\n- ".join(problems)
    finally:
        context.close()
