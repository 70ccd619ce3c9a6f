"""Named servers: start with a profile, watch it come up, stop, remove; for one user or a group."""

from .views import bp

__all__ = ["bp"]
