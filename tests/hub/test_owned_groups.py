"""Hubs whose authenticator manages groups: memberships are not hubdesk's to change.

With ``HUBDESK_AUTHENTICATOR_MANAGES_GROUPS`` the membership forms are gone (the hub would
refuse the change before JupyterHub 5.3 and undo it at the member's next login after),
the pages say why, a crafted request is refused with the same words, and everything else
about groups (properties, servers, creating and deleting) works as ever.
"""

import html

import pytest
from helpers.stack import PREFIX, another_app, csrf_token, unique

OWNED = "come from the identity provider"


@pytest.fixture
def owned(stack, admin):
    with another_app(dict(stack.env, HUBDESK_AUTHENTICATOR_MANAGES_GROUPS="true")) as app:
        client = app.test_client()
        client.set_cookie("hubdesk-session", admin.cookies["hubdesk-session"], path=PREFIX)
        yield client


def text(r):
    return html.unescape(r.get_data(as_text=True))


def test_membership_forms_give_way_to_a_note(stack, owned):
    group = unique("idp")
    stack.api.create_group(group, ["student"])
    try:
        page = text(owned.get(f"{PREFIX}groups/{group}"))
        assert OWNED in page and 'data-testid="add-members"' not in page
        assert "Remove selected" not in page and "Sync to a roster" not in page
        assert "Edit properties" in page  # properties are still the hub's own
        assert 'name="names"' not in text(owned.get(f"{PREFIX}groups/"))
        assert "Add to group" not in text(owned.get(f"{PREFIX}users/student"))
    finally:
        stack.api.delete_group(group)


@pytest.mark.parametrize("path", ["add", "remove", "sync"])
def test_a_crafted_membership_change_is_refused_in_words_and_the_hub_untouched(stack, owned, path):
    group = unique("idp")
    stack.api.create_group(group, ["student"])
    try:
        token = csrf_token(text(owned.get(f"{PREFIX}groups/{group}")))
        r = owned.post(
            f"{PREFIX}groups/{group}/{path}", data={"csrf_token": token, "names": "mrossi"}
        )
        assert r.status_code == 403 and OWNED in text(r)
        assert stack.api.get_group(group)["users"] == ["student"]
        r = owned.post(
            f"{PREFIX}groups/", data={"csrf_token": token, "name": unique("x"), "names": "mrossi"}
        )
        assert r.status_code == 403 and OWNED in text(r)
    finally:
        stack.api.delete_group(group)
