"""Pages and actions for servers: one user's, all running ones, a whole group's.

Every action is checked with ``require()`` for that user and server (the
user's groups resolve ``!group=`` filters), then sent with the service token.
The default server has URLs of its own (``users/<u>/server/...``), as in the
hub's API.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

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
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from .. import jsontext
from ..access import can, hub_version, load_user, person_client, require
from ..errors import require_form
from ..extensions import audit_trail, job_store, jobs, service_client, settings, shared
from ..hub import HubAPIError, HubUnreachable, major_of
from ..jsontext import JSONTextError
from ..names import SERVER_NAME_RULES, NamesError, check_server_name
from ..paging import int_arg, window
from ..profiles import UNLISTED, ChoiceError, Profile, default_profile
from ..words import plural, server_words
from . import roster
from .group_action import OUTCOMES, explain, job_target, resume_changes
from .idle import (
    HIDDEN,
    STOP_AT_ONCE,
    IdleError,
    active_users,
    idle_servers,
    parse_idle,
    running_page,
    still_idle,
    stop_each,
)
from .model import Server, mark_failures, server_in, server_of, state_of

bp = Blueprint("servers", __name__)
log = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100, 200)
RAW = "__raw__"  # the profile choice "my own user_options"
BUSY_RETRY_MS = 3000  # when every progress-stream slot is taken, the browser retries after this


class StartForm(FlaskForm):
    server = StringField(
        "Server name", description=f"Empty for the default server; else {SERVER_NAME_RULES}."
    )
    profile = SelectField("Profile", choices=[], validate_choice=False)
    options = TextAreaField("user_options (JSON)", description='For example {"profile": "small"}')
    display_name = StringField(
        "Display name", description="Optional: how the hub names a named server (JupyterHub 6)."
    )


class ActionForm(FlaskForm):
    """A button: the form brings the CSRF token."""

    confirm = HiddenField()
    servers = HiddenField()


class GroupServersForm(FlaskForm):
    action = HiddenField()
    server = StringField("Server name", description=SERVER_NAME_RULES)
    profile = SelectField("Profile", choices=[], validate_choice=False)
    options = TextAreaField("user_options (JSON)", description='For example {"profile": "small"}')
    display_name = StartForm.display_name
    confirm = HiddenField()


def _profiles():
    return list(settings().profiles)


def offered_profiles(groups) -> list[Profile]:
    """The profiles hubdesk offers to someone in ``groups`` (a profile's hubdesk_groups)."""
    return [p for p in _profiles() if p.offered_to(groups)]


def hub_major() -> int:
    """The hub's major version (5 or 6)."""
    return major_of(hub_version())


def profile_choices(profiles, with_keep: bool = False):
    choices = [("", "Keep its previous options")] if with_keep else []
    choices += [(p.slug, p.display_name) for p in profiles]
    if not profiles:
        choices.append(("", "No profile (the spawner's defaults)"))
    if can("raw_user_options"):
        choices.append((RAW, "My own user_options (JSON)"))
    return choices


@bp.app_template_global()
def option_field(profile: Profile, option_name: str) -> str:
    """A profile option's form field: named as in KubeSpawner's own form, one set per profile."""
    return f"profile-option-{profile.slug}--{option_name}"


def submitted_option_fields(profile: Profile | None) -> list[tuple[str, str]]:
    """The option fields of ``profile`` in this request: carried over by a confirmation page."""
    if profile is None:
        return []
    prefix = option_field(profile, "")
    return [(k, v) for k, v in request.form.items(multi=True) if k.startswith(prefix)]


def _options_of(profile: Profile) -> dict:
    """The user_options for ``profile`` and what this request chose for its options."""
    chosen, typed = {}, {}
    for option in profile.options:
        name = option_field(profile, option.name)
        chosen[option.name] = request.form.get(name, "")
        typed[option.name] = request.form.get(f"{name}--{UNLISTED}", "")
    try:
        return profile.user_options_for(chosen, typed)
    except ChoiceError as e:
        raise NamesError(f"Nothing was started. {profile.display_name}, {e}") from None


def _chosen_options(form, previous: dict | None, offered: list[Profile]):
    """The user_options to start with: a profile's and its choices, raw JSON, or the previous.

    Only the chosen profile's option fields are read (without JavaScript the form sends every
    profile's); a profile not offered here (hubdesk_groups) is refused like an unknown one.
    """
    choice = form.profile.data or ""
    if choice == RAW:
        require("raw_user_options")
        try:
            options = jsontext.loads(form.options.data or "{}")
        except JSONTextError as e:
            raise NamesError(f"The user_options are not valid JSON ({e}).") from None
        if not isinstance(options, dict):
            raise NamesError('The user_options must be a JSON object, like {"profile": "small"}.')
        return options
    if choice:
        profile = next((p for p in offered if p.slug == choice), None)
        if profile is None:
            raise NamesError(f"There is no profile “{choice}” on offer here.")
        return _options_of(profile)
    if previous:
        return previous
    default = default_profile(offered)
    return _options_of(default) if default else None


def _display_name(form) -> str:
    """The display name to send: JupyterHub 6 has them (named servers only); 5.x has none."""
    return (form.display_name.data or "").strip()[:255] if hub_major() >= 6 else ""


def _target(user: str, server: str):
    """The user, their server (or None) and the permission target for it."""
    model = load_user(user, include_stopped_servers=True)
    target = {"user": user, "server": server, "user_groups": model.get("groups") or ()}
    return model, server_in(model, server), target


def _back(user: str):
    return redirect(url_for("users.show", name=user))


# -- one user's servers ---------------------------------------------------------------


def _refused(user: str, why: str):
    """The user's page again, its start form as the person filled it, and why it was refused."""
    from ..users import user_page  # the users blueprint imports this module

    return user_page(user, start_error=why, status=400)


@bp.route("/users/<user>/servers", methods=["POST"])
def start(user):
    form = StartForm()
    require_form(form)
    try:
        server = (form.server.data or "").strip()
        if server:
            server = check_server_name(server, hub_major=hub_major())
    except NamesError as e:
        return _refused(user, str(e))
    model, current, target = _target(user, server)
    require("start_server", **target)
    try:
        offered = offered_profiles(model.get("groups") or ())
        options = _chosen_options(form, (current or {}).get("user_options"), offered)
    except NamesError as e:
        return _refused(user, str(e))
    label = server_words(server)
    try:
        status = service_client().start_server(
            user,
            server,
            options,
            display_name=_display_name(form) if server else "",
            hub_major=hub_major(),
        )
    except HubAPIError as e:
        return _refused(user, f"Could not start {label} for {user}: {explain(e, user, server)[1]}.")
    if status == 201:
        flash(f"{server_words(server, user, start=True)} is running.", "success")
    return redirect(url_for(".progress", user=user, server=server))


@bp.route("/users/<user>/server/stop", methods=["POST"], defaults={"server": ""})
@bp.route("/users/<user>/servers/<server>/stop", methods=["POST"])
def stop(user, server):
    form = ActionForm()
    require_form(form)
    _, current, target = _target(user, server)
    require("stop_server", **target)
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


@bp.route("/users/<user>/servers/<server>/remove", methods=["GET", "POST"])
def remove(user, server):
    _, current, target = _target(user, server)
    require("stop_server", **target)
    if current is None:
        abort(404, description=f"{user} has no server called “{server}”.")
    form = ActionForm()
    if request.method == "GET":
        return render_template(
            "servers/remove.html", user=user, server=server, state=state_of(current), form=form
        )
    require_form(form)
    return _stop_server(user, server, remove=True)


# -- watching a spawn -----------------------------------------------------------------


@bp.route("/users/<user>/server/progress", defaults={"server": ""})
@bp.route("/users/<user>/servers/<server>/progress")
def progress(user, server):
    _, current, target = _target(user, server)
    require("read_servers", **target)
    if current is None:
        abort(404, description=f"{user} has no server called “{server or 'default'}”.")
    model = mark_failures([server_of(user, server, current, _profiles())], person_client())[0]
    return render_template("servers/progress.html", server=model, open_url=_open_url(model))


@bp.route("/users/<user>/server/progress/events", defaults={"server": ""})
@bp.route("/users/<user>/servers/<server>/progress/events")
def progress_events(user, server):
    """The hub's progress stream, passed on (read server-side with the person's token)."""
    _, _, target = _target(user, server)
    require("read_servers", **target)
    hub = person_client()

    def final_state():
        current = server_in(hub.get_user(user), server)
        state = state_of(current)
        if state == "running":
            url = _open_url(server_of(user, server, current))
            return {"progress": 100, "ready": True, "message": "The server is running.", "url": url}
        return {"progress": 100, "stopped": True, "message": f"The server is {state}."}

    person = g.person.name

    def events():
        slots = shared().streams
        refused = slots.acquire(person)
        if refused:
            # every slot of this process is taken, or this person holds their share: the
            # browser asks again shortly (EventSource reconnects after `retry` ms), and pages
            # keep their threads
            log.info("progress stream of %s/%s asked to retry (%s)", user, server, refused)
            event = {"busy": True, "yours": refused == "yours"}
            yield f"retry: {BUSY_RETRY_MS}\ndata: {json.dumps(event)}\n\n"
            return
        try:
            seconds = settings().read_timeout * 20
            for event in hub.progress(user, server, seconds=seconds, keepalive=True):
                if event is None:
                    yield ": keep-alive\n\n"  # so that no proxy on the way closes a quiet stream
                    continue
                if event.get("ready"):
                    event = dict(event, url=_open_url_path(event.get("url", "")))
                event.pop("html_message", None)  # plain text only: the page shows it as text
                yield f"data: {json.dumps(event)}\n\n"
        except HubAPIError as e:
            if e.status == 404:
                event = {"progress": 100, "stopped": True, "message": "There is no such server."}
                yield f"data: {json.dumps(event)}\n\n"
            elif e.status == 400:  # not starting (any more): say how it is
                yield f"data: {json.dumps(final_state())}\n\n"
            else:
                event = {"failed": True, "message": f"The hub refused: {e.message}"}
                yield f"data: {json.dumps(event)}\n\n"
        except HubUnreachable as e:
            event = {"failed": True, "message": f"hubdesk lost contact with the hub ({e.reason})."}
            yield f"data: {json.dumps(event)}\n\n"
        finally:
            slots.release(person)

    return Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _open_url_path(path: str) -> str:
    return f"{settings().hub_host}{path}" if path.startswith("/") else path


def _open_url(server: Server) -> str:
    return _open_url_path(server.url) if server.url else ""


# -- all running servers -----------------------------------------------------------------


class IdleStopForm(FlaskForm):
    """ "Stop all that match": the filter, and (once reviewed) the servers named."""

    idle = HiddenField()
    unit = HiddenField()
    confirm = HiddenField()
    servers = HiddenField()


def _idle_filter(args) -> tuple:
    """(the idle filter or None, the words of what was wrong with it or "")."""
    try:
        return parse_idle(args.get("idle"), args.get("unit")), ""
    except IdleError as e:
        return None, str(e)


def _may_stop(user: str, server: str, groups) -> bool:
    return can("stop_server", user=user, server=server, user_groups=groups or ())


@bp.route("/servers/")
def running():
    """One page of users with a running server; with an idle filter, every matching server.

    Without a filter it costs one hub page (O(page)), plus a look at the page's stopped
    servers for a failed start. With one, every active user is read (``idle.active_users``).
    """
    require("list_users")
    limit = int_arg("limit", 50, allowed=PAGE_SIZES)
    offset = int_arg("offset", 0)
    newest_first = request.args.get("sort") == "recent"
    idle, error = _idle_filter(request.args)
    hub, now, found, stoppable = person_client(), datetime.now(UTC), None, []
    if idle is None:
        rows, page = running_page(
            hub, offset=offset, limit=limit, newest_first=newest_first, profiles=_profiles()
        )
        paging = window(offset, limit, page.total or 0, page.next_offset)
    else:
        found = idle_servers(
            active_users(hub), idle, now=now, profiles=_profiles(), newest_first=newest_first
        )
        rows = found.servers[offset : offset + limit]
        paging = window(offset, limit, len(found.servers))
        stoppable = found.stoppable(_may_stop)
    html = render_template(
        "servers/running.html",
        rows=rows,
        page=paging,
        page_sizes=PAGE_SIZES,
        idle=idle,
        idle_error=error,
        typed=(request.args.get("idle") or "")[:40],
        unit=(idle.unit if idle else request.args.get("unit")) or "hours",
        found=found,
        stoppable=len(stoppable),
        at_once=STOP_AT_ONCE,
        newest_first=newest_first,
        now=now,
        form=ActionForm(),
    )
    return html, 400 if error else 200


def _posted_servers(data: str | None) -> list[tuple[str, str]]:
    """A confirmation page's hidden list of [user, server] pairs; 400 when it was damaged."""
    try:
        chosen = jsontext.loads(data or "[]")
    except JSONTextError:
        chosen = None
    if not isinstance(chosen, list) or not all(
        isinstance(pair, list) and len(pair) == 2 for pair in chosen
    ):
        abort(400, description="The list of servers was damaged on the way. Nothing was changed.")
    return [(u, s) for u, s in chosen if isinstance(u, str) and isinstance(s, str) and u]


@bp.route("/servers/stop", methods=["POST"])
def stop_many():
    require("stop_server")  # for someone, somewhere; each server is checked below
    form = ActionForm()
    require_form(form)
    if form.confirm.data:
        chosen = _posted_servers(form.servers.data)
    else:
        chosen = [tuple(s.partition("/")[::2]) for s in request.form.getlist("server")]
        chosen = [(u, s) for u, s in chosen if u]
    chosen = chosen[:500]
    if not chosen:
        flash("No servers were chosen, so nothing was changed.", "info")
        return redirect(url_for(".running"))
    if not form.confirm.data:
        return render_template(
            "servers/stop_confirm.html",
            chosen=chosen,
            form=ActionForm(formdata=None, confirm="yes", servers=json.dumps(chosen)),
        )

    # a user that does not exist and one the person may not act on are answered alike,
    # as the hub does (it hides the users you may not see): no way to probe for names
    def check(user, server, model):
        if model is None or not _may_stop(user, server, model.get("groups")):
            return "failed", HIDDEN
        return None

    result = stop_each(service_client(), chosen, check)

    def label(o):
        return f"{o.user}/{o.server}" if o.server else f"{o.user} (default)"

    done = result.of("stopped") + result.of("stopping")
    failed = [f"{label(o)}: {o.why}" for o in result.of("failed")]
    message = f"Stopped (or stopping) {plural(len(done), 'server')}."
    if failed:
        message += f" Not stopped: {'; '.join(failed[:25])}" + (" …" if len(failed) > 25 else "")
    flash(message, "warning" if failed else "success")
    return redirect(url_for(".running"))


@bp.route("/servers/stop-idle", methods=["POST"])
def stop_idle():
    """ "Stop all that match": review the servers idle that long, then stop those still idle.

    The review names them (at most STOP_AT_ONCE, longest idle first, only those the person
    may stop); the confirmation stops exactly those named, each checked again at that moment.
    """
    require("stop_server")  # for someone, somewhere; each server is checked below
    form = IdleStopForm()
    require_form(form)
    idle, error = _idle_filter(request.form)
    if idle is None:
        abort(400, description=f"{error or 'No idle time was given.'} Nothing was changed.")
    back = url_for(".running", idle=idle.amount_text, unit=idle.unit)
    if not form.confirm.data:
        found = idle_servers(
            active_users(person_client()), idle, now=datetime.now(UTC), profiles=_profiles()
        )
        mine = found.stoppable(_may_stop)
        if not mine:
            flash(
                f"No server you may stop has been idle for at least {idle.words}; "
                "nothing was changed.",
                "info",
            )
            return redirect(back)
        chosen = mine[:STOP_AT_ONCE]
        return render_template(
            "servers/stop_idle_confirm.html",
            idle=idle,
            chosen=chosen,
            labels=[server_words(s.name, s.user) for s in chosen],
            more=len(mine) - len(chosen),
            not_yours=len(found.servers) - len(mine),
            at_once=STOP_AT_ONCE,
            back=back,
            form=IdleStopForm(
                formdata=None,
                idle=idle.amount_text,
                unit=idle.unit,
                confirm="yes",
                servers=json.dumps([[s.user, s.name] for s in chosen]),
            ),
        )
    chosen = _posted_servers(form.servers.data)[:STOP_AT_ONCE]
    result = stop_each(
        service_client(), chosen, still_idle(idle, _may_stop, now=lambda: datetime.now(UTC))
    )
    log.info(
        "stop idle (%s): %s",
        idle.words,
        ", ".join(f"{len(result.of(r))} {r}" for r in ("stopped", "stopping", "skipped", "failed")),
    )
    return render_template("servers/stop_idle_done.html", idle=idle, result=result, back=back)


# -- a whole group: the class roster and its actions ------------------------------------


def _group_members(group: str) -> list[str]:
    require("read_group", group=group)
    try:
        return list(person_client().get_group(group).get("users", ()))
    except HubAPIError as e:
        if e.status == 404:
            abort(404, description=f"There is no group called “{group}”.")
        raise


GROUP_ACTIONS = ("start", "start-selected", "stop", "stop-selected")


@dataclass
class GroupRequest:
    """What a group servers form asks for, checked: the action and whom it is for."""

    kind: str  # "start" or "stop"
    members: list[str]  # whom: the group's members, or the ticked ones
    server: str | None  # the start's server; the stop's one server (None: every server)
    servers: dict[str, list[str]] | None  # a stop of ticked servers: {member: [server, ...]}
    selected: list[str]  # the ticked rows as sent ("user/server"), for the confirmation page


def _group_request(form, members: list[str]) -> GroupRequest:
    """Step 1: the action, whom it is for and which server; NamesError says what is wrong."""
    row = request.form.get("row")
    action = "stop-selected" if row else form.action.data
    if action not in GROUP_ACTIONS:
        abort(400, description="Choose whether to start or to stop servers.")
    kind = action.partition("-")[0]
    require("start_server" if kind == "start" else "stop_server")
    ticked = action.endswith("-selected")
    selected = ([row] if row else request.form.getlist("selected")) if ticked else []
    chosen: dict[str, list[str]] = {}
    if ticked:
        chosen, strays = roster.parse_selection(selected, set(members))
        if strays:
            raise NamesError(
                f"Not members of this group (any more?): {', '.join(strays[:10])}. "
                "Nothing was done; the roster below is as the hub has it now."
            )
        if not chosen:
            raise NamesError("Tick at least one member in the roster first. Nothing was done.")
    targets = list(chosen) if chosen else sorted(members, key=str.casefold)
    if not targets:
        raise NamesError("This group has no members, so nothing was done.")
    if kind == "start":
        server = (form.server.data or "").strip()
        server = check_server_name(server, hub_major=hub_major()) if server else ""
        return GroupRequest("start", targets, server, None, selected)
    if action == "stop-selected":
        return GroupRequest("stop", targets, None, chosen, selected)
    only = (form.server.data or "").strip()  # the stop form's own "server" field
    only = check_server_name(only, hub_major=hub_major()) if only else None
    return GroupRequest("stop", targets, only, None, selected)


def _group_page(group, members, form, offered, *, error: str = "", status: int = 200):
    """The roster page (also after a refusal: the form keeps what was typed)."""
    from ..lessons.views import group_lessons  # the lessons blueprint imports this module

    query = request.args.get("rq", "")[:255]
    limit = int_arg("rlimit", 50, allowed=roster.SIZES)
    offset = int_arg("roffset", 0)
    page = roster.read(
        person_client(), members, query=query, offset=offset, limit=limit, profiles=_profiles()
    )
    html = render_template(
        "servers/group.html",
        group=group,
        roster=page,
        roster_query=query,
        page=window(offset, limit, page.found),
        page_sizes=roster.SIZES,
        form=form,
        error=error,
        offered=offered,
        display_names=hub_major() >= 6,
        may_start=can("start_server"),
        may_stop=can("stop_server"),
        jobs=job_store().recent(group, ("start", "stop")),
        outcomes=OUTCOMES,
        lessons=group_lessons(group),
    )
    return html, status


@bp.route("/groups/<group>/servers", methods=["GET", "POST"])
def group_servers(group):
    members = _group_members(group)
    if not (can("start_server") or can("stop_server")):
        require("start_server")  # says why
    form = GroupServersForm()
    offered = offered_profiles([group])
    form.profile.choices = profile_choices(offered)
    if request.method == "GET":
        default = default_profile(offered)
        if default and not form.profile.data:
            form.profile.data = default.slug
        return _group_page(group, members, form, offered)
    require_form(form)
    try:
        asked = _group_request(form, members)
        options = _chosen_options(form, None, offered) if asked.kind == "start" else None
    except NamesError as e:
        if form.action.data == "stop":  # the stop form's field keeps it; the start's stays empty
            form.server.data = ""
        return _group_page(group, members, form, offered, error=str(e), status=400)
    profile = next((p for p in offered if p.slug == form.profile.data), None)
    profile = profile if asked.kind == "start" else None
    display_name = _display_name(form) if asked.kind == "start" and asked.server else ""
    choices = profile.chosen_labels(options or {}) if profile else []
    if not form.confirm.data:
        return render_template(
            "servers/group_confirm.html",
            group=group,
            asked=asked,
            targets=_target_words(asked),
            profile=profile,
            choices=choices,
            option_fields=submitted_option_fields(profile),
            display_name=display_name,
            options=options,
            form=form,
        )
    job_id = jobs().submit(
        asked.kind,
        group,
        by=g.person.name,
        spec={
            "server": asked.server,
            "servers": asked.servers,
            "ticked": bool(asked.servers) or form.action.data == "start-selected",
            "user_options": options,
            "display_name": display_name,
            "hub_major": hub_major(),
            "profile": (
                profile.display_name + "".join(f", {o}: {c}" for o, c in choices)
                if profile
                else None
            ),
        },
        scopes=g.person.scopes,
        items=[(m, "") for m in asked.members],
    )
    return redirect(url_for(".group_job", group=group, job=job_id))


def _target_words(asked: GroupRequest) -> list[str]:
    """Whom a confirmation page names: members, or each ticked server in words."""
    if not asked.servers:
        return asked.members
    return [server_words(s, user) for user, names in asked.servers.items() for s in names]


def _group_job(group: str, job: str):
    record = job_store().get(job)
    if record is None or record.group != group or record.kind not in ("start", "stop"):
        abort(404, description="There is no such group action (it may have been cleaned up).")
    return record


def _may_steer(record) -> bool:
    """Cancel or resume a group action (and see those buttons): what running it needs for
    *this* group (a ``!group=`` or unfiltered scope), or having started it.

    Without the group, ``can("start_server")`` holds for everyone (each person may start
    their own servers), so anyone who could read the group could cancel someone's action.
    """
    action = "start_server" if record.kind == "start" else "stop_server"
    return can(action, group=record.group) or record.by == g.person.name


def _require_steer(record) -> None:
    if not _may_steer(record):
        abort(
            403,
            description=(
                f"Only someone who may {record.kind} servers for “{record.group}”, "
                "or who started this action, may cancel or resume it."
            ),
        )


@bp.route("/groups/<group>/servers/jobs/<job>")
def group_job(group, job):
    require("read_group", group=group)
    record = _group_job(group, job)
    may_steer = _may_steer(record)
    return render_template(
        "servers/group_job.html",
        job=record,
        counts=record.counts(),
        outcomes=OUTCOMES,
        may_cancel=not record.done and record.cancel_by is None and may_steer,
        may_resume=record.paused and may_steer,
        form=ActionForm(),
    )


@bp.route("/groups/<group>/servers/jobs/<job>/cancel", methods=["POST"])
def cancel_group_job(group, job):
    """Whoever may run a group action may cancel it: items not sent yet are "cancelled"."""
    require("read_group", group=group)
    record = _group_job(group, job)
    _require_steer(record)
    require_form(ActionForm())
    done = job_store().cancel(job, g.person.name)
    if done == "cancelled":  # it was paused: done now
        audit_trail().note(
            f"group.{record.kind}.cancel", job_target(record), outcome="cancelled while paused"
        )
        flash("Cancelled: the members not started while it was paused will not be.", "info")
    elif done:
        flash("Cancelled: members not asked for yet will not be; those under way finish.", "info")
    else:
        flash("This group action had already finished; nothing was cancelled.", "info")
    return redirect(url_for(".group_job", group=group, job=job))


@bp.route("/groups/<group>/servers/jobs/<job>/resume", methods=["POST"])
def resume_group_job(group, job):
    """Whoever may run a paused group start may resume it: carefully, one start first.

    From then on it acts with the scopes of the person who resumed it, as they are now.
    """
    require("read_group", group=group)
    record = _group_job(group, job)
    _require_steer(record)
    require_form(ActionForm())
    changes = resume_changes(record.result, jobs().failure_limit)
    if not record.paused or not jobs().resume(
        job, g.person.name, scopes=g.person.scopes, changes=changes
    ):
        flash("This group action is not paused (any more); nothing was changed.", "info")
        return redirect(url_for(".group_job", group=group, job=job))
    audit_trail().note(
        f"group.{record.kind}.resume", job_target(record), outcome="resumed: one start first"
    )
    jobs().run_here(job)  # after its record: the pause it may come to is on record after it
    flash(
        "Resumed: one start goes first. If it fails too, the action pauses again; "
        "while starts succeed, more go at once.",
        "info",
    )
    return redirect(url_for(".group_job", group=group, job=job))
