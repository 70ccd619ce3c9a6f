"""The whole hub's usage (``/usage/``), for whoever may list every user."""

from __future__ import annotations

from .views import bp  # noqa: F401
