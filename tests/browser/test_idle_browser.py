"""Idle servers across the whole hub, in a browser: the running-servers filter across pages
of people (the crowd of tests/helpers/idle.py; the rest of it: tests/hub/test_idle.py)."""

from __future__ import annotations

import re

import pytest
from helpers.browser import sign_in
from helpers.idle import ready
from playwright.sync_api import expect


@pytest.mark.browser
def test_the_filter_in_a_browser_across_pages_of_people(stack, page, crowd):
    crowd.ready()
    sign_in(page, stack, "admin")
    page.goto(stack.url("servers/?limit=25&sort=recent"))
    table = page.get_by_test_id("running")
    expect(page.get_by_test_id("range")).to_contain_text("1–25 of")
    shown = {u for u in crowd.idle if table.get_by_role("link", name=u, exact=True).count()}
    assert len(shown) < len(crowd.idle)  # some are on the next page of people

    page.get_by_label("Idle for at least").fill("0.02")
    page.get_by_label("Unit of time").select_option("minutes")
    page.get_by_role("button", name="Show", exact=True).first.click()
    page.wait_for_url(re.compile(r"idle=0\.02"))
    expect(page.get_by_test_id("summary")).to_contain_text("been idle for at least 1 second")
    for u in crowd.idle:
        expect(table.get_by_role("link", name=u, exact=True)).to_be_visible()
    for u in crowd.back:
        expect(table.get_by_role("link", name=u, exact=True)).to_have_count(0)

    page.get_by_test_id("stop-all").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Stop \d+ servers idle"))).to_be_visible()
    named = page.get_by_test_id("to-stop")
    for u in crowd.idle[:5]:
        expect(named).to_contain_text(f"the default server of {u}")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_test_id("summary")).to_contain_text("at least 1 second")
    assert all(ready(stack, u) for u in crowd.idle)
