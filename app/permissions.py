"""Who may do what: the one place that turns hub scopes into yes or no.

Pure logic, no Flask and no HTTP: :func:`allowed` answers "may someone holding
these (expanded) scopes do ACTION to this user, group or server?". It uses the
hub's own ``check_scopes`` and adds what that function leaves out: a
``!group=G`` filter grants access to a user (or their servers) when the user is
a member of G, so callers pass the target user's groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jupyterhub.services.auth import check_scopes


@dataclass(frozen=True)
class Action:
    """Something a person can do through hubdesk."""

    scopes: tuple[str, ...]  # any one of these suffices (filtered to the target)
    target: str  # "hub", "group", "user" or "server"
    words: str  # what it lets you do, for the home and status pages
    listing: bool = False  # a list the hub filters itself: any filter is enough
    service: bool = True  # done with the service token, so it must hold the scope too
    also: tuple[str, ...] = ()  # and every one of these, unfiltered (reach over the whole hub)
    # the hub's own rule on top of the scope: only a hub admin may do it (grant or take
    # admin, change an admin's account: "Only admins can modify other admins")
    hub_admin: bool = False


ACTIONS: dict[str, Action] = {
    "list_groups": Action(("list:groups",), "hub", "see groups", listing=True),
    "read_group": Action(("read:groups",), "group", "read groups and their members"),
    "create_group": Action(("admin:groups",), "hub", "create groups"),
    "delete_group": Action(("delete:groups",), "group", "delete groups"),
    "edit_group": Action(("groups",), "group", "change the properties of groups"),
    "edit_members": Action(("groups",), "group", "change the members of groups"),
    "read_group_roles": Action(("read:roles:groups",), "group", "see the roles of groups"),
    "list_users": Action(("list:users",), "hub", "find users", listing=True),
    "read_user": Action(("read:users",), "user", "read users and their groups"),
    # admin:users: not in the README's service role (every user's auth state with it);
    # without it a bulk add lists the missing names and says hubdesk may not create them
    "create_users": Action(("admin:users",), "hub", "create users"),
    # People's accounts (JupyterHub 5.x and 6.x alike). Adding, renaming and the admin flag
    # go out with the person's own token (service=False): the hub then applies its rules on
    # admins to the person, who may be a hub admin, rather than to hubdesk's service, which
    # is not. Deleting goes with the service token: the end-of-term job runs on after the
    # person has gone, so the service token must hold delete:users too.
    "add_users": Action(("admin:users",), "hub", "add people's hub accounts", service=False),
    "edit_user": Action(("admin:users",), "user", "rename people's accounts", service=False),
    "grant_admin": Action(
        ("admin:users",),
        "user",
        "make people hub admins, or take it back",
        service=False,
        hub_admin=True,
    ),
    "delete_user": Action(("delete:users",), "user", "delete people's hub accounts"),
    "read_servers": Action(("read:servers",), "server", "see servers"),
    # start:servers is new in JupyterHub 6; on 5.x only `servers` lets you start
    "start_server": Action(("start:servers", "servers"), "server", "start servers"),
    "stop_server": Action(("delete:servers",), "server", "stop and remove servers"),
    "raw_user_options": Action(
        ("admin:servers",), "hub", "start servers with user_options of your own (JSON)"
    ),
    # Usage (app/usage) is hubdesk's own record, read from its database (service=False), and
    # shown exactly to whom the hub would show the people in it: a group's usage to whoever
    # may read its members as users (read:users for the group: a teacher's
    # read:users!group=class-a), a person's to whoever may read that user (read_user), the
    # whole hub's to whoever may list every user (list:users, unfiltered)
    "group_usage": Action(
        ("read:users",), "group", "see how a group's members use the hub", service=False
    ),
    "hub_usage": Action(
        ("list:users",), "hub", "see how the whole hub is used (servers at the peak)", service=False
    ),
    "admin_status": Action(("admin-ui",), "hub", "see hubdesk's status page", service=False),
    # the audit trail names users, groups, servers and user_options of the whole hub: only
    # for someone the hub lets read every user and every group (admin-ui alone shows nobody)
    "read_activity": Action(
        ("admin-ui",),
        "hub",
        "see hubdesk's activity page (every change made through it)",
        service=False,
        also=("read:users", "read:groups"),
    ),
}


def allowed(
    scopes: Iterable[str],
    action: str,
    *,
    user: str | None = None,
    server: str | None = None,
    group: str | None = None,
    user_groups: Iterable[str] = (),
    admin: bool = False,
) -> bool:
    """May someone holding ``scopes`` (expanded, as the hub reports them) do ``action``?

    Without a target, the question is "may they do it to anything at all"
    (what menus and the home page need); with a target it is exact. ``admin``: whether
    they are a hub admin, for the actions only the hub's admins may do.
    """
    spec = ACTIONS[action]
    if spec.hub_admin and not admin:
        return False
    have = set(scopes)
    if not all(scope in have for scope in spec.also):
        return False
    if spec.target == "hub" and not spec.listing:
        return bool(check_scopes(set(spec.scopes), have))
    if user is None and group is None:
        # to something, somewhere: any filter of the scope will do
        return any(s.partition("!")[0] in spec.scopes for s in have)

    # group filters: the hub's check_scopes cannot tell whether a user is in a
    # group, so match them here against the group (or the user's groups)
    groups = [group] if group is not None else list(user_groups)
    if any(f"{base}!group={g}" in have for base in spec.scopes for g in groups):
        return True
    if user is None:
        # a whole group: only an unfiltered scope covers it (a !user= or !server= one never
        # does; check_scopes would say so too, with a warning about mixing filters)
        return any(base in have for base in spec.scopes)
    if server is None:
        wanted = {f"{base}!user={user}" for base in spec.scopes}
    else:
        # the default server is named "" (filter "user/")
        wanted = {f"{base}!server={user}/{server}" for base in spec.scopes}
    # the rest (no filter, !user=, !server=) is check_scopes' job
    return bool(check_scopes(wanted, {s for s in have if "!group=" not in s}))


def allowed_both(
    person_scopes: Iterable[str], service, action: str, *, admin: bool = False, **target
) -> bool:
    """``allowed`` for a person, and for the service token too when the action is done with it.

    ``service`` gives the service token's scopes when called (asked only when needed).
    """
    if not allowed(person_scopes, action, admin=admin, **target):
        return False
    if not ACTIONS[action].service:
        return True
    return allowed(service(), action, **target)


def may_change_account(target: dict, *, admin: bool) -> bool:
    """Only a hub admin renames or deletes a hub admin's account (``target``: a user model;
    ``admin``: whether the person is a hub admin). The hub's own rule for every change to an
    admin ("Only admins can modify other admins"); hubdesk holds deletions to it too, which
    the hub's DELETE does not check: on a person's page, in the end of term and in its job."""
    return admin or not target.get("admin")


# The one rule for a group's lessons: whoever may read the group and start and stop servers
# for it may schedule, change and cancel its lessons and see them (with their actions) on
# its roster; nothing less does any of the four (a help-desk role with ``servers!group=``
# but no ``read:groups`` cannot see the group's members, so it keeps no lessons for them).
LESSON_ACTIONS = ("read_group", "start_server", "stop_server")


def may_keep_lessons(person_scopes: Iterable[str], service, group: str) -> bool:
    """May someone holding these scopes schedule, change and cancel ``group``'s lessons?"""
    return all(allowed_both(person_scopes, service, a, group=group) for a in LESSON_ACTIONS)


def privileged_account(
    model: dict, group_roles: dict[str, list[str]] | None = None, *, besides: str = ""
) -> bool:
    """A hub admin, or an account with a role beyond the default one (a user model from the
    hub: ``admin`` always, ``roles`` when the asking token holds ``read:users`` or
    ``read:roles:users``), held
    directly or through one of its groups (``group_roles``: {group: its roles}, from group
    models with ``read:roles:groups``). The roles of the group ``besides`` (the class
    itself, which every member shares) do not count."""
    if bool(model.get("admin")) or bool(set(model.get("roles") or ()) - {"user"}):
        return True
    roles = group_roles or {}
    return any(roles.get(g) for g in model.get("groups") or () if g != besides)


def groups_of(models) -> set[str]:
    """Every group these user models belong to (whose roles :func:`privileged_account` asks)."""
    return {g for model in models for g in model.get("groups") or ()}


def group_filter(scopes: Iterable[str], action: str) -> set[str] | None:
    """For an action on groups: ``None`` when it reaches every group, else the groups it names.

    ``allowed(scopes, action, group=g)`` is true exactly for the ``g`` this admits,
    but this answers for thousands of groups at once.
    """
    spec = ACTIONS[action]
    names = set()
    for scope in scopes:
        base, _, filt = scope.partition("!")
        if base not in spec.scopes:
            continue
        if not filt:
            return None
        kind, _, value = filt.partition("=")
        if kind == "group":
            names.add(value)
    return names


def reach(
    scopes: Iterable[str], action: str, *, me: str = "", admin: bool = False
) -> list[str] | None:
    """How far an action reaches, in words.

    ``None`` when the scopes do not grant it, ``[]`` when it reaches everything,
    else the list of things it is limited to (``group class-a``, ``yourself``).
    """
    spec = ACTIONS[action]
    if spec.hub_admin and not admin:
        return None
    if not all(scope in set(scopes) for scope in spec.also):
        return None
    limits = []
    for scope in sorted(set(scopes)):
        base, _, filt = scope.partition("!")
        if base not in spec.scopes:
            continue
        if not filt:
            return []
        kind, _, value = filt.partition("=")
        if kind == "user" and value == me:
            limits.append("yourself")
        elif kind == "server":
            limits.append(f"server {value}")
        else:
            limits.append(f"{kind} {value}")
    if not limits:
        return None
    if spec.target == "hub" and not spec.listing:
        return None  # needs the scope without a filter
    return sorted(set(limits))
