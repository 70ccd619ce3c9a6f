"""What the groups pages say after a change, and what they keep after a refusal.

Each story runs against the real hub: a membership change's final message names who was
added or removed, who already was (or was not) a member, who was skipped and why, and who
failed and why; a refused form comes back as the person filled it, with a 4xx and the
reason next to the field, and the hub is left as it was.
"""

import html
import io
import json
import re

import pytest
from helpers.accounts import fresh_users
from helpers.stack import alert, csrf_token, unique, wait_for
from hubdesk.groups import views as group_views
from hubdesk.hub import HubAPIError


@pytest.fixture
def users(stack):
    yield from fresh_users(stack)


@pytest.fixture
def group(stack):
    name = unique("g")
    stack.api.create_group(name)
    yield name
    try:
        stack.api.delete_group(name)
    except HubAPIError:
        pass


def members(stack, group):
    return sorted(stack.api.get_group(group)["users"])


def post(session, stack, path, data, files=None, page=None):
    token = csrf_token(session.get(stack.url(page or "")).text)
    return session.post(stack.url(path), data={"csrf_token": token, **data}, files=files)


def first_form(page, action):
    """The fields of the first form posting to ``action`` (hidden inputs)."""
    form = re.search(rf'<form method="post" action="[^"]*/{action}">(.*?)</form>', page, re.S)
    fields = re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', form[1])
    return {k: html.unescape(v) for k, v in fields}


def textarea(page, name="names"):
    """What a textarea holds, as the person typed it."""
    found = re.search(rf'<textarea [^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    return html.unescape(found[1]).strip("\r\n")


def field_error(page, field):
    """The error shown next to a field (the form macros' invalid-feedback)."""
    found = re.search(
        rf'<div class="invalid-feedback" id="[^"]*{field}-errors"[^>]*>(.*?)</div>', page, re.S
    )
    return html.unescape(found[1]) if found else ""


def opened(page, testid):
    """Whether the <details> of that test id is shown open."""
    tag = re.search(rf'<details [^>]*data-testid="{testid}"[^>]*>', page)[0]
    return re.search(r"\sopen[\s>]", tag) is not None


def outcome(page) -> dict[str, list[tuple[str, list[str]]]]:
    """A change's page, part by part: {key: [(words, names), ...]}."""
    found: dict[str, list] = {}
    for key, words, block in re.findall(
        r'<section [^>]*data-outcome="(\w+)"[^>]*>\s*<p [^>]*>(.*?)</p>(.*?)</section>', page, re.S
    ):
        names = [
            html.unescape(n)
            for n in re.findall(r"<span class=\"badge[^\"]*\">([^<]*)</span>", block)
        ]
        found.setdefault(key, []).append((html.unescape(words), names))
    return found


# -- the final message names names ----------------------------------------------------------


def test_an_add_names_who_was_added_already_a_member_and_skipped(stack, admin, users, group):
    old, new = users(2)
    ghost = unique("ghost")
    stack.api.add_group_members(group, [old])
    r = post(admin, stack, f"groups/{group}/add", {"names": f"{old} {new} {ghost}"})
    assert 'data-testid="unknown"' in r.text and members(stack, group) == [old]  # a preview
    r = admin.post(stack.url(f"groups/{group}/add"), data=first_form(r.text, "add"))
    said = alert(r.text)
    assert f"Added 1 member to “{group}”: {new}." in said
    assert f"1 was already a member: {old}." in said
    assert f"Skipped 1 name (no such user on the hub): {ghost}." in said
    assert 'class="alert alert-success"' in r.text
    assert members(stack, group) == sorted([old, new])


def test_a_long_add_is_cut_in_the_message_and_whole_on_its_page(stack, admin, users, group):
    names = users(30, prefix="many")
    r = post(admin, stack, f"groups/{group}/add", {"names": " ".join(names)})
    said = alert(r.text)
    shown = ", ".join(names[:25])
    assert f"Added 30 members to “{group}”: {shown} and 5 more." in said
    link = re.search(r'<a class="alert-link" href="([^"]+)">See every name</a>', r.text)
    page = admin.get(stack.hub.public_url + html.unescape(link[1])).text
    assert 'data-state="done" data-testid="job-state"' in page
    assert outcome(page)["done"] == [(f"Added 30 members to “{group}”:", names)]


def test_a_removal_names_who_left_and_who_was_not_a_member(stack, admin, users, group):
    a, b, c = users(3)
    stack.api.add_group_members(group, [a, b])
    r = post(admin, stack, f"groups/{group}/remove", {"names": f"{a}\n{c}"})
    r = admin.post(stack.url(f"groups/{group}/remove"), data=first_form(r.text, "remove"))
    said = alert(r.text)
    assert f"Removed 1 member from “{group}”: {a}." in said
    assert f"1 was not a member: {c}." in said
    assert members(stack, group) == [b]


def test_the_sync_message_names_who_was_added_removed_and_skipped(stack, admin, users, group):
    keep, leave, join = users(3)
    ghost = unique("ghost")
    stack.api.add_group_members(group, [keep, leave])
    page = f"groups/{group}/sync"
    r = post(admin, stack, page, {"names": f"{keep}\n{join}\n{ghost}"}, page=page)
    fields = dict(re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', r.text))
    r = admin.post(stack.url(page), data={k: html.unescape(v) for k, v in fields.items()})
    said = alert(r.text)
    assert said.startswith(f"Synced “{group}” to the roster.")
    assert f"Added 1 member to “{group}”: {join}." in said
    assert f"Removed 1 member from “{group}”: {leave}." in said
    assert f"Skipped 1 name (no such user on the hub): {ghost}." in said
    assert members(stack, group) == sorted([keep, join])


def test_a_name_gone_before_the_confirmation_is_said_to_have_failed(stack, admin, users, group):
    stays, goes = users(2)
    ghost = unique("ghost")
    r = post(admin, stack, f"groups/{group}/add", {"names": f"{stays} {goes} {ghost}"})
    stack.api.request("DELETE", "users", goes)  # deleted while the person reads the preview
    r = admin.post(stack.url(f"groups/{group}/add"), data=first_form(r.text, "add"))
    said = alert(r.text)
    assert f"Added 1 member to “{group}”: {stays}." in said
    assert f"Failed for 1 (no such user): {goes}." in said
    assert 'class="alert alert-warning"' in r.text  # not a success
    assert members(stack, group) == [stays]


def test_a_change_with_its_own_page_has_the_job_header_and_names_everyone(
    stack, admin, users, group, monkeypatch
):
    monkeypatch.setattr(group_views, "WAIT_SECONDS", 0)  # no answer in time: its own page
    old, new = users(2)
    stack.api.add_group_members(group, [old])
    r = post(admin, stack, f"groups/{group}/add", {"names": f"{old} {new}"})
    assert "/members/jobs/" in r.url
    page = wait_for(
        lambda: (
            (p := admin.get(r.url).text) and 'data-state="done" data-testid="job-state"' in p and p
        )
    )
    assert re.search(
        r"By admin, <time datetime=\"[^\"]+\" title=\"[^\"]+ UTC\">[\d-]+ [\d:]{8}</time>", page
    )
    counts = re.search(r'data-testid="job-counts">(.*?)</p>', page, re.S)[1]
    assert "added: 1" in counts and "already members: 1" in counts
    assert outcome(page) == {
        "done": [(f"Added 1 member to “{group}”:", [new])],
        "unchanged": [("1 was already a member:", [old])],
    }


# -- refused forms keep what the person typed -------------------------------------------------


def test_a_refused_group_name_keeps_the_name_and_the_members(stack, admin, users):
    (a,) = users(1)
    r = post(admin, stack, "groups/", {"name": "class/a", "names": f"{a}\nsomeone"})
    assert r.status_code == 400
    assert 'value="class/a"' in r.text and textarea(r.text) == f"{a}\nsomeone"
    assert "cannot contain “/”" in field_error(r.text, "name")
    assert opened(r.text, "create-group")


def test_a_bad_csv_keeps_the_pasted_names_and_says_so_by_the_file(stack, admin, users, group):
    (a,) = users(1)
    token = csrf_token(admin.get(stack.url(f"groups/{group}")).text)
    r = admin.post(
        stack.url(f"groups/{group}/add"),
        data={"csrf_token": token, "names": f"{a}, x"},
        files={"csv": ("x.csv", io.BytesIO(b"\xff\xfe\x00bad"), "text/csv")},
    )
    assert r.status_code == 400
    add_form = r.text.split('data-testid="add-members"')[1].split("</form>")[0]
    assert textarea(add_form) == f"{a}, x"
    error = re.search(r'data-testid="csv-error">(.*?)</div>', add_form, re.S)[1]
    assert "UTF-8" in error and "choose the file again" in error
    assert 'aria-invalid="true"' in add_form and "autofocus" in add_form
    # the other forms of the page stay empty
    remove_form = r.text.split('data-testid="remove-by-name"')
    assert len(remove_form) == 1 or f"{a}, x" not in remove_form[1]
    assert members(stack, group) == []


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("", "No names were given"),
        ("x" * 256, "has more than 255 characters"),
    ],
    ids=["nothing", "too-long"],
)
def test_an_add_refused_before_the_hub_keeps_the_input(stack, admin, group, typed, error):
    r = post(admin, stack, f"groups/{group}/add", {"names": typed})
    assert r.status_code == 400
    add_form = r.text.split('data-testid="add-members"')[1].split("</form>")[0]
    assert textarea(add_form) == typed and error in field_error(add_form, "names")
    assert members(stack, group) == []


def test_a_refused_removal_by_name_keeps_the_input_and_opens_its_form(stack, admin, users, group):
    (a,) = users(1)
    stack.api.add_group_members(group, [a])
    token = csrf_token(admin.get(stack.url(f"groups/{group}")).text)
    r = admin.post(
        stack.url(f"groups/{group}/remove"),
        data={"csrf_token": token, "names": a},
        files={"csv": ("x.csv", io.BytesIO(b"a,b\n1,2\n"), "text/csv")},
    )
    assert r.status_code == 400
    assert opened(r.text, "remove-by-name")
    remove_form = r.text.split('data-testid="remove-by-name"')[1].split("</details>")[0]
    assert textarea(remove_form) == a and "headed “username”" in html.unescape(remove_form)
    assert members(stack, group) == [a]


def test_remove_selected_with_nothing_ticked_says_so(stack, admin, users, group):
    (a,) = users(1)
    stack.api.add_group_members(group, [a])
    r = post(admin, stack, f"groups/{group}/remove", {}, page=f"groups/{group}")
    assert r.status_code == 400 and "No members were ticked" in alert(r.text)
    assert members(stack, group) == [a]


def test_a_refused_roster_is_shown_again_as_given(stack, admin, group):
    page = f"groups/{group}/sync"
    r = post(admin, stack, page, {"names": " \n "}, page=page)
    assert r.status_code == 400 and "The roster is empty" in field_error(r.text, "names")
    token = csrf_token(admin.get(stack.url(page)).text)
    r = admin.post(
        stack.url(page),
        data={"csrf_token": token, "names": "ana\nbob"},
        files={"csv": ("x.csv", io.BytesIO(b"\xff\xfe\x00bad"), "text/csv")},
    )
    assert r.status_code == 400 and textarea(r.text) == "ana\nbob"
    assert "choose the file again" in r.text


def properties_rows(rows, **extra):
    data = {"key": [k for k, _, _ in rows], "kind": [t for _, t, _ in rows]}
    return {**data, "value": [v for _, _, v in rows], **extra}


def typed_rows(page):
    keys = re.findall(r'<input [^>]*name="key" value="([^"]*)"', page)
    kinds = re.findall(r'<option value="(\w+)" selected>', page)
    values = re.findall(r'<textarea [^>]*name="value"[^>]*>(.*?)</textarea>', page, re.S)
    return [tuple(html.unescape(x) for x in row) for row in zip(keys, kinds, values, strict=True)]


ROWS = [("course", "text", "Intro <to> Python"), ("seats", "json", "{nope")]


def test_bad_json_keeps_every_row_as_typed(stack, admin, group):
    page = f"groups/{group}/properties"
    r = post(admin, stack, page, properties_rows(ROWS), page=page)
    assert r.status_code == 400 and "is not valid JSON" in html.unescape(r.text)
    assert typed_rows(r.text) == ROWS
    assert stack.api.get_group(group)["properties"] == {}


def test_more_rows_keeps_what_was_typed(stack, admin, group):
    page = f"groups/{group}/properties"
    r = post(admin, stack, page, properties_rows(ROWS, more="yes"), page=page)
    assert r.status_code == 200 and typed_rows(r.text) == ROWS + [("", "text", "")] * 3
    assert "property-errors" not in r.text  # not checked yet: nothing is refused
    assert stack.api.get_group(group)["properties"] == {}


def test_back_to_editing_brings_the_edit_back(stack, admin, group):
    stack.api.set_group_properties(group, {"old": "x"})
    page = f"groups/{group}/properties"
    rows = [("old", "text", "y"), ("seats", "json", "30")]
    r = post(admin, stack, page, properties_rows(rows), page=page)
    assert "Save these changes" in html.unescape(r.text)
    back = re.search(
        r'<form method="post" data-testid="back-to-editing">(.*?)</form>', r.text, re.S
    )
    fields = dict(re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', back[1]))
    data = {k: html.unescape(v) for k, v in fields.items()}
    assert json.loads(data["properties"]) == {"old": "y", "seats": 30}
    r = admin.post(stack.url(page), data={**data, "edit": "yes"})
    assert r.status_code == 200 and typed_rows(r.text)[:2] == rows
    assert stack.api.get_group(group)["properties"] == {"old": "x"}
