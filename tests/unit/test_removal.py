"""The order of an account's deletion (its servers stopped first, one DELETE at most), as pure
logic: a scripted stand-in records the calls. What the real hub does with them is tested in
tests/hub (the accounts and end-of-term tests, against JupyterHub 5.x and 6.x)."""

from hubdesk.hub import HubAPIError, HubUnreachable
from hubdesk.users.removal import remove_account


class Hub:
    """Answers get_user from a script of models (None: 404), records every change."""

    def __init__(self, *models, delete_error=None):
        self.models = list(models)
        self.calls = []
        self.delete_error = delete_error

    def get_user(self, name):
        model = self.models.pop(0) if len(self.models) > 1 else self.models[0]
        if model is None:
            raise HubAPIError(404, "Not Found")
        return model

    def stop_server(self, name, server):
        self.calls.append(("stop", name, server))
        return 202

    def delete_user(self, name):
        self.calls.append(("delete", name))
        if self.delete_error:
            raise self.delete_error


def go(hub, **kw):
    return remove_account(hub, "ann", lambda model: None, pause=lambda s: None, **kw)


RUNNING = {"ready": True, "pending": None}


def test_servers_are_stopped_and_waited_for_before_the_one_delete():
    hub = Hub(
        {"servers": {"": RUNNING, "labs": RUNNING}},
        {"servers": {"labs": {"ready": False, "pending": "stop"}}},
        {"servers": {}},
    )
    sent = []
    result = go(hub, before_send=lambda: sent.append(True))
    assert hub.calls == [("stop", "ann", ""), ("stop", "ann", "labs"), ("delete", "ann")]
    assert (result.outcome, sent) == ("done", [True])


def test_a_server_already_stopping_is_not_stopped_again():
    hub = Hub({"servers": {"labs": {"ready": False, "pending": "stop"}}}, {"servers": {}})
    go(hub)
    assert hub.calls == [("delete", "ann")]


def test_servers_that_do_not_stop_leave_the_account_and_say_so():
    hub = Hub({"servers": {"labs": RUNNING}})
    ticks = iter(range(0, 1000, 10))
    result = go(hub, wait=30, clock=lambda: next(ticks))
    assert result.outcome == "failed" and "did not stop in 30 s: labs" in result.why
    assert ("delete", "ann") not in hub.calls


def test_gone_after_an_earlier_try_is_deleted_and_not_sent_again():
    assert go(Hub(None), sent=True).outcome == "done"
    hub = Hub(None)
    result = go(hub)
    assert (result.outcome, result.why, hub.calls) == ("unchanged", "already gone", [])


def test_the_check_judges_the_account_as_it_is_now():
    hub = Hub({"admin": True, "servers": {}})
    result = remove_account(
        hub, "ann", lambda m: ("skipped", "a hub admin now") if m["admin"] else None
    )
    assert (result.outcome, result.why, hub.calls) == ("skipped", "a hub admin now", [])


def test_refusals_and_silence_are_said():
    hub = Hub({"servers": {}}, delete_error=HubAPIError(403, "Action is not authorized"))
    assert go(hub).outcome == "forbidden"
    hub = Hub({"servers": {}}, delete_error=HubUnreachable("lost", maybe_applied=True))
    result = go(hub)
    assert result.outcome == "failed" and "it may have been deleted" in result.why
