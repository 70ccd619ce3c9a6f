"""The browser tests' fixtures, and the hook that tells them a test failed.

Loaded as a pytest plugin by tests/conftest.py (``pytest_plugins``): the fixtures are
there for every test module; Chromium starts only when a test asks for ``page``.

``pytest_runtest_makereport`` keeps each phase's report on the test item, so
that ``page``'s teardown, which runs after the call phase has been reported,
knows whether the test failed and if so saves a screenshot and the page's HTML
to test-artifacts/<test name>.png and .html at the top of the repository.
"""

from __future__ import annotations

import pytest

from helpers.browser import CHROMIUM_ARGS, TIMEOUT_MS, find_chromium, save_artifacts

_reports = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


def _failed(node) -> bool:
    return any(report.failed for report in node.stash.get(_reports, {}).values())


@pytest.fixture(scope="session")
def browser():
    executable = find_chromium()
    if not executable:
        pytest.skip(
            "Chromium not found: apt-get install chromium (Debian)"
            " or set HUBDESK_CHROMIUM=/path/to/chrome"
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, request):
    """A fresh page in a fresh context: no cookies shared between tests."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        if _failed(request.node):
            for path in save_artifacts(page, request.node.name):
                print(f"saved {path}")
        context.close()
