"""hubdesk in a real browser: sign-in through the hub, sign-out, a form, a screenshot.

Fixtures ``browser`` and ``page`` come from tests/browser_plugin.py, loaded as a plugin
below; failed tests leave a screenshot and the HTML in test-artifacts/.
"""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from browser import SCREENSHOTS, sign_in
from conftest import unique
from playwright.sync_api import expect

from app.hub import HubAPIError

pytest_plugins = ["browser_plugin"]
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


def _delete_group_quietly(stack, name: str):
    try:
        stack.api.delete_group(name)
    except HubAPIError:
        pass  # already gone (the test deleted it) or never created


def _delete_users_quietly(stack, names):
    for name in names:
        try:
            stack.api.request("DELETE", "users", name)
        except HubAPIError:
            pass


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
        expect(page.locator(".alert-success")).to_contain_text(f"Added 1 member to “{name}”.")
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
