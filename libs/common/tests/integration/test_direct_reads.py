"""Direct reads on asyncpg against a real PostgreSQL: the same values as through SQLAlchemy, and
connections dropped by the server replaced without an error."""

import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus_common.db import DirectReads, _asyncpg_dsn, create_engine, ensure_database

metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("party", JSONB, nullable=False),
)
BY_ID = sa.select(things).where(things.c.id == sa.bindparam("thing_id"))


@pytest.fixture(scope="module")
async def database(database_factory: Callable[[str], str]) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = database_factory("direct_reads")
    await ensure_database(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield url, engine
    await engine.dispose()


async def test_a_direct_read_returns_what_sqlalchemy_returns(database: tuple[str, AsyncEngine]):
    url, engine = database
    thing = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            things.insert().values(id=thing, amount=Decimal("1234.10"), party={"name": "Lyon"})
        )
        through_sqlalchemy = dict((await conn.execute(BY_ID, {"thing_id": thing})).mappings().one())
    reads = DirectReads(url, size=2)
    try:
        [row] = await reads.fetch(BY_ID, thing_id=thing)
        assert await reads.fetch(BY_ID, thing_id=uuid.uuid4()) == []
    finally:
        await reads.close()
    assert dict(row) == through_sqlalchemy
    assert row["amount"] == Decimal("1234.10") and row["party"] == {"name": "Lyon"}


async def test_connections_the_server_dropped_are_replaced_without_an_error(
    database: tuple[str, AsyncEngine],
):
    url, engine = database
    thing = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(things.insert().values(id=thing, amount=Decimal("1"), party={}))
    reads = DirectReads(url, size=2)
    try:
        assert len(await reads.fetch(BY_ID, thing_id=thing)) == 1
        admin = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            # As a database restart would: every other connection to this database is gone.
            dropped = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert dropped >= 1
        assert len(await reads.fetch(BY_ID, thing_id=thing)) == 1
    finally:
        await reads.close()
