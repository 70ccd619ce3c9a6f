"""Lessons: a group's servers started before a class and stopped after it, on a schedule."""

from .views import bp

__all__ = ["bp"]
