"""Pages and actions for groups.

Reads go to the hub with the signed-in person's own token (the hub filters);
changes go with the service token, after ``require()`` said yes for that exact
group. Every change is a CSRF-protected POST that ends in a redirect and a
flash message saying what happened (Post/Redirect/Get).
"""

from __future__ import annotations

import hashlib
import json
import logging

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import jsontext
from ..access import can, person_client, reachable_groups, require
from ..db import NAME
from ..errors import require_form
from ..extensions import group_directory, job_store, jobs, service_client, settings
from ..hub import HubAPIError
from ..jsontext import JSONTextError
from ..names import NamesError, check_group_name, names_from, roster_diff
from ..paging import int_arg, window
from .directory import search
from .forms import ConfirmForm, CreateGroupForm, DeleteForm, MembersForm, PropertiesForm

bp = Blueprint("groups", __name__)
log = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100, 200)
MEMBER_PAGE_SIZES = (50, 100, 200, 500)


def visible_groups(action: str = "list_groups"):
    """Every group the signed-in person may list (or act on), sorted by name."""
    entries = group_directory().entries(service_client())
    allowed = reachable_groups(action)
    return entries if allowed is None else [e for e in entries if e.name in allowed]


def _load_group(name: str) -> dict:
    """The group as the signed-in person may see it; 404 if there is none."""
    require("read_group", group=name)
    try:
        return person_client().get_group(name)
    except HubAPIError as e:
        if e.status == 404:
            abort(404, description=f"There is no group called “{name}”.")
        raise


def _shown(value) -> str:
    """A property value as a person reads it: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _names_json(names) -> str:
    return json.dumps(list(names), ensure_ascii=False)


def _names_from_json(raw: str) -> list[str]:
    try:
        names = jsontext.loads(raw or "[]")
    except JSONTextError:
        abort(400, description="The list of names was damaged on the way. Please start again.")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        abort(400, description="The list of names was damaged on the way. Please start again.")
    return names


# -- list, search, create -------------------------------------------------------

SUGGESTIONS = 20  # names a "group name" field is offered as the person types


@bp.route("/suggest")
def suggest():
    """Names of groups the person may change, containing ``q`` (JSON, for a text field)."""
    require("edit_members")
    query = request.args.get("q", "")[:255]
    found = search(visible_groups("edit_members"), query) if query.strip() else []
    return jsonify([e.name for e in found[:SUGGESTIONS]])


@bp.route("/", methods=["GET"])
def index(create_form=None):
    require("list_groups")
    query = request.args.get("q", "")[:255]
    limit = int_arg("limit", 50, allowed=PAGE_SIZES)
    offset = int_arg("offset", 0)
    visible = visible_groups()
    found = search(visible, query)
    rows = found[offset : offset + limit]
    page = window(offset, limit, len(found))
    return render_template(
        "groups/index.html",
        rows=rows,
        page=page,
        query=query,
        page_sizes=PAGE_SIZES,
        all_count=len(visible),
        form=create_form or CreateGroupForm(),
    )


@bp.route("/", methods=["POST"])
def create():
    require("create_group")
    form = CreateGroupForm()
    require_form(form)
    try:
        name = check_group_name(form.name.data or "")
    except NamesError as e:
        form.name.errors = [str(e)]
        return index(create_form=form), 400
    try:
        members = names_from(form.names.data or "", form.upload())
    except NamesError as e:
        form.names.errors = [str(e)]
        return index(create_form=form), 400
    if members:
        require("edit_members", group=name)  # the identity provider may own memberships

    hub = service_client()
    unknown = []
    if members:
        known = hub.existing_users(members)
        unknown = [n for n in members if n not in known]
    try:
        hub.create_group(name)
    except HubAPIError as e:
        if e.status == 409:
            form.name.errors = [f"A group called “{name}” already exists. Nothing was changed."]
        else:
            form.name.errors = [f"The hub refused: {e.message}"]
        return index(create_form=form), 400
    group_directory().note(name, 0)
    flash(f"Created group “{name}”.", "success")
    known_members = [n for n in members if n not in unknown]
    if unknown:
        # as for any add: unknown names are shown before anyone is added, with the choices
        return render_template(
            "groups/add_preview.html",
            group={"name": name},
            to_add=known_members,
            already=[],
            unknown=unknown,
            form=ConfirmForm(formdata=None, names=_names_json(known_members)),
            create_form=ConfirmForm(formdata=None, names=_names_json(known_members + unknown)),
        )
    if known_members:  # thousands of names may take a while: as any add
        return change_members(name, "add", add=known_members)
    return redirect(url_for(".show", name=name))


# -- membership changes that may take long ----------------------------------------

WAIT_SECONDS = 10  # a change answers within this; a longer one goes on, with a page of its own


def change_members(name: str, verb: str, *, add=(), remove=(), create_missing=False):
    """Hand a membership change to the job runner; answer with its outcome or its page.

    Done within ``WAIT_SECONDS`` (most changes are), the answer is the group page with
    the message. Otherwise the person is sent to a page that follows the change (any
    worker of any replica shows it), so that no proxy in front of hubdesk gives up on a
    5,000-name change and says nothing about what was done. If this worker dies, another
    one carries the change on.
    """
    add, remove = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
    if any(len(n) > NAME for n in (*add, *remove)):
        abort(400, description=f"A name longer than {NAME} characters cannot be a hub user.")
    items = [(n, "add") for n in add] + [(n, "remove") for n in remove if n not in set(add)]
    job_id = jobs().submit(
        "members",
        name,
        by=g.person.name,
        spec={
            "verb": verb,
            "chunk": settings().membership_chunk,
            "create_missing": bool(create_missing),
        },
        scopes=g.person.scopes,
        items=items,
    )
    if jobs().wait(job_id, WAIT_SECONDS):
        job = job_store().get(job_id)
        if job is not None and job.done:
            flash(
                job.result.get("short") or "Done.", "success" if job.result.get("ok") else "warning"
            )
            return redirect(url_for(".show", name=name))
    return redirect(url_for(".members_job", name=name, job=job_id))


@bp.route("/<name>/members/jobs/<job>")
def members_job(name, job):
    """A membership change that took longer than a page: how far it got, then its outcome."""
    require("read_group", group=name)
    record = job_store().get(job)
    if not record or record.kind != "members" or record.group != name:
        abort(404, description="There is no such change (it may have been cleaned up).")
    sent = sum(1 for i in record.items.values() if i.sent or i.finished)
    return render_template(
        "groups/members_job.html", job=record, total=len(record.items), sent=sent
    )


# -- one group --------------------------------------------------------------------


@bp.route("/<name>")
def show(name):
    group = _load_group(name)
    # by name ignoring case, ties by exact name: two C-level sorts, ~2x faster than a
    # (casefold, name) key for a 5,000-member group
    members = sorted(group.get("users", ()))
    members.sort(key=str.casefold)
    member_query = request.args.get("mq", "")[:255]
    limit = int_arg("mlimit", 50, allowed=MEMBER_PAGE_SIZES)
    offset = int_arg("moffset", 0)
    needle = member_query.strip().casefold()
    found = [m for m in members if needle in m.casefold()] if needle else members
    page = window(offset, limit, len(found))
    properties = group.get("properties") or {}
    return render_template(
        "groups/show.html",
        group=group,
        members=found[offset : offset + limit],
        member_count=len(members),
        member_query=member_query,
        page=page,
        page_sizes=MEMBER_PAGE_SIZES,
        properties={k: _shown(v) for k, v in properties.items()},
        add_form=MembersForm(),
        remove_form=MembersForm(),
    )


@bp.route("/<name>/add", methods=["POST"])
def add(name):
    require("edit_members", group=name)
    if request.form.get("confirm"):
        form = ConfirmForm()
        require_form(form)
        names = _names_from_json(form.names.data)
        create = bool(form.create_missing.data)
        if create:
            require("create_users")
        return change_members(name, "add", add=names, create_missing=create)

    form = MembersForm()
    require_form(form)
    try:
        names = names_from(form.names.data or "", form.upload())
    except NamesError as e:
        flash(str(e), "error")
        return redirect(url_for(".show", name=name))
    if not names:
        flash("No names were given, so nothing was changed.", "info")
        return redirect(url_for(".show", name=name))
    group = _load_group(name)
    members = set(group.get("users", ()))
    already = [n for n in names if n in members]
    candidates = [n for n in names if n not in members]
    hub = service_client()
    known = hub.user_models(candidates)
    to_add = [n for n in candidates if n in known]
    unknown = [n for n in candidates if n not in known]
    grants = newly_reachable(name, {n: known[n] for n in to_add})
    if not unknown and not any(_privileged(known[n]) for n in grants):
        # every name checks out, and no staff or admin account comes into the person's
        # reach (a teacher adding a student, as always): no second step
        return change_members(name, "add", add=already + to_add)
    return render_template(
        "groups/add_preview.html",
        group=group,
        to_add=to_add,
        already=already,
        unknown=unknown,
        grants=grants,
        form=ConfirmForm(formdata=None, names=_names_json(to_add)),
        create_form=ConfirmForm(formdata=None, names=_names_json(to_add + unknown)),
    )


def _privileged(model: dict) -> bool:
    """A hub admin, or an account with a role beyond the default one."""
    return bool(model.get("admin")) or bool(set(model.get("roles") or ()) - {"user"})


def newly_reachable(group: str, models: dict[str, dict]) -> list[str]:
    """The users whose servers the signed-in person could act on only once they are members
    of ``group`` (a ``servers!group=`` scope reaches whoever is added to the group)."""
    acts = ("start_server", "stop_server")
    if not any(can(a, user="-", user_groups=[group]) for a in acts):
        return []  # membership of this group gives no reach over servers

    def reach(user, groups):
        return any(can(a, user=user, user_groups=groups) for a in acts)

    found = []
    for user, model in models.items():
        groups = list(model.get("groups") or ())
        if not reach(user, groups) and reach(user, [*groups, group]):
            found.append(user)
    return found


@bp.route("/<name>/remove", methods=["POST"])
def remove(name):
    require("edit_members", group=name)
    if request.form.get("confirm"):
        form = ConfirmForm()
        require_form(form)
        return change_members(name, "remove", remove=_names_from_json(form.names.data))

    form = MembersForm()
    require_form(form)
    try:
        names = names_from(
            "\n".join([*request.form.getlist("member"), form.names.data or ""]), form.upload()
        )
    except NamesError as e:
        flash(str(e), "error")
        return redirect(url_for(".show", name=name))
    if not names:
        flash("No members were chosen, so nothing was changed.", "info")
        return redirect(url_for(".show", name=name))
    group = _load_group(name)
    members = set(group.get("users", ()))
    return render_template(
        "groups/remove_confirm.html",
        group=group,
        to_remove=[n for n in names if n in members],
        not_members=[n for n in names if n not in members],
        form=ConfirmForm(formdata=None, names=_names_json([n for n in names if n in members])),
    )


@bp.route("/<name>/sync", methods=["GET", "POST"])
def sync(name):
    require("edit_members", group=name)
    group = _load_group(name)
    if request.method == "POST" and request.form.get("confirm"):
        form = ConfirmForm()
        require_form(form)
        to_add = _names_from_json(form.names.data)
        to_remove = _names_from_json(form.remove.data)
        return change_members(name, "sync", add=to_add, remove=to_remove)

    form = MembersForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            roster = names_from(form.names.data or "", form.upload())
        except NamesError as e:
            form.names.errors = [str(e)]
        else:
            if not roster:
                form.names.errors = [
                    "The roster is empty. To remove every member, use the member list."
                ]
            else:
                members = list(group.get("users", ()))
                candidates = [n for n in roster if n not in set(members)]
                diff = roster_diff(roster, members, service_client().existing_users(candidates))
                confirm = ConfirmForm(
                    formdata=None,
                    names=_names_json(diff.to_add),
                    remove=_names_json(diff.to_remove),
                )
                return render_template(
                    "groups/sync_preview.html", group=group, diff=diff, form=confirm
                )
    elif request.method == "POST":
        abort(400, description="This form has expired. Nothing was changed.")
    return render_template("groups/sync.html", group=group, form=form)


# -- properties -------------------------------------------------------------------


def _digest(properties: dict) -> str:
    canonical = json.dumps(properties, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _rows(properties: dict, extra: int = 3) -> list[dict]:
    rows = []
    for key, value in properties.items():
        if isinstance(value, str):
            rows.append({"key": key, "kind": "text", "value": value})
        else:
            rows.append(
                {"key": key, "kind": "json", "value": json.dumps(value, ensure_ascii=False)}
            )
    return rows + [{"key": "", "kind": "text", "value": ""} for _ in range(extra)]


def parse_rows(keys, kinds, values) -> tuple[dict, list[str]]:
    """The properties a person typed: each value is text, or JSON when marked so."""
    properties, errors = {}, []
    for key, kind, value in zip(keys, kinds, values, strict=False):
        key = key.strip()
        if not key:
            if value.strip():
                errors.append(f"The value “{value[:40]}” has no key.")
            continue
        if key in properties:
            errors.append(f"The key “{key}” appears twice.")
            continue
        if kind == "json":
            try:
                properties[key] = jsontext.loads(value)
            except JSONTextError as e:
                errors.append(
                    f"The value of “{key}” is not valid JSON ({e}). For plain text, choose “text”."
                )
        else:
            properties[key] = value
    return properties, errors


def property_changes(old: dict, new: dict) -> list[tuple[str, str, str | None, str | None]]:
    """(key, what, old JSON, new JSON) for every key that differs."""
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before = json.dumps(old[key], ensure_ascii=False) if key in old else None
        after = json.dumps(new[key], ensure_ascii=False) if key in new else None
        if key not in new:
            changes.append((key, "removed", before, None))
        elif key not in old:
            changes.append((key, "added", None, after))
        elif old[key] != new[key] or type(old[key]) is not type(new[key]):
            changes.append((key, "changed", before, after))
    return changes


@bp.route("/<name>/properties", methods=["GET", "POST"])
def properties(name):
    require("edit_group", group=name)
    group = _load_group(name)
    current = group.get("properties") or {}
    form = PropertiesForm()
    if request.method == "POST":
        require_form(form)
        if form.confirm.data:
            if form.base.data != _digest(current):
                flash(
                    "The properties changed while you were editing them, so nothing was saved. "
                    "Here they are as they are now.",
                    "warning",
                )
                return redirect(url_for(".properties", name=name))
            try:
                new = jsontext.loads(form.properties.data)
            except JSONTextError:
                new = None
            if not isinstance(new, dict):
                abort(400, description="The properties were damaged on the way. Nothing was saved.")
            service_client().set_group_properties(name, new)
            flash(f"Saved the properties of “{name}”.", "success")
            return redirect(url_for(".show", name=name))
        new, errors = parse_rows(
            request.form.getlist("key"), request.form.getlist("kind"), request.form.getlist("value")
        )
        rows = [
            {"key": k, "kind": t, "value": v}
            for k, t, v in zip(
                request.form.getlist("key"),
                request.form.getlist("kind"),
                request.form.getlist("value"),
                strict=False,
            )
        ]
        if errors:
            return render_template(
                "groups/properties.html", group=group, rows=rows, errors=errors, form=form
            ), 400
        changes = property_changes(current, new)
        if not changes:
            flash("Nothing changed, so nothing was saved.", "info")
            return redirect(url_for(".show", name=name))
        confirm = PropertiesForm(
            formdata=None,
            confirm="yes",
            properties=json.dumps(new, ensure_ascii=False),
            base=_digest(current),
        )
        return render_template(
            "groups/properties_preview.html", group=group, changes=changes, form=confirm
        )
    extra = min(int_arg("extra", 3), 50)
    return render_template(
        "groups/properties.html", group=group, rows=_rows(current, extra), errors=[], form=form
    )


# -- delete -----------------------------------------------------------------------


@bp.route("/<name>/delete", methods=["GET", "POST"])
def delete(name):
    require("delete_group", group=name)
    group = _load_group(name)
    form = DeleteForm()
    if request.method == "POST":
        require_form(form)
        service_client().delete_group(name)
        group_directory().forget(name)
        n = len(group.get("users", ()))
        kept = {0: "It had no members.", 1: "Its 1 member keeps their account."}
        flash(
            f"Deleted group “{name}”. {kept.get(n, f'Its {n} members keep their accounts.')}",
            "success",
        )
        return redirect(url_for(".index"))
    return render_template("groups/delete.html", group=group, form=form)
