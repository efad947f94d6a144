"""Database: declarative base, engine set-up (SQLite WAL / PostgreSQL), migrations.

SQLite is the default (one file, WAL mode so readers never block the writer);
PostgreSQL is used when the URL says ``postgresql+psycopg://``. The schema is
owned by the Alembic migrations in ``migrations/``; :func:`upgrade` brings any
database to head.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    create_engine,
    event,
    table,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.orm import Session as Session
from sqlalchemy.types import TypeDecorator, Uuid

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: The clock :func:`utcnow` reads instead of the wall clock (a simulation instance's,
#: :mod:`lastmile.service.clock`); set by :func:`install_clock` while such an app runs.
_clock: Callable[[], dt.datetime] | None = None


def utcnow() -> dt.datetime:
    """Now, aware, UTC: the wall clock, or the simulated clock when one is installed."""
    clock = _clock
    return dt.datetime.now(dt.UTC) if clock is None else clock()


def install_clock(clock: Callable[[], dt.datetime] | None) -> Callable[[], dt.datetime] | None:
    """Make :func:`utcnow` read ``clock`` (None: the wall clock again) in this
    process; returns the clock it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored as UTC.

    SQLite has no time zones; values are stored as naive UTC and come back
    aware, so the application only ever sees aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Base of every table. Primary keys are random UUIDs (nothing to enumerate)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, default=uuid.uuid4, sort_order=-20
    )


class TenantBase(Base):
    """Base of every row owned by an organisation; deleting the organisation deletes it."""

    __abstract__ = True

    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organisations.id", ondelete="CASCADE"), index=True, sort_order=-10
    )

    def changes_planning(self, *, new: bool, deleted: bool) -> bool:
        """Whether writing this row (added, deleted, or else changed) can change what
        a plan is built from; such writes move the organisation's
        ``planning_revision`` (see :func:`_bump_planning_revisions`). Tables a
        planning problem is built from override it."""
        del new, deleted
        return False


# The organisations table as far as the revision counter goes (its model lives
# in lastmile.service.orgs, which imports this module).
_ORGS = table("organisations", Column("id", Uuid), Column("planning_revision", Integer))


#: ``Session.info`` key: organisations whose planning data this transaction changed.
_CHANGED = "lastmile.planning_changed"


@event.listens_for(Session, "before_flush")
def _note_planning_changes(session: Session, flush_context: Any, instances: Any) -> None:
    """Note the organisations whose planning data a flush changes (fleet, depots,
    orders' stops, windows, amounts...); :func:`_bump_planning_revisions` raises
    their revision when the transaction commits."""
    del flush_context, instances
    orgs: set[uuid.UUID] = session.info.setdefault(_CHANGED, set())
    for rows, new, deleted in (
        (session.new, True, False),
        (session.dirty, False, False),
        (session.deleted, False, True),
    ):
        for row in rows:
            if (
                isinstance(row, TenantBase)
                and row.org_id is not None
                and row.org_id not in orgs
                and row.changes_planning(new=new, deleted=deleted)
            ):
                orgs.add(row.org_id)


@event.listens_for(Session, "before_commit")
def _bump_planning_revisions(session: Session) -> None:
    """Raise, once per committing transaction, the planning revision of every
    organisation whose plans' data it changed, in that transaction: a kept live
    view of a plan (:mod:`lastmile.service.replan.views`) compares one number
    instead of reading every row again. The counter is raised in SQL, so
    concurrent writers never lose a raise, and last, just before the commit, so
    the organisation's row is locked (PostgreSQL) only for the commit itself and
    after every other lock the transaction takes. Noted changes of a transaction
    rolled back may raise it at the next commit: one rebuild too many, never one
    too few."""
    session.flush()  # what is still pending is noted too
    orgs: set[uuid.UUID] = session.info.pop(_CHANGED, set())
    if not orgs:
        return
    session.connection().execute(
        update(_ORGS)
        .where(_ORGS.c.id.in_(sorted(orgs)))
        .values(planning_revision=_ORGS.c.planning_revision + 1)
    )
    for held in list(session.identity_map.values()):
        if held.__class__.__name__ == "Organisation" and getattr(held, "id", None) in orgs:
            session.expire(held, ["planning_revision"])


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    del connection_record
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite in WAL mode with foreign keys on, or PostgreSQL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Any:
    """Alembic configuration pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, *, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
