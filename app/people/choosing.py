"""Ticked rows of the users list, put to a bulk action: adding them to a group.

The list's form POSTs the ticked ``user`` fields here (``people.choose_group``); this page
asks which group (one the person may change the members of), then hands the names to the
group's own add, with its preview and its checks (``groups.add``), by a 307 redirect: the
browser posts the same form there, CSRF token included. Deleting ticked accounts is the end
of term's (``people.end_of_term``), which the list's form posts to directly.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..access import reachable_groups, require, visible_groups
from ..errors import require_form
from ..forms import ActionForm
from ..names import NamesError, check_group_name
from .views import bp

# more than the list's largest page: a crafted form is refused, not read
MAX_TICKED = 1000


@bp.route("/add-to-group", methods=["POST"])
def choose_group():
    """Step 1 (``user`` fields, from the list): which group? Step 2 (``group`` and ``names``,
    from this page): on to the group's add preview."""
    require("edit_members")
    form = ActionForm()
    require_form(form)
    if "group" in request.form:
        return _to_group(form)
    names = list(dict.fromkeys(n for n in request.form.getlist("user") if n))
    if len(names) > MAX_TICKED:
        abort(400, description=f"At most {MAX_TICKED} users at a time. Nothing was changed.")
    if not names:
        flash("Tick the users to add to a group first. Nothing was changed.", "warning")
        return redirect(request.referrer or url_for("users.index"))
    return _chooser(names, form)


def _chooser(names: list[str], form: ActionForm, error: str = "", status: int = 200):
    """The page that asks for the group: the ones the person may change, listed when their
    scopes name them, else suggested as they type."""
    reach = reachable_groups("edit_members")
    choices = [] if reach is None else [e.name for e in visible_groups("edit_members")]
    html = render_template(
        "users/choose_group.html",
        names=names,
        choices=choices,
        suggest=reach is None,
        form=form,
        error=error,
    )
    return html, status


def _to_group(form: ActionForm):
    names = [n for n in request.form.get("names", "").split("\n") if n.strip()]
    if not names:
        abort(400, description="No users were given. Nothing was changed.")
    try:
        group = check_group_name(request.form.get("group", ""))
    except NamesError as e:
        return _chooser(names, form, str(e), 400)
    require("edit_members", group=group)
    return redirect(url_for("groups.add", name=group), code=307)
