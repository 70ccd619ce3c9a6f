"""hubdesk in a real browser: sign-in through the hub, sign-out, a form, a screenshot.

Fixtures ``browser`` and ``page`` come from tests/helpers/browser_plugin.py, loaded as a plugin
by tests/conftest.py; failed tests leave a screenshot and the HTML in test-artifacts/.
"""

import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers.browser import SCREENSHOTS, sign_in
from helpers.cleanup import (
    _delete_group_quietly,
    _delete_users_quietly,
    _hub_wait,
    _ready,
    _remove_servers_and_users,
    _servers_of,
)
from helpers.stack import PREFIX, unique
from hubdesk.hub import HubAPIError
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_admin_signs_in_and_sees_home(stack, page):
    sign_in(page, stack, "admin")
    expect(page.get_by_test_id("whoami")).to_have_text("admin")
    expect(page.get_by_role("heading", name="Hello, admin")).to_be_visible()
    expect(page.get_by_test_id("counts")).to_be_visible()
    expect(page.get_by_test_id("counts").locator(".card")).to_have_count(3)
    expect(page.get_by_test_id("counts")).to_contain_text("groups")
    expect(page.get_by_role("navigation").get_by_role("link", name="Groups")).to_be_visible()
    expect(page).to_have_title("Home · hubdesk")


def test_person_without_access_is_refused(stack, page):
    response = sign_in(page, stack, "student", expect_hubdesk=False)
    assert response.status == 403
    # the hub's own error page, not hubdesk's
    assert page.url.startswith(f"{stack.hub.public_url}/hub/api/oauth2/authorize")
    expect(page.get_by_role("heading", name=re.compile(r"^403"))).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_have_count(0)


def test_admin_signs_out(stack, page):
    sign_in(page, stack, "admin")
    page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    page.wait_for_url(stack.url("signed-out"))
    expect(page.get_by_role("heading", name="You have signed out of hubdesk")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_have_count(0)

    # the hub session is still alive: the hub hands hubdesk a new token without
    # asking for the password again, and hubdesk's home page comes back
    page.goto(stack.url())
    page.wait_for_url(stack.url())
    expect(page.get_by_test_id("whoami")).to_have_text("admin")


def test_admin_creates_a_group(stack, page):
    name = unique("browser")
    sign_in(page, stack, "admin")
    try:
        page.get_by_role("navigation").get_by_role("link", name="Groups").click()
        page.wait_for_url(stack.url("groups/"))
        page.get_by_text("New group").click()
        page.get_by_label("Group name").fill(name)
        page.get_by_role("button", name="Create group").click()
        page.wait_for_url(stack.url(f"groups/{name}"))
        expect(page.get_by_role("alert")).to_contain_text(name)
        expect(page.locator(".alert-success")).to_contain_text(f"Created group “{name}”.")
        assert stack.api.get_group(name)["name"] == name
    finally:
        try:
            stack.api.delete_group(name)
        except HubAPIError:
            pass  # never created: the assertions above say why


def test_screenshot_of_home_for_the_readme(stack, page):
    sign_in(page, stack, "admin")
    expect(page.get_by_test_id("counts")).to_be_visible()
    page.evaluate("document.fonts.ready")
    out = SCREENSHOTS / "screenshot-home.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), animations="disabled", caret="hide")
    assert Path(out).stat().st_size > 10_000


# -- groups: the whole life of a group, as people do it -----------------------------


def _on_group_page(page, stack, name: str):
    """Wait until the browser shows the page of group ``name`` (the URL is percent-encoded)."""
    page.wait_for_url(lambda url: unquote(url) == stack.url(f"groups/{name}"))
    expect(page.get_by_test_id("group-name")).to_have_text(name)


def test_group_lifecycle_in_the_browser(stack, page):
    name = f"{unique('Cours')} été"  # a space and a non-Latin letter: quoting everywhere
    people = [unique("u") for _ in range(3)]
    stack.api.create_users(people)
    sign_in(page, stack, "admin")
    try:
        # create
        page.get_by_role("navigation").get_by_role("link", name="Groups").click()
        page.wait_for_url(stack.url("groups/"))
        page.get_by_text("New group").click()
        page.get_by_label("Group name").fill(name)
        page.get_by_role("button", name="Create group").click()
        _on_group_page(page, stack, name)
        expect(page.locator(".alert-success")).to_contain_text(f"Created group “{name}”.")
        expect(page.get_by_test_id("member-count")).to_have_text("0")

        # add three, separated by a comma, a new line and a space
        page.get_by_label("User names").fill(f"{people[0]},\n{people[1]} {people[2]}")
        page.get_by_role("button", name="Add members").click()
        _on_group_page(page, stack, name)
        expect(page.locator(".alert-success")).to_contain_text("Added 3 members")
        expect(page.get_by_test_id("member-count")).to_have_text("3")
        for person in people:
            expect(page.get_by_test_id("members")).to_contain_text(person)
        assert sorted(stack.api.get_group(name)["users"]) == sorted(people)

        # remove them all with "select all" (shown by hubdesk.js)
        select_all = page.locator("input[data-select-all]")
        expect(select_all).to_be_visible()
        select_all.check()
        expect(page.get_by_role("checkbox", name=re.compile(r"^Select u-"))).to_have_count(3)
        for box in page.locator("input[name=member]").all():
            expect(box).to_be_checked()
        page.get_by_role("button", name="Remove selected…").click()
        expect(page.get_by_role("heading", name=f"Remove 3 members from “{name}”?")).to_be_visible()
        for person in people:
            expect(page.get_by_test_id("to-remove")).to_contain_text(person)
        page.get_by_role("button", name="Remove 3 members").click()
        _on_group_page(page, stack, name)
        expect(page.locator(".alert-success")).to_contain_text("Removed 3 members")
        expect(page.get_by_test_id("member-count")).to_have_text("0")
        expect(page.get_by_test_id("members")).to_contain_text("No members yet.")
        assert stack.api.get_group(name)["users"] == []

        # delete
        page.get_by_role("link", name="Delete group").click()
        page.wait_for_url(lambda url: unquote(url) == stack.url(f"groups/{name}/delete"))
        expect(page.get_by_role("heading", name=f"Delete the group “{name}”?")).to_be_visible()
        expect(page.get_by_test_id("delete-count")).to_have_text("0 members")
        page.get_by_role("button", name=f"Delete “{name}”").click()
        page.wait_for_url(stack.url("groups/"))
        expect(page.locator(".alert-success")).to_contain_text(f"Deleted group “{name}”.")
        expect(page.get_by_test_id("groups").get_by_role("link", name=name)).to_have_count(0)
        with pytest.raises(HubAPIError) as gone:
            stack.api.get_group(name)
        assert gone.value.status == 404
    finally:
        _delete_group_quietly(stack, name)
        _delete_users_quietly(stack, people)


def test_unknown_names_are_listed_before_adding(stack, page):
    name = unique("unknowns")
    known = unique("known")
    strangers = [unique("nobody"), unique("nobody")]
    stack.api.create_users([known])
    stack.api.create_group(name)
    sign_in(page, stack, "admin")
    try:
        page.goto(stack.url(f"groups/{name}"))
        _on_group_page(page, stack, name)
        page.get_by_label("User names").fill("\n".join([strangers[0], known, strangers[1]]))
        page.get_by_role("button", name="Add members").click()

        unknown = page.get_by_test_id("unknown")
        expect(unknown).to_contain_text("2 names are not users on the hub")
        expect(unknown.get_by_test_id("unknown-names").locator(".badge")).to_have_text(strangers)
        expect(page.get_by_test_id("to-add")).to_have_text(known)
        assert stack.api.get_group(name)["users"] == []  # nothing changes before the choice

        page.get_by_role("button", name="Add the 1 known user").click()
        _on_group_page(page, stack, name)
        done = page.locator(".alert-success")
        expect(done).to_contain_text(f"Added 1 member to “{name}”: {known}.")
        # the final message names who was left out, and why
        expect(done).to_contain_text("Skipped 2 names (no such user on the hub)")
        for stranger in strangers:
            expect(done).to_contain_text(stranger)
        expect(page.get_by_test_id("member-count")).to_have_text("1")
        assert stack.api.get_group(name)["users"] == [known]
        for stranger in strangers:
            with pytest.raises(HubAPIError) as missing:
                stack.api.get_user(stranger)
            assert missing.value.status == 404  # not created on the way
    finally:
        _delete_group_quietly(stack, name)
        _delete_users_quietly(stack, [known])


def test_teacher_sees_only_their_group(stack, page):
    sign_in(page, stack, "teacher")
    page.get_by_role("navigation").get_by_role("link", name="Groups").click()
    page.wait_for_url(stack.url("groups/"))
    groups = page.get_by_test_id("groups")
    expect(groups.get_by_role("link", name="class-a", exact=True)).to_be_visible()
    expect(groups.get_by_role("link", name="class-b", exact=True)).to_have_count(0)
    expect(page.get_by_text("New group")).to_have_count(0)
    expect(page.get_by_test_id("create-group")).to_have_count(0)

    groups.get_by_role("link", name="class-a", exact=True).click()
    _on_group_page(page, stack, "class-a")
    expect(page.get_by_test_id("add-members")).to_be_visible()
    expect(page.get_by_role("button", name="Add members")).to_be_visible()
    expect(page.get_by_test_id("members")).to_contain_text("student")
    expect(page.get_by_role("link", name="Delete group")).to_have_count(0)


README_PEOPLE = [
    "ada", "alan", "barbara", "edsger", "frances", "grace",
    "guido", "katherine", "linus", "margaret", "radia", "tim",
]  # fmt: skip


def test_screenshot_of_a_group_for_the_readme(stack, page):
    name = unique("class-demo")
    suffix = name.rsplit("-", 1)[1][:4]
    people = [f"{first}-{suffix}" for first in README_PEOPLE]
    properties = {"course": "Intro to Python", "max_servers": 2, "tags": ["python", "beginners"]}
    stack.api.create_users(people)
    try:
        stack.api.create_group(name, users=people)
        stack.api.set_group_properties(name, properties)
        page.set_viewport_size({"width": 1200, "height": 900})
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"groups/{name}"))
        _on_group_page(page, stack, name)
        expect(page.get_by_test_id("member-count")).to_have_text(str(len(people)))
        expect(page.get_by_test_id("properties")).to_contain_text("Intro to Python")
        expect(page.locator("input[data-select-all]")).to_be_visible()
        page.evaluate("document.fonts.ready")
        out = SCREENSHOTS / "screenshot-group.png"
        out.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(out), animations="disabled", caret="hide")
        assert Path(out).stat().st_size > 10_000
    finally:
        _delete_group_quietly(stack, name)
        _delete_users_quietly(stack, people)


# -- servers: start, watch, stop and remove, as the help desk does it ---------------------


def _reload_until(page, check, seconds=30):
    """Reload ``page`` until ``check()`` (an ``expect`` with a short timeout) passes."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def _on_user_page(page, stack, name: str):
    page.wait_for_url(stack.url(f"users/{name}"))
    expect(page.get_by_test_id("user-name")).to_contain_text(name)


def _start_from_user_page(page, name: str, server: str, profile: str):
    """Fill the user page's "Start a server for …" form and submit it."""
    start = page.get_by_test_id("start-server")
    summary = start.locator("summary")
    expect(summary).to_have_text(f"Start a server for {name}")
    if not start.evaluate("details => details.open"):
        summary.click()
    start.get_by_label("Server name").fill(server)
    start.get_by_label("Profile").select_option(label=profile)
    start.get_by_role("button", name="Start server").click()


def test_helpdesk_flow_in_the_browser(stack, page):
    name = unique("hd")
    stack.api.create_users([name])
    stack.api.add_group_members("class-a", [name])
    stack.groups_changed_elsewhere()
    try:
        sign_in(page, stack, "helpdesk")

        # find the person
        page.get_by_role("navigation").get_by_role("link", name="Users").click()
        page.wait_for_url(stack.url("users/"))
        page.get_by_role("searchbox", name="Find a user by name").fill(name)
        page.get_by_role("button", name="Find").click()
        page.wait_for_url(f"{stack.url('users/')}?**")
        users = page.get_by_test_id("users")
        expect(users.locator("tbody tr")).to_have_count(1)
        users.get_by_role("link", name=name, exact=True).click()
        _on_user_page(page, stack, name)
        # a user who never had a server: the hub lists their default server, stopped
        expect(page.get_by_test_id("servers").locator('tr[data-server="labs"]')).to_have_count(0)

        # start a slow server and watch it come up
        _start_from_user_page(page, name, "labs", "Slow to start (demo)")
        page.wait_for_url(stack.url(f"users/{name}/servers/labs/progress"))
        # the messages, in order (through the pip-installable proxy of the test hub
        # they arrive all at once when the spawn ends: see README, "About the proxy")
        events = page.get_by_test_id("events")
        expect(events.locator("li", has_text="step 1 of 3")).to_have_count(1)
        expect(events.locator("li", has_text="step 3 of 3")).to_have_count(1)
        expect(events.locator("li", has_text=re.compile(r"step \d of 3"))).to_have_text(
            [re.compile(rf"step {n} of 3") for n in (1, 2, 3)]
        )
        outcome = page.get_by_test_id("outcome")
        expect(outcome.locator(".alert-success")).to_contain_text("Ready — open the server")
        link = outcome.get_by_role("link", name="open the server")
        expect(link).to_have_attribute("href", re.compile(rf"/user/{name}/labs/$"))
        meter = page.get_by_role("progressbar", name="Spawn progress")
        expect(meter).to_have_attribute("aria-valuenow", "100")
        expect(page.locator("h1 [data-state]")).to_have_text("running")  # the badge follows
        expect(meter.locator(".progress-bar")).to_have_attribute(
            "style", re.compile(r"width: 100%")
        )
        assert _ready(stack, name, "labs")

        # back on the user's page: stop it
        page.get_by_role("link", name=f"Back to {name}").click()
        _on_user_page(page, stack, name)
        row = page.get_by_test_id("servers").locator('tr[data-server="labs"]')
        expect(row.locator("[data-state]")).to_have_attribute("data-state", "running")
        expect(row).to_contain_text("Slow to start (demo)")
        row.get_by_role("link", name="Stop…").click()  # its page asks first
        expect(page.get_by_role("heading", name=f"Stop “labs” of {name}?")).to_be_visible()
        page.get_by_role("button", name=f"Stop “labs” of {name}").click()
        _on_user_page(page, stack, name)
        expect(page.get_by_role("alert")).to_contain_text(
            re.compile(rf"Stopped “labs” of {name}|“labs” of {name} is stopping")
        )
        _reload_until(
            page,
            lambda: expect(row.locator("[data-state]")).to_have_attribute(
                "data-state", "stopped", timeout=1_000
            ),
        )

        # remove it
        row.get_by_role("link", name="Remove…").click()
        page.wait_for_url(stack.url(f"users/{name}/servers/labs/remove"))
        expect(
            page.get_by_role("heading", name=f"Remove the server “labs” of {name}?")
        ).to_be_visible()
        page.get_by_role("button", name="Remove “labs”").click()
        _on_user_page(page, stack, name)
        expect(page.get_by_role("alert")).to_contain_text(
            re.compile(rf"Removed “labs” of {name}|will then be removed")
        )
        _reload_until(page, lambda: expect(row).to_have_count(0, timeout=1_000))
        assert "labs" not in _servers_of(stack, name)
    finally:
        try:
            stack.api.remove_group_members("class-a", [name])
        except HubAPIError:
            pass
        stack.groups_changed_elsewhere()
        _remove_servers_and_users(stack, [name])


def test_the_group_field_suggests_names_as_the_admin_types(stack, page):
    name = unique("sug")
    group = unique("suggested")
    stack.api.create_users([name])
    stack.api.create_group(group)
    stack.groups_changed_elsewhere()
    try:
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"users/{name}"))
        _on_user_page(page, stack, name)
        field = page.get_by_role("combobox", name="Group")
        field.press_sequentially(group[:12])  # "suggested-" and two hex digits
        options = page.locator("#group-choices option")
        expect(options).to_have_count(1)
        expect(options.first).to_have_attribute("value", group)
        field.fill(group)
        page.get_by_role("button", name="Add to group").click()
        _on_user_page(page, stack, name)
        expect(page.get_by_role("alert")).to_contain_text(f"Added {name} to “{group}”")
        assert stack.api.get_group(group)["users"] == [name]
    finally:
        stack.api.delete_group(group)
        stack.groups_changed_elsewhere()
        stack.api.request("DELETE", "users", name)


def test_failed_spawn_is_shown_in_the_browser(stack, page):
    name = unique("fail")
    stack.api.create_users([name])
    try:
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"users/{name}"))
        _on_user_page(page, stack, name)
        _start_from_user_page(page, name, "oops", "Always fails (demo)")
        page.wait_for_url(stack.url(f"users/{name}/servers/oops/progress"))
        failure = page.get_by_test_id("outcome").locator(".alert-danger")
        expect(failure).to_contain_text("never starts")
        expect(
            page.get_by_test_id("outcome").get_by_role("link", name="open the server")
        ).to_have_count(0)
        server = _servers_of(stack, name)["oops"]
        assert not server.get("ready")
    finally:
        _remove_servers_and_users(stack, [name])


def test_group_start_in_the_browser(stack, page):
    group = unique("lab-group")
    people = sorted(unique("g") for _ in range(5))
    stack.api.create_users(people)
    try:
        stack.api.create_group(group, users=people)
        stack.groups_changed_elsewhere()
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"groups/{group}"))
        _on_group_page(page, stack, group)
        page.get_by_role("link", name="Servers…").click()
        page.wait_for_url(stack.url(f"groups/{group}/servers"))
        page.get_by_test_id("start-panel").locator("summary").click()  # folded
        start = page.get_by_test_id("group-start")
        start.get_by_label("Server name").fill("lab")
        start.get_by_label("Profile").select_option(label="Small (1 CPU, 2 GB)")
        start.get_by_role("button", name="Start for everyone…").click()

        expect(
            page.get_by_role("heading", name=f"Start “lab” for everyone in “{group}” (5 members)?")
        ).to_be_visible()
        page.get_by_role("button", name="Start for 5 members").click()
        page.wait_for_url(re.compile(r"/servers/jobs/[0-9a-f]{16}$"))
        # the page reloads itself every 2 s while the job runs
        expect(page.get_by_test_id("job-state")).to_have_attribute(
            "data-state", "done", timeout=60_000
        )
        rows = page.get_by_test_id("job-items").locator("tr[data-user]")
        expect(rows).to_have_count(5)
        expect(rows.and_(page.locator('[data-outcome="started"]'))).to_have_count(5)
        for person in people:
            expect(page.locator(f'tr[data-user="{person}"]')).to_have_attribute(
                "data-outcome", "started"
            )
            assert _ready(stack, person, "lab"), person
            assert _servers_of(stack, person)["lab"]["user_options"] == {"profile": "small"}
    finally:
        _delete_group_quietly(stack, group)
        stack.groups_changed_elsewhere()
        _remove_servers_and_users(stack, people)


def test_screenshot_of_running_servers_for_the_readme(stack, page):
    suffix = unique("x").rsplit("-", 1)[1][:4]
    started = {  # user: (server, profile)
        f"ada-{suffix}": ("", "small"),
        f"grace-{suffix}": ("thesis", "large"),
        f"linus-{suffix}": ("labs", "small"),
    }
    stack.api.create_users(list(started))
    try:
        for user, (server, profile) in started.items():
            stack.api.start_server(user, server, {"profile": profile})
        _hub_wait(lambda: all(_ready(stack, u, s) for u, (s, _) in started.items()))
        sign_in(page, stack, "admin")
        page.get_by_role("navigation").get_by_role("link", name="Servers").click()
        page.wait_for_url(stack.url("servers/"))
        table = page.get_by_test_id("running")
        for user in started:
            expect(table.get_by_role("link", name=user, exact=True)).to_be_visible()
        expect(table).to_contain_text("Large (4 CPU, 16 GB)")
        expect(table.locator('[data-state="running"]')).to_have_count(len(started))
        expect(page.locator("input[data-select-all]")).to_be_visible()
        page.evaluate("document.fonts.ready")
        out = SCREENSHOTS / "screenshot-servers.png"
        out.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(out), animations="disabled", caret="hide")
        assert Path(out).stat().st_size > 10_000
    finally:
        _remove_servers_and_users(stack, list(started))


def test_progress_waits_for_a_free_stream_slot_then_follows_the_spawn(stack, page):
    name = unique("queue")
    stack.api.create_users([name])
    try:
        sign_in(page, stack, "admin")
        stack.api.start_server(name, "labs", {"profile": "slow"})
        with stack.streams_taken():
            page.goto(stack.url(f"users/{name}/servers/labs/progress"))
            expect(page.get_by_test_id("events")).to_contain_text("following many spawns")
        # once a slot is free, EventSource's own retry picks the stream up
        outcome = page.get_by_test_id("outcome")
        expect(outcome.locator(".alert-success")).to_contain_text("Ready")
        expect(page.get_by_test_id("events")).not_to_contain_text("following many spawns")
    finally:
        _remove_servers_and_users(stack, [name])


def test_screenshot_of_spawn_progress_for_the_readme(stack, page):
    name = f"margaret-{unique('x').rsplit('-', 1)[1][:4]}"
    stack.api.create_users([name])
    try:
        sign_in(page, stack, "admin")
        stack.api.start_server(name, "labs", {"profile": "slow"})
        # Straight at hubdesk, not through the hub's proxy: the test hub's pip-installable
        # proxy hands on the progress stream only once the spawn is over (README, "About
        # the proxy"), so a spawn is never seen midway through it. The session cookie
        # holds (cookies ignore ports) and the page is the same as behind a streaming proxy.
        page.goto(
            f"http://127.0.0.1:{stack.service_port}{PREFIX}users/{name}/servers/labs/progress"
        )
        expect(page.get_by_test_id("events")).to_contain_text("step 1 of 3")
        outcome = page.get_by_test_id("outcome")
        expect(outcome.locator(".alert")).to_have_count(0)  # mid-spawn: no outcome yet
        page.evaluate("document.fonts.ready")
        out = SCREENSHOTS / "screenshot-progress.png"
        out.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(out), animations="disabled", caret="hide")
        # still mid-spawn once the picture was taken (the slow profile takes 3 s)
        assert outcome.locator(".alert").count() == 0, "the spawn finished before the screenshot"
        assert Path(out).stat().st_size > 10_000
        expect(outcome.locator(".alert-success")).to_contain_text("Ready")
    finally:
        _remove_servers_and_users(stack, [name])
