"""The end of term: many accounts deleted as one job.

``GET /people/end-of-term`` with ``?group=``, ``?inactive_since=`` and/or ``?user=…`` (ticked on
the users list, which posts them here) previews whom it would delete (:mod:`.leavers`: who
goes, paged, how many have servers running, who is left out and why). Its confirmation asks
the person to type the group's name (a group's members) or the count (otherwise), and makes
a job of exactly the accounts previewed (:mod:`.deletions`): a list that changed since is
shown again, not deleted. The job is followed on its page, where it may be cancelled; when a
group's members are gone, deleting the group is offered, never done.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from ..access import can, load_group_members, person_client, require
from ..confirming import ask_to_cancel
from ..errors import require_form
from ..extensions import job_store, jobs
from ..forms import ActionForm
from ..jobs import DeleteUsersSpec, Job
from ..paging import int_arg, window
from ..words import person_zone
from . import deletions
from .leavers import (
    Choice,
    ChoiceError,
    Preview,
    any_active,
    chosen,
    judge,
    parse_choice,
    start_of,
)
from .views import bp

PAGE = 50  # accounts a preview page lists
LONGEST_URL = 6000  # a preview's address longer than this is answered in place, not redirected


class EndOfTermForm(FlaskForm):
    """The confirmation: what was previewed (its digest) and the words typed to confirm it."""

    confirm = HiddenField()
    digest = HiddenField()
    typed = StringField("To confirm, type")


@bp.route("/end-of-term", methods=["GET", "POST"])
def end_of_term():
    """GET: the preview (or, with nothing chosen, where to choose). POST: the users list's
    ticked names and the preview's "also delete these admins" (to the preview, 303), or the
    confirmation (a job, followed on its page, 303)."""
    require("delete_user")  # someone, somewhere: each account is judged below
    form = EndOfTermForm()
    if request.method == "POST":
        require_form(form)
    choice = _choice()
    if not choice.given:
        return render_template("people/end_of_term_choose.html", today=_today())
    if request.method == "POST" and not form.confirm.data:
        review = url_for(".end_of_term") + "?" + urlencode(choice.fields())
        if len(review) <= LONGEST_URL:
            return redirect(review, 303)
    preview = _preview(choice)
    if request.method == "POST":
        return _confirmed(choice, preview, form) if form.confirm.data else _show(choice, preview)
    return _show(choice, preview)


def _choice() -> Choice:
    try:
        return parse_choice(request.values)
    except ChoiceError as e:
        abort(400, description=f"{e} Nothing was changed.")


def _today() -> str:
    return datetime.now(person_zone().info).date().isoformat()


def _preview(choice: Choice) -> Preview:
    """Whom this choice names, as the hub has them now, judged for the signed-in person."""
    members = load_group_members(choice.group) if choice.group else None
    start = start_of(choice.since, person_zone().info) if choice.since else None
    models, missing = chosen(person_client(), choice, members, start)
    preview = judge(
        models,
        choice,
        person=g.person.name,
        person_admin=g.person.admin,
        start=start,
        may=lambda name, groups: can("delete_user", user=name, user_groups=groups),
    )
    preview.missing = missing
    return preview


def expected_words(choice: Choice, preview: Preview) -> str:
    """What the person types to confirm: the group's name, else the count."""
    return choice.group or str(len(preview.going))


def _show(choice: Choice, preview: Preview, form: EndOfTermForm | None = None, status=200):
    """The preview page, paged (a posted list too long for an address: on one page)."""
    if request.method == "POST":
        offset, limit = 0, max(PAGE, len(preview.going))
    else:
        offset, limit = int_arg("offset", 0), PAGE
    rows = preview.going[offset : offset + limit]
    form = form or EndOfTermForm(formdata=None)
    form.confirm.data, form.digest.data = "yes", preview.digest
    html = render_template(
        "people/end_of_term.html",
        choice=choice,
        preview=preview,
        rows=rows,
        running_names={m["name"] for m in rows if any_active(m)},
        page=window(offset, limit, len(preview.going)),
        expected=expected_words(choice, preview),
        form=form,
        hidden=choice.fields(),
    )
    return html, status


def _confirmed(choice: Choice, preview: Preview, form: EndOfTermForm):
    """The confirmation: the same list as previewed, and the right words typed; then the job."""
    if not preview.going:
        flash("Nobody is left to delete, so nothing was changed.", "info")
        return redirect(url_for(".end_of_term", **_query(choice)), 303)
    if form.digest.data != preview.digest:
        form.typed.errors = [
            "The accounts changed since the preview: here is the list as it is now. "
            "Look at it again, then confirm."
        ]
        return _show(choice, preview, form, 409)
    typed = (form.typed.data or "").strip()
    expected = expected_words(choice, preview)
    if not choice.group:
        typed = typed.replace(",", "")  # "1,200" is 1200
    if typed != expected:
        what = f"the group's name, {expected}" if choice.group else f"the count, {expected}"
        form.typed.errors = [f"That is not {what}. Nothing was deleted."]
        return _show(choice, preview, form, 400)
    return _submit(choice, preview)


def _query(choice: Choice) -> dict:
    found: dict[str, list[str]] = {}
    for key, value in choice.fields():
        found.setdefault(key, []).append(value)
    return found


def _submit(choice: Choice, preview: Preview):
    """The previewed accounts as a job (one item each, frozen now); to its page (303)."""
    names = preview.names
    spec = DeleteUsersSpec(
        group=choice.group,
        inactive_since=choice.since.isoformat() if choice.since else "",
        admins=tuple(n for n in choice.also if n in set(names)),
        by_admin=bool(g.person.admin),
    )
    job_id = jobs().submit(
        deletions.KIND,
        "",  # not a group's job: the group (if any) is in the spec
        by=g.person.name,
        spec=spec,
        scopes=g.person.scopes,
        items=[(n, "delete") for n in names],
    )
    return redirect(url_for(".deletion_job", job=job_id), 303)


# -- the job, followed ---------------------------------------------------------------------


def _deletion_job(job: str) -> Job:
    require("delete_user")
    record = job_store().get(job)
    if record is None or record.kind != deletions.KIND:
        abort(404, description="There is no such end of term (it may have been cleaned up).")
    if record.by != g.person.name and not all(can("delete_user", user=n) for n in record.items):
        abort(
            403,
            description="Only who asked for it, or who may delete each of its accounts, "
            "may follow or cancel it.",
        )
    return record


@bp.route("/jobs/<job>")
def deletion_job(job):
    """An end of term: how far it got, then each account's outcome (and why)."""
    record = _deletion_job(job)
    group = record.spec.group
    return render_template(
        "people/deletions_job.html",
        job=record,
        counts=record.counts(),
        outcomes=deletions.OUTCOMES,
        words=deletions.WORDS,
        deleted=deletions.of(record, "done"),
        not_done=deletions.reasons(record, ("forbidden", "failed", "skipped", "unchanged")),
        cancelled=deletions.of(record, "cancelled"),
        offer_group=record.done and group and can("delete_group", group=group),
        may_cancel=not record.done and record.cancel_by is None,
    )


@bp.route("/jobs/<job>/cancel", methods=["GET", "POST"])
def cancel_deletion_job(job):
    """GET asks (a confirmation page); POST cancels: accounts not deleted yet stay."""
    record = _deletion_job(job)
    if request.method == "GET":
        return ask_to_cancel(
            record,
            "Cancel the rest of this end of term?",
            "Accounts not deleted yet will stay; those under way finish.",
            [("Users", url_for("users.index")), ("End of term", url_for(".deletion_job", job=job))],
        )
    require_form(ActionForm())
    if job_store().cancel(job, g.person.name):
        flash("Cancelled: accounts not deleted yet will stay; those under way finish.", "info")
    else:
        flash("This end of term had already finished; nothing was cancelled.", "info")
    return redirect(url_for(".deletion_job", job=job))
