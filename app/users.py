"""Users: one user's page (their groups; their servers come with the servers area)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from .auth import can, person_client, require, service_client
from .groups import ops, visible_groups
from .hub import HubAPIError
from .names import NamesError, check_group_name

bp = Blueprint("users", __name__)


class GroupChoiceForm(FlaskForm):
    group = StringField("Group")


def _load_user(name: str) -> dict:
    """The user as the signed-in person may see them (the hub applies their filters)."""
    if not can("read_user", user=name) and not can("read_user"):
        abort(403, description="Your hub scopes do not let you read users.")
    try:
        return person_client().get_user(name)
    except HubAPIError as e:
        if e.status == 404:
            abort(404, description=f"There is no user called “{name}” that you may see.")
        if e.status == 403:
            abort(403, description=f"Your hub scopes do not let you see “{name}”.")
        raise


@bp.route("/<name>")
def show(name):
    user = _load_user(name)
    groups = sorted(user.get("groups") or (), key=str.casefold)
    # groups this person could add the user to, for the form's suggestions
    choices = [e.name for e in visible_groups("edit_group") if e.name not in groups][:500]
    return render_template(
        "users/show.html", user=user, groups=groups, choices=choices, form=GroupChoiceForm()
    )


@bp.route("/<name>/groups", methods=["POST"])
def change_groups(name):
    form = GroupChoiceForm()
    if not form.validate_on_submit():
        abort(400, description="This form has expired. Nothing was changed.")
    action = request.form.get("action")
    if action not in ("add", "remove"):
        abort(400, description="Choose whether to add or remove.")
    try:
        group = check_group_name(form.group.data or "")
    except NamesError as e:
        flash(str(e), "error")
        return redirect(url_for(".show", name=name))
    require("edit_group", group=group)
    _load_user(name)
    hub = service_client()
    try:
        if action == "add":
            result = ops.add_members(hub, group, [name], chunk_size=1)
        else:
            result = ops.remove_members(hub, group, [name], chunk_size=1)
    except HubAPIError as e:
        if e.status != 404:
            raise
        flash(f"There is no group called “{group}”. Nothing was changed.", "error")
        return redirect(url_for(".show", name=name))
    current_app.extensions["hubdesk.groups"].note(group, result.size)
    if result.done:
        where = "to" if action == "add" else "from"
        flash(f"{result.verb.capitalize()} {name} {where} “{group}”.", "success")
    elif result.unchanged:
        state = "already a member of" if action == "add" else "not a member of"
        flash(f"{name} was {state} “{group}”; nothing changed.", "info")
    else:
        flash(result.summary(group), "warning")
    return redirect(url_for(".show", name=name))
