"""The one permission function: scopes in, yes or no out (no hub, no Flask)."""

import pytest
from hubdesk.permissions import ACTIONS, allowed, reach
from jupyterhub.scopes import expand_scopes


def expand(*scopes):
    """Scopes as the hub reports them: expanded (servers -> start:servers, ...)."""
    return expand_scopes(set(scopes))


ADMIN = {
    "admin:groups",
    "groups",
    "read:groups",
    "list:groups",
    "delete:groups",
    "list:users",
    "read:users",
    "admin:users",
    "servers",
    "read:servers",
    "start:servers",
    "delete:servers",
    "admin-ui",
    "read:roles:groups",
}
HELPDESK = {
    "list:users!group=class-a",
    "read:users!group=class-a",
    "servers!group=class-a",
    "start:servers!group=class-a",
    "delete:servers!group=class-a",
    "read:servers!group=class-a",
    "servers!user=helpdesk",
    "start:servers!user=helpdesk",
}
TEACHER = {"groups!group=class-a", "read:groups!group=class-a", "list:groups!group=class-a"}


def test_every_action_names_scopes_and_words():
    for name, action in ACTIONS.items():
        assert action.scopes and action.words, name
        assert action.target in {"hub", "group", "user", "server"}


@pytest.mark.parametrize(
    ("scopes", "action", "target", "expected"),
    [
        (ADMIN, "create_group", {}, True),
        (TEACHER, "create_group", {}, False),
        ({"admin:groups!group=class-a"}, "create_group", {}, False),  # needs it unfiltered
        (TEACHER, "edit_group", {"group": "class-a"}, True),
        (TEACHER, "edit_group", {"group": "class-b"}, False),
        (TEACHER, "edit_group", {}, True),  # somewhere: shows the menu
        (TEACHER, "delete_group", {"group": "class-a"}, False),
        (TEACHER, "list_groups", {}, True),
        (HELPDESK, "list_groups", {}, False),
        (HELPDESK, "list_users", {}, True),
        # a group filter reaches the group's members, and their servers
        (HELPDESK, "read_user", {"user": "ann", "user_groups": ["class-a"]}, True),
        (HELPDESK, "read_user", {"user": "bob", "user_groups": ["class-b"]}, False),
        (HELPDESK, "read_user", {"user": "bob"}, False),
        (
            HELPDESK,
            "start_server",
            {"user": "ann", "server": "labs", "user_groups": ["x", "class-a"]},
            True,
        ),
        (
            HELPDESK,
            "start_server",
            {"user": "bob", "server": "labs", "user_groups": ["class-b"]},
            False,
        ),
        (HELPDESK, "start_server", {"user": "helpdesk", "server": "", "user_groups": []}, True),
        (
            HELPDESK,
            "stop_server",
            {"user": "ann", "server": "labs", "user_groups": ["class-a"]},
            True,
        ),
        (expand("servers!server=ann/labs"), "stop_server", {"user": "ann", "server": "labs"}, True),
        (
            expand("servers!server=ann/labs"),
            "stop_server",
            {"user": "ann", "server": "other"},
            False,
        ),
        (expand("servers!user=ann"), "start_server", {"user": "ann", "server": "labs"}, True),
        (expand("servers!user=ann"), "start_server", {"user": "bob", "server": "labs"}, False),
        # JupyterHub 5.x has no start:servers: `servers` lets you start
        ({"servers"}, "start_server", {"user": "ann", "server": "x"}, True),
        ({"read:servers"}, "start_server", {"user": "ann", "server": "x"}, False),
        (ADMIN, "admin_status", {}, True),
        (HELPDESK, "admin_status", {}, False),
        # the audit trail names anyone on the hub: admin-ui alone (it shows no user) is not enough
        (ADMIN, "read_activity", {}, True),
        ({"admin-ui"}, "read_activity", {}, False),
        (expand("admin-ui", "read:users", "read:groups!group=class-a"), "read_activity", {}, False),
        (expand("admin-ui", "read:users", "read:groups"), "read_activity", {}, True),
        (set(), "list_users", {}, False),
    ],
)
def test_allowed(scopes, action, target, expected):
    assert allowed(scopes, action, **target) is expected


ACCOUNTS = expand("admin:users")  # the hub's "tantamount to superuser" scope, held unfiltered


@pytest.mark.parametrize(
    ("scopes", "action", "target", "admin", "expected"),
    [
        # adding people needs admin:users without a filter (there is no user to filter by yet)
        (ACCOUNTS, "add_users", {}, False, True),
        (expand("admin:users!group=class-a"), "add_users", {}, False, False),
        (HELPDESK, "add_users", {}, False, False),
        # renaming: admin:users for that user (a group filter reaches the group's members)
        (ACCOUNTS, "edit_user", {"user": "ann"}, False, True),
        (expand("admin:users!group=class-a"), "edit_user", {"user": "ann"}, False, False),
        (
            expand("admin:users!group=class-a"),
            "edit_user",
            {"user": "ann", "user_groups": ["class-a"]},
            False,
            True,
        ),
        # the admin flag: the scope, and the hub's rule that only its admins grant admin
        (ACCOUNTS, "grant_admin", {"user": "ann"}, False, False),
        (ACCOUNTS, "grant_admin", {"user": "ann"}, True, True),
        (HELPDESK, "grant_admin", {"user": "ann", "user_groups": ["class-a"]}, True, False),
        # deleting: delete:users, which admin:users holds
        (ACCOUNTS, "delete_user", {"user": "ann"}, False, True),
        ({"delete:users!group=class-a"}, "delete_user", {"user": "bo"}, False, False),
        (
            {"delete:users!group=class-a"},
            "delete_user",
            {"user": "ann", "user_groups": ["class-a"]},
            False,
            True,
        ),
        (HELPDESK, "delete_user", {"user": "ann", "user_groups": ["class-a"]}, False, False),
        (TEACHER, "delete_user", {}, False, False),
    ],
)
def test_accounts(scopes, action, target, admin, expected):
    assert allowed(scopes, action, admin=admin, **target) is expected


def test_only_admins_reach_the_admin_flag():
    assert reach(ACCOUNTS, "grant_admin") is None
    assert reach(ACCOUNTS, "grant_admin", admin=True) == []
    assert reach(ACCOUNTS, "delete_user") == []


def test_tricky_group_names_do_not_widen_access():
    scopes = {"groups!group=a b"}
    assert allowed(scopes, "edit_group", group="a b")
    assert not allowed(scopes, "edit_group", group="a")
    assert not allowed(scopes, "edit_group", group="a b!x")


def test_reach_in_words():
    assert reach(ADMIN, "create_group") == []
    assert reach(TEACHER, "create_group") is None
    assert reach(TEACHER, "edit_group") == ["group class-a"]
    assert reach(HELPDESK, "start_server", me="helpdesk") == ["group class-a", "yourself"]
    assert reach(HELPDESK, "list_groups") is None


def test_privileged_accounts_directly_or_through_a_group():
    """An admin, a role of one's own beyond "user", or a role held through a group (the
    user model lists none of those): the class's own group's roles do not count."""
    from hubdesk.permissions import privileged_account

    assert privileged_account({"admin": True})
    assert privileged_account({"roles": ["user", "tutor"]})
    assert not privileged_account({"roles": ["user"], "groups": ["class-a"]})
    staff = {"roles": ["user"], "groups": ["class-a", "staff-a"]}
    roles = {"staff-a": ["hubdesk-staff-class-a"], "class-a": []}
    assert privileged_account(staff, roles, besides="class-a")
    assert not privileged_account(staff, {"staff-a": [], "class-a": ["x"]}, besides="class-a")
