"""Stateless replicas: two hubdesk processes with the same settings behave as one.

Two gunicorn instances (the image's command) share the settings of the test
stack: the session secret, the hub, the state folder for group actions and the
audit file. A person signed in on one is signed in on the other, and what is
done on one is seen on the other at once (group pages are always read fresh;
group lists within HUBDESK_GROUP_CACHE_SECONDS).
"""

import re
import time
from contextlib import ExitStack

import requests
from helpers.gunicorn import base_env, gunicorn, wait_healthy
from helpers.stack import PREFIX, csrf_token, unique
from hubdesk.devhub import free_port


def test_two_replicas_share_sessions_results_and_changes(stack, tmp_path):
    cookie = stack.signin("admin").cookies.get("hubdesk-session", path=PREFIX)
    with ExitStack() as running:
        bases = []
        for name in ("a", "b"):
            bind = f"127.0.0.1:{free_port()}"
            env = base_env(
                **stack.env, HUBDESK_BIND=bind, HUBDESK_WORKERS="1", HUBDESK_GROUP_CACHE_SECONDS="1"
            )
            folder = tmp_path / name
            folder.mkdir()
            process, log = running.enter_context(gunicorn(env, folder))
            base = f"http://{bind}{PREFIX}"
            wait_healthy(process, f"{base}health", log)
            bases.append(base)
        a, b = bases
        s = requests.Session()
        s.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)

        # signed in on both
        for base in bases:
            assert "Hello, admin" in s.get(base, allow_redirects=False).text

        # a change made on A...
        group = unique("replica")
        token = csrf_token(s.get(a).text)
        r = s.post(f"{a}groups/", data={"csrf_token": token, "name": group})
        assert r.status_code == 200 and "Created group" in r.text
        try:
            # ...is on B's group page at once, and in B's list within the cache lifetime
            assert s.get(f"{b}groups/{group}").status_code == 200
            deadline = time.monotonic() + 10
            while f">{group}</a>" not in s.get(f"{b}groups/?q={group}").text:
                assert time.monotonic() < deadline, "B's list never showed the group"
                time.sleep(0.2)

            # a group action started on A can be followed on B (a shared state folder)
            stack.api.add_group_members(group, ["student"])
            data = {"csrf_token": token, "action": "stop", "server": "none-here", "confirm": "yes"}
            r = s.post(f"{a}groups/{group}/servers", data=data)
            found = re.search(r"/servers/jobs/([0-9a-f]{16})", r.url)
            assert found, (r.status_code, r.url, re.findall(r'role="alert">(.*?)<', r.text))
            job = found.group(1)
            page = s.get(f"{b}groups/{group}/servers/jobs/{job}")
            assert page.status_code == 200 and 'data-testid="job-state"' in page.text

            # and both write to the same audit trail
            records = s.get(f"{b}activity?group={group}").text
            assert "group.create" in records
        finally:
            stack.api.delete_group(group)
