"""The forms of the groups area (CSRF comes with every FlaskForm)."""

from __future__ import annotations

import json

from flask import abort
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField

from .. import jsontext
from ..db import NAME
from ..jsontext import JSONTextError
from ..names import NamesError, names_from, parse_names

NAMES_HELP = "Names separated by new lines, commas or spaces."
CSV_HELP = "Or a CSV file: one name per row, or a column headed “username”."


class NamesMixin:
    names = TextAreaField("User names", description=NAMES_HELP)
    csv = FileField("CSV file", description=CSV_HELP)

    def upload(self) -> bytes | None:
        data = self.csv.data
        return data.read() if data and getattr(data, "filename", "") else None


class CreateGroupForm(NamesMixin, FlaskForm):
    name = StringField("Group name", description="Anything but “/”, up to 255 characters.")
    names = TextAreaField("Members (optional)", description=NAMES_HELP)


class MembersForm(NamesMixin, FlaskForm):
    """Add members, remove members or a roster: names pasted or uploaded."""


class ConfirmForm(FlaskForm):
    """The second step of a bulk change: what was shown, sent back to be done."""

    confirm = HiddenField(default="yes")
    names = HiddenField()
    remove = HiddenField()
    skipped = HiddenField()  # names left out (not users on the hub): the outcome names them
    create_missing = BooleanField("Also create the users that do not exist")


class PropertiesForm(FlaskForm):
    """Rows come as key[] / kind[] / value[] lists; this form brings the CSRF check."""

    confirm = HiddenField()
    properties = HiddenField()
    base = HiddenField()


class DeleteForm(FlaskForm):
    pass


# a confirmation page carries the names it showed in hidden fields, as JSON lists


def names_json(names) -> str:
    return json.dumps(list(names), ensure_ascii=False)


def names_from_json(raw: str) -> list[str]:
    try:
        names = jsontext.loads(raw or "[]")
    except JSONTextError:
        abort(400, description="The list of names was damaged on the way. Please start again.")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        abort(400, description="The list of names was damaged on the way. Please start again.")
    return names


def read_names(form, text: str | None = None) -> list[str] | None:
    """The names of a names form: pasted (``text``, default its field), then uploaded.

    None when they cannot be read: the reason is then next to the field it is about
    (a browser cannot give a file back, so the person is asked to choose it again).
    """
    text = (form.names.data or "") if text is None else text
    upload = form.upload()
    try:
        parse_names(text)
    except NamesError as e:
        form.names.errors = [str(e)]
        return None
    try:
        names = names_from(text, upload)
    except NamesError as e:
        if upload:
            form.csv.errors = [f"{e} Nothing was changed: choose the file again once it is fixed."]
        else:
            form.names.errors = [str(e)]
        return None
    long = next((n for n in names if len(n) > NAME), None)
    if long is not None:
        form.names.errors = [
            f"“{long[:40]}…” has more than {NAME} characters, so it cannot be a hub user. "
            "Nothing was changed."
        ]
        return None
    return names
