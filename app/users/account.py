"""One person's account: rename, the admin flag, deletion. (Being written: issue 22.)"""

from __future__ import annotations

from .views import bp  # noqa: F401
