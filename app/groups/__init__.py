"""Groups: list and search, create, delete, members in bulk, properties."""

from .views import bp

__all__ = ["bp"]
