"""The usage area's blueprint (``/usage/``). Its routes: a group's usage in
:mod:`.group_views`, a person's in :mod:`.person_views`, the whole hub's in :mod:`.hub_views`."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("usage", __name__)
