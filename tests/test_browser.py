"""hubdesk in a real browser: sign-in through the hub, sign-out, a form, a screenshot.

Fixtures ``browser`` and ``page`` come from tests/browser_plugin.py, loaded as a plugin
below; failed tests leave a screenshot and the HTML in test-artifacts/.
"""

import re
from pathlib import Path

import pytest
from browser import ROOT, sign_in
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
        page.get_by_role("link", name="New group").click()
        page.wait_for_url(stack.url("groups/new"))
        page.get_by_label("Group name").fill(name)
        page.get_by_role("button", name="Create group").click()
        page.wait_for_url(stack.url("groups/"))
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
    out = ROOT / "docs" / "screenshot-home.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), animations="disabled", caret="hide")
    assert Path(out).stat().st_size > 10_000
