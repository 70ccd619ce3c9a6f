"""One vocabulary of states and outcomes (app/states.py): one word and one colour each."""

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hubdesk import states

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "SERVER": states.SERVER,
    "OUTCOME": states.OUTCOME,
    "LESSON": states.LESSON,
    "JOB": states.JOB,
}


@dataclass
class FakeJob:
    """What ``verdict`` reads of a job."""

    done: bool = True
    paused: bool = False
    cancel_by: str = ""
    items: dict = field(default_factory=dict)

    def counts(self):
        return dict(self.items)


def test_a_key_in_several_tables_has_one_colour():
    tones: dict[str, set[tuple[str, str]]] = {}
    for table_name, table in TABLES.items():
        for key, term in table.items():
            tones.setdefault(key, set()).add((term.tone, table_name))
    mixed = {k: v for k, v in tones.items() if len({tone for tone, _ in v}) > 1}
    assert not mixed


def test_every_tone_is_a_colour_and_only_good_is_green():
    for table in TABLES.values():
        for term in table.values():
            assert term.tone in states.TONES
    green = {tone for tone, (badge, alert) in states.TONES.items() if "success" in badge + alert}
    assert green == {"good"}
    assert states.SERVER["failed"].tone == states.OUTCOME["failed"].tone == "bad"


def test_a_job_whose_every_item_failed_is_red_and_says_so():
    said = states.verdict(FakeJob(items={"failed": 4}))
    assert said.words == "finished — 4 failed"
    assert said.tone == "bad" and "success" not in said.badge_class + said.alert_class


def test_a_job_says_its_worst_first_and_counts_with_thousands():
    said = states.verdict(
        FakeJob(items={"started": 10, "forbidden": 1, "failed": 1200, "cancelled": 2})
    )
    assert said.words == "finished — 1,200 failed, 1 not allowed, 2 cancelled"
    assert said.tone == "bad"


@pytest.mark.parametrize(
    ("items", "words", "tone"),
    [
        ({"started": 3, "running": 1}, "finished", "good"),
        ({"stopped": 3, "nothing": 2}, "finished", "good"),
        ({"stopped": 3, "skipped": 1}, "finished — 1 left alone", "warn"),
        ({"started": 3, "unknown": 1}, "finished — 1 unknown: check", "warn"),
        ({"done": 3, "unchanged": 2}, "finished", "good"),
        ({}, "finished", "good"),
    ],
)
def test_a_finished_job_is_green_only_when_everything_went_as_asked(items, words, tone):
    said = states.verdict(FakeJob(items=items))
    assert (said.words, said.tone, said.key) == (words, tone, "done")


def test_a_page_may_name_an_outcome_in_its_own_words_and_keeps_its_colour():
    said = states.verdict(FakeJob(items={"done": 2, "failed": 1}), words={"done": "added"})
    assert said.words == "finished — 1 failed"
    assert states.outcome("done", "added").words == "added"
    assert states.outcome("done", "added").tone == states.OUTCOME["done"].tone


@pytest.mark.parametrize(
    ("job", "key", "tone"),
    [
        (FakeJob(done=False), "in-progress", "busy"),
        (FakeJob(done=False, paused=True), "paused", "warn"),
        (FakeJob(done=False, cancel_by="ana"), "cancelling", "warn"),
    ],
)
def test_a_job_under_way(job, key, tone):
    said = states.verdict(job)
    assert (said.key, said.tone) == (key, tone)


def test_an_unknown_key_is_shown_as_it_is_and_not_green():
    assert states.outcome("weird").words == "weird"
    assert states.outcome("weird").tone == "warn"
    assert states.server("weird").tone == "warn"


def test_a_badge_escapes_and_carries_its_key():
    html = states.badge(states.Term("x", "<b>", "bad"), data_testid="job-state")
    assert html == (
        '<span class="badge text-bg-danger" data-state="x" data-testid="job-state">&lt;b&gt;</span>'
    )


# the colours of states and outcomes come from states.py only: a badge or a green box named
# by hand in a template is a state with a colour of its own
HAND_PAINTED = re.compile(r"text-bg-(success|danger|warning|info)|alert-success|\bbg-success\b")


def test_templates_and_scripts_take_state_colours_from_the_vocabulary():
    found = []
    for path in [*(ROOT / "templates").rglob("*.html"), *(ROOT / "static").glob("*.js")]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if HAND_PAINTED.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not found


def test_no_page_asks_through_the_browsers_own_dialog():
    """One confirmation pattern: a page of its own (templates/_confirm.html), never the
    browser's native confirm() (data-confirm was its hook)."""
    found = []
    for path in [*(ROOT / "templates").rglob("*.html"), *(ROOT / "static").glob("*.js")]:
        text = path.read_text(encoding="utf-8")
        for needle in re.findall(
            r"data-confirm|(?<![\w.])(?:window\.)?(?:confirm|alert|prompt)\(", text
        ):
            found.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not found
