"""Alembic environment: runs on the connection the caller hands over.

``lastmile db upgrade`` and the app's start-up pass a connection through
``config.attributes["connection"]``; run directly, the URL comes from the
service settings (``LASTMILE_DATABASE_URL``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import lastmile.service.models  # noqa: F401  (registers every table on the metadata)
from lastmile.service.db import Base, make_engine
from lastmile.service.settings import Settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(Settings().database_url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; give a database URL")
run_migrations_online()
