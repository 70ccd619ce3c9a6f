"""Activity on a phone: records as stacked entries, readable, with no sideways scrolling; on a
desktop, each record one row. The request id stays whole, on one line, and one click selects
all of it. (Every page's axe-core and sideways checks: test_pages_on_a_phone.py.)"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from helpers.browser import sign_in
from helpers.cleanup import _delete_group_quietly, _delete_users_quietly
from helpers.stack import csrf_token, unique, wait_for
from hubdesk.extensions import shared
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

BOX = "(el) => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; }"


def test_activity_at_390_px_is_stacked_entries_and_the_request_id_stays_whole(stack, admin, page):
    group = unique("a-class-name-without-spaces-long-enough-for-a-phone")
    members = [unique("averyveryverylongusernamewithoutanybreak") for _ in range(3)]
    stack.api.create_users(members)
    try:
        token = csrf_token(admin.get(stack.url()).text)
        admin.post(stack.url("groups/"), data={"csrf_token": token, "name": group})
        admin.post(
            stack.url(f"groups/{group}/add"), data={"csrf_token": token, "names": " ".join(members)}
        )
        wait_for(lambda: len(stack.api.get_group(group)["users"]) == 3)
        # outside any request: on record as hubdesk's own, with no request id
        shared(stack.app).hub.set_group_properties(group, {"limits": {"cpu": 2, "memory": "4G"}})

        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, stack, "admin")
        page.goto(stack.url(f"activity?group={group}"))
        records = page.get_by_test_id("record")
        expect(records).to_have_count(3)
        expect(records.nth(1)).to_contain_text(f"Added 3 members to {group}")
        expect(records.nth(0)).to_contain_text("hubdesk itself")
        expect(records.nth(0).get_by_test_id("request-id")).to_have_count(0)
        assert page.locator("table").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        # stacked: who and when, then what was done, then the hub's answer, each below the last
        record = records.nth(1)
        parts = [
            record.locator(f".hubdesk-record-{p}").evaluate(BOX)
            for p in ("who", "what", "hub", "id")
        ]
        assert all(a[3] <= b[1] + 0.5 for a, b in zip(parts, parts[1:], strict=False)), parts
        assert all(right <= 390 for _, _, right, _ in parts), parts
        # the request id: one line, and a click selects it whole
        request_id = record.get_by_test_id("request-id")
        assert request_id.evaluate("(el) => el.getClientRects().length") == 1
        request_id.click()
        assert page.evaluate("getSelection().toString()") == request_id.inner_text()
        axe = Axe().run(page, options={"resultTypes": ["violations"]}).response
        serious = [v["id"] for v in axe["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, serious

        # a desktop: each record a row (who, what, answer and id side by side)
        page.set_viewport_size({"width": 1280, "height": 800})
        tops = [
            record.locator(f".hubdesk-record-{p}").evaluate(BOX)[1]
            for p in ("who", "what", "hub", "id")
        ]
        assert max(tops) - min(tops) < 2, tops
    finally:
        _delete_group_quietly(stack, group)
        _delete_users_quietly(stack, members)
