"""People's accounts beyond one person's page: adding people (:mod:`.adding`) and the end of
term, many accounts deleted as one job (:mod:`.leaving`). Under ``/people/``, a path no user
name can shadow (a user may be called "add"). One person's own account changes (rename, the
admin flag, deletion) are on their page, :mod:`hubdesk.users.account`."""

from . import adding, choosing, leaving  # noqa: F401  (their routes, on bp)
from .views import bp

__all__ = ["bp"]
