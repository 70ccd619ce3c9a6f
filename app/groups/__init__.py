"""Groups: list and search, create, delete, members in bulk, properties."""

from .views import bp, visible_groups

__all__ = ["bp", "visible_groups"]
