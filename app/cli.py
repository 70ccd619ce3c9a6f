"""hubdesk's command line: ``hubdesk-db`` (the database's schema, for an init container or an
upgrade step before the web workers start) and ``hubdesk-worker`` (the job runner alone)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .config import ConfigError, Settings
from .db import Database, StateUnavailable, current_revision
from .extensions import shared
from .factory import create_app

log = logging.getLogger(__name__)


def main(argv=None) -> int:
    """``hubdesk-db upgrade``: bring hubdesk's database to the current schema, then exit."""
    parser = argparse.ArgumentParser(prog="hubdesk-db", description=main.__doc__)
    parser.add_argument("command", choices=["upgrade", "current"])
    parser.add_argument("--revision", default="head")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = Settings.from_env(dict(os.environ), need_hub=False)
    except ConfigError as e:
        sys.stderr.write(f"hubdesk-db: configuration error: {e}\n")
        return 4
    database = Database(settings.db_url)
    try:
        if args.command == "upgrade":
            database.upgrade(args.revision)
        with database.read() as conn:
            print(f"{database!r}: schema {current_revision(conn) or 'none'}")
    except StateUnavailable as e:
        sys.stderr.write(f"hubdesk-db: {e}\n")
        return 3
    finally:
        database.dispose()
    return 0


def worker(argv=None) -> int:
    """``hubdesk-worker``: run hubdesk's jobs (group actions, membership changes, hub-wide
    stops, lessons' runs) in a process of its own, without web workers.

    It reads the same settings as the web app and shares its database: it takes over jobs
    whose worker stopped holding them and makes lessons' runs when due, as every web worker's
    embedded runner does (that one stays on: jobs are leased, so any number of runners share
    them). SIGTERM or SIGINT: it takes no new items, finishes those under way (for up to
    ``--grace`` seconds) and gives its leases back.
    """
    parser = argparse.ArgumentParser(prog="hubdesk-worker", description=worker.__doc__)
    parser.add_argument("--grace", type=float, default=20.0, help="seconds to finish on SIGTERM")
    args = parser.parse_args(argv)
    try:
        app = create_app()
    except ConfigError as e:
        sys.stderr.write(f"hubdesk-worker: configuration error: {e}\n")
        return 4
    runner = shared(app).jobs
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    runner.ensure_started()
    log.info("hubdesk-worker: running jobs as %s", runner.owner)
    while not stop.wait(1):
        pass
    log.info("hubdesk-worker: stopping (up to %.0f s for the items under way)", args.grace)
    runner.stop(args.grace)
    shared(app).database.dispose()
    return 0
