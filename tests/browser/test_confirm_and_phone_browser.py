"""One confirmation pattern, post/redirect/get, and rows on a phone, in a real Chromium.

At 390 px every row's actions are within the window (rows stack as cards, no table scrolls
sideways) on a user's page, a roster and the running list, and names break after their
separators. Stopping a server, taking someone out of a group and cancelling the rest of a job
each ask on a page of their own (never the browser's native dialog), and a reload of where
each change leads sends nothing again.
"""

from __future__ import annotations

import sys

import pytest
from helpers.browser import TIMEOUT_MS, save_artifacts, sign_in
from helpers.servers import running
from helpers.stack import unique, wait_for
from hubdesk.extensions import shared
from hubdesk.hub import HubAPIError
from hubdesk.jobs import HubStopSpec
from hubdesk.servers.stops import KIND
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SERVER = "project-alpha-notebook"  # breaks after its hyphens, never inside a word


@pytest.fixture
def phone(browser, request):
    """A page 390 px wide; ``phone.dialogs`` collects every native dialog that opens."""
    context = browser.new_context(viewport=PHONE, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    try:
        yield page
    finally:
        # loaded by pytest_plugins, not imported here: pytest rewrites its asserts only so
        if sys.modules["helpers.browser_plugin"]._failed(request.node):
            for path in save_artifacts(page, request.node.name):
                print(f"saved {path}")
        context.close()


@pytest.fixture
def world(stack):
    user = unique("phone-confirm")
    group = unique("a-class-with-a-rather-long-name")
    stack.api.create_users([user])
    stack.api.create_group(group, [user])
    stack.api.start_server(user, SERVER, {"profile": "small"})
    try:
        wait_for(lambda: running(stack, user, SERVER))
        yield user, group
    finally:
        try:
            stack.api.stop_server(user, SERVER, remove=True)
        except HubAPIError:
            pass
        wait_for(lambda: not (stack.api.get_user(user).get("servers") or {}).get(SERVER))
        stack.api.delete_group(group)
        stack.api.request("DELETE", "users", user)


def within_the_phone(page, row):
    """Every action of ``row`` shown inside the window, and nothing scrolls sideways."""
    actions = row.locator("a, button, input[type=checkbox]")
    assert actions.count(), "no actions in the row"
    for action in actions.all():
        expect(action).to_be_visible()
        box = action.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (
            action.inner_text() or action.get_attribute("aria-label"),
            box,
        )
    wide = page.evaluate(
        """() => [document.documentElement.scrollWidth,
                  ...[...document.querySelectorAll('.table-responsive')].map(
                      (b) => b.scrollWidth - b.clientWidth)]"""
    )
    assert wide[0] <= PHONE["width"] and not any(w > 0 for w in wide[1:]), wide


def no_post_on_reload(page):
    """Reload the page where a change led: a GET, so nothing is sent again."""
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.reload()
    page.wait_for_load_state()
    assert posts == [], posts


def test_rows_on_a_phone_and_every_change_asked_on_a_page(stack, world, phone):
    user, group = world
    page = phone
    sign_in(page, stack, "admin")

    # the user's page: its servers and its groups, each row a card with its actions in reach
    page.goto(stack.url(f"users/{user}"))
    servers = page.get_by_test_id("servers")
    row = servers.locator(f'tr[data-server="{SERVER}"]')
    within_the_phone(page, row)
    name = row.locator("td").first
    expect(name.locator("wbr")).to_have_count(SERVER.count("-"))
    assert name.evaluate("(td) => getComputedStyle(td).wordBreak") == "normal"
    within_the_phone(page, page.get_by_test_id("user-groups").locator("tr").first)
    # the roster and the running list
    page.goto(stack.url(f"groups/{group}/servers"))
    within_the_phone(page, page.get_by_test_id("roster").locator(f'tr[data-user="{user}"]'))
    page.goto(stack.url("servers/?limit=200"))
    within_the_phone(
        page, page.get_by_test_id("running").locator(f'tr[data-server="{user}/{SERVER}"]')
    )

    # stop: its page asks, its button stops, back on the user's page
    page.goto(stack.url(f"users/{user}"))
    row.get_by_role("link", name="Stop…").click()
    expect(page.get_by_role("heading", name=f"Stop “{SERVER}” of {user}?")).to_be_visible()
    page.get_by_role("button", name=f"Stop “{SERVER}” of {user}").click()
    page.wait_for_url(stack.url(f"users/{user}"))
    expect(page.get_by_role("alert")).to_contain_text(f"“{SERVER}” of {user}")
    no_post_on_reload(page)

    # remove from group: asked first too
    page.get_by_test_id("user-groups").get_by_role("link", name="Remove from group…").click()
    expect(page.get_by_role("heading", name=f"Remove {user} from “{group}”?")).to_be_visible()
    assert user in stack.api.get_group(group)["users"]  # asking changed nothing
    page.get_by_role("button", name=f"Remove from “{group}”").click()
    page.wait_for_url(stack.url(f"users/{user}"))
    expect(page.get_by_test_id("user-groups")).to_contain_text("In no group.")
    assert user not in stack.api.get_group(group)["users"]
    no_post_on_reload(page)

    # cancel the rest of a job under way (held by a worker elsewhere: nothing runs it here)
    with stack.app.app_context():
        job = shared(stack.app).jobs.store.create(
            KIND,
            "",
            by="admin",
            spec=HubStopSpec(servers=((unique("ghost"), ""),)),
            scopes=[],
            items=[("0", "")],
            owner=unique("elsewhere"),
        )
    page.goto(stack.url(f"servers/jobs/{job}"))
    page.get_by_role("link", name="Cancel the rest…").click()
    expect(page.get_by_role("heading", name="Cancel this stop?")).to_be_visible()
    page.get_by_role("button", name="Cancel the rest").click()
    page.wait_for_url(stack.url(f"servers/jobs/{job}"))
    expect(page.get_by_test_id("job-cancelled")).to_contain_text("Cancelled by admin")
    no_post_on_reload(page)

    assert page.dialogs == [], page.dialogs  # no native confirm() anywhere
