"""The users list's bulk selection in a real Chromium: "select all" (a JavaScript enhancement)
ticks a page's rows and enables the bulk buttons, which lead to choosing a group; axe-core
finds nothing serious. (Without JavaScript the buttons are always enabled: the hub tier's
test_users_list.py posts the same form.)"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from helpers.browser import sign_in
from helpers.cleanup import _delete_users_quietly
from helpers.stack import unique
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def serious_violations(page) -> list[str]:
    axe = Axe().run(page, options={"resultTypes": ["violations"]}).response
    return [v["id"] for v in axe["violations"] if v["impact"] in ("serious", "critical")]


def test_select_all_ticks_the_page_and_enables_the_bulk_buttons(stack, page):
    prefix = unique("ulb")
    names = [f"{prefix}-{i}" for i in range(3)]
    stack.api.create_users(names)
    try:
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"users/?q={prefix}"))
        to_group = page.get_by_role("button", name="Add to group…")
        expect(to_group).to_be_disabled()  # nothing ticked yet
        page.get_by_label(f"Select {names[1]}").check()
        expect(to_group).to_be_enabled()
        page.get_by_label(f"Select {names[1]}").uncheck()
        expect(to_group).to_be_disabled()
        page.get_by_label("Select all users on this page").check()
        for name in names:
            expect(page.get_by_label(f"Select {name}")).to_be_checked()
        expect(to_group).to_be_enabled()
        assert not serious_violations(page)
        to_group.click()
        expect(page.get_by_role("heading", name="Add 3 users to a group")).to_be_visible()
        expect(page.get_by_test_id("chosen")).to_contain_text(names[2])
        assert not serious_violations(page)
    finally:
        _delete_users_quietly(stack, names)
