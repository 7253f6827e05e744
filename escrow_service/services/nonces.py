"""Request signature nonces: each (keyid, nonce) is accepted once until the signature expires."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from escrow_service.core.errors import Reason, Refusal
from escrow_service.db.models import nonces
from escrow_service.services.custodian import Custodian
from escrow_service.services.queries import Q

#: INSERT ... ON CONFLICT DO NOTHING RETURNING the inserted keys, per dialect (remember_many).
_MANY = {
    name: insert(nonces)
    .on_conflict_do_nothing(index_elements=[nonces.c.keyid, nonces.c.nonce])
    .returning(nonces.c.keyid, nonces.c.nonce)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


class NonceStore:
    """The nonces of request signatures not yet expired (in the custodian's database)."""

    def __init__(self, custodian: Custodian) -> None:
        self._custodian = custodian

    def remember(self, keyid: str, nonce: str, expires_ms: int) -> None:
        """Record a nonce in a transaction of its own, or refuse it as a replay."""
        # Every write goes through the log's writer: writers of this process queue on its
        # lock, rather than meeting on SQLite's write lock, whose busy handler sleeps
        # 1-100 ms (a release commit waiting on this one was a latency tail).
        with self._custodian.log.writer() as conn:
            self.remember_in(conn, keyid, nonce, expires_ms)

    def remember_in(self, conn: Connection, keyid: str, nonce: str, expires_ms: int) -> None:
        """Record a signature nonce, or refuse it as a replay.

        One atomic ``INSERT ... ON CONFLICT DO NOTHING`` on the (keyid, nonce) primary key: two
        concurrent requests with the same nonce cannot both pass (a select-then-insert could,
        and the loser then died on the unique constraint with a 500). The statement never
        raises on a duplicate, so the transaction stays usable for logging the refusal.
        """
        values = {"keyid": keyid, "nonce": nonce, "expires_ms": expires_ms}
        stmt = Q.nonce_insert.get(conn.dialect.name)
        if stmt is not None:
            inserted = conn.execute(stmt, values).first() is not None
        else:  # pragma: no cover - only PostgreSQL and SQLite are supported
            try:
                conn.execute(nonces.insert().values(**values))
                inserted = True
            except IntegrityError:
                inserted = False
        if not inserted:
            raise Refusal(Reason.REPLAYED_REQUEST, "this request signature nonce was already used")

    def remember_many(
        self, conn: Connection, wanted: Sequence[tuple[str, str, int] | None]
    ) -> list[bool]:
        """:meth:`remember_in` for several requests (a release group) with one statement:
        for each ``(keyid, nonce, expires_ms)`` whether it was new (not a replay; a second
        use within ``wanted`` is one); ``None`` asks nothing (True)."""
        firsts: dict[tuple[str, str], int] = {}
        for i, w in enumerate(wanted):
            if w is not None:
                firsts.setdefault((w[0], w[1]), i)
        if not firsts:
            return [True] * len(wanted)
        stmt = _MANY.get(conn.dialect.name)
        if stmt is None:  # pragma: no cover - only PostgreSQL and SQLite are supported
            fresh = set()
            for key, i in firsts.items():
                try:
                    self.remember_in(conn, key[0], key[1], wanted[i][2])  # type: ignore[index]
                    fresh.add(key)
                except Refusal:
                    pass
        else:
            rows = [
                {"keyid": k, "nonce": n, "expires_ms": wanted[i][2]}  # type: ignore[index]
                for (k, n), i in firsts.items()
            ]
            fresh = {(r.keyid, r.nonce) for r in conn.execute(stmt, rows)}
        return [
            w is None or ((w[0], w[1]) in fresh and firsts[(w[0], w[1])] == i)
            for i, w in enumerate(wanted)
        ]

    def purge(self) -> int:
        """Forget the nonces of expired signatures; returns how many."""
        with self._custodian.log.writer() as conn:  # see remember
            clock = self._custodian.clock
            res = conn.execute(nonces.delete().where(nonces.c.expires_ms < clock()))
            return int(res.rowcount or 0)
