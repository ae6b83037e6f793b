"""The unit of work: one transaction of a service, its clock, its caller and its outbox.

Use cases take a `UnitOfWork` and open its transaction with `async with uow:`; it commits on leaving
(and rolls back on an exception). Events written with `publish` go to the outbox in that transaction,
and the relay is woken once it has committed, so no caller ever has to remember to wake it. HTTP
handlers get one from `UnitOfWorkDep`, consumers one joined to the consumer's own transaction (which
the consumer commits, after recording the event in its inbox), jobs one from the runtime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from types import TracebackType

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus_common.auth import Principal, unauthenticated
from chorus_common.clock import Clock
from chorus_common.db import DirectReads, take_after_commit
from chorus_common.events import CloudEvent, build_event
from chorus_common.messaging.outbox import OUTBOX_WRITTEN, add_to_outbox


class UnitOfWork:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: sa.Table,
        clock: Clock,
        source: str,
        reads: DirectReads,
        wake_relay: Callable[[], None],
        principal: Principal | None = None,
        joined: AsyncConnection | None = None,
    ) -> None:
        self.clock = clock
        self.source = source  # the CloudEvents `source` of the events this service publishes
        self.reads = reads
        self.principal = principal
        self._engine = engine
        self._outbox = outbox
        self._wake_relay = wake_relay
        self._joined = joined
        self._transaction: AbstractAsyncContextManager[AsyncConnection] | None = None
        self._conn: AsyncConnection | None = joined

    @property
    def conn(self) -> AsyncConnection:
        """The connection of the open transaction."""
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside `async with`")
        return self._conn

    @property
    def caller(self) -> Principal:
        """The authenticated caller; 401 when there is none."""
        if self.principal is None:
            raise unauthenticated("A bearer token is required")
        return self.principal

    def now(self) -> datetime:
        return self.clock.now()

    async def __aenter__(self) -> UnitOfWork:
        if self._joined is None:
            if self._transaction is not None:
                raise RuntimeError("the unit of work's transaction is already open")
            self._transaction = self._engine.begin()
            self._conn = await self._transaction.__aenter__()
            self._conn.info.pop(OUTBOX_WRITTEN, None)
            take_after_commit(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._joined is not None:
            return  # the consumer that opened the transaction commits it and wakes the relay
        transaction, conn = self._transaction, self.conn
        assert transaction is not None
        self._transaction, self._conn = None, None
        wrote_events = conn.info.pop(OUTBOX_WRITTEN, False)
        then = take_after_commit(conn)
        await transaction.__aexit__(exc_type, exc, traceback)
        if exc_type is None and wrote_events:
            self._wake_relay()
        if exc_type is None:
            for callback in then:
                callback()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads that need no transaction of their own (each statement its snapshot)."""
        if self._conn is not None:
            yield self._conn
            return
        async with self._engine.connect() as conn:
            yield conn

    def event(self, event_type: str, data: BaseModel, subject: str | None = None) -> CloudEvent:
        """A new event of this service about `subject`, stamped with the clock."""
        return build_event(event_type, self.source, data, self.now(), subject=subject)

    async def publish(self, event: CloudEvent, erase_after_publish: bool = False) -> None:
        """Write `event` to the outbox in this transaction; it is published once the transaction commits.

        `erase_after_publish` for an event carrying a secret: its stored body is erased once published.
        """
        await add_to_outbox(self.conn, self._outbox, event, erase_after_publish)
