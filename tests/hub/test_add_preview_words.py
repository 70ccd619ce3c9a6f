"""Before an add puts servers in the teacher's reach: which of the names are hub admins or
staff, and what that means; the add preview's counts in words (one account, not "these 1")."""

import html
import re

from helpers.groups import members, post
from helpers.servers import users  # noqa: F401 (fixture)
from helpers.stack import unique


def words(page: str, testid: str) -> str:
    """The text of the element with this data-testid, its tags dropped."""
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:div|p)>', page, re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def test_the_preview_says_which_names_are_hub_admins_and_what_that_means(stack, admin, users):  # noqa: F811
    (kid,) = users(1, prefix="kid")
    teacher = stack.signin("teacher")
    r = post(teacher, stack, "groups/class-a/add", {"names": f"admin {kid}"})
    assert r.status_code == 200 and 'data-testid="grants"' in r.text
    listed = words(r.text, "grants-names")
    assert "admin · hub admin" in listed and kid in listed and f"{kid} ·" not in listed
    said = words(r.text, "grants-staff")
    assert said.startswith("admin is a hub admin. The hub makes no exception for a hub admin")
    assert (
        "their servers are in your reach like any member's (you could start and stop them)" in said
    )
    assert "admin" not in members(stack, "class-a") and kid not in members(stack, "class-a")
    # one unknown name: "this hub account", not "these 1 hub account"
    group = unique("one")
    r = post(admin, stack, "groups/", {"name": group, "names": f"nobody-{group}"})
    try:
        assert "hubdesk can create this hub account and add everyone" in html.unescape(r.text)
    finally:
        stack.api.delete_group(group)
