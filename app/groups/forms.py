"""The forms of the groups area (CSRF comes with every FlaskForm)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField

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
