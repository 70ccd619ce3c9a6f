"""A person's usage (``/usage/users/<user>``): their sessions on a timeline, with its CSV."""

from __future__ import annotations

from .views import bp  # noqa: F401
