"""Async SQLAlchemy engine set-up for asyncpg, and the per-service database itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import asyncpg
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

ASYNCPG = PGDialect_asyncpg(paramstyle="numeric_dollar")

# A row as use cases see it: a read-only mapping of column names to values (a repository returns
# SQLAlchemy's RowMapping, or asyncpg's Record, or a dict).
Row = Mapping[str, Any]


def create_engine(database_url: str, pool_size: int = 10) -> AsyncEngine:
    """Up to 2 x `pool_size` connections, kept open once made (no reconnecting after each burst), each
    checked before use: after a database restart, no request fails on a connection from before."""
    return create_async_engine(
        database_url, pool_size=2 * pool_size, max_overflow=0, pool_pre_ping=True, pool_recycle=1800
    )


# Connection failures of the driver itself (the direct reads below do not go through SQLAlchemy).
DRIVER_CONNECTION_ERRORS = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it (or what was being handled when it was raised), and so on."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _lost_connection(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    return isinstance(exc, (sa_exc.TimeoutError, OSError, TimeoutError, *DRIVER_CONNECTION_ERRORS))


def is_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection to the database (or another server), as opposed to a fault of the
    request or the message: an HTTP request gets a 503 for it, a consumer retries the event in place."""
    return any(_lost_connection(cause) for cause in causes(exc))


# Text PostgreSQL cannot store: the NUL character, which JSON and pydantic let through.
UNSTORABLE_TEXT_ERRORS = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)


def is_unstorable_text(exc: BaseException) -> bool:
    """PostgreSQL refused a text value (a NUL character), so nothing was written."""
    return any(isinstance(cause, UNSTORABLE_TEXT_ERRORS) for cause in causes(exc))


@dataclass(frozen=True)
class CompiledRead:
    sql: str
    parameters: tuple[str, ...]  # the names of the statement's bind parameters, in $n order


@cache
def compiled_read(statement: sa.Select[Any]) -> CompiledRead:
    """`statement` (a module-level constant with named `bindparam`s) as SQL for asyncpg, compiled once."""
    compiled = statement.compile(dialect=ASYNCPG)
    return CompiledRead(compiled.string, tuple(compiled.positiontup or ()))


class DirectReads:
    """Hot single-statement reads run on asyncpg itself, on a small pool of their own.

    The statements are still SQLAlchemy Core, compiled once; only the execution skips SQLAlchemy's
    connection, pool and result layers, which cost twice the query itself on this machine. Rows come
    back as the driver returns them (UUID, Decimal, aware datetime), like SQLAlchemy's.
    """

    def __init__(self, database_url: str, size: int) -> None:
        self._dsn = _asyncpg_dsn(database_url)
        self._size = size
        self._pool: asyncpg.Pool | None = None
        self._creating = asyncio.Lock()

    async def fetch(self, statement: sa.Select[Any], **parameters: Any) -> list[asyncpg.Record]:
        read = compiled_read(statement)
        arguments = [parameters[name] for name in read.parameters]
        pool = self._pool or await self._create_pool()
        try:
            async with pool.acquire() as conn:
                rows: list[asyncpg.Record] = await conn.fetch(read.sql, *arguments)
                return rows
        except (*DRIVER_CONNECTION_ERRORS, asyncpg.exceptions.InternalClientError):
            # Connections made before a database restart are dead: drop them all (as SQLAlchemy's pool
            # does) and read again, once, on a new one. A read can safely be repeated. (A connection
            # still taking in the server's farewell when the query starts raises InternalClientError.)
            await pool.expire_connections()
            async with pool.acquire() as conn:
                rows = await conn.fetch(read.sql, *arguments)
                return rows

    async def _create_pool(self) -> asyncpg.Pool:
        async with self._creating:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=0, max_size=self._size, init=_decode_json_as_sqlalchemy_does
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _decode_json_as_sqlalchemy_does(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def _asyncpg_dsn(database_url: str, database: str | None = None) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


async def ensure_database(database_url: str) -> bool:
    """Create the database named in `database_url` if it does not exist; True if created."""
    name = make_url(database_url).database
    if not name:
        raise ValueError("CHORUS_DATABASE_URL names no database")
    conn = await asyncpg.connect(_asyncpg_dsn(database_url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            # another replica created it between the check and here
            return False
        return True
    finally:
        await conn.close()


async def drop_database(database_url: str) -> None:
    name = make_url(database_url).database
    conn = await asyncpg.connect(_asyncpg_dsn(database_url, "postgres"))
    try:
        quoted = '"' + (name or "").replace('"', '""') + '"'
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await conn.close()


async def fetch_page(
    conn: AsyncConnection,
    table: sa.Table,
    conditions: Sequence[sa.ColumnElement[bool]],
    order_by: Sequence[sa.ColumnElement[Any]],
    offset: int,
    limit: int,
    columns: Sequence[sa.ColumnElement[Any]] | None = None,
) -> tuple[list[RowMapping], int]:
    """One page of `table`'s rows (those of its `columns`, when named) matching `conditions`, and how
    many match in all."""
    total = await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*conditions))
    selected = sa.select(*columns).select_from(table) if columns is not None else sa.select(table)
    rows = await conn.execute(selected.where(*conditions).order_by(*order_by).offset(offset).limit(limit))
    return list(rows.mappings()), int(total or 0)


# Work to do once the transaction of a connection commits (a sender to wake for what it recorded):
# the unit of work and the consumer, which commit, run it; nothing runs when the transaction fails.
AFTER_COMMIT = "chorus.after_commit"


def after_commit(conn: AsyncConnection, callback: Callable[[], None]) -> None:
    """Call `callback` once `conn`'s transaction has committed (once, however often asked)."""
    callbacks: list[Callable[[], None]] = conn.info.setdefault(AFTER_COMMIT, [])
    if callback not in callbacks:
        callbacks.append(callback)


def take_after_commit(conn: AsyncConnection) -> list[Callable[[], None]]:
    taken: list[Callable[[], None]] = conn.info.pop(AFTER_COMMIT, [])
    return taken
