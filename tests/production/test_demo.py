"""The README's first command: hubdesk-demo starts a real hub with hubdesk managed by it."""

import html
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from hubdesk.devhub import free_port, processes_marked


def test_demo_starts_signs_in_keeps_an_audit_trail_and_leaves_no_process(tmp_path):
    port = free_port()
    root = tmp_path / "demo"
    demo = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("hubdesk-demo")),
            "--port",
            str(port),
            "--dir",
            str(root),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(output)
        assert "hubdesk is ready" in text, text
        url = re.search(r"hubdesk is ready: (\S+)", text).group(1)
        password = re.search(r"the password is: (\S+)", text).group(1)
        for login in ("admin", "helpdesk", "teacher"):
            assert re.search(rf"^\s+{login}\s", text, re.M)
        # it says which proxy runs, and whether a start's progress will stream live
        proxy = re.search(r"^Proxy: (.*)$", text, re.M)
        assert proxy, text
        assert "streams live" in proxy[1] or "HUBDESK_DEVHUB_PROXY=" in proxy[1], proxy[1]

        # managed by the hub, served by gunicorn, signed in to through the hub's OAuth
        assert requests.get(url + "health", timeout=5).json() == {
            "status": "ok",
            "hub": "up",
            "database": "up",
        }
        s = requests.Session()
        r = s.get(url)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
        r = s.post(r.url, data={"username": "admin", "password": password, "_xsrf": xsrf})
        assert r.url == url and "Hello, admin" in r.text
        assert processes_marked(f"HUBDESK_DEVHUB={root}")  # gunicorn runs with the marker

        # it says where its files are, and the Activity page shows what is done through it
        assert f"log       {root / 'jupyterhub.log'}" in text
        database = root / "hubdesk-state" / "hubdesk.sqlite"
        assert f"database  {database}" in text and "kept when the demo stops" in text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', s.get(url + "groups/").text)[1]
        r = s.post(url + "groups/", data={"csrf_token": token, "name": "demo-trail"})
        assert r.url == url + "groups/demo-trail"
        activity = html.unescape(s.get(url + "activity").text)
        records = re.findall(r'<li class="hubdesk-record"[^>]*>(.*?)</li>', activity, re.S)
        assert any(
            ">admin<" in r
            and "Created the group" in r
            and "group.create" in r
            and "demo-trail" in r
            for r in records
        )
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = demo.wait(timeout=40)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
        finally:
            output.append(demo.stdout.read())
            demo.stdout.close()
    assert code == 0
    # --dir given: its folder stays, with the log and hubdesk's database (the audit trail)
    assert f"Kept {root}" in "".join(output)
    assert "demo-trail" in (root / "jupyterhub.log").read_text()  # the audit line
    assert database.stat().st_size > 0
    leftovers = processes_marked(f"HUBDESK_DEVHUB={root}")
    assert leftovers == [], [
        Path(f"/proc/{p}/cmdline").read_bytes() for p in leftovers if os.path.exists(f"/proc/{p}")
    ]
