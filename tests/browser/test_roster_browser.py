"""The class roster in a real browser: a group start watched from the roster, ticks, failures.

The roster reads itself again while a server is starting or stopping (hubdesk.js): the
test waits for each row's state with ``expect``, never reloading, never sleeping.
"""

import re

import pytest
from helpers.browser import sign_in
from helpers.cleanup import _delete_group_quietly, _ready, _remove_servers_and_users
from helpers.lessons import lesson_form, schedule
from helpers.stack import unique
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LIVE_MS = 60_000  # a slow spawn is 3 s; the roster looks again every 3 s


def row(page, user: str, server: str = ""):
    return page.locator(f'tr[data-user="{user}"][data-server="{server}"]')


def open_start_form(page):
    """The start form is folded in the bar above the roster (the roster comes first)."""
    page.get_by_test_id("start-panel").locator("summary").click()


def confirm(page, button: str):
    page.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r"/servers/jobs/[0-9a-f]{16}$"))


def test_the_roster_follows_a_group_start_then_a_ticked_stop(stack, page):
    group = unique("roster")
    people = sorted(unique("r") for _ in range(3))
    stack.api.create_users(people)
    try:
        stack.api.create_group(group, users=people)
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"groups/{group}/servers"))
        for person in people:
            expect(row(page, person)).to_contain_text("no server yet")
        open_start_form(page)
        start = page.get_by_test_id("group-start")
        start.get_by_label("Server name").fill("lab")
        start.get_by_label("Profile").select_option(label="Slow to start (demo)")
        start.get_by_role("button", name="Start for everyone…").click()
        confirm(page, "Start for 3 members")
        page.get_by_role("link", name="the roster").first.click()
        page.wait_for_url(stack.url(f"groups/{group}/servers"))
        # the rows come up by themselves: starting, then running
        for person in people:
            expect(row(page, person, "lab")).to_have_attribute(
                "data-state", "running", timeout=LIVE_MS
            )
            assert _ready(stack, person, "lab")
        # tick one, stop it; the others go on
        first = people[0]
        row(page, first, "lab").get_by_role("checkbox").check()
        page.get_by_role("button", name="Stop the ticked servers…").click()
        expect(page.get_by_role("heading", name=f"Stop 1 server of “{group}”?")).to_be_visible()
        confirm(page, "Stop 1 server")
        page.goto(stack.url(f"groups/{group}/servers"))
        expect(row(page, first, "lab")).to_have_attribute("data-state", "stopped", timeout=LIVE_MS)
        for person in people[1:]:
            expect(row(page, person, "lab")).to_have_attribute("data-state", "running")
            assert _ready(stack, person, "lab")
        assert not _ready(stack, first, "lab")
    finally:
        _delete_group_quietly(stack, group)
        _remove_servers_and_users(stack, people)


def test_a_failed_start_shows_as_failed_and_a_refused_form_keeps_its_input(stack, page):
    group = unique("roster")
    people = sorted(unique("f") for _ in range(2))
    stack.api.create_users(people)
    try:
        stack.api.create_group(group, users=people)
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"groups/{group}/servers"))
        open_start_form(page)
        start = page.get_by_test_id("group-start")
        # refused: a server name no hub takes; what was typed and chosen stays
        start.get_by_label("Server name").fill("no/slashes please")
        start.get_by_label("Profile").select_option(label="Large (4 CPU, 16 GB)")
        start.get_by_role("button", name="Start for everyone…").click()
        start = page.get_by_test_id("group-start")  # open again, its field marked
        expect(start.get_by_test_id("field-error")).to_be_visible()
        expect(start.get_by_label("Server name")).to_have_attribute("aria-invalid", "true")
        expect(start.get_by_label("Server name")).to_have_value("no/slashes please")
        expect(start.get_by_label("Profile")).to_have_value("large")
        # a start for the ticked member only, with the profile that always fails
        row(page, people[1]).get_by_role("checkbox").check()
        start.get_by_label("Server name").fill("")
        start.get_by_label("Profile").select_option(label="Always fails (demo)")
        start.get_by_role("button", name="Start for the ticked members…").click()
        expect(
            page.get_by_role("heading", name="Start the default server for 1 member?")
        ).to_be_visible()
        confirm(page, "Start for 1 member")
        verdict = page.get_by_test_id("job-state")
        expect(verdict).to_have_attribute("data-state", "done", timeout=LIVE_MS)
        # read as a person: every member failed, and the words and the colour say so
        expect(verdict).to_have_text("finished — 1 failed")
        red, green, _ = map(
            int, re.findall(r"\d+", verdict.evaluate("e => getComputedStyle(e).backgroundColor"))
        )
        assert red > 150 and green < 100, "the verdict of a failed start is red"
        expect(page.locator(".text-bg-success, .alert-success, .bg-success")).to_have_count(0)
        page.get_by_role("link", name="the roster").first.click()
        failed = row(page, people[1])
        expect(failed).to_have_attribute("data-state", "failed")
        expect(failed.get_by_test_id("failure")).to_contain_text("never starts")
        expect(row(page, people[0])).to_contain_text("no server yet")  # not ticked
        # the user's own page says so too
        page.goto(stack.url(f"users/{people[1]}"))
        expect(page.locator('tr[data-server=""]')).to_have_attribute("data-state", "failed")
        # and so does the users list (one vocabulary: not "stopped" there)
        page.goto(stack.url(f"users/?q={people[1]}"))
        expect(page.locator("[data-testid=users] [data-state]")).to_have_attribute(
            "data-state", "failed"
        )
        expect(page.get_by_test_id("failure")).to_contain_text("never starts")
    finally:
        _delete_group_quietly(stack, group)
        _remove_servers_and_users(stack, people)


def test_the_roster_comes_first_and_follows_a_lesson_until_its_servers_are_stopped(stack, page):
    """At 1280x900 the roster's first row is above the fold (the actions a bar, the lessons
    below); left open through a one-off lesson, the page shows its servers come up, then
    stopped once the lesson's stop (a few seconds after its end) has run: never a reload."""
    group = unique("lesson")
    people = sorted(unique("l") for _ in range(2))
    stack.api.create_users(people)
    try:
        stack.api.create_group(group, users=people)
        schedule(stack.signin("admin"), stack, group, lesson_form(start_in=3, end_in=16))
        sign_in(page, stack, "admin")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(stack.url(f"groups/{group}/servers"))
        first = page.get_by_test_id("roster").locator("tbody tr").first
        expect(first).to_contain_text(people[0])
        top = first.bounding_box()
        assert top["y"] + top["height"] <= 900, top
        assert page.get_by_test_id("group-lessons").bounding_box()["y"] > top["y"]
        for person in people:  # the lesson's start: the rows come up by themselves
            expect(row(page, person, "lab")).to_be_attached(timeout=LIVE_MS)
        for person in people:  # its stop, after its end: shown stopped, not left "running"
            expect(row(page, person, "lab")).to_have_attribute(
                "data-state", "stopped", timeout=LIVE_MS
            )
            assert not _ready(stack, person, "lab")
        # at a phone's width too, the first row is on the first screen
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        top = page.get_by_test_id("roster").locator("tbody tr").first.bounding_box()
        assert top["y"] + top["height"] <= 844, top
    finally:
        _delete_group_quietly(stack, group)
        _remove_servers_and_users(stack, people)
