"""People: the users list, one person's page, their groups and their servers (start with a
profile, watch it come up, stop, remove)."""

from . import account  # noqa: F401  (its routes, on bp)
from .views import bp

__all__ = ["bp"]
