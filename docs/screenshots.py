"""Make the documentation's screenshots from the demo, so that they follow the pages.

    python docs/screenshots.py            # writes docs/images/*.png

It starts ``hubdesk-demo`` on a free port (a real JupyterHub with hubdesk as a managed
service, the users and groups of hubdesk/demo.py), signs in through the hub's login form
as the demo's admin, teacher and help-desk person, does what docs/tutorial.md describes
(a group start for class-a, one server started with the slow profile) and saves one PNG
of 1280 × 800 per page into docs/images/. Ctrl-C, or the end, stops the demo and
everything it started.

Needs the ``test`` extra (Playwright) and a Chromium: ``HUBDESK_CHROMIUM``, else
/usr/bin/chromium (Debian's ``chromium`` package), else one on PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
PREFIX = "/services/hubdesk/"
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str:
    for candidate in (os.environ.get("HUBDESK_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("screenshots: no Chromium (apt-get install chromium, or set HUBDESK_CHROMIUM)")
    return found


class Demo:
    """``hubdesk-demo`` in a folder of its own: its URL, password and hubdesk's own port."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        demo = Path(sys.executable).with_name("hubdesk-demo")
        self.process = subprocess.Popen(
            [str(demo), "--port", str(self.port), "--dir", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.password = ""
        self.output = []
        deadline = time.monotonic() + 120
        for line in self.process.stdout:
            self.output.append(line)
            found = re.search(r"the password is: (\S+)", line)
            if found:
                self.password = found.group(1)
            if "Press Ctrl-C" in line:
                break
            if time.monotonic() > deadline:
                break
        if not self.password:
            self.stop()
            sys.exit("screenshots: the demo did not start:\n" + "".join(self.output))
        self.hub = f"http://127.0.0.1:{self.port}"
        # hubdesk's own gunicorn, for the progress page: the demo's proxy may pass a
        # spawn's events on only when it is over (docs/tutorial.md, "About the proxy")
        log = (root / "jupyterhub.log").read_text(encoding="utf-8", errors="replace")
        ports = re.findall(r"Listening at: http://127\.0\.0\.1:(\d+)", log)
        self.direct = f"http://127.0.0.1:{ports[-1]}" if ports else self.hub

    def url(self, path: str = "", *, direct: bool = False) -> str:
        return f"{self.direct if direct else self.hub}{PREFIX}{path}"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def sign_in(browser, demo: Demo, username: str):
    """A new browser context signed in to hubdesk as ``username``, and its page."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(demo.url())
    page.wait_for_url(f"{demo.hub}/hub/login?**")
    page.locator("#username_input").fill(username)
    page.locator("#password_input").fill(demo.password)
    page.locator("#login_submit").click()
    page.wait_for_url(demo.url())
    expect(page.get_by_test_id("whoami")).to_have_text(username)
    return context, page


def shoot(page, name: str, *, from_selector: str = ""):
    """Save the viewport as docs/images/<name>.png; ``from_selector``: 800 pixels of the
    page from that element down instead (a part below the fold)."""
    page.evaluate("document.fonts.ready")
    out = IMAGES / f"{name}.png"
    clip = None
    if from_selector:
        top = page.locator(from_selector).evaluate(
            "e => e.getBoundingClientRect().top + window.scrollY"
        )
        height = page.evaluate("document.documentElement.scrollHeight")
        y = max(0, min(top - 24, height - VIEWPORT["height"]))
        clip = {"x": 0, "y": y, **VIEWPORT}
    page.screenshot(
        path=str(out), animations="disabled", caret="hide", full_page=bool(clip), clip=clip
    )
    print(f"wrote {out.relative_to(HERE.parent)} ({out.stat().st_size // 1024} KiB)", flush=True)


def tour(browser, demo: Demo):
    # -- the admin: home, a group, a group start, the roster, a spawn, running servers
    context, page = sign_in(browser, demo, "admin")
    expect(page.get_by_test_id("counts")).to_be_visible()
    shoot(page, "home-admin")

    page.goto(demo.url("groups/class-a"))
    expect(page.get_by_test_id("member-count")).to_have_text("4")
    shoot(page, "group")

    page.goto(demo.url("groups/class-a/servers"))
    page.get_by_test_id("start-panel").locator("summary").click()  # folded
    start = page.get_by_test_id("group-start")
    start.locator("#server").fill("labs")
    start.locator("#profile").select_option("small")
    start.get_by_role("button", name="Start for everyone…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Start")
    shoot(page, "group-start-confirm")
    page.get_by_role("button", name=re.compile(r"^Start for \d+ members?$")).click()
    page.wait_for_url(re.compile(r".*/groups/class-a/servers/jobs/[0-9a-f]+$"))
    # the page refreshes itself while the action runs; wait until it is done
    deadline = time.monotonic() + 90
    while page.locator('meta[http-equiv="refresh"]').count() and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.get_by_test_id("job-items")).to_contain_text("started")
    shoot(page, "group-job")

    page.goto(demo.url("groups/class-a/servers"))
    expect(page.locator('[data-state="running"]').first).to_be_visible()
    # the lessons panel and the roster itself, below the start and stop forms
    shoot(page, "roster", from_selector="#lessons-title")

    # one server with the slow profile, watched straight at hubdesk's port
    page.goto(demo.url("users/student4", direct=True))
    form = page.get_by_test_id("start-server")
    form.locator("#server").fill("thesis")
    form.locator("#profile").select_option("slow")
    form.get_by_role("button", name="Start server").click()
    page.wait_for_url(re.compile(r".*/users/student4/servers/thesis/progress$"))
    expect(page.get_by_test_id("events")).to_contain_text("step 1 of 3")
    shoot(page, "progress")

    # running servers, once student4's is up too
    page.goto(demo.url("servers/"))
    deadline = time.monotonic() + 60
    while "student4" not in page.get_by_test_id("running").inner_text():
        if time.monotonic() > deadline:
            break
        page.wait_for_timeout(1000)
        page.reload()
    shoot(page, "servers")
    context.close()

    # -- the teacher of class-a: what they may do, their class's roster
    context, page = sign_in(browser, demo, "teacher")
    shoot(page, "home-teacher")
    context.close()

    # -- the help desk for class-a: finding a user and their servers
    context, page = sign_in(browser, demo, "helpdesk")
    page.goto(demo.url("users/mrossi"))
    expect(page.get_by_test_id("user-name")).to_contain_text("mrossi")
    shoot(page, "user-helpdesk")
    context.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    IMAGES.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="hubdesk-screenshots-"))
    demo = Demo(root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                tour(browser, demo)
            finally:
                browser.close()
    finally:
        demo.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
