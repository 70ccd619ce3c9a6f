"""May the signed-in person do this? The one answer, for views, templates and jobs.

Both the person's own hub scopes (those on their OAuth token) and the service
token's must allow an action (:func:`hubdesk.permissions.allowed` decides each);
the job runner asks the same function with the scopes a person had when they
started a job. Reads that the hub filters itself go out with the person's own
token (:func:`person_client`).
"""

from __future__ import annotations

from flask import abort, g

from . import permissions
from .extensions import group_directory, service_client, service_scopes, settings
from .hub import HubAPIError, HubClient


def can(action: str, **target) -> bool:
    """May the signed-in person do ``action`` to ``target`` through hubdesk?

    Views call this before any hub call that changes something; templates call
    it to decide which actions to show.
    """
    person = g.get("person")
    if person is None:
        return False
    if action in OWNED_BY_THE_AUTHENTICATOR and settings().authenticator_manages_groups:
        return False
    return permissions.allowed_both(
        person.scopes, service_scopes, action, admin=person.admin, **target
    )


def reachable_groups(action: str) -> set[str] | None:
    """The groups ``can(action, group=...)`` admits: ``None`` for all of them, else their names."""
    person = permissions.group_filter(g.person.scopes, action)
    if not permissions.ACTIONS[action].service:
        return person
    service = permissions.group_filter(service_scopes(), action)
    if person is None or service is None:
        return service if person is None else person
    return person & service


# with Authenticator.manage_groups the identity provider owns memberships: the hub refuses
# changes to them (before 5.3) or overwrites them at the member's next login (from 5.3)
OWNED_BY_THE_AUTHENTICATOR = frozenset({"edit_members"})
OWNED_WORDS = (
    "On this hub, group memberships come from the identity provider (the authenticator "
    "manages groups): a change made here would be refused, or undone at the member's next "
    "login. Change them where people's accounts are managed."
)


def require(action: str, **target) -> None:
    """Abort with 403 (and no hub call) unless ``can(action, **target)``."""
    if action in OWNED_BY_THE_AUTHENTICATOR and settings().authenticator_manages_groups:
        abort(403, description=OWNED_WORDS)
    if not can(action, **target):
        abort(403, description=why_not(action, **target))


def why_not(action: str, **target) -> str:
    """Why the signed-in person may not do ``action`` through hubdesk, in words ("" if they
    may): their own hub scopes, or hubdesk's service token (its role leaves the scope out)."""
    if can(action, **target):
        return ""
    spec = permissions.ACTIONS[action]
    person = g.get("person")
    if spec.hub_admin and (person is None or not person.admin):
        return f"Only the hub's admins may {spec.words} (the hub's own rule)."
    admin = person is not None and person.admin
    if person is not None and permissions.allowed(person.scopes, action, admin=admin, **target):
        scopes = " or ".join(spec.scopes)
        return (
            f"hubdesk may not {spec.words} on this hub: its service token lacks {scopes} (its "
            "hub role leaves it out; the status page lists what it lacks)."
        )
    needs = ""
    if spec.also:
        scopes = ", ".join([*spec.scopes, *spec.also])
        needs = f" It needs these hub scopes, without a filter: {scopes}."
    return f"Your hub scopes do not let you {spec.words} here.{needs}"


def person_client() -> HubClient:
    """A hub client acting as the signed-in person (the hub filters what it returns)."""
    return service_client().for_token(g.person.token)


def load_user(name: str, *, include_stopped_servers: bool = False) -> dict:
    """The user as the signed-in person may see them (the hub applies their filters)."""
    if not can("read_user", user=name) and not can("read_user"):
        abort(403, description="Your hub scopes do not let you read users.")
    try:
        return person_client().get_user(name, include_stopped_servers=include_stopped_servers)
    except HubAPIError as e:
        if e.status == 404:
            abort(404, description=f"There is no user called “{name}” that you may see.")
        if e.status == 403:
            abort(403, description=f"Your hub scopes do not let you see “{name}”.")
        raise


def load_group(name: str) -> dict:
    """The group as the signed-in person may see it; 404 in words if there is none."""
    require("read_group", group=name)
    try:
        return person_client().get_group(name)
    except HubAPIError as e:
        if e.status == 404:
            abort(404, description=f"There is no group called “{name}”.")
        raise


def load_group_members(group: str) -> list[str]:
    """The members of ``group`` as the person may read them."""
    return list(load_group(group).get("users", ()))


def visible_groups(action: str = "list_groups"):
    """Every group the signed-in person may list (or act on), sorted by name."""
    entries = group_directory().entries(service_client())
    allowed = reachable_groups(action)
    return entries if allowed is None else [e for e in entries if e.name in allowed]
