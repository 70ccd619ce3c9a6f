"""Groups through hubdesk's pages, checked against the real hub's state afterwards."""

import html
import io
import json
import re
import time

import pytest
from helpers.accounts import fresh_users
from helpers.groups import confirm_form, members, post
from helpers.stack import PREFIX, alert, csrf_token, unique
from hubdesk.extensions import shared
from hubdesk.hub import HubAPIError
from markupsafe import escape


def gone(stack, group):
    with pytest.raises(HubAPIError) as e:
        stack.api.get_group(group)
    return e.value.status == 404


@pytest.fixture
def users(stack):
    """Fresh users for one test."""
    yield from fresh_users(stack)


@pytest.fixture
def group(stack):
    """A fresh, empty group, deleted afterwards."""
    name = unique("g")
    stack.api.create_group(name)
    yield name
    try:
        stack.api.delete_group(name)
    except HubAPIError:
        pass


def csv_error(page):
    """The error next to a form's CSV file field."""
    return html.unescape(re.search(r'data-testid="csv-error">(.*?)</div>', page, re.S)[1])


# -- the API walk-through hubdesk was built from (shared/hub-api-examples.txt) ------------


def test_the_hub_api_examples_work_through_the_pages(stack, admin):
    # list groups
    assert "class-a" in admin.get(stack.url("groups/")).text
    # create group-a
    r = post(admin, stack, "groups/", {"name": "group-a"})
    assert r.url == stack.url("groups/group-a") and "Created group “group-a”" in alert(r.text)
    try:
        # add mrossi
        r = post(admin, stack, "groups/group-a/add", {"names": "mrossi"})
        assert "Added 1 member" in alert(r.text)
        assert members(stack, "group-a") == ["mrossi"]
        # remove mrossi: tick him, confirm
        r = post(admin, stack, "groups/group-a/remove", {"member": "mrossi"})
        assert "Remove 1 member from “group-a”?" in html.unescape(r.text)
        r = admin.post(stack.url("groups/group-a/remove"), data=confirm_form(r.text))
        assert "Removed 1 member" in alert(r.text)
        assert members(stack, "group-a") == []
    finally:
        stack.api.delete_group("group-a")


# -- list and search ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many(stack):
    """More groups than one hub API page (200), with a shared prefix."""
    prefix = unique("many")
    names = [f"{prefix}-{i:03d}" for i in range(205)]
    for name in names:
        stack.api.create_group(name)
    stack.groups_changed_elsewhere()
    yield prefix, names
    for name in names:
        stack.api.delete_group(name)
    stack.groups_changed_elsewhere()


def test_search_across_more_than_one_api_page(stack, admin, many):
    prefix, names = many
    page = admin.get(stack.url(f"groups/?q={prefix.upper()}&limit=200")).text
    assert "205 groups matching" in html.unescape(page)
    shown = re.findall(rf">({prefix}-\d+)</a>", page)
    assert shown == names[:200]  # sorted by name, 200 on the first page
    page = admin.get(stack.url(f"groups/?q={prefix}&limit=200&offset=200")).text
    assert re.findall(rf">({prefix}-\d+)</a>", page) == names[200:]


def test_list_is_sorted_by_name_with_member_counts(stack, admin, many):
    page = admin.get(stack.url("groups/?limit=25")).text
    rows = re.findall(
        r'<td[^>]*><a href="[^"]+">([^<]+)</a></td><td class="text-end">(\d+)</td>', page
    )
    assert len(rows) == 25
    names = [html.unescape(n) for n, _ in rows]
    assert names == sorted(names, key=lambda n: (n.casefold(), n))


def test_group_names_are_suggested_as_a_person_types(stack, admin, many):
    prefix, names = many
    r = admin.get(stack.url(f"groups/suggest?q={prefix.upper()}-00"))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == names[:10]
    assert len(admin.get(stack.url(f"groups/suggest?q={prefix}")).json()) == 20  # at most
    assert admin.get(stack.url("groups/suggest?q=+")).json() == []  # nothing asked
    # the user page then lists no group itself: the field asks as the person types
    page = admin.get(stack.url("users/student")).text
    assert 'data-suggest="/services/hubdesk/groups/suggest"' in page
    assert "<option" not in page.split('id="group-choices"')[1].split("</datalist>")[0]


def test_a_teacher_is_offered_only_the_groups_they_may_change(stack):
    teacher = stack.signin("teacher")
    assert teacher.get(stack.url("groups/suggest?q=class")).json() == ["class-a"]
    page = teacher.get(stack.url("users/student")).text
    # a few groups named by their scopes: listed in the page, nothing to ask
    assert "data-suggest" not in page
    datalist = page.split('id="group-choices"')[1].split("</datalist>")[0]
    assert re.findall(r'<option value="([^"]+)">', datalist) == []  # student is in class-a
    assert teacher.get(stack.url("groups/suggest?q=class-b")).json() == []


def test_a_teacher_lists_and_finds_only_their_group(stack):
    teacher = stack.signin("teacher")
    page = teacher.get(stack.url("groups/")).text
    assert ">class-a</a>" in page and "class-b" not in page
    assert "1–1 of 1" in page
    assert ">class-a</a>" in teacher.get(stack.url("groups/?q=CLASS")).text


def test_changes_made_elsewhere_show_up_within_the_cache_lifetime(stack, admin):
    directory = shared(stack.app).groups
    admin.get(stack.url("groups/"))  # a copy exists
    name = unique("elsewhere")
    stack.api.create_group(name)
    seconds, directory.seconds = directory.seconds, 0.2
    try:
        deadline = time.monotonic() + 10
        while f">{name}</a>" not in admin.get(stack.url(f"groups/?q={name}")).text:
            assert time.monotonic() < deadline, "the group never showed up"
            time.sleep(0.1)  # polling for a state, with a deadline
    finally:
        directory.seconds = seconds
        stack.api.delete_group(name)
        stack.groups_changed_elsewhere()


def test_a_new_group_shows_up_in_search_at_once(stack, admin):
    name = unique("fresh")
    admin.get(stack.url("groups/?q=fresh"))  # warm the cache
    post(admin, stack, "groups/", {"name": name})
    try:
        assert f">{name}</a>" in admin.get(stack.url(f"groups/?q={name}")).text
    finally:
        stack.api.delete_group(name)


@pytest.mark.parametrize(
    "query", ["limit=-5", "offset=-3", "limit=abc", "offset=99999999", "q=" + "x" * 5000]
)
def test_absurd_list_parameters_are_harmless(stack, admin, query):
    assert admin.get(stack.url(f"groups/?{query}")).status_code == 200


# -- create ---------------------------------------------------------------------------------


def test_create_with_initial_members_pasted(stack, admin, users):
    a, b = users(2)
    name = unique("with")
    r = post(admin, stack, "groups/", {"name": name, "names": f"{a},\n{b}"})
    try:
        assert r.url == stack.url(f"groups/{name}")
        assert "Added 2 members" in alert(r.text)
        assert members(stack, name) == sorted([a, b])
    finally:
        stack.api.delete_group(name)


def test_create_with_unknown_initial_members_lists_them(stack, admin, users):
    (a,) = users(1)
    name = unique("unk")
    r = post(admin, stack, "groups/", {"name": name, "names": f"{a} nobody-{name}"})
    try:
        assert f"nobody-{name}" in r.text and 'data-testid="unknown"' in r.text
        assert members(stack, name) == []  # as for any add: nobody yet, the person chooses
        assert "Create the 1 missing user and add everyone" in r.text
        assert "Add the 1 known user" in r.text
        first = re.search(r"<form .*?</form>", r.text.split('data-testid="unknown"')[1], re.S)
        fields = dict(re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', first[0]))
        assert "create_missing" not in fields
        r = admin.post(
            stack.url(f"groups/{name}/add"), data={k: html.unescape(v) for k, v in fields.items()}
        )
        assert f"Added 1 member to “{name}”" in alert(r.text)
        assert members(stack, name) == [a]
    finally:
        stack.api.delete_group(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "cannot be empty"), ("a/b", "cannot contain “/”"), ("x" * 256, "at most 255")],
)
def test_bad_group_names_get_a_clear_message(stack, admin, name, message):
    r = post(admin, stack, "groups/", {"name": name})
    assert r.status_code == 400
    assert message in html.unescape(r.text)


# -- the group page -------------------------------------------------------------------------


def test_group_page_pages_and_filters_members(stack, admin, users, group):
    names = users(120, prefix="m")
    stack.api.add_group_members(group, names)
    page = admin.get(stack.url(f"groups/{group}")).text
    assert 'data-testid="member-count">120<' in page
    assert "1–50 of 120" in page
    page = admin.get(stack.url(f"groups/{group}?mlimit=100&moffset=100")).text
    assert "101–120 of 120" in page
    one = names[7]
    page = admin.get(stack.url(f"groups/{group}?mq={one.upper()}")).text
    assert "1–1 of 1" in page and f">{one}</a>" in page


def test_group_page_shows_properties_and_roles(stack, admin, group):
    stack.api.set_group_properties(group, {"course": "Intro", "seats": 30})
    page = admin.get(stack.url(f"groups/{group}")).text
    assert 'data-testid="properties"' in page and "Intro" in page and ">30<" in page
    assert 'data-testid="roles"' in page


def test_unknown_group_is_a_404_page(stack, admin):
    r = admin.get(stack.url(f"groups/{unique('nope')}"))
    assert r.status_code == 404 and "There is no group called" in html.unescape(r.text)


# -- add members in bulk --------------------------------------------------------------------


def test_bulk_add_larger_than_a_chunk(stack, admin, users, group):
    names = users(100, prefix="bulk")  # the test stack sends 40 names per hub call
    start = len(stack.log.lines)
    r = post(admin, stack, f"groups/{group}/add", {"names": " ".join(names)})
    assert "Added 100 members" in alert(r.text)
    assert members(stack, group) == sorted(names)
    calls = [line for line in stack.log.lines[start:] if "hub POST /groups/" in line]
    assert len(calls) == 3


def test_adding_existing_members_is_reported_not_failed(stack, admin, users, group):
    a, b = users(2)
    stack.api.add_group_members(group, [a])
    r = post(admin, stack, f"groups/{group}/add", {"names": f"{a} {b}"})
    text = alert(r.text)
    assert f"Added 1 member to “{group}”: {b}." in text
    assert f"1 was already a member: {a}." in text
    assert members(stack, group) == sorted([a, b])


def test_unknown_names_are_listed_and_the_rest_can_be_added(stack, admin, users, group):
    (a,) = users(1)
    ghost = unique("ghost")
    r = post(admin, stack, f"groups/{group}/add", {"names": f"{a}\n{ghost}"})
    assert ghost in r.text and members(stack, group) == []  # nothing yet
    forms = re.findall(r'<form method="post" action="[^"]*/add">.*?</form>', r.text, re.S)
    r = admin.post(stack.url(f"groups/{group}/add"), data=confirm_form(forms[0]))
    assert "Added 1 member" in alert(r.text)
    assert members(stack, group) == [a]
    with pytest.raises(HubAPIError):
        stack.api.get_user(ghost)


def test_admin_may_create_the_missing_users(stack, admin, group):
    ghosts = [unique("new") for _ in range(2)]
    r = post(admin, stack, f"groups/{group}/add", {"names": " ".join(ghosts)})
    assert "Create the 2 missing users and add everyone" in r.text
    forms = re.findall(r'<form method="post" action="[^"]*/add">.*?</form>', r.text, re.S)
    r = admin.post(stack.url(f"groups/{group}/add"), data=confirm_form(forms[-1]))
    try:
        assert "Created 2 new users" in alert(r.text) and "Added 2 members" in alert(r.text)
        assert members(stack, group) == sorted(ghosts)
    finally:
        for g in ghosts:
            stack.api.request("DELETE", "users", g)


def test_teacher_may_not_create_users(stack, group):
    ghost = unique("ghost")
    teacher = stack.signin("teacher")
    r = post(teacher, stack, "groups/class-a/add", {"names": ghost})
    assert "missing user" not in r.text
    # even a crafted confirmation is refused
    r = post(
        teacher,
        stack,
        "groups/class-a/add",
        {"confirm": "yes", "names": json.dumps([ghost]), "create_missing": "y"},
    )
    assert r.status_code == 403
    with pytest.raises(HubAPIError):
        stack.api.get_user(ghost)


def test_csv_upload_with_a_username_column(stack, admin, users, group):
    a, b = users(2)
    csv = f"email;Username;first\n{a}@x.org;{a};A\n{b}@x.org;{b};B\n".encode()
    token = csrf_token(admin.get(stack.url(f"groups/{group}")).text)
    r = admin.post(
        stack.url(f"groups/{group}/add"),
        data={"csrf_token": token},
        files={"csv": ("class.csv", io.BytesIO(csv), "text/csv")},
    )
    assert "Added 2 members" in alert(r.text)
    assert members(stack, group) == sorted([a, b])


def test_a_bad_csv_is_a_message_not_a_change(stack, admin, group):
    token = csrf_token(admin.get(stack.url(f"groups/{group}")).text)
    r = admin.post(
        stack.url(f"groups/{group}/add"),
        data={"csrf_token": token},
        files={"csv": ("x.csv", io.BytesIO(b"\xff\xfe\x00bad"), "text/csv")},
    )
    assert r.status_code == 400 and "UTF-8" in csv_error(r.text)
    assert "choose the file again" in csv_error(r.text)
    assert members(stack, group) == []


# -- remove, sync ---------------------------------------------------------------------------


def test_remove_by_paste_names_who_is_not_a_member(stack, admin, users, group):
    a, b, c = users(3)
    stack.api.add_group_members(group, [a, b])
    r = post(admin, stack, f"groups/{group}/remove", {"names": f"{a} {c}"})
    page = html.unescape(r.text)
    assert "Remove 1 member from" in page and "Not members, so left alone" in page
    assert members(stack, group) == sorted([a, b])  # nothing until confirmed
    r = admin.post(stack.url(f"groups/{group}/remove"), data=confirm_form(r.text))
    assert "Removed 1 member" in alert(r.text)
    assert members(stack, group) == [b]


def test_sync_to_a_roster_shows_the_difference_then_applies_it(stack, admin, users, group):
    keep, leave, join = users(3)
    ghost = unique("ghost")
    stack.api.add_group_members(group, [keep, leave])
    r = post(
        admin,
        stack,
        f"groups/{group}/sync",
        {"names": f"{keep}\n{join}\n{ghost}"},
        page=f"groups/{group}/sync",
    )
    page = r.text
    for testid, name in [
        ("sync-add", join),
        ("sync-remove", leave),
        ("sync-unchanged", keep),
        ("sync-unknown", ghost),
    ]:
        assert re.search(rf'data-testid="{testid}">.*?{name}', page, re.S), testid
    assert members(stack, group) == sorted([keep, leave])  # nothing until confirmed
    r = admin.post(stack.url(f"groups/{group}/sync"), data=confirm_form(page))
    assert "Synced" in alert(r.text)
    assert members(stack, group) == sorted([keep, join])


# -- properties -----------------------------------------------------------------------------


def properties_form(rows):
    data = {"key": [], "kind": [], "value": []}
    for key, kind, value in rows:
        data["key"].append(key)
        data["kind"].append(kind)
        data["value"].append(value)
    return data


def test_edit_properties_with_json_values(stack, admin, group):
    stack.api.set_group_properties(group, {"old": "x", "keep": 1})
    rows = [
        ("keep", "json", "1"),
        ("course", "text", "Intro to Python"),
        ("seats", "json", "30"),
        ("tags", "json", '["a", "b"]'),
        ("open", "json", "true"),
        ("limits", "json", '{"cpu": 2}'),
    ]
    r = post(
        admin,
        stack,
        f"groups/{group}/properties",
        properties_form(rows),
        page=f"groups/{group}/properties",
    )
    page = html.unescape(r.text)
    assert "Save these changes" in page
    assert re.search(r"old</td>\s*<td><span[^>]*>removed", page)
    assert re.search(r"seats</td>\s*<td><span[^>]*>added", page)
    assert stack.api.get_group(group)["properties"] == {"old": "x", "keep": 1}  # not yet
    r = admin.post(stack.url(f"groups/{group}/properties"), data=confirm_form(r.text))
    assert "Saved the properties" in alert(r.text)
    assert stack.api.get_group(group)["properties"] == {
        "keep": 1,
        "course": "Intro to Python",
        "seats": 30,
        "tags": ["a", "b"],
        "open": True,
        "limits": {"cpu": 2},
    }


def test_bad_json_is_a_clear_message_and_no_change(stack, admin, group):
    r = post(
        admin,
        stack,
        f"groups/{group}/properties",
        properties_form([("n", "json", "{nope")]),
        page=f"groups/{group}/properties",
    )
    assert r.status_code == 400
    assert "is not valid JSON" in html.unescape(r.text)
    assert stack.api.get_group(group)["properties"] == {}


def test_properties_changed_meanwhile_are_not_overwritten(stack, admin, group):
    r = post(
        admin,
        stack,
        f"groups/{group}/properties",
        properties_form([("a", "text", "1")]),
        page=f"groups/{group}/properties",
    )
    stack.api.set_group_properties(group, {"someone": "else"})  # a change in between
    r = admin.post(stack.url(f"groups/{group}/properties"), data=confirm_form(r.text))
    assert r.status_code == 409
    assert "changed while you were editing" in alert(r.text)
    assert stack.api.get_group(group)["properties"] == {"someone": "else"}
    # the person's version comes back, to review again against what is there now
    assert re.search(r'name="key" value="a"', r.text) and ">1</textarea>" in r.text


# -- delete ---------------------------------------------------------------------------------


def test_delete_names_the_group_and_its_member_count(stack, admin, users):
    names = users(3)
    name = unique("bye")
    stack.api.create_group(name, users=names)
    page = html.unescape(admin.get(stack.url(f"groups/{name}/delete")).text)
    assert f"Delete the group “{name}”?" in page and "3 members" in page
    r = post(admin, stack, f"groups/{name}/delete", {})
    assert r.url == stack.url("groups/") and f"Deleted group “{name}”" in alert(r.text)
    assert gone(stack, name)


# -- a teacher restricted to class-a --------------------------------------------------------


def test_teacher_changes_class_a_but_not_class_b(stack, users):
    (kid,) = users(1)
    teacher = stack.signin("teacher")
    r = post(teacher, stack, "groups/class-a/add", {"names": kid})
    assert "Added 1 member" in alert(r.text)
    assert kid in members(stack, "class-a")
    start = len(stack.log.lines)
    for path, data in [
        ("groups/class-b/add", {"names": kid}),
        ("groups/class-b/remove", {"names": "outsider"}),
        ("groups/class-b/remove", {"confirm": "yes", "names": json.dumps(["outsider"])}),
        ("groups/class-b/sync", {"names": kid}),
        ("groups/class-b/properties", {"key": "x", "kind": "text", "value": "y"}),
        ("groups/class-b/delete", {}),
        ("groups/class-a/delete", {}),  # no delete:groups
        ("groups/", {"name": unique("t")}),  # no admin:groups
    ]:
        assert post(teacher, stack, path, data).status_code == 403, path
    assert not [
        line
        for line in stack.log.lines[start:]
        if re.search(r"hub (POST|PUT|DELETE) /(groups|users)", line)
    ]
    assert members(stack, "class-b") == ["outsider"]
    assert teacher.get(stack.url("groups/class-b")).status_code == 403
    stack.api.remove_group_members("class-a", [kid])


# -- the user page, groups side -------------------------------------------------------------


def test_user_page_adds_and_removes_groups(stack, admin, users, group):
    (u,) = users(1)
    page = admin.get(stack.url(f"users/{u}")).text
    assert "In no group" in page
    r = post(admin, stack, f"users/{u}/groups", {"group": group, "action": "add"})
    assert f"Added {u} to “{group}”" in alert(r.text)
    assert members(stack, group) == [u]
    assert f">{group}</a>" in r.text
    r = post(admin, stack, f"users/{u}/groups", {"group": group, "action": "remove"})
    assert f"Removed {u} from “{group}”" in alert(r.text)
    assert members(stack, group) == []


def test_user_page_refuses_groups_the_teacher_may_not_change(stack):
    teacher = stack.signin("teacher")
    assert teacher.get(stack.url("users/student")).status_code == 200
    r = post(teacher, stack, "users/student/groups", {"group": "class-b", "action": "add"})
    assert r.status_code == 403
    assert "student" not in members(stack, "class-b")
    # not in class-a: the hub does not even say whether such a user exists
    r = teacher.get(stack.url("users/outsider"))
    assert r.status_code == 404 and "that you may see" in r.text


# -- hostile names --------------------------------------------------------------------------

HOSTILE = [
    "a b",
    "50% off",
    "x?y=1",
    "a#b",
    "a&b=c",
    'it\'s "quoted"',
    "<img src=x onerror=alert(1)>",
    "日本語のグループ",
    "groupe-été",
    "é" * 255,
]


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_group_names_round_trip(stack, admin, users, name):
    (u,) = users(1)
    r = post(admin, stack, "groups/", {"name": name})
    try:
        assert r.status_code == 200, r.text
        assert stack.api.get_group(name)["name"] == name
        assert "<img src=x" not in r.text  # escaped everywhere
        assert str(escape(name)) in r.text
        r = post(admin, stack, "groups/{}/add".format(r.url.rsplit("/", 1)[1]), {"names": u})
        assert "Added 1 member" in alert(r.text)
        assert members(stack, name) == [u]
        assert "<img src=x" not in admin.get(stack.url(f"users/{u}")).text
        page = admin.get(stack.url(f"groups/?q={name[:20]}")).text
        assert "<img src=x" not in page
        r = post(
            admin,
            stack,
            "{}/delete".format(r.url.split("/services/hubdesk/", 1)[1].split("?")[0]),
            {},
        )
        assert "Deleted group" in alert(r.text)
        assert gone(stack, name)
    finally:
        try:
            stack.api.delete_group(name)
        except HubAPIError:
            pass


@pytest.mark.parametrize(
    "path", ["groups/{}", "groups/{}/servers", "users/{}", "users/student/servers/{}/progress"]
)
def test_a_name_longer_than_the_hubs_is_a_400_that_says_so(stack, admin, path):
    # straight to hubdesk: the test proxy refuses URLs this long itself (gunicorn too, past
    # its limit_request_line, unless an operator raises it)
    client = stack.app.test_client()
    client.set_cookie("hubdesk-session", admin.cookies["hubdesk-session"], path=PREFIX)
    r = client.get(PREFIX + path.format("x" * 70_000))
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 400, r.status_code
    assert "That name is too long" in page and "70,000" in page
    assert "cannot reach JupyterHub" not in page


def test_adding_someone_whose_servers_the_teacher_could_not_reach_is_said_first(stack):
    """teacher holds groups!group=class-a and servers!group=class-a: adding the hub admin to
    class-a would let the teacher start and stop the admin's servers."""
    teacher = stack.signin("teacher")
    r = post(teacher, stack, "groups/class-a/add", {"names": "admin"})
    assert r.status_code == 200 and 'data-testid="grants"' in r.text, alert(r.text)
    assert "lets you start and stop" in html.unescape(r.text) and ">admin<" in r.text
    assert "admin" not in stack.api.get_group("class-a")["users"]  # nothing changed yet
    fields = dict(re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', r.text))
    try:
        r = teacher.post(
            stack.url("groups/class-a/add"), data={k: html.unescape(v) for k, v in fields.items()}
        )
        assert "admin" in stack.api.get_group("class-a")["users"]
    finally:
        stack.api.remove_group_members("class-a", ["admin"])


def test_a_teacher_adding_a_student_needs_no_second_step(stack, users):
    (kid,) = users(1)
    teacher = stack.signin("teacher")
    try:
        r = post(teacher, stack, "groups/class-a/add", {"names": kid})
        assert 'data-testid="grants"' not in r.text and "Added 1 member" in alert(r.text)
    finally:
        stack.api.remove_group_members("class-a", [kid])


def test_an_add_that_gives_no_new_reach_needs_no_second_step(stack, admin):
    group = unique("reach")
    stack.api.create_group(group)
    try:
        r = post(admin, stack, f"groups/{group}/add", {"names": "mrossi"})
        assert 'data-testid="grants"' not in r.text and "Added 1 member" in alert(r.text)
    finally:
        stack.api.delete_group(group)
