"""The end of term as a job ("delete-users"): the accounts confirmed, one item each.

The confirmation froze the list previewed into the job (its items, named by the accounts).
Each account is judged again at its turn, as the hub has it then: the person, with the scopes
they had when they asked, must still be allowed to delete it (its ``!group=`` filters
resolved by its groups now), and an account that became a hub admin since is left alone
unless it was ticked by name. The item is marked *sent* just before the deletion goes out
(service token); :func:`hubdesk.users.removal.remove_account` stops its servers first and
settles a sent item that is gone as deleted, so a worker that takes the job over never sends
a second deletion. Each deletion's audit record names the job (``audit.background_job``).
"""

from __future__ import annotations

import logging

from .. import audit, metrics
from ..jobs import Context, Item, Job, pool_map
from ..permissions import may_change_account
from ..states import OUTCOME_WORDS
from ..users.removal import DELETED, DELETED_WORDS, remove_account

log = logging.getLogger(__name__)

KIND = "delete-users"
WORDS = {
    DELETED: DELETED_WORDS,
    "unchanged": "already gone",
}  # an outcome's word on the job's page, where it differs
OUTCOMES = {**OUTCOME_WORDS, **WORDS}

NOT_ALLOWED = "not an account you may delete (any more)"
BECAME_ADMIN = "a hub admin now, not ticked by name: left alone"
ADMIN_RULE = "a hub admin: only the hub's admins may delete an admin's account"


def run_deletions(context: Context) -> None:
    """Every account not settled yet, a few at a time, each judged again at its turn."""
    job = context.job
    pool_map(context, lambda item: delete_item(context, item), job.pending())
    counts = job.counts()
    log.info("end of term %s: %s", job.id, ", ".join(f"{n} {k}" for k, n in counts.items()))


def check_for(context: Context, name: str):
    """The check of one account at its turn: None to delete it, else (outcome, why)."""
    spec = context.job.spec

    def check(model: dict):
        groups = model.get("groups") or ()
        if not context.may("delete_user", user=name, user_groups=groups):
            return "forbidden", NOT_ALLOWED
        if model.get("admin") and name not in spec.admins:
            return "skipped", BECAME_ADMIN
        if not may_change_account(model, admin=spec.by_admin):
            return "forbidden", ADMIN_RULE
        return None

    return check


def delete_item(context: Context, item: Item) -> None:
    """One account: judged as it is now, deleted if it still may be; an outcome in any case."""
    token = audit.background_job.set(context.job.id)
    try:
        removal = remove_account(
            context.hub,
            item.name,
            check_for(context, item.name),
            sent=item.sent,
            before_send=lambda: context.mark_sent(item.name),
        )
    finally:
        audit.background_job.reset(token)
    metrics.count_bulk("users.delete", removal.outcome)
    why = removal.why or (DELETED_WORDS if removal.outcome == DELETED else "")
    context.set_outcome(item.name, removal.outcome, why)


def of(job: Job, outcome: str) -> list[str]:
    """The accounts of the job with this outcome, in the order confirmed."""
    return [i.name for i in job.in_order() if i.outcome == outcome]


def reasons(job: Job, outcomes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(account, why) of the items with these outcomes, in the order confirmed."""
    return [(i.name, i.words) for i in job.in_order() if i.outcome in outcomes]
