"""Usage: who used the hub, when and for how long: hubdesk's own record (the hub keeps none).

- **Recording** (:mod:`.recorder`, :mod:`.sampler`): one sampler across every worker and
  replica (``usage_clock``'s lease) reads the hub's running and pending servers (``GET
  /users?state=active``, paginated: O(running servers) a sweep) every
  ``HUBDESK_USAGE_SAMPLE_SECONDS``, and writes only what changed: a session begun or ended,
  a ``last_activity`` that moved. The spans it sampled are kept (:mod:`.coverage`): outside
  them usage is *unknown*, never zero and never running.
- **Reading**: a group's usage (:mod:`.group`), a person's (:mod:`.person`), the whole
  hub's (:mod:`.hubwide`), for a range of days (:mod:`.days`), from per-day numbers kept as sessions
  change, so a page costs O(its rows) and a chart O(its days).
- **Showing**: SVG charts drawn on the server (:mod:`.charts`), each with its numbers as a
  table; CSV downloads, streamed (:mod:`hubdesk.downloads`, shared with the Activity page).

Who sees what is the hub's answer for the person (``permissions``: ``group_usage``,
``read_user``, ``hub_usage``), asked before any of the record is read.
"""

from . import group_views, hub_views, person_views  # noqa: F401  (their routes, on bp)
from .views import bp

__all__ = ["bp"]
