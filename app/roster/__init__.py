"""A group's servers: the class roster, starting and stopping servers for the whole group or
the ticked members (a job each), following those actions, and the group's lessons panel."""

from .views import bp

__all__ = ["bp"]
