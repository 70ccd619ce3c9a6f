"""Adding people: one name or many (pasted, or a CSV, read as a group add reads them),
optionally into groups, optionally as hub admins.

A preview comes first (who will be created, who is there already, names hubdesk can tell the
hub will refuse), then the confirmation creates the accounts with the person's own token (the
hub applies its admin rules to them) and adds everyone named to the groups with the service
token (:func:`hubdesk.groups.ops.add_members`). The hub refuses a whole ``POST /users`` for
one invalid name; a refused batch is split until each refused name has the hub's own reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, TextAreaField

from ..access import can, person_client, require
from ..db import NAME
from ..errors import require_form
from ..extensions import group_directory, service_client, settings
from ..groups import ops
from ..groups.forms import NamesMixin, names_from_json, names_json, read_names
from ..hub import HubAPIError, HubClient, HubUnreachable
from ..names import NamesError, check_group_name
from ..words import plural
from .views import bp

SEE_OTHER = 303
GROUPS_HELP = "One group name per line; only groups whose members you may change."
# a flash message lives in the session cookie: lists in it are cut to about this many characters
SAID_CHARS = 400


class AddPeopleForm(NamesMixin, FlaskForm):
    groups = TextAreaField("Into groups (optional)", description=GROUPS_HELP)
    admin = BooleanField("Make them hub admins")


class AddConfirmForm(FlaskForm):
    confirm = HiddenField(default="yes")
    names = HiddenField()  # to create
    existing = HiddenField()  # there already: added to the groups, otherwise left alone
    groups = HiddenField()
    admin = HiddenField()


@dataclass
class Created:
    """What the hub made of a list of names: created (the hub's names), already there, and the
    names it refused with its reason."""

    created: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


# -- the steps ------------------------------------------------------------------------


def invalid_names(names: list[str]) -> dict[str, str]:
    """The names hubdesk can tell the hub refuses (any authenticator), with why."""
    found = {n: "a user name cannot contain “/”" for n in names if "/" in n}
    found.update({n: "a user name cannot be only dots" for n in names if set(n) == {"."}})
    return found


def read_groups(form) -> list[str] | None:
    """The groups named on the form, each one the person may add members to and on the hub;
    None (the reason on the field) otherwise."""
    wanted = [line for line in (form.groups.data or "").splitlines() if line.strip()]
    groups = []
    for line in dict.fromkeys(wanted):
        try:
            group = check_group_name(line)
        except NamesError as e:
            form.groups.errors = [str(e)]
            return None
        if not can("edit_members", group=group):
            form.groups.errors = [f"You may not change the members of “{group}”."]
            return None
        groups.append(group)
    for group in groups:
        try:
            service_client().get_group(group)
        except HubAPIError as e:
            if e.status != 404:
                raise
            form.groups.errors = [f"There is no group called “{group}”. Nothing was changed."]
            return None
    return groups


def create(client: HubClient, names: list[str], admin: bool) -> Created:
    """Create ``names`` in as few calls as the hub allows: a batch it refuses (one bad name
    refuses them all) is split in two, down to single names that carry the hub's reason."""
    done = Created()
    if not names:
        return done
    try:
        made = client.create_users(names, admin=admin)
    except HubAPIError as e:
        if e.status == 409:  # every one of them exists
            done.already = list(names)
        elif e.status == 400 and len(names) > 1:
            half = len(names) // 2
            for part in (names[:half], names[half:]):
                more = create(client, part, admin)
                done.created += more.created
                done.already += more.already
                done.refused.update(more.refused)
        else:
            done.refused = {n: e.message or f"the hub answered {e.status}" for n in names}
        return done
    made_names = [m["name"] for m in made]
    done.created = made_names
    lowered = {n.casefold() for n in made_names}
    done.already = [n for n in names if n not in made_names and n.casefold() not in lowered]
    return done


def said(names) -> str:
    """Names in words, cut to about ``SAID_CHARS`` characters ("a, b and 12 more")."""
    names = list(names)
    shown, size = [], 0
    for n in names:
        n = n if len(n) <= 60 else n[:60] + "…"
        if shown and size + len(n) > SAID_CHARS:
            break
        shown.append(n)
        size += len(n) + 2
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest:,} more" if rest else "")


def refusals(refused: dict[str, str]) -> str:
    return said(f"{n} ({why})" for n, why in refused.items())


def into_groups(groups: list[str], names: list[str]) -> None:
    """Add ``names`` to each group; each group's outcome flashed."""
    for group in groups:
        try:
            result = ops.add_members(
                service_client(), group, names, chunk_size=settings().membership_chunk
            )
        except (HubAPIError, HubUnreachable) as e:
            flash(f"Not added to “{group}”: {said(names)} ({e}).", "error")
            continue
        group_directory().changed(group, result.size)
        if result.done:
            flash(f"Added {plural(len(result.done), 'person', 'people')} to “{group}”.", "success")
        if result.unchanged:
            flash(f"Already in “{group}”: {said(result.unchanged)}.", "info")
        if result.failed:
            flash(f"Not added to “{group}”: {refusals(result.failed)}.", "error")
        if result.unknown:
            flash(f"Not known whether added to “{group}”: {refusals(result.unknown)}.", "warning")


def report(done: Created, admin: bool) -> None:
    as_admin = " as hub admins" if admin and len(done.created) > 1 else ""
    as_admin = " as a hub admin" if admin and len(done.created) == 1 else as_admin
    if done.created:
        n = len(done.created)
        flash(f"Created {plural(n, 'account')}{as_admin}: {said(done.created)}.", "success")
    if done.already:
        flash(f"There already (not created, left as they were): {said(done.already)}.", "info")
    if done.refused:
        n = len(done.refused)
        flash(f"The hub refused {plural(n, 'name')}: {refusals(done.refused)}.", "error")


def preview(form: AddPeopleForm, names: list[str], groups: list[str]):
    """The page saying who will be created, who is there already, who cannot be."""
    bad = invalid_names(names)
    candidates = [n for n in names if n not in bad]
    known = person_client().existing_users(candidates)
    to_create = [n for n in candidates if n not in known]
    existing = [n for n in candidates if n in known]
    admin = bool(form.admin.data)
    confirm = AddConfirmForm(
        formdata=None,
        names=names_json(to_create),
        existing=names_json(existing),
        groups=names_json(groups),
        admin="y" if admin else "",
    )
    return render_template(
        "people/add_preview.html",
        to_create=to_create,
        existing=existing,
        invalid=bad,
        groups=groups,
        admin=admin,
        form=confirm,
    )


def add_page(form, status: int = 200):
    return render_template("people/add.html", form=form), status


# -- routes -----------------------------------------------------------------------------


@bp.route("/add", methods=["GET", "POST"])
def add():
    require("add_users")
    if request.method == "GET":
        return add_page(AddPeopleForm(formdata=None))
    if request.form.get("confirm"):
        return confirmed()
    form = AddPeopleForm()
    require_form(form)
    if form.admin.data:
        require("grant_admin")
    names = read_names(form)
    if names is not None and not names:
        form.names.errors = ["No names were given, so nothing was changed."]
    if not names:
        return add_page(form, 400)
    groups = read_groups(form)
    if groups is None:
        return add_page(form, 400)
    return preview(form, names, groups)


def confirmed():
    """The preview's confirmation: create, then add to the groups, then say all of it."""
    form = AddConfirmForm()
    require_form(form)
    admin = form.admin.data == "y"
    if admin:
        require("grant_admin")
    to_create = names_from_json(form.names.data)
    existing = names_from_json(form.existing.data)
    groups = names_from_json(form.groups.data)
    if any(len(n) > NAME for n in (*to_create, *existing, *groups)):
        abort(400, description=f"A name longer than {NAME} characters cannot be a hub user.")
    for group in groups:
        require("edit_members", group=group)
    if not to_create and not (existing and groups):
        abort(400, description="There is nobody to create or add. Nothing was changed.")
    try:
        done = create(person_client(), to_create, admin)
    except HubUnreachable as e:
        maybe = " Some may have been created: look them up first." if e.maybe_applied else ""
        flash(f"The hub did not answer ({e.reason}).{maybe}", "error")
        return redirect(url_for(".add"), SEE_OTHER)
    done.already = list(dict.fromkeys([*existing, *done.already]))
    report(done, admin)
    present = [*done.created, *done.already]
    if groups and present:
        into_groups(groups, present)
    if done.refused and groups:
        flash(f"Refused names were added to no group: {said(done.refused)}.", "warning")
    if len(done.created) == 1 and not groups and not done.refused:
        return redirect(url_for("users.show", name=done.created[0]), SEE_OTHER)
    return redirect(url_for(".add"), SEE_OTHER)
