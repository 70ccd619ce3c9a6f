"""alembic's environment for hubdesk's database (run by hubdesk.db.Database.upgrade)."""

from alembic import context
from hubdesk.db import metadata
from hubdesk.usage import tables  # noqa: F401  (its tables, on the one metadata)

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("hubdesk runs its migrations through hubdesk.db.Database.upgrade()")
    # batch mode: SQLite cannot ALTER a table in place, alembic rebuilds it
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("hubdesk's migrations run online only (hubdesk-db upgrade)")
run_migrations_online()
