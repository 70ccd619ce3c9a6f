"""One way of asking before a change: a page that asks (GET), whose form does it (POST),
answered with a redirect to a page (post/redirect/get). Stopping a server, taking someone out
of a group, cancelling the rest of a job; the reviews of a hub-wide stop are pages too."""

import html
import re
from urllib.parse import urlsplit

from helpers.servers import gone_or_stopped, running
from helpers.stack import PREFIX, csrf_token, unique, wait_for
from hubdesk.extensions import shared
from hubdesk.jobs import HubStopSpec
from hubdesk.servers.stops import KIND


def path_of(location: str) -> str:
    """A redirect's path under hubdesk's prefix (with its query)."""
    parts = urlsplit(location)
    path = parts.path.removeprefix(PREFIX)
    return path + (f"?{parts.query}" if parts.query else "")


def confirm_form(page: str) -> dict:
    """The hidden fields of a confirmation page's form (its CSRF token included)."""
    form = re.search(r'<form method="post"[^>]*>(.*?)</form>', page, re.S).group(1)
    fields = re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)
    return {k: html.unescape(v) for k, v in fields}


def test_a_server_is_stopped_after_its_page_asks(stack, admin, users):
    (u,) = users(1, prefix="ask")
    stack.api.start_server(u, "labs", {"profile": "small"})
    wait_for(lambda: running(stack, u, "labs"))
    mine = admin.get(stack.url(f"users/{u}")).text
    assert "data-confirm" not in mine
    assert f'href="{PREFIX}users/{u}/servers/labs/stop"' in mine  # a link, not a form

    asked = admin.get(stack.url(f"users/{u}/servers/labs/stop"))
    assert asked.status_code == 200
    assert f"Stop “labs” of {u}?" in html.unescape(asked.text)
    assert "Unsaved work in it is lost" in asked.text
    assert running(stack, u, "labs")  # asking changes nothing
    fields = confirm_form(asked.text)
    assert admin.post(stack.url(f"users/{u}/servers/labs/stop"), data={}).status_code == 400
    assert running(stack, u, "labs")  # no CSRF token, no stop
    assert stack.signin("teacher").get(asked.url).status_code == 404  # not theirs to see

    done = admin.post(asked.url, data=fields, allow_redirects=False)
    assert done.status_code == 302 and path_of(done.headers["Location"]) == f"users/{u}"
    wait_for(lambda: gone_or_stopped(stack, u, "labs"))
    again = admin.get(asked.url).text  # stopped: nothing to ask
    assert "there is nothing to stop" in again and 'method="post"' not in again.split("<main")[1]


def test_removal_from_a_group_on_a_users_page_is_asked_first(stack, admin, users):
    (u,) = users(1, prefix="leave")
    group = unique("leave-g")
    stack.api.create_group(group, [u])
    try:
        page = admin.get(stack.url(f"users/{u}")).text
        ask = f"users/{u}/groups?group={group}"
        assert f'href="{PREFIX}{ask}"' in page and "Remove from group…" in page
        asked = admin.get(stack.url(ask))
        assert asked.status_code == 200
        assert f"Remove {u} from “{group}”?" in html.unescape(asked.text)
        assert stack.api.get_group(group)["users"] == [u]  # asking changes nothing
        fields = confirm_form(asked.text)
        assert fields["action"] == "remove" and fields["group"] == group
        assert stack.signin("teacher").get(stack.url(ask)).status_code == 403  # not their group
        no_token = {k: v for k, v in fields.items() if k != "csrf_token"}
        assert admin.post(stack.url(f"users/{u}/groups"), data=no_token).status_code == 400
        assert stack.api.get_group(group)["users"] == [u]

        done = admin.post(stack.url(f"users/{u}/groups"), data=fields, allow_redirects=False)
        assert done.status_code == 302 and path_of(done.headers["Location"]) == f"users/{u}"
        assert stack.api.get_group(group)["users"] == []
        assert "is not a member" in admin.get(stack.url(ask)).text  # nothing left to ask
    finally:
        stack.api.delete_group(group)


def _job_held_elsewhere(stack, kind, group, spec, items) -> str:
    """A job under way, held by a worker that is not this test's (nothing runs it meanwhile)."""
    with stack.app.app_context():
        return shared(stack.app).jobs.store.create(
            kind, group, by="admin", spec=spec, scopes=[], items=items, owner=unique("elsewhere")
        )


def test_the_rest_of_a_job_is_cancelled_after_its_page_asks(stack, admin):
    store = shared(stack.app).jobs.store
    ghost = unique("ghost")
    cases = [
        (
            _job_held_elsewhere(stack, KIND, "", HubStopSpec(servers=((ghost, ""),)), [("0", "")]),
            "servers/jobs/{}",
            "Cancel this stop?",
        ),
        (
            _job_held_elsewhere(stack, "stop", "class-a", {"server": "x"}, [(ghost, "")]),
            "groups/class-a/servers/jobs/{}",
            "Cancel this group action?",
        ),
    ]
    visitor = stack.signin("visitor")
    for job, page, question in cases:
        page = page.format(job)
        assert "data-confirm" not in admin.get(stack.url(page)).text
        assert f'href="{PREFIX}{page}/cancel"' in admin.get(stack.url(page)).text
        asked = admin.get(stack.url(f"{page}/cancel"))
        assert asked.status_code == 200 and question in asked.text
        assert store.get(job).cancel_by is None  # asking changes nothing
        assert visitor.get(stack.url(f"{page}/cancel")).status_code in (403, 404)
        assert admin.post(stack.url(f"{page}/cancel"), data={}).status_code == 400
        assert store.get(job).cancel_by is None

        done = admin.post(asked.url, data=confirm_form(asked.text), allow_redirects=False)
        assert done.status_code == 302 and path_of(done.headers["Location"]) == page
        assert store.get(job).cancel_by == "admin"
        assert "nothing is left to cancel" in admin.get(stack.url(f"{page}/cancel")).text


def test_the_reviews_of_a_hub_wide_stop_are_pages(stack, admin):
    """Ticks and an idle time fit an address: a POST of them is sent to the review (303), a
    page a reload asks again; its confirmation is a job, followed on its page (303)."""
    u = unique("nobody")  # no such user: the job says so, nothing else is touched
    token = csrf_token(admin.get(stack.url("servers/")).text)
    r = admin.post(
        stack.url("servers/stop"),
        data={"csrf_token": token, "server": f"{u}/labs"},
        allow_redirects=False,
    )
    assert r.status_code == 303
    assert path_of(r.headers["Location"]) == f"servers/stop?server={u}/labs"
    review = admin.get(stack.url(path_of(r.headers["Location"])))
    assert "Stop 1 server?" in review.text and f"“labs” of {u}" in html.unescape(review.text)
    done = admin.post(review.url, data=confirm_form(review.text), allow_redirects=False)
    assert done.status_code == 303 and "servers/jobs/" in done.headers["Location"]

    r = admin.post(
        stack.url("servers/stop-idle"),
        data={"csrf_token": token, "idle": "2", "unit": "hours"},
        allow_redirects=False,
    )
    assert r.status_code == 303
    assert path_of(r.headers["Location"]) == "servers/stop-idle?idle=2&unit=hours"
    assert admin.get(stack.url("servers/stop-idle")).status_code == 400  # no idle time: said so
