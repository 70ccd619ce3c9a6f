"""A start form in a real Chromium: only the chosen profile's options show (the rest of
starting with options: tests/hub/test_start_options.py)."""

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
    expect(options).to_be_hidden()  # the default profile (small) has none
    form.get_by_label("Profile").select_option("custom-lab")
    expect(options).to_be_visible()
    expect(typed).to_be_hidden()  # free text only once its choice is picked
    form.get_by_label("Image", exact=True).select_option("unlisted-choice")
    expect(typed).to_be_visible()
    typed.fill(TYPED)
    form.get_by_label("Server name").fill("js")
    form.get_by_role("button", name="Start server").click()
    page.wait_for_url(stack.url(f"users/{u}/servers/js/progress"))
    assert server(stack, u, "js")["user_options"]["image--unlisted-choice"] == TYPED
