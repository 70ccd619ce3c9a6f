"""Users: the list with search, and one user's page (their servers and their groups)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from .access import can, load_user, person_client, reachable_groups, require
from .errors import require_form
from .extensions import group_directory, service_client, settings
from .groups import ops, visible_groups
from .hub import HubAPIError
from .names import NamesError, check_group_name
from .paging import int_arg, window
from .profiles import default_profile
from .servers.model import mark_failures, servers_of
from .servers.views import StartForm, hub_major, offered_profiles, profile_choices

bp = Blueprint("users", __name__)


class GroupChoiceForm(FlaskForm):
    group = StringField("Group")


PAGE_SIZES = (25, 50, 100, 200)
STATES = {"": "all users", "active": "with a running server", "inactive": "with no running server"}


@bp.route("/")
def index():
    require("list_users")
    query = request.args.get("q", "")[:255].strip()
    state = request.args.get("state", "")
    state = state if state in STATES else ""
    limit = int_arg("limit", 50, allowed=PAGE_SIZES)
    offset = int_arg("offset", 0)
    filters = {"sort": "name", "include_stopped_servers": "1"}
    if query:
        filters["name_filter"] = query
    if state:
        filters["state"] = state
    page = person_client().list_users(offset=offset, limit=limit, **filters)
    profiles = settings().profiles
    rows = [(u, servers_of(u, profiles)) for u in page.items]
    return render_template(
        "users/index.html",
        rows=rows,
        query=query,
        state=state,
        states=STATES,
        page=window(offset, limit, page.total or 0, page.next_offset),
        page_sizes=PAGE_SIZES,
    )


@bp.route("/<name>")
def show(name):
    return user_page(name)


def user_page(name: str, *, start_error: str = "", status: int = 200):
    """A user's page; after a refused start, with the start form as the person filled it."""
    user = load_user(name, include_stopped_servers=True)
    groups = sorted(user.get("groups") or (), key=str.casefold)
    # groups this person could add the user to: listed in the page when their scopes name
    # them (a teacher's few classes), else suggested as they type (groups/suggest)
    choices, suggest = [], False
    if can("edit_members"):
        suggest = reachable_groups("edit_members") is None
        if not suggest:
            choices = [e.name for e in visible_groups("edit_members") if e.name not in groups]
    offered = offered_profiles(user.get("groups") or ())
    start_form = StartForm()
    start_form.profile.choices = profile_choices(offered)
    default = default_profile(offered)
    if default and not start_error:
        start_form.profile.data = default.slug
    servers = mark_failures(servers_of(user, settings().profiles), person_client())
    html = render_template(
        "users/show.html",
        user=user,
        groups=groups,
        choices=choices,
        suggest=suggest,
        form=GroupChoiceForm(),
        servers=servers,
        start_form=start_form,
        start_error=start_error,
        offered=offered,
        display_names=hub_major() >= 6,
        target_groups=user.get("groups") or (),
    )
    return html, status


@bp.route("/<name>/groups", methods=["POST"])
def change_groups(name):
    form = GroupChoiceForm()
    require_form(form)
    action = request.form.get("action")
    if action not in ("add", "remove"):
        abort(400, description="Choose whether to add or remove.")
    try:
        group = check_group_name(form.group.data or "")
    except NamesError as e:
        flash(str(e), "error")
        return redirect(url_for(".show", name=name))
    require("edit_members", group=group)
    load_user(name)
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
    group_directory().note(group, result.size)
    if result.done:
        where = "to" if action == "add" else "from"
        flash(f"{result.verb.capitalize()} {name} {where} “{group}”.", "success")
    elif result.unchanged:
        state = "already a member of" if action == "add" else "not a member of"
        flash(f"{name} was {state} “{group}”; nothing changed.", "info")
    else:
        flash(result.summary(group), "warning")
    return redirect(url_for(".show", name=name))
