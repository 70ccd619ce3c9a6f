"""Jobs: work that outlives a request, as database rows any worker can carry on.

- :mod:`.specs`: what each kind of job asks for (a dataclass per job type, as JSON);
- :mod:`.model`: a job and its items as pages and work read them;
- :mod:`.store`: the rows (made, leased, settled, paused, pruned);
- :mod:`.runner`: the runner that does them in threads, takes over those whose worker
  died, and the :class:`Context` a job's work is given.

The job types themselves live with their areas (a group's members, a group's servers,
hub-wide stops); the app factory registers each with the runner.
"""

from .model import PAUSED, PENDING, DamagedRecord, Item, Job
from .runner import Context, JobRunner, Stopping, Work, pool_map, stop_all
from .specs import (
    DeleteUsersSpec,
    GroupActionSpec,
    HubStopSpec,
    MembersSpec,
    RawSpec,
    Spec,
    StartSpec,
    StopSpec,
)
from .store import LEASE_SECONDS, JobStore

__all__ = [
    "LEASE_SECONDS",
    "PAUSED",
    "PENDING",
    "Context",
    "DamagedRecord",
    "DeleteUsersSpec",
    "GroupActionSpec",
    "HubStopSpec",
    "Item",
    "Job",
    "JobRunner",
    "JobStore",
    "MembersSpec",
    "RawSpec",
    "Spec",
    "StartSpec",
    "StopSpec",
    "Stopping",
    "Work",
    "pool_map",
    "stop_all",
]
