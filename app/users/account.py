"""One person's account: rename, the admin flag, deletion. Each is a page that asks (GET) and
a form that does it (POST), answered with a redirect (303) to where the outcome shows.

Renaming and the admin flag go out with the person's own token (``person_client()``), so the
hub applies its rules on admins to the person ("Only admins can modify other admins", "Only
admins can grant admin permissions"); hubdesk refuses first, in words, what the hub would.
Deleting goes with the service token, through :func:`.removal.remove_account` (servers stopped
first). Every refusal for lack of scopes comes before any hub call.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField

from .. import permissions
from ..access import load_user, person_client, require
from ..errors import require_form
from ..extensions import service_client, settings
from ..hub import HubAPIError, HubUnreachable
from ..servers.model import servers_of
from ..words import server_words
from .removal import DELETED, active_servers, remove_account
from .views import bp

SEE_OTHER = 303


class RenameForm(FlaskForm):
    new_name = StringField(
        "New name", description="The hub keeps their servers, groups and roles under it."
    )


class AdminForm(FlaskForm):
    admin = HiddenField()  # "grant" or "revoke": what the page asked
    understood = BooleanField("I understand that I lose these pages")


class DeleteForm(FlaskForm):
    pass


# -- the steps ------------------------------------------------------------------------


def account_of(name: str, action: str, **loading) -> dict:
    """The user ``name`` once the person may ``action`` someone at all (checked before any hub
    call), then that user exactly (their groups resolve ``!group=`` filters)."""
    require(action)
    user = load_user(name, **loading)
    require(action, user=name, user_groups=user.get("groups") or ())
    return user


def refuse_if_admin(user: dict, what: str) -> None:
    """Only the hub's admins may change an admin's account: the hub's rule for changes
    ("Only admins can modify other admins"), refused here first. hubdesk holds deletion to it
    too, which the hub's DELETE does not check (the end of term does the same)."""
    if not permissions.may_change_account(user, admin=g.person.admin):
        abort(
            403,
            description=f"{user['name']} is a hub admin: only the hub's admins may {what} "
            "an admin's account.",
        )


def admin_check(model: dict):
    """At the moment of deleting: an account that became a hub admin meanwhile is left alone
    unless the person is one too (:func:`refuse_if_admin`)."""
    if not permissions.may_change_account(model, admin=g.person.admin):
        return "forbidden", "a hub admin now: only the hub's admins may delete an admin's account"
    return None


def running_words(user: dict) -> list[str]:
    return [server_words(s, user["name"]) for s in active_servers(user)]


def pages_lost(scopes) -> list[str]:
    """What a hub admin may do through hubdesk that needs the admin flag or an unfiltered scope
    (the admin role's): derived from ``permissions.ACTIONS``, in their words."""
    filtered = {s for s in scopes if "!" in s}
    return [
        spec.words
        for action, spec in permissions.ACTIONS.items()
        if permissions.allowed(scopes, action, admin=True)
        and not permissions.allowed(filtered, action, admin=False)
    ]


def hub_refusal(e: HubAPIError) -> str:
    return f"The hub refused: {e.message}"


def after_removal(name: str, removal) -> None:
    if removal.outcome == DELETED:
        flash(f"Deleted the account of {name}.", "success")
    elif removal.outcome == "unchanged":
        flash(f"{name}: nothing to delete ({removal.why}).", "info")
    else:
        flash(f"Could not delete the account of {name}: {removal.why}.", "error")


# -- routes -----------------------------------------------------------------------------


@bp.route("/<name>/rename", methods=["GET", "POST"])
def rename(name):
    require("edit_user")
    if name == g.person.name:
        abort(
            403,
            description="You cannot rename your own account here: hubdesk knows you by the "
            "name you signed in with. Another admin can rename you.",
        )
    user = account_of(name, "edit_user", include_stopped_servers=True)
    refuse_if_admin(user, "rename")
    form = RenameForm()
    running = running_words(user)
    if request.method == "GET":
        return render_template("users/rename.html", user=user, form=form, running=running)
    require_form(form)
    if running:  # the hub would leave them at their old address: refused, in words
        return render_template("users/rename.html", user=user, form=form, running=running), 409
    new = (form.new_name.data or "").strip()
    if not new or new == name:
        form.new_name.errors = ["Give a new name, different from the one they have."]
        return render_template("users/rename.html", user=user, form=form, running=[]), 400
    try:
        renamed = person_client().update_user(name, name=new)
    except HubAPIError as e:
        if e.status == 403:
            abort(403, description=hub_refusal(e))
        if e.status == 404:
            abort(404, description=f"There is no user called “{name}” any more.")
        form.new_name.errors = [hub_refusal(e)]
        return render_template("users/rename.html", user=user, form=form, running=[]), 400
    new = renamed.get("name", new)
    flash(f"Renamed {name} to {new}: their servers and groups go with the new name.", "success")
    return redirect(url_for(".show", name=new), SEE_OTHER)


@bp.route("/<name>/admin", methods=["GET", "POST"])
def admin_flag(name):
    user = account_of(name, "grant_admin")
    grant = not user.get("admin")
    own = name == g.person.name
    form = AdminForm()
    lost = pages_lost(g.person.scopes) if own and not grant else []
    page = dict(user=user, grant=grant, own=own, lost=lost, form=form)
    if request.method == "GET":
        return render_template("users/admin.html", **page)
    require_form(form)
    if form.admin.data != ("grant" if grant else "revoke"):
        state = "is a hub admin already" if not grant else "is not a hub admin"
        flash(f"{name} {state}; nothing changed.", "info")
        return redirect(url_for(".show", name=name), SEE_OTHER)
    if own and not form.understood.data:
        form.understood.errors = ["Tick this to take your own admin flag away."]
        return render_template("users/admin.html", **page), 400
    try:
        person_client().update_user(name, admin=grant)
    except HubAPIError as e:
        if e.status in (403, 404):
            abort(e.status, description=hub_refusal(e))
        flash(f"Could not change {name}'s admin flag. {hub_refusal(e)}", "error")
        return redirect(url_for(".show", name=name), SEE_OTHER)
    if grant:
        flash(f"{name} is now a hub admin.", "success")
    else:
        flash(f"{name} is no longer a hub admin.", "success")
    return redirect(url_for(".show", name=name), SEE_OTHER)


@bp.route("/<name>/delete", methods=["GET", "POST"])
def delete(name):
    require("delete_user")
    if name == g.person.name:
        abort(403, description="You cannot delete your own account (the hub refuses it too).")
    user = account_of(name, "delete_user", include_stopped_servers=True)
    refuse_if_admin(user, "delete")
    form = DeleteForm()
    if request.method == "GET":
        servers = servers_of(user, settings().profiles, host=settings().hub_host)
        groups = sorted(user.get("groups") or (), key=str.casefold)
        return render_template(
            "users/delete.html", user=user, servers=servers, groups=groups, form=form
        )
    require_form(form)
    try:
        removal = remove_account(service_client(), name, admin_check)
    except HubUnreachable as e:  # remove_account says it in words; this is belt and braces
        flash(f"Could not delete the account of {name}: the hub did not answer ({e}).", "error")
        return redirect(url_for(".show", name=name), SEE_OTHER)
    after_removal(name, removal)
    return redirect(url_for(".index"), SEE_OTHER)
