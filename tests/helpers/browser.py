"""Helpers for the browser tests: find Chromium, sign in, save artifacts.

The fixtures (``browser``, ``page``) and the hook that lets ``page`` know a
test failed live in tests/helpers/browser_plugin.py, which tests/conftest.py loads
with ``pytest_plugins`` (a hook cannot live in a test module). They are separate
from this module so that a test module can import this one (``from helpers.browser
import sign_in``) without importing a plugin.

Playwright cannot download its own browsers here: Chromium comes from the
system (``apt-get install chromium`` on Debian) or ``HUBDESK_CHROMIUM``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# README screenshots are rewritten only when asked (HUBDESK_UPDATE_SCREENSHOTS=1);
# otherwise they land with the other artifacts, so a test run leaves git clean
SCREENSHOTS = ROOT / "docs" if os.environ.get("HUBDESK_UPDATE_SCREENSHOTS") else ARTIFACTS
TIMEOUT_MS = 15_000  # the hub's OAuth dance is several redirects; be patient, never sleep

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def find_chromium() -> str | None:
    """HUBDESK_CHROMIUM, else Debian's /usr/bin/chromium, else whatever is on PATH."""
    configured = os.environ.get("HUBDESK_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def save_artifacts(page, name: str) -> list[Path]:
    """Save a screenshot and the HTML of ``page`` as test-artifacts/<name>.png/.html."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "test"
    saved = []
    try:
        png = ARTIFACTS / f"{safe}.png"
        page.screenshot(path=str(png), full_page=True, timeout=5_000)
        saved.append(png)
    except Exception as e:  # a crashed page must not hide the test's own failure
        print(f"could not take a screenshot: {e}")
    try:
        html = ARTIFACTS / f"{safe}.html"
        html.write_text(f"<!-- {page.url} -->\n{page.content()}", encoding="utf-8")
        saved.append(html)
    except Exception as e:
        print(f"could not save the page's HTML: {e}")
    return saved


def sign_in(page, stack, username: str, *, expect_hubdesk: bool = True):
    """Open hubdesk, sign in on the hub's login form, and wait for where that leads.

    With ``expect_hubdesk`` (the default) it waits until hubdesk's home page is
    shown; otherwise it returns the hub's answer to the OAuth authorize step (the
    hub refuses people without access there, with a 403).
    """
    from playwright.sync_api import expect

    page.goto(stack.url())
    page.wait_for_url(f"{stack.hub.public_url}/hub/login?**")
    page.locator("#username_input").fill(username)
    page.locator("#password_input").fill(stack.hub.password)
    if expect_hubdesk:
        page.locator("#login_submit").click()
        page.wait_for_url(stack.url())
        expect(page.get_by_test_id("whoami")).to_have_text(username)
        return None
    # the 403 comes from the hub's OAuth authorize page, after the login redirect
    with page.expect_response(lambda r: "/hub/api/oauth2/authorize" in r.url) as info:
        page.locator("#login_submit").click()
    page.wait_for_load_state()
    return info.value
