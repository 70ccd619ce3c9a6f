"""The people area's blueprint; its routes are in :mod:`.adding` and :mod:`.leaving`."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("people", __name__)
