"""Forms every area uses."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField


class ActionForm(FlaskForm):
    """A button: the form brings the CSRF token (and a confirmation page's hidden fields)."""

    confirm = HiddenField()
    servers = HiddenField()
