"""A start form in a real Chromium: only the chosen profile's options, description and (for
"My own user_options") JSON box show (the rest of starting with options:
tests/hub/test_start_options.py)."""

import re

import pytest
from helpers.browser import sign_in
from helpers.servers import server
from helpers.start_options import IMAGE, TYPED
from playwright.sync_api import expect


@pytest.mark.browser
def test_only_the_chosen_profiles_options_show_with_javascript(stack, page, users):  # noqa: F811
    (u,) = users()
    sign_in(page, stack, "admin")
    page.goto(stack.url(f"users/{u}"))
    form = page.get_by_test_id("start-server")
    options = form.get_by_test_id("options-custom-lab")
    typed = form.locator(f'input[name="{IMAGE}--unlisted-choice"]')
    about = form.get_by_test_id("profile-descriptions")
    raw = form.get_by_label("user_options (JSON)")
    profile = form.get_by_label("Profile")
    expect(options).to_be_hidden()  # the default profile (small) has none
    expect(about).to_have_text(
        "Small (1 CPU, 2 GB): Everyday notebooks and exercises.", use_inner_text=True
    )
    expect(profile).to_have_accessible_description(re.compile("Everyday notebooks"))
    expect(raw).to_be_hidden()
    profile.select_option("__raw__")
    expect(raw).to_be_visible()
    expect(raw).to_be_enabled()
    expect(about).to_have_text("", use_inner_text=True)  # no catalogue profile: no description
    profile.select_option("custom-lab")
    expect(raw).to_be_hidden()
    expect(raw).to_be_disabled()  # not sent
    expect(about).to_have_text("Custom lab: Choose the image and the memory.", use_inner_text=True)
    expect(options).to_be_visible()
    expect(typed).to_be_hidden()  # free text only once its choice is picked
    form.get_by_label("Image", exact=True).select_option("unlisted-choice")
    expect(typed).to_be_visible()
    typed.fill(TYPED)
    form.get_by_label("Server name").fill("js")
    form.get_by_role("button", name="Start server").click()
    page.wait_for_url(stack.url(f"users/{u}/servers/js/progress"))
    assert server(stack, u, "js")["user_options"]["image--unlisted-choice"] == TYPED
