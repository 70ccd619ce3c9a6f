"""Questions asked on a page of their own before a change, shared by the areas.

Every change that loses something is asked first on a page (``templates/_confirm.html``),
whose form makes it; the browser's own ``confirm()`` is never used. This module holds the
questions more than one area asks.
"""

from __future__ import annotations

from flask import render_template

from .forms import ActionForm
from .jobs import Job


def ask_to_cancel(record: Job, question: str, lead: str, trail: list[tuple[str, str]]) -> str:
    """The page asking whether to cancel the rest of a job; once it has finished or was
    cancelled, it says that nothing is left to cancel. ``trail``: breadcrumbs down to the
    job's page (the last one), where its Cancel link leads back."""
    return render_template(
        "cancel_job.html",
        question=question,
        lead=lead,
        trail=[*trail, ("Cancel", None)],
        back=trail[-1][1],
        under_way=not record.done and record.cancel_by is None,
        form=ActionForm(),
    )
