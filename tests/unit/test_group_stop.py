"""A group stop's review (roster/stopping.py): which servers, a page of members at a time."""

from types import SimpleNamespace

import pytest
from hubdesk.names import NamesError
from hubdesk.roster.stopping import EVERY, NAMED, preview, read_which


class Hub:
    """Only what the review asks of the hub: the page's members' models, and who was asked."""

    def __init__(self, models):
        self.models, self.asked = models, []

    def user_models(self, names, by_name=False):
        self.asked.append(list(names))
        return {n: self.models[n] for n in names if n in self.models}


def running(started="2026-12-07T08:00:00Z"):
    return {"ready": True, "pending": None, "started": started, "user_options": {}}


def test_no_choice_is_one_named_server_and_every_server_is_asked_for_explicitly():
    assert read_which("", "", hub_major=6) == (NAMED, "")  # the default server, not all
    assert read_which("named", " lab ", hub_major=6) == (NAMED, "lab")
    assert read_which("every", "lab", hub_major=6) == (EVERY, None)
    for which, name in (("all", ""), ("named", "no/slash")):
        with pytest.raises(NamesError):
            read_which(which, name, hub_major=6)


def test_the_review_lists_a_page_of_members_servers_and_what_another_class_may_share():
    members = [f"m{i:02d}" for i in range(60)]
    models = {m: {"name": m, "groups": ["class-a"], "servers": {"lab": running()}} for m in members}
    models["m01"]["groups"] = ["class-a", "class-b"]
    models["m01"]["servers"]["notes"] = running()
    models["m02"]["servers"] = {}  # nothing to stop
    lesson = SimpleNamespace(
        group="class-b", server="lab", when=SimpleNamespace(words=lambda: "Mondays")
    )
    hub = Hub(models)
    asked = dict(group="class-a", usual="lab", profiles=(), lessons_of=lambda groups: [lesson])
    named = preview(hub, members, which=NAMED, server="lab", offset=0, limit=50, **asked)
    assert hub.asked == [members[:50]]  # one page of members, never the group
    assert [(r.server.user, r.server.name) for r in named.rows][:3] == [
        ("m00", "lab"),
        ("m01", "lab"),
        ("m03", "lab"),
    ]
    assert named.idle == ["m02"] and named.total == 60 and len(named.rows) == 49
    (warned,) = named.warned()  # m01: in class-b too, whose lesson uses "lab"
    assert warned.other_groups == ["class-b"] and warned.lessons == ["class-b: Mondays"]
    every = preview(hub, members, which=EVERY, server=None, offset=50, limit=50, **asked)
    assert [r.server.user for r in every.rows] == members[50:]
    first = preview(hub, members, which=EVERY, server=None, offset=0, limit=50, **asked)
    notes = [r for r in first.rows if r.server.name == "notes"]
    assert notes and notes[0].other_name and not notes[0].lessons  # another name than "lab"
