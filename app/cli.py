"""hubdesk's command line: ``hubdesk-db`` (the database's schema, for an init container or an
upgrade step before the web workers start)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .config import ConfigError, Settings
from .db import Database, StateUnavailable, current_revision


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
