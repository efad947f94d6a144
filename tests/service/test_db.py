"""Database set-up: migrations match the models, SQLite runs in WAL mode, times stay UTC."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import text

from lastmile.service import db
from lastmile.service.models import Base, Organisation


def test_migrated_schema_matches_the_models(app: FastAPI) -> None:
    engine = app.state.engine
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(app: FastAPI) -> None:
    db.upgrade(app.state.engine)
    assert db.current_revision(app.state.engine) == db.head_revision()


def test_sqlite_uses_wal_and_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_datetimes_come_back_aware_and_utc(app: FastAPI) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    when = dt.datetime(2025, 5, 2, 9, 30, tzinfo=paris)
    with app.state.sessionmaker() as session:
        org = Organisation(name="tz", slug=f"tz-{id(when)}", timezone="UTC", created_at=when)
        session.add(org)
        session.commit()
        org_id = org.id
    with app.state.sessionmaker() as session:
        row = session.get(Organisation, org_id)
        assert row is not None
        assert row.created_at == when
        assert row.created_at.utcoffset() == dt.timedelta(0)
        session.delete(row)
        session.commit()


def test_a_sqlite_session_that_reads_then_writes_after_another_commit_is_not_refused(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """SQLite refuses at once (``database is locked``, SQLITE_BUSY_SNAPSHOT, whatever the
    busy timeout) a transaction that read, then writes after another connection
    committed. The service's sessions never meet it: the driver begins a transaction
    at the first write, so the reads before it hold no snapshot (an explicit ``BEGIN``
    before the reads would bring the refusal back)."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    with db.make_sessionmaker(engine)() as session:
        n = session.execute(text("SELECT n FROM counter")).scalar_one()
        with engine.begin() as conn:  # another writer commits meanwhile
            conn.execute(text("UPDATE counter SET n = n + 1"))
        session.execute(text("UPDATE counter SET n = n + :n"), {"n": n + 10})
        session.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 11
    engine.dispose()
