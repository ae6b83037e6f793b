"""The directory replica a service keeps: idempotent and order-safe, against the real PostgreSQL."""

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus_common.db import create_engine, ensure_database
from chorus_common.events import (
    ServiceSnapshot,
    StructureParameters,
    StructureSnapshot,
    UserAttachment,
    UserSnapshot,
)
from chorus_common.replica import apply_snapshot, replica_tables

metadata = sa.MetaData()
replica = replica_tables(metadata)
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
async def engine(database_factory: Callable[[str], str]) -> AsyncIterator[AsyncEngine]:
    url = database_factory("replica")
    await ensure_database(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def structure(structure_id: str, version: int, name: str, kind: str = "PUBLIQUE") -> StructureSnapshot:
    return StructureSnapshot(
        structure_id=structure_id,
        cpp_id=25000001,
        identifier_type="SIRET",
        name=name,
        kind=kind,
        public_category="ETAT" if kind == "PUBLIQUE" else None,
        active=True,
        parameters=StructureParameters(
            service_code_required=True,
            engagement_required=False,
            engagement_or_service_required=False,
            moa_only=False,
        ),
        version=version,
        updated_at=T0 + timedelta(minutes=version),
    )


def user(sub: str, version: int, *attachments: tuple[str, str | None, bool]) -> UserSnapshot:
    return UserSnapshot(
        sub=sub,
        email=f"{sub}@example.fr",
        name=sub,
        attachments=[
            UserAttachment(structure_id=s, service_code=c, role="UTILISATEUR", notifications=n)
            for s, c, n in attachments
        ],
        version=version,
        updated_at=T0 + timedelta(minutes=version),
    )


async def apply(engine: AsyncEngine, *snapshots: object) -> list[bool]:
    async with engine.begin() as conn:
        return [await apply_snapshot(conn, replica, snapshot) for snapshot in snapshots]


async def test_an_older_snapshot_after_a_newer_one_changes_nothing(engine: AsyncEngine):
    sid = uuid.uuid4().hex[:14]
    assert await apply(engine, structure(sid, 1, "Ministère"), structure(sid, 3, "Ministère des Armées")) == [
        True,
        True,
    ]
    assert await apply(
        engine, structure(sid, 2, "Ancien nom"), structure(sid, 3, "Ministère des Armées")
    ) == [
        False,
        False,
    ]
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(replica.structures).where(replica.structures.c.structure_id == sid)
                )
            )
            .mappings()
            .one()
        )
    assert (row["name"], row["version"], row["parameters"]["service_code_required"]) == (
        "Ministère des Armées",
        3,
        True,
    )


async def test_a_users_attachments_are_those_of_its_newest_snapshot(engine: AsyncEngine):
    sub, a, b = f"u-{uuid.uuid4().hex[:8]}", "S-A", "S-B"
    await apply(engine, user(sub, 2, (a, None, True), (b, "DAF", False)))
    await apply(engine, user(sub, 1, (a, None, False)))  # late and older: ignored
    await apply(engine, user(sub, 3, (b, "DAF", True)))  # detached from `a`
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    replica.attachments.c.structure_id,
                    replica.attachments.c.service_code,
                    replica.attachments.c.notifications,
                ).where(replica.attachments.c.sub == sub)
            )
        ).all()
    assert [tuple(r) for r in rows] == [(b, "DAF", True)]


async def test_services_are_versioned_by_structure_and_code(engine: AsyncEngine):
    sid = uuid.uuid4().hex[:14]

    def service(code: str, version: int, active: bool) -> ServiceSnapshot:
        return ServiceSnapshot(
            structure_id=sid,
            code=code,
            name=code,
            active=active,
            engagement_required=False,
            version=version,
            updated_at=T0,
        )

    assert await apply(engine, service("DAF", 1, True), service("RH", 1, True), service("DAF", 2, False)) == [
        True,
        True,
        True,
    ]
    assert await apply(engine, service("DAF", 1, True)) == [False]
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(replica.services.c.code, replica.services.c.active)
                .where(replica.services.c.structure_id == sid)
                .order_by(replica.services.c.code)
            )
        ).all()
    assert [tuple(r) for r in rows] == [("DAF", False), ("RH", True)]
