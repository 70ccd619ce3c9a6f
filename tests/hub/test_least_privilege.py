"""hubdesk on the README's least-privilege role: a service token without admin:users.

This module's own hub loads the `hubdesk-service` role exactly as the README and
deploy/z2jh/values.yaml have it (hubdesk.devhub.SERVICE_SCOPES); the session's hub grants the
optional scopes too, since other tests create users with the service token. What needs the
missing scope is hidden and named on the status page, and a bulk add naming people the hub
does not know says in words that hubdesk may not create them: never a 500, never a change
half made and reported as done.
"""

from __future__ import annotations

import html
import re

import pytest
from helpers.groups import confirm_form, members, post
from helpers.stack import alert, running_stack, stack_roles, unique
from hubdesk.devhub import OPTIONAL_SERVICE_SCOPES, SERVICE_SCOPES
from hubdesk.hub import HubAPIError

LACKS = "hubdesk may not create users on this hub: its service token lacks admin:users"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("least-privilege-hub"),
        roles=stack_roles(service_scopes=SERVICE_SCOPES),
    ) as made:
        yield made


@pytest.fixture
def group(stack):
    name = unique("lp")
    stack.api.create_group(name)  # admin:groups is in the role
    yield name
    stack.api.delete_group(name)


def feature_rows(page: str) -> dict[str, str]:
    """The status page's features table: {feature in words: what the service token has}."""
    table = page[page.index('data-testid="features"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>.*?badge[^>]*>(.*?)</span>", table, re.S)
    return {html.unescape(words): badge for words, badge in rows}


def test_the_hub_gave_hubdesk_the_readmes_role_and_nothing_more(stack):
    scopes = set(stack.api.whoami()["scopes"])
    assert "admin:users" not in scopes and "admin:auth_state" not in scopes
    assert "delete:users" not in scopes
    assert {"read:users", "admin:groups", "admin:servers"} <= scopes
    assert set(OPTIONAL_SERVICE_SCOPES) == {"admin:users", "delete:users"}


def test_status_page_names_the_missing_feature(stack, admin):
    page = admin.get(stack.url("status")).text
    rows = feature_rows(page)
    assert rows["Create users"] == "missing"
    assert rows["Delete people's hub accounts"] == "missing"
    # everything else hubdesk does is there
    lacking = {words for words, badge in rows.items() if badge != "has it"}
    assert lacking == {"Create users", "Delete people's hub accounts"}


def test_a_bulk_add_of_a_missing_user_says_hubdesk_may_not_create_it(stack, admin, group):
    ghost = unique("ghost")
    audit_from = stack.last_audit_id()
    r = post(admin, stack, f"groups/{group}/add", {"names": f"student\n{ghost}"})
    assert r.status_code == 200
    page = html.unescape(r.text)
    # the preview: the unknown name, why it cannot be created, and no way to create it
    assert 'data-testid="unknown"' in page and ghost in page
    (said,) = re.findall(r'data-testid="no-create">(.*?)</p>', page, re.S)
    assert said.startswith(LACKS) and "It is not added: only the known users can be." in said
    assert "missing user" not in page and 'name="create_missing"' not in page
    assert members(stack, group) == []  # nothing yet
    # the known name is added; the outcome names the one left out, and why
    forms = re.findall(r'<form method="post" action="[^"]*/add">.*?</form>', r.text, re.S)
    (add_known,) = forms
    r = admin.post(stack.url(f"groups/{group}/add"), data=confirm_form(add_known))
    assert r.status_code == 200
    said = alert(r.text)
    assert f"Added 1 member to “{group}”: student." in said
    assert f"Skipped 1 name (no such user on the hub): {ghost}" in said
    assert members(stack, group) == ["student"]
    with pytest.raises(HubAPIError):
        stack.api.get_user(ghost)
    # no user was created, and nothing says one was
    actions = [record["action"] for record in stack.audit_records(audit_from)]
    assert "user.create" not in actions and "Created" not in said


def test_a_crafted_request_to_create_them_is_refused_in_words(stack, admin, group):
    ghost = unique("ghost")
    audit_from = stack.last_audit_id()
    r = post(
        admin,
        stack,
        f"groups/{group}/add",
        {"confirm": "yes", "names": f'["student", "{ghost}"]', "create_missing": "y"},
    )
    assert r.status_code == 403
    assert LACKS in html.unescape(r.text)
    # refused before anything was sent: no member added, no user made, nothing audited
    assert members(stack, group) == []
    with pytest.raises(HubAPIError):
        stack.api.get_user(ghost)
    assert stack.audit_records(audit_from) == []


def test_staff_accounts_are_still_named_before_an_add(stack):
    """admin:users is not what shows hubdesk a staff account's roles (read:users carries
    them): the teacher adding the help-desk person (a role beyond `user`) to class-a is
    asked first, as on the session's hub."""
    teacher = stack.signin("teacher")
    r = post(teacher, stack, "groups/class-a/add", {"names": "helpdesk"})
    assert r.status_code == 200
    assert 'data-testid="grants"' in r.text
    assert re.search(r'data-testid="grants-names".*?helpdesk', r.text, re.S)
    assert "helpdesk" not in members(stack, "class-a")
