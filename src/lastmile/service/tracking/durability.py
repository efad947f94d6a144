"""Durable sessions for tracking writes: every tracking function that writes
commits before it returns, and the routes answer only after that.

On PostgreSQL a commit is flushed to disk (``synchronous_commit`` on, the
default). On SQLite the routes hand the tracking functions a session from
:func:`durable_sessions`, whose connections run with ``PRAGMA
synchronous=FULL``: the WAL is fsynced at every commit, so an acknowledged
ping survives the server being killed and the machine losing power, as on
PostgreSQL. (The service's other SQLite writes keep ``NORMAL``, which survives
a killed process but not a power cut.)
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from threading import Lock
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from lastmile.service.db import make_sessionmaker


def durable_sessions(engine: Engine) -> tuple[sessionmaker[Session], Engine]:
    """Sessions for tracking writes, whose commits are on disk when they return,
    on an engine of their own (dispose it at shut-down).

    A request holds one connection: the pools are sized for the ping load (a
    pool smaller than the concurrent requests makes them queue, and on
    PostgreSQL opens and closes connections, a process each). SQLite: WAL
    with ``synchronous=FULL`` (see the module docs), and writes of this
    process take turns on a lock (see :func:`write_turn`) instead of spinning
    in SQLite's busy handler.
    """
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "sqlite":
        own = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)
        return make_sessionmaker(own), own
    own = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=20,
        max_overflow=20,
    )

    def pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        del connection_record
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "synchronous=FULL",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    event.listen(own, "connect", pragmas)
    return sessionmaker(bind=own, expire_on_commit=False, info={"write_lock": Lock()}), own


def write_turn(session: Session) -> AbstractContextManager[Any]:
    """Hold this process's SQLite write turn (nothing on PostgreSQL) for the writes
    and the commit that follow.

    The turn is taken before SQLite's write lock, never while holding it. A
    session whose transaction has written already (an autoflush before the turn,
    say) holds SQLite's write lock; were it to wait here for the turn, while the
    holder of the turn waited in SQLite's busy handler for that lock, each would
    wait for the other until the busy timeout (30 s) failed the second, and every
    other writer of the database, the service's own included, would wait or fail
    meanwhile. Such a session goes on without the turn: it already holds what the
    turn queues for, and commits or rolls back without waiting for anyone.
    """
    lock: Lock | None = session.info.get("write_lock")
    if lock is None or _writing(session):
        return nullcontext()
    return lock


def _writing(session: Session) -> bool:
    """Whether ``session``'s SQLite transaction has begun in SQLite (the driver
    begins it at the first write: it holds the write lock)."""
    if not session.in_transaction():
        return False
    dbapi = session.connection().connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", False))
