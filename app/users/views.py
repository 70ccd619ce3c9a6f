"""People: the users list with search, and one person's page: their groups and their servers
(start with a profile, watch it come up, stop, remove).

Every server action is checked with ``require()`` for that user and server (the user's groups
resolve ``!group=`` filters), then sent with the service token. The default server has URLs
of its own (``<user>/server/...``), as in the hub's API.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import StringField

from ..access import can, load_user, person_client, reachable_groups, require, visible_groups
from ..errors import require_form
from ..extensions import group_directory, hub_major, service_client, settings
from ..forms import ActionForm
from ..groups import ops
from ..hub import HubAPIError
from ..names import NamesError, check_group_name
from ..paging import int_arg, window
from ..profiles import default_profile
from ..servers.model import (
    explain,
    mark_failures,
    server_in,
    server_of,
    servers_of,
    state_of,
)
from ..start_options import (
    StartForm,
    catalogue,
    chosen_options,
    display_name,
    offered_profiles,
    profile_choices,
    refusal,
    server_name,
)
from ..words import server_words
from . import listing
from . import progress as progress_stream

bp = Blueprint("users", __name__)


class GroupChoiceForm(FlaskForm):
    group = StringField("Group")


@bp.route("/")
def index():
    """The users list: sorted and filtered by the hub where it can (``listing``), a page of
    hub calls; the ticked rows go to a bulk action (``people`` area) in one POST form."""
    require("list_users")
    q = listing.question(
        request.args,
        offset=int_arg("offset", 0),
        limit=int_arg("limit", 50, allowed=listing.PAGE_SIZES),
    )
    found = listing.answer(person_client(), q, person=listing.person_key(g.person.token))
    profiles = settings().profiles
    rows = [(u, servers_of(u, profiles, host=settings().hub_host)) for u in found.users]
    # a stopped server whose last start failed says "failed" here too, as on every page
    mark_failures([s for _, servers in rows for s in servers], person_client())
    next_offset = q.offset + q.limit if found.more else None
    return render_template(
        "users/index.html",
        rows=rows,
        q=q,
        found=found,
        states=listing.STATES,
        sorts=listing.SORTS,
        admins=listing.ADMINS,
        page=window(q.offset, q.limit, found.total or 0, next_offset),
        page_sizes=listing.PAGE_SIZES,
        bulk_form=ActionForm(),
    )


@bp.route("/<name>")
def show(name):
    return user_page(name)


def user_page(name: str, *, start_form=None, start_error: str = "", status: int = 200):
    """A user's page; after a refused start, with the start form as the person filled it
    (``start_form``: its refused field marked) and what else was wrong (``start_error``)."""
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
    refused = start_form is not None
    start_form = start_form if refused else StartForm()
    start_form.profile.choices = profile_choices(offered)
    default = default_profile(offered)
    if default and not refused:
        start_form.profile.data = default.slug
    shown = servers_of(user, settings().profiles, host=settings().hub_host)
    servers = mark_failures(shown, person_client())
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
        start_refused=refused,
        offered=offered,
        display_names=hub_major() >= 6,
        target_groups=user.get("groups") or (),
    )
    return html, status


@bp.route("/<name>/groups", methods=["GET", "POST"])
def change_groups(name):
    """POST adds to or removes from a group; GET ``?group=G`` asks before a removal (the
    "Remove from group…" link of the user's page), its form posts the removal."""
    if request.method == "GET":
        return _removal_question(name, request.args.get("group", ""))
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
    group_directory().changed(group, result.size)
    if result.done:
        where = "to" if action == "add" else "from"
        flash(f"{result.verb.capitalize()} {name} {where} “{group}”.", "success")
    elif result.unchanged:
        state = "already a member of" if action == "add" else "not a member of"
        flash(f"{name} was {state} “{group}”; nothing changed.", "info")
    else:
        flash(result.summary(group), "warning")
    return redirect(url_for(".show", name=name))


def _removal_question(name: str, group: str):
    """The page asking whether to take ``name`` out of ``group`` (nothing to ask: said so)."""
    require("edit_members")
    try:
        group = check_group_name(group)
    except NamesError as e:
        flash(str(e), "error")
        return redirect(url_for(".show", name=name))
    require("edit_members", group=group)
    user = load_user(name)
    return render_template(
        "users/leave_group.html",
        user=name,
        group=group,
        member=group in (user.get("groups") or ()),
        form=GroupChoiceForm(formdata=None),
    )


# -- one person's servers --------------------------------------------------------------


def _target(user: str, server: str):
    """The user, their server (or None) and the permission target for it."""
    model = load_user(user, include_stopped_servers=True)
    target = {"user": user, "server": server, "user_groups": model.get("groups") or ()}
    return model, server_in(model, server), target


def _back(user: str):
    return redirect(url_for(".show", name=user))


def _refused(user: str, form: StartForm, why: NamesError | str):
    """The user's page again, its start form as the person filled it, and why it was refused:
    beside the field that holds the refused value, or else at the top of the form."""
    error = refusal(form, why) if isinstance(why, NamesError) else why
    return user_page(user, start_form=form, start_error=error, status=400)


@bp.route("/<user>/servers", methods=["POST"])
def start(user):
    form = StartForm()
    require_form(form)
    try:
        server = server_name(form)
    except NamesError as e:
        return _refused(user, form, e)
    model, current, target = _target(user, server)
    require("start_server", **target)
    try:
        offered = offered_profiles(model.get("groups") or ())
        options = chosen_options(form, (current or {}).get("user_options"), offered)
    except NamesError as e:
        return _refused(user, form, e)
    label = server_words(server)
    try:
        status = service_client().start_server(
            user,
            server,
            options,
            display_name=display_name(form) if server else "",
            hub_major=hub_major(),
        )
    except HubAPIError as e:
        why = explain(e, user, server)[1]
        return _refused(user, form, f"Could not start {label} for {user}: {why}.")
    if status == 201:
        flash(f"{server_words(server, user, start=True)} is running.", "success")
    return redirect(url_for(".progress", user=user, server=server))


@bp.route("/<user>/server/stop", methods=["GET", "POST"], defaults={"server": ""})
@bp.route("/<user>/servers/<server>/stop", methods=["GET", "POST"])
def stop(user, server):
    """GET asks (a confirmation page), POST stops; either way back to the user's page."""
    _, current, target = _target(user, server)
    require("stop_server", **target)
    form = ActionForm()
    if request.method == "GET":
        return render_template(
            "users/stop.html", user=user, server=server, state=state_of(current), form=form
        )
    require_form(form)
    if state_of(current) == "stopped":
        flash(f"{server_words(server, user, start=True)} is not running; nothing changed.", "info")
        return _back(user)
    return _stop_server(user, server, remove=False)


def _stop_server(user: str, server: str, *, remove: bool):
    """Stop (and with ``remove`` delete) a server; say how it went on the user's page."""
    try:
        status = service_client().stop_server(user, server, remove=remove)
    except HubAPIError as e:
        verb = "remove" if remove else "stop"
        why = explain(e, user, server)[1]
        flash(f"Could not {verb} {server_words(server, user)}: {why}.", "error")
        return _back(user)
    if status == 202:
        then = " and will then be removed." if remove else "; it can take a moment."
        flash(f"{server_words(server, user, start=True)} is stopping{then}", "info")
    else:
        flash(f"{'Removed' if remove else 'Stopped'} {server_words(server, user)}.", "success")
    return _back(user)


@bp.route("/<user>/servers/<server>/remove", methods=["GET", "POST"])
def remove(user, server):
    _, current, target = _target(user, server)
    require("stop_server", **target)
    if current is None:
        abort(404, description=f"{user} has no server called “{server}”.")
    form = ActionForm()
    if request.method == "GET":
        return render_template(
            "users/remove.html", user=user, server=server, state=state_of(current), form=form
        )
    require_form(form)
    return _stop_server(user, server, remove=True)


# -- watching a spawn -----------------------------------------------------------------


@bp.route("/<user>/server/progress", defaults={"server": ""})
@bp.route("/<user>/servers/<server>/progress")
def progress(user, server):
    _, current, target = _target(user, server)
    require("read_servers", **target)
    if current is None:
        abort(404, description=f"{user} has no server called “{server or 'default'}”.")
    model = server_of(user, server, current, catalogue(), host=settings().hub_host)
    return render_template("users/progress.html", server=mark_failures([model], person_client())[0])


@bp.route("/<user>/server/progress/events", defaults={"server": ""})
@bp.route("/<user>/servers/<server>/progress/events")
def progress_events(user, server):
    """The hub's progress stream, passed on (read server-side with the person's token)."""
    _, _, target = _target(user, server)
    require("read_servers", **target)
    events = progress_stream.relay(person_client(), user, server, person=g.person.name)
    return Response(
        stream_with_context(events),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
