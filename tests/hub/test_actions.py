"""Changes go out only after CSRF and permission checks: refused ones never reach the hub."""

from helpers.stack import csrf_token, unique
from hubdesk.hub import HubAPIError


def hub_calls(stack, method, start):
    """The hub calls hubdesk logged since ``start`` (an index into the log)."""
    return [line for line in stack.log.lines[start:] if f"hub {method} " in line]


def group_exists(stack, name):
    try:
        stack.api.get_group(name)
    except HubAPIError as e:
        assert e.status == 404
        return False
    return True


def test_admin_creates_a_group_through_the_form(stack, admin):
    name = unique("made")
    form = admin.get(stack.url("groups/")).text
    r = admin.post(stack.url("groups/"), data={"csrf_token": csrf_token(form), "name": name})
    assert r.status_code == 200 and f"Created group “{name}”" in r.text
    assert r.url == stack.url(f"groups/{name}")
    assert group_exists(stack, name)
    stack.api.delete_group(name)


def test_existing_name_is_a_clear_message_and_no_change(stack, admin):
    name = unique("taken")
    stack.api.create_group(name, users=["student"])
    try:
        form = admin.get(stack.url("groups/")).text
        r = admin.post(stack.url("groups/"), data={"csrf_token": csrf_token(form), "name": name})
        assert r.status_code == 400
        assert "already exists" in r.text and "Nothing was changed" in r.text
        assert stack.api.get_group(name)["users"] == ["student"]
    finally:
        stack.api.delete_group(name)


def test_a_slash_is_refused_before_the_hub(stack, admin):
    form = admin.get(stack.url("groups/")).text
    start = len(stack.log.lines)
    r = admin.post(stack.url("groups/"), data={"csrf_token": csrf_token(form), "name": "a/b"})
    assert r.status_code == 400 and "cannot contain" in r.text
    assert hub_calls(stack, "POST", start) == []


def test_missing_csrf_token_is_refused_and_changes_nothing(stack, admin):
    name = unique("csrf")
    start = len(stack.log.lines)
    r = admin.post(stack.url("groups/"), data={"name": name})
    assert r.status_code == 400
    assert "nothing was changed" in r.text and "Back to hubdesk" in r.text
    assert hub_calls(stack, "POST", start) == []
    assert not group_exists(stack, name)


def test_crafted_post_without_the_scope_is_403_and_no_hub_call(stack):
    helpdesk = stack.signin("helpdesk")  # may not create groups
    token = csrf_token(helpdesk.get(stack.url()).text)  # a valid CSRF token of their session
    name = unique("crafted")
    start = len(stack.log.lines)
    r = helpdesk.post(stack.url("groups/"), data={"csrf_token": token, "name": name})
    assert r.status_code == 403
    assert "do not let you create groups" in r.text
    assert hub_calls(stack, "POST", start) == []
    assert not group_exists(stack, name)


def test_pages_show_only_the_actions_a_person_may_take(stack, admin):
    assert "New group" in admin.get(stack.url("groups/")).text
    teacher = stack.signin("teacher")
    page = teacher.get(stack.url("groups/")).text
    assert "class-a" in page and "class-b" not in page  # the hub filters the list for them
    assert "New group" not in page
    assert (
        teacher.post(stack.url("groups/"), data={"csrf_token": csrf_token(page)}).status_code == 403
    )
