"""Adding people: one name or many (pasted, or a CSV), optionally into groups, optionally as
hub admins. (Being written: issue 22.)"""

from __future__ import annotations

from .views import bp  # noqa: F401
