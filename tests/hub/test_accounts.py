"""People's accounts through the pages, checked in the hub's own state: adding people (pasted,
a CSV, into a group, as admins; hostile names), renaming, the admin flag (granting, revoking,
taking one's own away after a warning) and deleting an account with its servers."""

import html
import json
import re
from urllib.parse import quote

import pytest
from helpers.accounts import exists, form_fields
from helpers.servers import gone_or_stopped, running
from helpers.stack import alert, csrf_token, unique, wait_for
from hubdesk.hub import HubAPIError


@pytest.fixture
def made(stack):
    """Names of users and groups a test makes; whatever of them the hub still has goes after."""
    names = {"users": [], "groups": []}
    yield names
    for group in names["groups"]:
        try:
            stack.api.delete_group(group)
        except HubAPIError:
            pass
    for name in names["users"]:
        if not exists(stack, name):
            continue
        for server in stack.api.get_user(name, include_stopped_servers=True).get("servers") or {}:
            try:
                stack.api.stop_server(name, server, remove=bool(server))
            except HubAPIError:
                pass
        wait_for(lambda n=name: gone_or_stopped(stack, n, ""))
        stack.api.delete_user(name)


def preview(session, stack, names="", groups="", admin=False, files=None):
    token = csrf_token(session.get(stack.url("people/add")).text)
    data = {"csrf_token": token, "names": names, "groups": groups}
    if admin:
        data["admin"] = "y"
    return session.post(stack.url("people/add"), data=data, files=files)


def test_adding_people_pasted_and_from_a_csv_into_a_group_and_as_admins(stack, admin, made):
    a, b, there = unique("add"), unique("add"), unique("add")
    group = unique("add-g")
    made["users"] += [a, b, there]
    made["groups"].append(group)
    stack.api.create_users([there])
    stack.api.create_group(group)
    assert 'data-testid="add-people-link"' in admin.get(stack.url()).text

    asked = preview(admin, stack, f"{a}, {b}\n{there}", groups=group)
    assert asked.status_code == 200
    assert "2</strong> new accounts" in asked.text and there in asked.text
    assert not exists(stack, a)  # the preview changes nothing
    done = admin.post(stack.url("people/add"), data=form_fields(asked.text, index=0))
    said = alert(done.text)
    assert f"Created 2 accounts: {a}, {b}." in said, said
    assert "There already" in said and there in said
    assert f"Added 3 people to “{group}”" in said
    assert sorted(stack.api.get_group(group)["users"]) == sorted([a, b, there])
    assert stack.api.get_user(a)["admin"] is False

    boss = unique("add-admin")
    made["users"].append(boss)
    csv = f"username,email\n{boss},x@example.org\n{a},y@example.org\n".encode()
    asked = preview(admin, stack, admin=True, files={"csv": ("class.csv", csv, "text/csv")})
    assert "as hub admin" in asked.text
    fields = form_fields(asked.text, index=0)
    assert json.loads(fields["names"]) == [boss] and json.loads(fields["existing"]) == [a]
    done = admin.post(stack.url("people/add"), data=fields, allow_redirects=False)
    assert done.status_code == 303
    assert stack.api.get_user(boss)["admin"] is True
    assert stack.api.get_user(a)["admin"] is False  # there already: left as it was

    no_token = {k: v for k, v in fields.items() if k != "csrf_token"}
    assert admin.post(stack.url("people/add"), data=no_token).status_code == 400


def test_hostile_names_are_escaped_and_refused_in_words(stack, admin, made):
    script = "<script>alert(1)-" + unique("x")
    accented = "zoë-" + unique("u")
    made["users"] += [script, accented]
    asked = preview(admin, stack, f"{script}\n../x\na/b\n..\n{accented}")
    assert asked.status_code == 200
    assert script not in asked.text and html.escape(script) in asked.text  # escaped
    invalid = re.findall(r'data-testid="invalid-name">([^<]*)<', asked.text)
    assert [html.unescape(n) for n in invalid] == ["../x", "a/b", ".."]
    fields = form_fields(asked.text, index=0)
    assert json.loads(fields["names"]) == [script, accented]  # the invalid ones are not sent

    spaced = "jane doe-" + unique("s")  # a CSV cell keeps its inner spaces
    made["users"].append(spaced)
    csv = f"username\n{spaced}\n".encode()
    from_csv = preview(admin, stack, files={"csv": ("c.csv", csv, "text/csv")})
    assert json.loads(form_fields(from_csv.text, index=0)["names"]) == [spaced]

    # a crafted confirmation with a name the hub refuses: its reason, the others created
    fields["names"] = json.dumps([accented, "a/b", script, spaced])
    done = admin.post(stack.url("people/add"), data=fields)
    assert done.status_code == 200
    said = alert(done.text)
    assert "The hub refused 1 name: a/b (Invalid username: a/b)." in said, said
    assert "Created 3 accounts" in said
    assert exists(stack, accented) and exists(stack, script) and exists(stack, spaced)
    assert script not in done.text  # escaped in the outcome too
    assert admin.get(stack.url(f"users/{quote(spaced)}")).status_code == 200
    fields["names"] = json.dumps(["y" * 300])
    assert admin.post(stack.url("people/add"), data=fields).status_code == 400

    long = "x" * 300
    refused = preview(admin, stack, long)
    assert refused.status_code == 400 and "cannot be a hub user" in alert(refused.text)


def test_rename_keeps_groups_and_servers_then_delete_stops_them(stack, admin, made):
    old, new, taken = unique("ren"), unique("ren"), unique("ren")
    group = unique("ren-g")
    made["users"] += [old, new, taken]
    made["groups"].append(group)
    stack.api.create_users([old, taken])
    stack.api.create_group(group, [old])
    stack.api.start_server(old, "labs", {"profile": "small"})
    wait_for(lambda: running(stack, old, "labs"))

    page = admin.get(stack.url(f"users/{old}")).text
    assert 'data-testid="account"' in page and f"users/{old}/rename" in page
    asked = admin.get(stack.url(f"users/{old}/rename"))
    assert 'data-testid="rename-running"' in asked.text
    token = csrf_token(asked.text)
    refused = admin.post(asked.url, data={"csrf_token": token, "new_name": new})
    assert refused.status_code == 409 and exists(stack, old)  # refused while it runs

    stack.api.stop_server(old, "labs")
    wait_for(lambda: gone_or_stopped(stack, old, "labs"))
    asked = admin.get(stack.url(f"users/{old}/rename"))
    assert "keeps everything" in asked.text
    assert admin.post(asked.url, data={"new_name": new}).status_code == 400  # no CSRF token
    clash = admin.post(asked.url, data={"csrf_token": token, "new_name": taken})
    assert clash.status_code == 400
    assert f"The hub refused: User {taken} already exists" in alert(clash.text)
    audit_from = stack.last_audit_id()
    done = admin.post(asked.url, data={"csrf_token": token, "new_name": new}, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"users/{new}")
    assert not exists(stack, old)
    model = stack.api.get_user(new, include_stopped_servers=True)
    assert model["groups"] == [group] and "labs" in model["servers"]
    assert [r["action"] for r in stack.audit_records(audit_from)] == ["user.rename"]

    # deleted with its stopped named server and its running default server
    stack.api.start_server(new, "", {"profile": "small"})
    wait_for(lambda: running(stack, new, ""))
    asked = admin.get(stack.url(f"users/{new}/delete"))
    page = html.unescape(asked.text)
    assert "“labs” of" in page and "(a named server)" in page
    assert page.count('data-testid="stopped-first"') == 1  # the default one runs
    assert group in page and "The hub cannot undo this" in page
    assert exists(stack, new)  # asking changes nothing
    done = admin.post(asked.url, data=form_fields(asked.text, index=0))
    assert done.url.endswith("/users/")
    assert f"Deleted the account of {new}." in alert(done.text)
    assert not exists(stack, new)
    assert stack.api.get_group(group)["users"] == []
    assert "user.delete" in [r["action"] for r in stack.audit_records(audit_from)]


def test_admin_flag_granted_revoked_and_taken_from_oneself_after_a_warning(stack, admin, made):
    u, boss = unique("flag"), unique("flag-boss")
    made["users"] += [u, boss]
    stack.api.create_users([u])
    asked = preview(admin, stack, boss, admin=True)  # a hub admin, made by one
    admin.post(stack.url("people/add"), data=form_fields(asked.text, index=0))
    assert stack.api.get_user(boss)["admin"] is True

    asked = admin.get(stack.url(f"users/{u}/admin"))
    assert "holds every scope on the hub" in asked.text
    admin.post(asked.url, data=form_fields(asked.text, index=0))
    assert stack.api.get_user(u)["admin"] is True
    asked = admin.get(stack.url(f"users/{u}/admin"))
    assert "self-demotion" not in asked.text
    admin.post(asked.url, data=form_fields(asked.text, index=0))
    assert stack.api.get_user(u)["admin"] is False

    me = stack.signin(boss)
    mine = me.get(stack.url(f"users/{boss}")).text
    assert "Delete account" not in mine and "Rename…" not in mine  # nor renames themselves
    assert me.get(stack.url(f"users/{boss}/rename")).status_code == 403
    token = csrf_token(mine)
    refused = me.post(stack.url(f"users/{boss}/delete"), data={"csrf_token": token})
    assert refused.status_code == 403 and exists(stack, boss)

    asked = me.get(stack.url(f"users/{boss}/admin"))
    lost = html.unescape(asked.text)
    assert 'data-testid="self-demotion"' in asked.text
    assert "see hubdesk's status page" in lost and "see hubdesk's activity page" in lost
    fields = form_fields(asked.text, index=0)
    fields.pop("understood", None)
    unticked = me.post(asked.url, data=fields)
    assert unticked.status_code == 400, alert(unticked.text) + unticked.text[-3000:]
    assert unticked.status_code == 400 and stack.api.get_user(boss)["admin"] is True
    done = me.post(asked.url, data={**fields, "understood": "y"}, allow_redirects=False)
    assert done.status_code == 303
    assert stack.api.get_user(boss)["admin"] is False
