"""A group's usage (``/usage/groups/<group>``): per member, and per day, with its CSV."""

from __future__ import annotations

from .views import bp  # noqa: F401
