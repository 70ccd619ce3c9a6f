"""The end of term of a 300-member group survives its hubdesk being killed midway: another
one on the same database finishes it, and the hub receives exactly one deletion per account
(counted at the proxy in front of the hub). hubdesk runs under the image's gunicorn command
(tests/helpers/durability.py); the admin's session is copied into its database."""

from __future__ import annotations

import html
import os
import re
import signal
from collections import Counter

from helpers.accounts import form_fields
from helpers.durability import browser, copy_session, hubdesk
from helpers.stack import PREFIX, unique, wait_for

MEMBERS = 300
AT_ONCE = {"HUBDESK_BULK_CONCURRENCY": "10"}  # the hub, not hubdesk, sets the pace
DELETE = r"/hub/api/users/[^/]+"


def deletions(proxy) -> Counter:
    """The hub's answered deletions of users, by path."""
    return Counter(p for m, p in list(proxy.forwarded) if m == "DELETE" and re.fullmatch(DELETE, p))


def test_an_end_of_term_killed_midway_is_finished_with_one_delete_per_account(
    stack, proxy, tmp_path, admin_cookie
):
    group, users = unique("term300"), [unique("t300") for _ in range(MEMBERS)]
    stack.api.create_users(users)  # one call for all of them
    stack.api.create_group(group, users)
    (tmp_path / "db").mkdir()
    db_url = f"sqlite:///{tmp_path / 'db' / 'hubdesk.sqlite'}"
    copy_session(stack, admin_cookie, db_url)
    s = browser(admin_cookie)
    try:
        with hubdesk(stack, proxy, db_url, tmp_path / "first", **AT_ONCE) as (process, base):
            asked = s.get(f"{base}people/end-of-term?group={group}")
            assert "Delete 300 hub accounts?" in html.unescape(asked.text), asked.status_code
            data = dict(form_fields(asked.text, many=True), typed=[group])
            r = s.post(f"{base}people/end-of-term", data=data, allow_redirects=False)
            assert r.status_code == 303, r.status_code
            job = r.headers["Location"].split(PREFIX, 1)[1]
            wait_for(lambda: sum(deletions(proxy).values()) >= 40, seconds=60, every=0.05)
            os.killpg(process.pid, signal.SIGKILL)  # gunicorn and its workers, at once
            process.wait(timeout=30)
        sent_before = sum(deletions(proxy).values())
        assert 0 < sent_before < MEMBERS

        with hubdesk(stack, proxy, db_url, tmp_path / "second", **AT_ONCE) as (_, base):
            page = wait_for(
                lambda: (
                    (p := s.get(base + job).text) and 'data-testid="deletion-summary"' in p and p
                ),
                seconds=120,
            )
        assert "Deleted 300 accounts." in page, re.findall(r"job-counts.*", page)
        counted = deletions(proxy)
        assert {u: counted[f"/hub/api/users/{u}"] for u in users} == {u: 1 for u in users}
        left = {m["name"] for m in stack.api.iter_items("users")}
        assert not left & set(users)
        assert stack.api.get_group(group)["users"] == []  # the group stays: offered, not done
    finally:
        stack.api.delete_group(group)
        for user in set(users) & {m["name"] for m in stack.api.iter_items("users")}:
            stack.api.delete_user(user)
