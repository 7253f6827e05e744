"""The witness's database: for each log it follows, the latest checkpoint it cosigned, and the
refused checkpoints that prove a log misbehaved (a fork: two signed roots that do not lie on
one history). SQLite by default; created at start (two small tables, no migrations).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError

from crypto.tlog.merkle import EMPTY_ROOT

metadata = MetaData()

logs = Table(
    "witness_logs",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("checkpoint", LargeBinary, nullable=True),  # the log-signed note cosigned last
    Column("updated_s", BigInteger, nullable=False),
)

evidence = Table(
    "witness_evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(255), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("old_size", BigInteger, nullable=False),
    Column("checkpoint", LargeBinary, nullable=False),
    Column("time_s", BigInteger, nullable=False),
)


#: The compare-and-set of :meth:`Store.advance`, built once (building it per request was a
#: third of the witness's CPU per cosignature).
_ADVANCE = (
    update(logs)
    .where(
        logs.c.origin == bindparam("b_origin"),
        logs.c.size == bindparam("b_old_size"),
        logs.c.root_hash == bindparam("b_old_root"),
    )
    .values(
        size=bindparam("b_size"),
        root_hash=bindparam("b_root"),
        checkpoint=bindparam("b_note"),
        updated_s=bindparam("b_now"),
    )
)


@dataclass(frozen=True, slots=True)
class LogState:
    origin: str
    size: int
    root_hash: bytes


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        from pathlib import Path

        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: object, _record: object) -> None:
            cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # a cosigned size must survive a crash
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Reads and the one atomic compare-and-set of a log's latest cosigned checkpoint.

    The latest state of each log is kept in memory once read or written: the database is
    the authority (:meth:`advance` checks it in the same statement that writes), the memory
    only spares a read per request. A state that another process sharing the database moved
    is re-read when a request does not match it, and is dropped when a compare-and-set fails.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._known: dict[str, LogState] = {}
        metadata.create_all(engine)

    def latest(self, origin: str, *, fresh: bool = False) -> LogState:
        """The latest cosigned size and root of ``origin`` (0 and the empty root if none);
        ``fresh``: read from the database, not memory."""
        if not fresh and (known := self._known.get(origin)) is not None:
            return known
        with self._engine.connect() as conn:
            row = conn.execute(
                select(logs.c.size, logs.c.root_hash).where(logs.c.origin == origin)
            ).first()
        state = (
            LogState(origin, 0, EMPTY_ROOT)
            if row is None
            else LogState(origin, int(row.size), bytes(row.root_hash))
        )
        self._known[origin] = state
        return state

    def advance(
        self, origin: str, old: LogState, size: int, root: bytes, note: bytes, now_s: int
    ) -> bool:
        """Record ``size``/``root`` as the latest of ``origin`` only if it is still ``old``
        (one conditional UPDATE, or the first INSERT): two concurrent requests, even in two
        processes, cannot roll the log back (C2SP tlog-witness). False if another request
        moved it first."""
        with self._lock:
            self._known.pop(origin, None)
            try:
                with self._engine.begin() as conn:
                    moved = conn.execute(
                        _ADVANCE,
                        {
                            "b_origin": origin,
                            "b_old_size": old.size,
                            "b_old_root": old.root_hash,
                            "b_size": size,
                            "b_root": root,
                            "b_note": note,
                            "b_now": now_s,
                        },
                    ).rowcount
                    if moved != 1:
                        if old.size != 0:
                            return False
                        conn.execute(
                            insert(logs).values(
                                origin=origin,
                                size=size,
                                root_hash=root,
                                checkpoint=note,
                                updated_s=now_s,
                            )
                        )
            except IntegrityError:  # another process inserted the first state meanwhile
                return False
            self._known[origin] = LogState(origin, size, root)
            return True

    def keep_evidence(
        self, origin: str, reason: str, old_size: int, note: bytes, now_s: int
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(evidence).values(
                    origin=origin, reason=reason, old_size=old_size, checkpoint=note, time_s=now_s
                )
            )

    def evidence(self, origin: str) -> list[tuple[str, int, bytes]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(evidence.c.reason, evidence.c.old_size, evidence.c.checkpoint)
                .where(evidence.c.origin == origin)
                .order_by(evidence.c.id)
            ).all()
        return [(str(r.reason), int(r.old_size), bytes(r.checkpoint)) for r in rows]
