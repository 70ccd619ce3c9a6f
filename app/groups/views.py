"""Pages and actions for groups.

Reads go to the hub with the signed-in person's own token (the hub filters);
changes go with the service token, after ``require()`` said yes for that exact
group. Every change is a CSRF-protected POST that ends in a redirect and a
flash message saying what happened (Post/Redirect/Get); a refused one answers
4xx with its form again as the person filled it in, the reason by the field.
"""

from __future__ import annotations

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
from markupsafe import Markup

from .. import jsontext, permissions
from ..access import can, load_group, require, visible_groups
from ..db import NAME
from ..errors import require_form
from ..extensions import (
    group_directory,
    job_store,
    jobs,
    lesson_store,
    service_client,
    settings,
)
from ..hub import HubAPIError
from ..jobs import MembersSpec
from ..jsontext import JSONTextError
from ..names import NamesError, check_group_name, roster_diff
from ..paging import int_arg, window
from .directory import search
from .forms import (
    ConfirmForm,
    CreateGroupForm,
    DeleteForm,
    MembersForm,
    PropertiesForm,
    names_from_json,
    names_json,
    read_names,
)
from .membership import parts_of
from .properties import digest, parse_rows, property_changes, rows_of, shown

bp = Blueprint("groups", __name__)
log = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100, 200)
# why names a person gave are left out of a change before anything is sent
NOT_ON_HUB = "no such user on the hub"
MEMBER_PAGE_SIZES = (50, 100, 200, 500)


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
    members = read_names(form)
    if members is None:
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
    group_directory().changed(name, 0)
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
            form=ConfirmForm(
                formdata=None, names=names_json(known_members), skipped=names_json(unknown)
            ),
            create_form=ConfirmForm(formdata=None, names=names_json(known_members + unknown)),
        )
    if known_members:  # thousands of names may take a while: as any add
        return change_members(name, "add", add=known_members)
    return redirect(url_for(".show", name=name))


# -- membership changes that may take long ----------------------------------------

WAIT_SECONDS = 10  # a change answers within this; a longer one goes on, with a page of its own


def change_members(name: str, verb: str, *, add=(), remove=(), create_missing=False, skipped=None):
    """Hand a membership change to the job runner; answer with its outcome or its page.

    ``skipped``: names the person gave that are left out, by reason (e.g. not users on
    the hub); the outcome names them too. Done within ``WAIT_SECONDS`` (most changes are),
    the answer is the group page with the message (and a link to every name when the
    message had to leave some out). Otherwise the person is sent to a page that follows
    the change (any worker of any replica shows it), so that no proxy in front of hubdesk
    gives up on a 5,000-name change and says nothing about what was done. If this worker
    dies, another one carries the change on.
    """
    add, remove = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
    skipped = {why: list(names) for why, names in (skipped or {}).items() if names}
    if any(len(n) > NAME for n in (*add, *remove, *(n for ns in skipped.values() for n in ns))):
        abort(400, description=f"A name longer than {NAME} characters cannot be a hub user.")
    items = [(n, "add") for n in add] + [(n, "remove") for n in remove if n not in set(add)]
    job_id = jobs().submit(
        "members",
        name,
        by=g.person.name,
        spec=MembersSpec(
            verb=verb,
            chunk=settings().membership_chunk,
            create_missing=bool(create_missing),
            skipped=skipped,
        ),
        scopes=g.person.scopes,
        items=items,
    )
    if jobs().wait(job_id, WAIT_SECONDS):
        job = job_store().get(job_id)
        if job is not None and job.done:
            message = job.result.get("short") or "Done."
            if job.result.get("cut"):
                message = Markup('{} <a class="alert-link" href="{}">See every name</a>').format(
                    message, url_for(".members_job", name=name, job=job_id)
                )
            flash(message, "success" if job.result.get("ok") else "warning")
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
        "groups/members_job.html",
        job=record,
        total=len(record.items),
        sent=sent,
        parts=parts_of(record) if record.done else [],
    )


# -- one group --------------------------------------------------------------------


@bp.route("/<name>")
def show(name, add_form=None, remove_form=None):
    """The group page; after a refused add or remove, with that form as the person filled it."""
    group = load_group(name)
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
        properties={k: shown(v) for k, v in properties.items()},
        add_form=add_form or MembersForm(formdata=None),
        remove_form=remove_form or MembersForm(formdata=None),
    )


@bp.route("/<name>/add", methods=["POST"])
def add(name):
    require("edit_members", group=name)
    if request.form.get("confirm"):
        form = ConfirmForm()
        require_form(form)
        names = names_from_json(form.names.data)
        create = bool(form.create_missing.data)
        if create:
            require("create_users")
        skipped = [] if create else names_from_json(form.skipped.data)
        return change_members(
            name, "add", add=names, create_missing=create, skipped={NOT_ON_HUB: skipped}
        )

    form = MembersForm()
    require_form(form)
    names = read_names(form)
    if names is not None and not names:
        form.names.errors = ["No names were given, so nothing was changed."]
    if not names:
        return show(name, add_form=form), 400
    group = load_group(name)
    members = set(group.get("users", ()))
    already = [n for n in names if n in members]
    candidates = [n for n in names if n not in members]
    hub = service_client()
    known = hub.user_models(candidates)
    to_add = [n for n in candidates if n in known]
    unknown = [n for n in candidates if n not in known]
    grants = newly_reachable(name, {n: known[n] for n in to_add})
    roles = hub.group_roles(permissions.groups_of(known[n] for n in to_add) - {name})
    staff = [n for n in to_add if permissions.privileged_account(known[n], roles, besides=name)]
    lessons = lessons_reaching(name, staff)
    if not unknown and not lessons and not any(n in grants for n in staff):
        # every name checks out, and no staff or admin account comes into the person's
        # reach, nor into a standing lesson's (a teacher adding a student, as always):
        # no second step
        return change_members(name, "add", add=already + to_add)
    return render_template(
        "groups/add_preview.html",
        group=group,
        to_add=to_add,
        already=already,
        unknown=unknown,
        grants=grants,
        staff={n: known[n] for n in staff if n in grants},  # marked among the names
        lessons=lessons,
        # the members among the names go too: the outcome says they already were
        form=ConfirmForm(
            formdata=None, names=names_json(already + to_add), skipped=names_json(unknown)
        ),
        create_form=ConfirmForm(formdata=None, names=names_json(already + to_add + unknown)),
    )


def lessons_reaching(group: str, privileged: list[str]) -> list[tuple[object, list[str]]]:
    """(lesson, the privileged names it would reach) for each standing lesson of ``group``.

    A lesson acts on whoever is a member when it runs, with its owner's permissions: an add
    by someone else (whoever keeps the class list) brings the new members into its reach.
    Its start leaves hub admins and staff out unless it names them (``runs.start_check``);
    the preview names the lessons either way, so that the add is a choice.
    """
    if not privileged:
        return []
    return [(lesson, privileged) for lesson in lesson_store().standing(group)]


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
        return change_members(name, "remove", remove=names_from_json(form.names.data))

    form = MembersForm()
    require_form(form)
    ticked = request.form.getlist("member")
    names = read_names(form, "\n".join([*ticked, form.names.data or ""]))
    if names is not None and not names:
        if "names" in request.form:  # the "by name" form (its text box is always sent)
            form.names.errors = ["No names were given, so nothing was changed."]
        else:  # "Remove selected" with nothing ticked: said at the top, by the list
            flash("No members were ticked, so nothing was changed.", "error")
    if not names:
        return show(name, remove_form=form), 400
    group = load_group(name)
    members = set(group.get("users", ()))
    to_remove = [n for n in names if n in members]
    not_members = [n for n in names if n not in members]
    return render_template(
        "groups/remove_confirm.html",
        group=group,
        to_remove=to_remove,
        not_members=not_members,
        # the others go too: the outcome says they were not members
        form=ConfirmForm(formdata=None, names=names_json(to_remove + not_members)),
    )


@bp.route("/<name>/sync", methods=["GET", "POST"])
def sync(name):
    require("edit_members", group=name)
    group = load_group(name)
    if request.method == "POST" and request.form.get("confirm"):
        form = ConfirmForm()
        require_form(form)
        to_add = names_from_json(form.names.data)
        to_remove = names_from_json(form.remove.data)
        skipped = {NOT_ON_HUB: names_from_json(form.skipped.data)}
        return change_members(name, "sync", add=to_add, remove=to_remove, skipped=skipped)

    form = MembersForm()
    if request.method == "POST" and form.validate_on_submit():
        roster = read_names(form)
        if roster is not None:
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
                    names=names_json(diff.to_add),
                    remove=names_json(diff.to_remove),
                    skipped=names_json(diff.unknown),
                )
                return render_template(
                    "groups/sync_preview.html", group=group, diff=diff, form=confirm
                )
    elif request.method == "POST":
        abort(400, description="This form has expired. Nothing was changed.")
    status = 400 if form.errors else 200  # a refused roster: shown again as it was given
    return render_template("groups/sync.html", group=group, form=form), status


# -- properties -------------------------------------------------------------------


@bp.route("/<name>/properties", methods=["GET", "POST"])
def properties(name):
    require("edit_group", group=name)
    group = load_group(name)
    current = group.get("properties") or {}
    form = PropertiesForm()
    if request.method == "POST":
        require_form(form)
        if form.confirm.data or request.form.get("edit"):
            try:
                new = jsontext.loads(form.properties.data)
            except JSONTextError:
                new = None
            if not isinstance(new, dict):
                abort(400, description="The properties were damaged on the way. Nothing was saved.")
            if not form.confirm.data:  # "back to editing" from the review, with the edit
                return _properties_page(group, rows_of(new), [])
            if form.base.data != digest(current):
                # the person's version comes back to them, to review against the new state
                error = (
                    "The properties changed while you were editing them, so nothing was saved. "
                    "Your version is below: review it again to see what it would change now."
                )
                return _properties_page(group, rows_of(new), [error], status=409)
            try:
                service_client().set_group_properties(name, new)
            except HubAPIError as e:
                error = f"The hub refused to save them ({e.message}), so nothing was saved."
                status = e.status if 400 <= e.status < 500 else 502
                return _properties_page(group, rows_of(new), [error], status=status)
            flash(f"Saved the properties of “{name}”.", "success")
            return redirect(url_for(".show", name=name))
        keys, kinds, values = (request.form.getlist(f) for f in ("key", "kind", "value"))
        rows = [
            {"key": k, "kind": t, "value": v} for k, t, v in zip(keys, kinds, values, strict=False)
        ]
        if request.form.get("more"):  # more empty rows, keeping what was typed
            return _properties_page(group, rows + rows_of({}, 3), [])
        new, errors = parse_rows(keys, kinds, values)
        if errors:
            return _properties_page(group, rows, errors, status=400)
        changes = property_changes(current, new)
        if not changes:
            flash("Nothing changed, so nothing was saved.", "info")
            return redirect(url_for(".show", name=name))
        confirm = PropertiesForm(
            formdata=None,
            confirm="yes",
            properties=json.dumps(new, ensure_ascii=False),
            base=digest(current),
        )
        return render_template(
            "groups/properties_preview.html", group=group, changes=changes, form=confirm
        )
    extra = min(int_arg("extra", 3), 50)
    return _properties_page(group, rows_of(current, extra), [])


def _properties_page(group: dict, rows: list[dict], errors: list[str], *, status: int = 200):
    """The properties form with these rows (as the person typed them, after a refusal)."""
    form = PropertiesForm(formdata=None)  # the rows are the form; this brings a CSRF token
    html = render_template(
        "groups/properties.html", group=group, rows=rows, errors=errors, form=form
    )
    return html, status


# -- delete -----------------------------------------------------------------------


@bp.route("/<name>/delete", methods=["GET", "POST"])
def delete(name):
    require("delete_group", group=name)
    group = load_group(name)
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
