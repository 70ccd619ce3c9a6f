"""The end of term against the real hub: whom a preview names (a group's members, no activity
since a day, names ticked on the users list), what it leaves out and why, the typed
confirmation, the job that deletes exactly those previewed, its audit records, cancelling it.
The hub's own state is checked with the service token (``stack.api``)."""

import html
from datetime import UTC, datetime, timedelta

import pytest
from helpers.accounts import exists, form_fields
from helpers.servers import running
from helpers.stack import PREFIX, csrf_token, unique, wait_for
from hubdesk.extensions import shared
from hubdesk.hub import HubAPIError
from hubdesk.jobs import DeleteUsersSpec
from hubdesk.people.deletions import KIND
from hubdesk.users.removal import remove_account

PAGE = "people/end-of-term"


def confirm(stack, s, page: str, typed: str, **changes):
    data = dict(form_fields(page, many=True), typed=[typed], **changes)
    return s.post(stack.url(PAGE), data=data, allow_redirects=False)


def finished(stack, s, location: str) -> str:
    url = stack.hub.public_url + location if location.startswith("/") else location
    return wait_for(
        lambda: (p := s.get(url).text) and 'data-testid="deletion-summary"' in p and p,
        seconds=60,
    )


@pytest.fixture
def made(stack, admin):
    """Fresh users (and groups) for one test; whatever is left of them goes afterwards. Hub
    admins are made with the admin's own token (the hub lets only admins make admins)."""
    users, groups = [], []
    as_admin = stack.api.for_token(stack.person_token(admin.cookies.get("hubdesk-session")))

    def make(n, prefix="eot", admin=False, group=None, extra=()):
        names = [unique(prefix) for _ in range(n)]
        (as_admin if admin else stack.api).create_users(names, admin=admin)
        users.extend(names)
        if group is not None:
            stack.api.create_group(group, [*names, *extra])
            groups.append(group)
        return names

    yield make
    for name in users:
        remove_account(stack.api, name, lambda model: None)  # its servers stopped first
    for group in groups:
        try:
            stack.api.delete_group(group)
        except HubAPIError:
            pass


def test_a_groups_members_go_admins_and_the_person_stay(stack, admin, made):
    group = unique("term")
    (boss,) = made(1, "boss", admin=True)
    (bystander,) = made(1, "stay")
    members = made(20, "leaver", group=group, extra=[boss, "admin"])
    stack.api.start_server(
        members[0], "labs", {"profile": "small"}
    )  # a named server: stopped first
    wait_for(lambda: running(stack, members[0], "labs"))

    shown = admin.get(stack.url(f"groups/{group}")).text
    assert f'href="{PREFIX}{PAGE}?group={group}"' in shown
    asked = admin.get(stack.url(f"{PAGE}?group={group}"))
    page = html.unescape(asked.text)
    assert asked.status_code == 200 and "Delete 20 hub accounts?" in page
    assert "1 of them has a server running: it is stopped first." in page
    assert f'value="{boss}"' in page and 'value="admin"' in page  # left out, to tick by name
    assert f'data-testid="expected">{group}<' in page
    assert all(exists(stack, m) for m in members)  # asking changes nothing

    wrong = confirm(stack, admin, asked.text, "20")
    assert wrong.status_code == 400 and "That is not the group's name" in html.unescape(wrong.text)
    assert all(exists(stack, m) for m in members)

    before = stack.last_audit_id()
    done = confirm(stack, admin, asked.text, group)
    assert done.status_code == 303 and f"{PREFIX}people/jobs/" in done.headers["Location"]
    page = finished(stack, admin, done.headers["Location"])
    assert "Deleted 20 accounts." in page
    assert f'href="{PREFIX}groups/{group}/delete"' in page  # offered, not done
    assert not any(exists(stack, m) for m in members)
    assert all(exists(stack, u) for u in (boss, bystander, "admin"))
    assert sorted(stack.api.get_group(group)["users"]) == sorted([boss, "admin"])
    job = done.headers["Location"].rsplit("/", 1)[1]
    deletes = [r for r in stack.audit_records(before) if r["action"] == "user.delete"]
    assert sorted(r["target"]["user"] for r in deletes) == sorted(members)
    assert {r["target"].get("job") for r in deletes} == {job}


def test_inactivity_leaves_out_new_accounts_and_ticked_names_need_the_count(stack, admin, made):
    group = unique("quiet")
    quiet = made(3, "quiet", group=group)
    today = datetime.now(UTC).date()
    # made today: not last term's, whatever their activity
    page = html.unescape(admin.get(stack.url(f"{PAGE}?group={group}&inactive_since={today}")).text)
    assert "Delete 0 hub accounts?" in page
    assert f"3 accounts made since {today} are left out" in page
    tomorrow = today + timedelta(days=1)
    page = admin.get(stack.url(f"{PAGE}?group={group}&inactive_since={tomorrow}")).text
    assert "Delete 3 hub accounts?" in html.unescape(page)
    assert admin.get(stack.url(f"{PAGE}?inactive_since=June")).status_code == 400

    # names ticked on the users list: posted, sent to the preview's address (303)
    (other_admin,) = made(1, "tick-admin", admin=True)
    ticked = [quiet[0], quiet[1], other_admin, unique("nobody")]
    token = csrf_token(admin.get(stack.url()).text)
    r = admin.post(
        stack.url(PAGE), data={"csrf_token": token, "user": ticked}, allow_redirects=False
    )
    assert r.status_code == 303 and "user=" in r.headers["Location"]
    asked = admin.get(stack.hub.public_url + r.headers["Location"])
    page = html.unescape(asked.text)
    assert "Delete 2 hub accounts?" in page and 'data-testid="expected">2<' in page
    assert "1 ticked name the hub has no account for" in page
    wrong = confirm(stack, admin, asked.text, "3")
    assert wrong.status_code == 400 and "That is not the count, 2" in html.unescape(wrong.text)
    assert exists(stack, quiet[0]) and exists(stack, quiet[1])

    done = confirm(stack, admin, asked.text, "2")
    assert done.status_code == 303
    assert "Deleted 2 accounts." in finished(stack, admin, done.headers["Location"])
    assert not exists(stack, quiet[0]) and not exists(stack, quiet[1])
    assert exists(stack, quiet[2]) and exists(stack, other_admin)


def test_a_list_changed_since_its_preview_is_shown_again(stack, admin, made):
    group = unique("moved")
    names = made(2, "moved", group=group)
    asked = admin.get(stack.url(f"{PAGE}?group={group}")).text
    stack.api.request("DELETE", "users", names[1])  # gone meanwhile
    again = confirm(stack, admin, asked, group)
    assert again.status_code == 409 and "changed since the preview" in again.text
    assert "Delete 1 hub account?" in html.unescape(again.text)
    assert exists(stack, names[0])


def test_the_rest_is_cancelled_after_its_page_asks(stack, admin, made):
    names = made(3, "cancel")
    runner = shared(stack.app).jobs
    job = runner.store.create(
        KIND,
        "",
        by="admin",
        spec=DeleteUsersSpec(),
        scopes=["delete:users"],
        items=[(n, "delete") for n in names],
        owner=runner.owner,  # held here, not run yet
    )
    page = f"people/jobs/{job}"
    assert f'href="{PREFIX}{page}/cancel"' in admin.get(stack.url(page)).text
    asked = admin.get(stack.url(f"{page}/cancel"))
    assert asked.status_code == 200 and "Cancel the rest of this end of term?" in asked.text
    assert stack.signin("teacher").get(stack.url(f"{page}/cancel")).status_code == 403
    token = form_fields(asked.text, many=True)
    done = admin.post(asked.url, data=token, allow_redirects=False)
    assert done.status_code == 302
    runner.run_here(job)
    assert "cancelled before" in finished(stack, admin, stack.url(page))
    assert all(exists(stack, n) for n in names)
