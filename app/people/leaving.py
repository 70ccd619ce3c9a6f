"""The end of term: many accounts deleted as one job. (Being written: issue 22.)"""

from __future__ import annotations

from .views import bp  # noqa: F401
