"""Hub-wide stops as jobs ("hub-stop"): the ticked servers, or every one idle that long.

The confirmation page names the servers; the confirmed request makes a job of them, one
item per server (item *n* is ``spec.servers[n]``), and the person follows it on its page
(any worker of any replica shows it; if this worker dies, another carries it on). At its
turn each server is judged as it is then (:func:`hubdesk.servers.idle.stop_one`): the
person, with the scopes they had when they asked, must still be allowed to stop it (a
user one may not act on and one that does not exist are answered alike); a stop of the
idle ones also needs it still running and still idle that long. The item is marked *sent*
before the stop goes out, with the service token; the audit trail records each stop under
the person's name. A worker that takes the job over settles a sent item by what the hub has.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from .. import metrics
from ..jobs import Context, HubStopSpec, Item, Job, pool_map
from ..states import OUTCOME_WORDS
from .idle import HIDDEN, RESULTS, Check, Idle, Outcome, StopResult, still_idle, stop_one

log = logging.getLogger(__name__)

KIND = "hub-stop"
OUTCOMES = OUTCOME_WORDS  # an item's outcome in words (its counts on the page): states.py


def idle_of(spec: HubStopSpec) -> Idle | None:
    """The idle filter of a stop of the idle ones; None for the ticked servers."""
    return None if spec.idle_amount is None else Idle(spec.idle_amount, spec.idle_unit)


def run_hub_stop(context: Context) -> None:
    """Every server not settled yet, a few at a time, each judged again at its turn."""
    job = context.job
    check = _check(context, idle_of(job.spec))
    pool_map(context, lambda item: stop_item(context, item, check), job.pending())
    counts = job.counts()
    log.info("hub-wide stop %s: %s", job.id, ", ".join(f"{counts.get(r, 0)} {r}" for r in RESULTS))


def _check(context: Context, idle: Idle | None) -> Check:
    def may_stop(user: str, server: str, groups) -> bool:
        return context.may("stop_server", user=user, server=server, user_groups=groups or ())

    if idle is not None:
        return still_idle(idle, may_stop, now=lambda: datetime.now(UTC))

    def check(user: str, server: str, model: dict | None):
        if model is None or not may_stop(user, server, model.get("groups")):
            return "failed", HIDDEN
        return None

    return check


def stop_item(context: Context, item: Item, check: Check) -> None:
    """One server: judged as it is now, stopped if it still may be; an outcome in any case."""
    user, server = context.job.spec.servers[item.position]
    outcome = stop_one(
        context.hub,
        user,
        server,
        check,
        sent=item.sent,
        before_send=lambda: context.mark_sent(item.name),
    )
    metrics.count_bulk("servers.stop", outcome.result)
    context.set_outcome(item.name, outcome.result, outcome.why)


def outcomes_of(job: Job) -> StopResult:
    """Each server of the job with its outcome so far, in the order asked."""
    servers = job.spec.servers
    return StopResult(
        [
            Outcome(*servers[item.position], item.outcome, item.words)
            for item in job.in_order()
            if item.position < len(servers)
        ]
    )
