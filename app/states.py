"""One vocabulary of states and outcomes, each with its words and one colour, for every page.

- A **server state** (``SERVER``): running, starting, stopping, stopped, failed.
- An **item's outcome** in a job (``OUTCOME``): what became of one member, server or name of a
  group action, a hub-wide stop or a membership change ("started", "failed", "left alone"…).
- A **job's verdict** (:func:`verdict`): in progress, paused, cancelling, or finished, and
  when it finished with items that did not go as asked, which ones: "finished — 4 failed".
- A **lesson's** moment (``LESSON``): under way, late.

Each term has one *tone*, and each tone one colour (``TONES``: Bootstrap's badge and alert
classes). A word means the same and looks the same on every page: a key found in more than
one table has the same tone in each (checked by tests/unit/test_states.py). Nothing green
that failed: only the "good" tone is green, and a verdict is good only when every item is.

Templates reach it through globals registered by :func:`init_app`: ``badge(term)`` and
``state_badge`` (templates/_servers.html), ``verdict(job, counts)`` (the job header), and
``tone_class(tone, "alert")`` for a summary's box.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

# tone -> (badge class, alert class); the same tone is the same colour everywhere
TONES = {
    "good": ("text-bg-success", "alert-success"),  # asked for, and done; up and running
    "busy": ("text-bg-info", "alert-info"),  # under way: the hub is on it
    "quiet": ("text-bg-light border", "alert-secondary"),  # at rest; nothing to do
    "neutral": ("text-bg-secondary", "alert-secondary"),  # left as it was, by choice
    "warn": ("text-bg-warning", "alert-warning"),  # not done, or not known: look at it
    "bad": ("text-bg-danger", "alert-danger"),  # failed
}


@dataclass(frozen=True)
class Term:
    """A state or outcome: its key (kept in the database and in data-* attributes), its
    words on a page, and its tone."""

    key: str
    words: str
    tone: str

    @property
    def badge_class(self) -> str:
        return TONES[self.tone][0]

    @property
    def alert_class(self) -> str:
        return TONES[self.tone][1]


def _terms(*rows: tuple[str, str, str]) -> dict[str, Term]:
    return {key: Term(key, words, tone) for key, words, tone in rows}


SERVER = _terms(
    ("running", "running", "good"),
    ("starting", "starting", "busy"),
    ("stopping", "stopping", "busy"),
    ("stopped", "stopped", "quiet"),
    ("failed", "failed", "bad"),
)

OUTCOME = _terms(
    ("waiting", "waiting", "quiet"),  # not asked for yet
    ("started", "started", "good"),
    ("starting", "starting", "busy"),
    ("running", "already running", "good"),
    ("stopped", "stopped", "quiet"),
    ("stopping", "stopping", "busy"),
    ("nothing", "nothing to stop", "quiet"),
    ("done", "done", "good"),  # a membership change: added or removed
    ("unchanged", "already as asked", "quiet"),
    ("forbidden", "not allowed", "warn"),
    ("limit", "server limit reached", "bad"),
    ("failed", "failed", "bad"),
    ("unknown", "unknown: check", "warn"),
    ("skipped", "left alone", "neutral"),
    ("cancelled", "cancelled", "neutral"),
    ("paused", "not started: paused", "warn"),
)

LESSON = _terms(
    ("under-way", "under way", "busy"),
    ("late", "late", "warn"),
)

# a job's state ("in-progress" is the jobs table's "running": not a server's "running")
JOB = _terms(
    ("in-progress", "in progress", "busy"),
    ("paused", "paused", "warn"),
    ("cancelling", "cancelling", "warn"),
    ("done", "finished", "good"),
)

OUTCOME_WORDS = {key: term.words for key, term in OUTCOME.items()}

UNKNOWN_TERM = Term("", "unknown", "warn")  # a key no table has (an older record's)


def outcome(key: str, words: str | None = None) -> Term:
    """An item's outcome; ``words``: a page's own words for it (a membership change's "added")."""
    found = OUTCOME.get(key) or Term(key, key, UNKNOWN_TERM.tone)
    return Term(found.key, words, found.tone) if words else found


def server(key: str) -> Term:
    return SERVER.get(key) or Term(key, key, UNKNOWN_TERM.tone)


# the verdict's order of mention: the worst first
_WORST_FIRST = ("bad", "warn", "neutral")


def verdict(job, counts: dict[str, int] | None = None, words: dict[str, str] | None = None) -> Term:
    """A job's state in a word, and when it finished, how: "finished", or "finished — 4
    failed, 1 not allowed" (red when any item failed, amber when any was not done).

    ``counts``: items per outcome (``job.counts()`` when not given); ``words``: a page's own
    words for some outcomes (a membership change's "added").
    """
    if not job.done:
        if job.paused:
            return JOB["paused"]
        if job.cancel_by:
            return JOB["cancelling"]
        return JOB["in-progress"]
    counts = job.counts() if counts is None else counts
    words = words or {}
    terms = [(outcome(key, words.get(key)), n) for key, n in counts.items() if n]
    unwell = sorted(
        ((t, n) for t, n in terms if t.tone in _WORST_FIRST),
        key=lambda tn: (_WORST_FIRST.index(tn[0].tone), tn[0].words),
    )
    if not unwell:
        return JOB["done"]
    said = ", ".join(f"{n:,} {t.words}" for t, n in unwell)
    tone = "bad" if unwell[0][0].tone == "bad" else "warn"
    return Term("done", f"finished — {said}", tone)


def badge(term: Term, **attrs) -> Markup:
    """A term as a badge: its words, its colour, its key in ``data-state``."""
    extra = Markup("").join(
        Markup(' {}="{}"').format(k.replace("_", "-"), v) for k, v in attrs.items()
    )
    return Markup('<span class="badge {}" data-state="{}"{}>{}</span>').format(
        term.badge_class, term.key, extra, term.words
    )


def tone_class(tone: str, kind: str = "badge") -> str:
    """The class of a tone's colour: ``kind`` "badge" or "alert"."""
    return TONES.get(tone, TONES["warn"])[0 if kind == "badge" else 1]


def init_app(app) -> None:
    app.jinja_env.globals.update(
        badge=badge,
        server_term=server,
        outcome_term=outcome,
        lesson_term=LESSON.__getitem__,
        verdict=verdict,
        tone_class=tone_class,
    )
