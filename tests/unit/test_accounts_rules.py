"""People's accounts without a hub: who may grant admin (the hub's own rule), what a hub admin
loses with their own flag (derived from the permissions), and what hubdesk tells the hub
refuses before it is asked."""

import pytest
from flask import Flask, g
from hubdesk import permissions
from hubdesk.auth import Person
from hubdesk.people.adding import invalid_names, said
from hubdesk.users.account import pages_lost, refuse_if_admin
from werkzeug.exceptions import Forbidden


def test_only_a_hub_admin_may_grant_admin_even_with_admin_users():
    scopes = {"admin:users", "read:users", "list:users"}
    assert permissions.allowed(scopes, "add_users")
    assert permissions.allowed(scopes, "edit_user", user="u")
    assert not permissions.allowed(scopes, "grant_admin", user="u")  # admin:users is not enough
    assert not permissions.allowed(scopes, "grant_admin")
    assert permissions.allowed(scopes, "grant_admin", user="u", admin=True)
    assert not permissions.allowed({"admin:users!group=class-a"}, "add_users")  # hub-wide only
    helpdesk = {"list:users!group=class-a", "read:users!group=class-a", "servers!group=class-a"}
    for action in ("add_users", "edit_user", "grant_admin", "delete_user"):
        assert not permissions.allowed(helpdesk, action, admin=False)


def test_a_non_admin_with_admin_users_is_refused_an_admins_account_in_words():
    with Flask(__name__).test_request_context():
        g.person = Person("mgr", False, frozenset({"admin:users"}), "t")
        refuse_if_admin({"name": "student", "admin": False}, "rename")  # not an admin: fine
        with pytest.raises(Forbidden) as refused:
            refuse_if_admin({"name": "boss", "admin": True}, "rename")
        assert "only the hub's admins may rename an admin's account" in refused.value.description
        g.person = Person("root", True, frozenset({"admin:users"}), "t")
        refuse_if_admin({"name": "boss", "admin": True}, "rename")  # a hub admin may


def test_the_pages_a_hub_admin_loses_come_from_the_permissions():
    admin = {"admin-ui", "admin:users", "read:users", "read:groups", "list:users", "groups"}
    lost = pages_lost(admin | {"read:users!group=class-a"})
    assert permissions.ACTIONS["admin_status"].words in lost
    assert permissions.ACTIONS["read_activity"].words in lost
    assert permissions.ACTIONS["grant_admin"].words in lost
    # a filtered scope of another role stays: reading class-a's users is not lost
    assert permissions.ACTIONS["read_user"].words not in lost


def test_names_the_hub_refuses_and_long_lists_said_short():
    assert invalid_names(["a/b", "..", ".", "ok", "../x", "a.b"]) == {
        "a/b": "a user name cannot contain “/”",
        "../x": "a user name cannot contain “/”",
        "..": "a user name cannot be only dots",
        ".": "a user name cannot be only dots",
    }
    assert said(["a", "b"]) == "a, b"
    many = said([f"user-{i:04d}" for i in range(1000)])
    assert len(many) < 500 and many.endswith(" more")
    assert said(["x" * 300]) == "x" * 60 + "…"
