"""The usage area's blueprint (``/usage/``): a group's usage and a person's.

The hub-wide page's routes are in :mod:`.hub_views`, on the same blueprint.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("usage", __name__)
