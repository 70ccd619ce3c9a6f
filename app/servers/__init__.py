"""Hub-wide servers: every running one, those idle for a while, and stopping them."""

from .views import bp

__all__ = ["bp"]
