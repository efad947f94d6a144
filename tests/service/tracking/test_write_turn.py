"""SQLite tracking writes take turns (:func:`durability.write_turn`) without ever
waiting for the turn while holding SQLite's write lock.

A session whose transaction has written already (an autoflush before the turn:
recording stop events reads the route's outcomes with the new events pending)
holds SQLite's write lock. Were it to wait for the turn while the turn's holder
waited in SQLite's busy handler for that lock, the holder would fail ``database
is locked`` after the busy timeout, and every other writer of the database with
it. The order of events below is fixed by the test, not by timing: the two
writers meet in that state every run.

SQLite only (the turn exists on SQLite alone): the first two tests on a file of
their own, the last on the suite's database through the service's own code.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lastmile.service import db
from lastmile.service.plans.models import Route
from lastmile.service.tracking import durability
from lastmile.service.tracking.access import REF_COLUMNS, ref_of
from lastmile.service.tracking.models import StopEvent
from lastmile.service.tracking.schemas import StopEventIn, StopEventKind
from lastmile.service.tracking.stop_events import StopEventsResult, record_stop_events

from ..conftest import DAY, World  # type: ignore[import-not-found]
from .conftest import route_of  # type: ignore[import-not-found]


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "rows"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    who: Mapped[str] = mapped_column(String)


def test_a_writer_that_autoflushed_before_its_turn_does_not_lock_out_the_turn_holder(
    tmp_path: Path,
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    _Base.metadata.create_all(engine)
    sessions, own = durability.durable_sessions(engine)
    flushed, turn_taken = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def autoflushing_writer() -> None:
        try:
            with sessions() as session:
                session.add(_Row(id=str(uuid.uuid4()), who="autoflushed"))
                # A read with the row pending flushes it: SQLite's write lock is held.
                session.scalars(select(_Row)).all()
                assert session.connection().connection.dbapi_connection.in_transaction
                flushed.set()
                assert turn_taken.wait(60)
                with durability.write_turn(session):
                    session.commit()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            flushed.set()

    other = threading.Thread(target=autoflushing_writer)
    other.start()
    try:
        assert flushed.wait(60)
        assert not failures, failures
        with sessions() as session, durability.write_turn(session):
            turn_taken.set()
            # Waits in SQLite's busy handler until the other writer commits.
            session.add(_Row(id=str(uuid.uuid4()), who="turn holder"))
            session.commit()
    finally:
        turn_taken.set()
        other.join(120)
    assert not other.is_alive()
    assert not failures, failures
    with engine.connect() as conn:
        who = set(conn.execute(text("SELECT who FROM rows")).scalars())
    assert who == {"autoflushed", "turn holder"}
    own.dispose()
    engine.dispose()


def test_a_writer_takes_the_turn_before_it_writes(tmp_path: Path) -> None:
    """A session that has not written yet waits for the turn (one writer of this
    process at a time), and takes it while it holds nothing in SQLite."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    _Base.metadata.create_all(engine)
    sessions, own = durability.durable_sessions(engine)
    with sessions() as first, sessions() as second:
        first.scalars(select(_Row)).all()  # a read alone begins nothing in SQLite
        with durability.write_turn(first):
            lock = first.info["write_lock"]
            assert lock.locked()
            # The second session would wait: the turn is taken.
            assert not lock.acquire(blocking=False)
            first.add(_Row(id="a", who="first"))
            first.commit()
        assert not lock.locked()
        with durability.write_turn(second):
            assert lock.locked()
            second.add(_Row(id="b", who="second"))
            second.commit()
        assert not lock.locked()
    own.dispose()
    engine.dispose()


def _sqlite_write_lock_taken(path: str) -> bool:
    """Whether a connection holds the database's write lock (asked without waiting)."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return True
    finally:
        probe.close()


def test_stop_events_are_stored_while_another_tracking_write_holds_the_turn(
    app: FastAPI, tw: World
) -> None:
    """The service's own path: recording stop events on a started route reads the
    route's outcomes with the new events pending (an autoflush: SQLite's write lock
    is held), then commits in its turn. Another tracking write holds the turn and
    writes once that lock is taken (or the events are stored): before the fix each
    waited for the other until the turn's holder failed after 30 s."""
    engine = app.state.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the write turn exists on SQLite only")
    path = str(engine.url.database)
    sessions = app.state.tracking.sessions
    route = route_of(tw, "d1")
    first = next(v for v in route["visits"] if v["order_id"])
    with sessions() as session:
        ref = ref_of(
            session.execute(select(*REF_COLUMNS).where(Route.id == uuid.UUID(route["id"]))).one()
        )
    events = [
        StopEventIn(
            event_id=f"turn-{k}",
            kind=StopEventKind.ARRIVED,
            sequence=first["sequence"],
            at=dt.datetime.fromisoformat(f"{DAY}T10:0{k}:00+02:00"),
        )
        for k in range(2)
    ]
    recorded: list[StopEventsResult] = []
    failures: list[BaseException] = []

    def record() -> None:
        try:
            with sessions() as session:
                recorded.append(
                    record_stop_events(session, route_ref=ref, source="test", events=events[:1])
                )
                # The route has started: the next batch reads its outcomes before the turn.
                recorded.append(
                    record_stop_events(session, route_ref=ref, source="test", events=events[1:])
                )
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    with sessions() as holder, durability.write_turn(holder):
        recorder = threading.Thread(target=record)
        recorder.start()
        deadline = time.monotonic() + 120  # a ceiling, not a measure
        while recorder.is_alive() and not _sqlite_write_lock_taken(path):
            assert time.monotonic() < deadline, "the stop events neither wrote nor ended"
            time.sleep(0.005)
        # Waits for SQLite's lock, held by the recorder if it has not committed yet.
        holder.execute(
            text("UPDATE organisations SET name = name WHERE id = :id"),
            {"id": ref.org_id.hex},
        )
        holder.commit()
    recorder.join(120)
    assert not recorder.is_alive()
    assert not failures, failures
    assert [len(r.events) for r in recorded] == [1, 1]
    with sessions() as session:
        stored = session.scalars(
            select(StopEvent.event_id).where(
                StopEvent.route_id == ref.id, StopEvent.source == "test"
            )
        ).all()
    assert sorted(stored) == ["turn-0", "turn-1"]
