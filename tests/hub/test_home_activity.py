"""Home by person (what each can do next, from their own scopes) and Activity in words.

Home: an admin sees the counts as links, servers whose last start failed and group actions
under way; a teacher (``!group=`` scopes) their groups with running servers and the next
lesson; the help desk the user search first. Everyone keeps the list of what they may do,
folded. Activity: what was done and the hub's answer in words, the code kept for filters.
"""

import html
import re

import pytest
from helpers.cleanup import (
    _delete_group_quietly,
    _delete_users_quietly,
    _remove_servers_and_users,
    _servers_of,
)
from helpers.lessons import lesson_form, schedule
from helpers.stack import csrf_token, unique, wait_for
from hubdesk.extensions import shared
from hubdesk.hub import HubAPIError
from hubdesk.jobs import StartSpec


def text(page: str) -> str:
    """A page's words, tags left out."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def section(page: str, testid: str) -> str:
    """The inside of the element with this data-testid ("" if there is none)."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>', page)
    if not found:
        return ""
    tag, depth = found[1], 1
    for m in re.finditer(rf"<(/?){tag}\b[^>]*>", page[found.end() :]):
        depth += -1 if m[1] else 1
        if not depth:
            return page[found.end() : found.end() + m.start()]
    return page[found.end() :]


def _server(stack, user, name):
    return _servers_of(stack, user).get(name)


def test_home_for_an_admin_counts_failures_and_actions_under_way(stack, admin):
    user, group = unique("home-user"), unique("home-busy")
    stack.api.create_users([user])
    stack.api.create_group(group, [user])
    store = shared(stack.app).jobs.store
    job = store.create(
        "start",
        group,
        by="admin",
        spec=StartSpec(server="labs"),
        scopes=[],
        items=[(user, "")],
        owner="another-worker",  # held: no worker here takes it up while the test looks
    )
    try:
        # a running server keeps the user in the running list; the other one's start fails
        stack.api.start_server(user, "ok", {"profile": "small"})
        stack.api.start_server(user, "bad", {"profile": "broken"})
        wait_for(lambda: (_server(stack, user, "ok") or {}).get("ready"))
        wait_for(lambda: not (_server(stack, user, "bad") or {}).get("pending"))
        page = admin.get(stack.url()).text
        counts = section(page, "counts")
        for link in ("groups/", "users/", "servers/"):
            assert f'href="{stack.url(link).removeprefix(stack.hub.public_url)}"' in counts, link
        failed = text(section(page, "failed-servers"))
        assert f"“bad” of {user}" in failed and "failed" in failed
        under_way = text(section(page, "under-way"))
        assert f"Starting “labs” for {group}" in under_way and "0 of 1 done" in under_way
        assert f"/groups/{group}/servers/jobs/{job}" in page
        # what they may do: kept, folded below
        assert re.search(r"<details[^>]*>\s*<summary[^>]*>What you may do here", page)
        assert page.index('data-testid="counts"') < page.index('data-testid="user-search"')
    finally:
        store.set_outcome(job, [user], "cancelled", "a test's job")
        store.finish(job)
        _remove_servers_and_users(stack, [user])
        _delete_group_quietly(stack, group)


def test_home_for_a_teacher_shows_their_groups_running_servers_and_next_lesson(stack):
    teacher, server = stack.signin("teacher"), unique("home")
    lesson = schedule(
        teacher, stack, "class-a", lesson_form(day="2099-01-05", starts="09:00", ends="10:30")
    )
    try:
        stack.api.start_server("student", server, {"profile": "small"})  # a member's, running
        wait_for(lambda: (_server(stack, "student", server) or {}).get("ready"))
        page = teacher.get(stack.url()).text
        assert 'data-testid="counts"' not in page  # not the whole hub's: their groups instead
        (row,) = re.findall(r'<li data-testid="home-group">(.*?)</li>', page, re.S)
        assert 'href="/services/hubdesk/groups/class-a/servers"' in row
        members = stack.api.get_group("class-a")["users"]
        running = sum(
            1
            for m in members
            for s in (stack.api.get_user(m).get("servers") or {}).values()
            if s.get("ready") or s.get("pending") == "spawn"
        )
        words = text(row)
        assert running >= 1 and f"{running} server{'' if running == 1 else 's'} running" in words
        assert "next lesson 2099-01-05" in words and "(“lab”)" in words
        # groups first, the user search after them, what they may do folded at the end
        assert page.index("Your groups") < page.index('data-testid="user-search"')
        assert "only group class-a" in section(page, "what-you-may-do")
    finally:
        shared(stack.app).lessons.cancel(lesson, "teacher")
        stack.api.stop_server("student", server, remove=True)
        wait_for(lambda: not _server(stack, "student", server))


def test_home_for_the_help_desk_starts_with_the_user_search(stack):
    page = stack.signin("helpdesk").get(stack.url()).text
    search = page.index('data-testid="user-search"')
    assert search < page.index('data-testid="what-you-may-do"')
    assert re.search(r'<form [^>]*action="/services/hubdesk/users/"[^>]*"user-search"', page)
    assert "Your groups" not in page and 'data-testid="counts"' not in page
    assert 'data-testid="failed-servers"' not in page


def test_activity_says_what_was_done_and_the_hubs_answer_in_words(stack, admin):
    group, users = unique("words"), [unique("w") for _ in range(3)]
    stack.api.create_users(users)
    token = csrf_token(admin.get(stack.url()).text)
    try:
        admin.post(stack.url("groups/"), data={"csrf_token": token, "name": group})
        admin.post(
            stack.url(f"groups/{group}/add"), data={"csrf_token": token, "names": " ".join(users)}
        )
        wait_for(lambda: len(stack.api.get_group(group)["users"]) == 3)
        with pytest.raises(HubAPIError):  # made again: the hub refuses, on record
            shared(stack.app).hub.create_group(group)
        page = admin.get(stack.url(f"activity?group={group}")).text
        records = re.findall(r'<li class="hubdesk-record"[^>]*>(.*?)</li>', page, re.S)
        said = [text(section(r, "said")).strip() for r in records]
        assert said == [
            f"Tried to create the group {group}",
            f"Added 3 members to {group}",
            f"Created the group {group}",
        ]
        answers = [
            text(re.search(r"data-answer=[^>]*>(.*?)</div>", r, re.S)[1]).strip() for r in records
        ]
        assert answers[1:] == ["Hub: done", "Hub: done"]
        assert answers[0].startswith("Hub: refused ") and group in answers[0]
        assert not any(re.search(r"\b\d{3}\b", a) for a in answers)  # no raw HTTP codes
        # the code kept, as a detail; the request id whole, on one line, selected whole
        assert "group.members.add" in records[1]
        ids = [re.findall(r'data-testid="request-id">([^<]*)<', r) for r in records]
        assert ids[0] == [] and "hubdesk itself" in records[0]  # made outside any request
        assert all(re.fullmatch(r"[0-9a-f]{16}", i) for (i,) in ids[1:]), ids
        # the members, as words: no JSON
        members = re.search(r"Members (.*?) group\.members\.add", text(records[1]))[1]
        assert sorted(members.split(", ")) == sorted(users) and "{" not in text(records[1])

        # a filter by action: the code, matched whole
        page = admin.get(stack.url(f"activity?group={group}&action=group.members.add")).text
        assert page.count('class="hubdesk-record"') == 1
        assert '<option value="group.members.add" selected>' in page
        page = admin.get(stack.url(f"activity?group={group}&action=no.such.code")).text
        assert "No records match" in page and '<option value="no.such.code" selected>' in page
    finally:
        _delete_group_quietly(stack, group)
        _delete_users_quietly(stack, users)
