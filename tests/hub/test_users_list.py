"""The users list against the real hub: sorted by the hub both ways, filtered by admin and by
inactivity (with the name search), a page of hub calls, and its ticked rows put to a group."""

import html
import re
from datetime import UTC, datetime

import pytest
from helpers.accounts import fresh_users
from helpers.stack import alert, csrf_token, unique, wait_for

OLD, OLDER = "2020-03-01T00:00:00Z", "2020-02-01T00:00:00Z"


def listed(page: str) -> list[str]:
    """The users of a list page, in its order."""
    return [html.unescape(u) for u in re.findall(r'<tr data-user="([^"]*)">', page)]


def hub_calls(stack, during) -> list[str]:
    """The hub calls one page view made (its request id: hubdesk's own log says each)."""
    before = len(stack.log.lines)
    during()
    calls = [
        line
        for line in stack.log.lines[before:]
        if line.startswith("hubdesk.hub") and " hub " in line
    ]
    mine = calls[0].split()[2] if calls else ""
    return [c for c in calls if c.split()[2] == mine]


@pytest.fixture
def users(stack):
    """Fresh users without servers, deleted afterwards (at once: none has a server)."""
    yield from fresh_users(stack)


def activity(stack, name: str, when: str) -> None:
    stack.api.request("POST", "users", name, "activity", json={"last_activity": when})


def test_sorted_by_the_hub_and_filtered_by_admin_and_inactivity(stack, admin, users):
    prefix = unique("ul")
    old, never, recent, boss = users(4, prefix=prefix)
    activity(stack, old, OLD)
    activity(stack, boss, OLDER)
    activity(stack, recent, datetime.now(UTC).isoformat())
    # the hub lets only its admins grant admin: with the admin's own token
    as_admin = stack.api.for_token(stack.person_token(admin.cookies["hubdesk-session"]))
    as_admin.update_user(boss, admin=True)

    def page(**args):
        r = admin.get(stack.url("users/"), params={"q": prefix, **args})
        assert r.status_code == 200, alert(r.text)
        return r.text

    for sort in ("name", "-name", "last_activity", "-last_activity"):
        hubs = stack.api.list_users(name_filter=prefix, sort=sort, limit=50).items
        shown = page(sort=sort)
        assert listed(shown) == [u["name"] for u in hubs], sort
        direction = "descending" if sort.startswith("-") else "ascending"
        assert f'aria-sort="{direction}"' in shown
    assert listed(page(sort="last_activity"))[0] == never  # never active: first

    assert listed(page(admin="yes")) == [boss]
    assert set(listed(page(admin="no"))) == {old, never, recent}
    assert "The hub cannot filter by admin" in page(admin="yes")

    # no activity since 2021: never active first, then the longest inactive; by activity,
    # whatever order was asked (the page says so)
    since = page(inactive_since="2021-01-01", sort="-name")
    assert listed(since) == [never, boss, old]
    assert "in no other order" in html.unescape(since)
    assert listed(page(inactive_since="2021-01-01", admin="no")) == [never, old]
    assert listed(page(inactive_since="2020-02-15")) == [never, boss]
    # the end of the inactive ones is on the page: their number is known
    assert "1–3 of 3" in since

    bad = page(inactive_since="last term")
    assert "is not a date" in html.unescape(bad) and set(listed(bad)) == {old, never, recent, boss}
    if "people.end_of_term" in stack.app.view_functions:
        assert "inactive_since=2021-01-01" in since and 'data-testid="delete-inactive"' in since


def test_a_page_costs_a_page_of_hub_calls(stack, admin, users):
    prefix = unique("ulc")
    names = users(26, prefix=prefix)
    url = stack.url(f"users/?q={prefix}&limit=25")
    for args in ("&sort=-last_activity", "&inactive_since=2030-01-01"):
        pages = []
        calls = hub_calls(stack, lambda a=args, p=pages: p.append(admin.get(url + a).text))
        assert len(listed(pages[0])) == 25
        # one list call (for the inactive ones a row more, to know whether more follow)
        assert len([c for c in calls if " GET /users -> " in c]) == 1, calls
        assert len(calls) <= 3, calls
    # the admin filter reads the list once, then pages through its reading
    calls = hub_calls(stack, lambda: admin.get(url + "&admin=no"))
    assert 1 <= len(calls) <= 4, calls
    again = hub_calls(stack, lambda: admin.get(url + "&admin=no&offset=25"))
    assert not [c for c in again if " GET /users -> " in c], again
    assert len(names) == 26


def test_ticked_rows_go_to_a_group_through_its_add_preview(stack, admin, users):
    prefix = unique("ult")
    a, b, c = users(3, prefix=prefix)
    group = unique("ultg")
    stack.api.create_group(group)
    try:
        page = admin.get(stack.url("users/"), params={"q": prefix}).text
        form = re.search(r'<form method="post" data-testid="bulk">(.*?)</form>', page, re.S)[1]
        assert 'name="csrf_token"' in form
        assert f'aria-label="Select {a}"' in form and 'data-select-all="user"' in form
        assert "people/add-to-group" in form
        token = csrf_token(page)
        # no CSRF token: refused, nothing asked
        assert admin.post(stack.url("people/add-to-group"), data={"user": [a]}).status_code == 400
        chooser = admin.post(
            stack.url("people/add-to-group"), data={"csrf_token": token, "user": [a, b]}
        )
        assert chooser.status_code == 200, alert(chooser.text)
        assert a in chooser.text and b in chooser.text and c not in chooser.text
        names = re.search(r"<textarea name=\"names\" hidden>(.*?)</textarea>", chooser.text, re.S)
        bad = admin.post(
            stack.url("people/add-to-group"),
            data={"csrf_token": token, "names": html.unescape(names[1]), "group": "a/b"},
        )
        assert bad.status_code == 400 and a in bad.text
        done = admin.post(
            stack.url("people/add-to-group"),
            data={"csrf_token": token, "names": html.unescape(names[1]), "group": group},
        )
        assert done.status_code == 200, alert(done.text)
        assert wait_for(lambda: set(stack.api.get_group(group)["users"]) == {a, b})
    finally:
        stack.api.delete_group(group)
