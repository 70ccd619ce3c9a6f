"""The suite's tiers and its session fixtures.

Tests live in four folders, and each folder is a marker (applied here, by folder):

- ``tests/unit``: no hub and no server of their own, pure logic, configuration, names,
  permissions, the database layer (SQLite; the PostgreSQL cases start the throwaway
  server of tests/helpers/pgserver.py, once, only if they run). ``pytest tests/unit`` is
  the quick loop.
- ``tests/hub``: against the session's real JupyterHub with hubdesk registered with it
  (the ``stack`` fixture, started the first time a test asks for it).
- ``tests/browser``: Playwright in a real Chromium, on the same stack.
- ``tests/production``: the image's gunicorn command, attacks, the wheel, the Dockerfile and
  deploy manifests, replicas, durability on PostgreSQL.

What they share is in tests/helpers (no test module imports another). Under pytest-xdist
every worker is a session of its own: its own hub stack, its own PostgreSQL server, its own
token sweep when its stack stops (``stack`` below).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import jupyterhub
import pytest

# the helpers' asserts report what they compared, as a test module's do
pytest.register_assert_rewrite("helpers")

from helpers import token_sweep  # noqa: E402
from helpers.stack import HUB_MAJOR, HUB_VERSION, running_stack  # noqa: E402

# Fixtures that more than one test module uses (each starts what it needs only when asked):
pytest_plugins = [
    "helpers.browser_plugin",  # browser, page (and the hook that keeps a failed page's screenshot)
    "helpers.servers",  # users: fresh users whose servers go with them
    "helpers.idle",  # crowd: users with running servers, some idle
    "helpers.durability",  # proxy, admin_cookie: hubdesk under gunicorn behind a counting proxy
]

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "hub", "browser", "production")


def tier_of(path: Path) -> str | None:
    """The tier of a test file: the folder under tests/ it is in."""
    try:
        first = Path(path).resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return first if first in TIERS else None


# Under pytest-xdist (``--dist loadgroup``, pyproject.toml) tests go to whichever worker is
# free, one by one, except in these modules: each group runs on one worker, one test at a
# time. Most because a module-scoped fixture of theirs is worth making once (a hub of their
# own, a crowd of running servers, a wheel, a hundred users). "timed": the tests that put a
# deadline on hubdesk under gunicorn (killed and restarted within a lesson's seconds, a
# lease taken over, health probes answered within a second under attack, its memory): two of
# them at once on two cores starve each other, so they take turns, beside the other tests.
XDIST_GROUPS = {
    "test_attacks": "timed",
    "test_durability": "timed",
    "test_lessons_durability": "timed",
    "test_slow_clients": "timed",
    "test_breaker_hub": "test_breaker_hub",  # a hub of its own
    "test_faults": "test_faults",  # a hundred users
    "test_groups": "test_groups",  # many groups
    "test_hub_client": "test_hub_client",  # many groups, thirty users
    "test_idle": "test_idle",  # a crowd of 30 running servers
    "test_least_privilege": "test_least_privilege",  # a hub of its own
    "test_packaging": "test_packaging",  # the wheel, built once
}
# what a unit test may not ask for, even through another fixture: a hub, a browser
UNIT_MAY_NOT_START = {"stack", "browser", "page"}
# the slowest first, so that no worker is left with a long test at the end
RUN_ORDER = ("production", "hub", "browser", "unit")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = tier_of(item.path)
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid}: a test belongs in one of tests/{TIERS}")
        item.add_marker(tier)
        if tier == "unit" and (started := UNIT_MAY_NOT_START & set(item.fixturenames)):
            raise pytest.UsageError(f"{item.nodeid} is a unit test but asks for {started}")
        if item.path.stem in XDIST_GROUPS:
            item.add_marker(pytest.mark.xdist_group(XDIST_GROUPS[item.path.stem]))
    items.sort(key=lambda item: RUN_ORDER.index(tier_of(item.path)))  # stable: in-tier order


def pytest_report_header(config):
    return f"JupyterHub {HUB_VERSION} (the hub under test), {Path(jupyterhub.__file__).parent}"


# -- each tier's time, at the end of the run (under xdist: the controller sees every report) --

_spans: dict[str, list[float]] = {}  # tier -> [first start, last stop, summed seconds, tests]


def pytest_runtest_logreport(report):
    tier = tier_of(Path(str(report.fspath)))
    start, stop = getattr(report, "start", None), getattr(report, "stop", None)
    if tier is None or start is None or stop is None:
        return
    span = _spans.setdefault(tier, [start, stop, 0.0, 0])
    span[0], span[1] = min(span[0], start), max(span[1], stop)
    span[2] += report.duration
    if report.when == "call" or (report.when == "setup" and report.skipped):
        span[3] += 1


def pytest_terminal_summary(terminalreporter):
    if not _spans:
        return
    terminalreporter.section("time per tier")
    for tier in TIERS:
        if tier in _spans:
            first, last, summed, tests = _spans[tier]
            terminalreporter.write_line(
                f"{tier:<11} {tests:>5} tests  {last - first:7.1f} s from its first test's"
                f" start to its last one's end, {summed:7.1f} s of test time"
            )


# -- the hub stack ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hub_major() -> int:
    """The major version of the JupyterHub under test (5 or 6)."""
    return HUB_MAJOR


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The session's hub and hubdesk (tests/helpers/stack.py); when the session ends, the
    token sweep: no hub token in any page, header, redirect or log line of the session."""
    with running_stack(tmp_path_factory.mktemp("hub")) as made:
        yield made
        started = time.monotonic()
        token_sweep.no_token_anywhere(made)
        print(f"token sweep: {time.monotonic() - started:.1f} s, no token found")


@pytest.fixture
def admin(stack):
    return stack.signin("admin")


# -- databases: hubdesk's own state on SQLite and on a real PostgreSQL server ----------------


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A PostgreSQL server of the test session's own (Debian's binaries, run as `postgres`).

    Skipped where PostgreSQL is not installed, except in CI, where that is a failure.
    """
    from helpers.pgserver import PostgresServer, available

    reason = available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed in CI: {reason}")
        pytest.skip(f"no PostgreSQL here: {reason}")
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database of each kind hubdesk runs on: its URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'hubdesk.sqlite'}"
    server = request.getfixturevalue("postgres")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")
