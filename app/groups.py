"""Groups: list and create (more in the groups issue)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from .auth import person_client, require, service_client
from .hub import HubAPIError

bp = Blueprint("groups", __name__)

PAGE_SIZES = (25, 50, 100, 200)


def _no_slash(form, field):
    if "/" in field.data:
        raise ValidationError("A group name cannot contain “/”.")


class CreateGroupForm(FlaskForm):
    name = StringField(
        "Group name",
        validators=[DataRequired(), Length(max=255), _no_slash],
        description="Anything but “/”, up to 255 characters.",
    )


def _int_arg(name: str, default: int, *, allowed=None, minimum: int = 0) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    if allowed is not None and value not in allowed:
        return default
    return max(minimum, value)


@bp.route("/")
def index():
    require("list_groups")
    limit = _int_arg("limit", 50, allowed=PAGE_SIZES)
    offset = _int_arg("offset", 0)
    page = person_client().list_groups(offset=offset, limit=limit)
    return render_template("groups/index.html", page=page, limit=limit, page_sizes=PAGE_SIZES)


@bp.route("/new", methods=["GET", "POST"])
def create():
    require("create_group")
    form = CreateGroupForm()
    if form.validate_on_submit():
        name = form.name.data
        try:
            service_client().create_group(name)
        except HubAPIError as e:
            if e.status == 409:
                form.name.errors.append(
                    f"A group called “{name}” already exists. Nothing was changed."
                )
            else:
                form.name.errors.append(f"The hub refused: {e.message}")
        else:
            flash(f"Created group “{name}”.", "success")
            return redirect(url_for("groups.index"))
    return render_template("groups/new.html", form=form)
