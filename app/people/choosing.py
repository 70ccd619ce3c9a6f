"""Ticked rows of the users list, put to a bulk action (add to a group). (Being written:
issue 22.)"""

from __future__ import annotations

from .views import bp  # noqa: F401
