"""Progress-stream slots: a cap per process and a share per person (pure logic, then the page)."""

import json

from helpers.stack import PREFIX
from hubdesk.extensions import shared
from hubdesk.streams import StreamSlots


def test_one_person_cannot_take_every_slot():
    slots = StreamSlots(total=8, per_person=2)
    assert slots.acquire("greedy") is None and slots.acquire("greedy") is None
    assert slots.acquire("greedy") == "yours"
    for n in range(6):
        assert slots.acquire(f"p{n}") is None
    assert slots.acquire("admin") == "busy" and slots.free() == 0
    slots.release("greedy")
    assert slots.acquire("admin") is None
    slots.release("greedy")
    slots.release("greedy")  # one more than held: harmless
    assert slots.free() == 1


def test_a_person_at_their_share_waits_while_others_still_watch(stack, admin):
    """8 streams opened by one person left admin's progress page waiting: no longer."""
    teacher = stack.signin("teacher")
    client = stack.app.test_client()
    with stack.streams_taken("teacher") as held:
        assert held == shared(stack.app).settings.max_streams_per_person
        client.set_cookie("hubdesk-session", teacher.cookies["hubdesk-session"], path=PREFIX)
        r = client.get(f"{PREFIX}users/student/server/progress/events")
        first = json.loads(r.get_data(as_text=True).split("data: ", 1)[1].split("\n")[0])
        assert first == {"busy": True, "yours": True}
        client.set_cookie("hubdesk-session", admin.cookies["hubdesk-session"], path=PREFIX)
        r = client.get(f"{PREFIX}users/student/server/progress/events")
        first = json.loads(r.get_data(as_text=True).split("data: ", 1)[1].split("\n")[0])
        assert not first.get("busy"), first  # admin's stream goes ahead (the server's state)
