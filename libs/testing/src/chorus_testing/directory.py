"""Structures known to the directory, for tests: put straight into one service's read model (for a
service tested alone), or registered at the directory of a launched platform and awaited in the read
models that need them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus_common.events import StructureParameters, StructureSnapshot
from chorus_common.replica import apply_snapshot, replica_tables
from chorus_testing.fixtures import eventually
from chorus_testing.identifiers import new_siret
from chorus_testing.platform import Platform

# The read-model tables have the same names in every service's database.
REPLICA = replica_tables(sa.MetaData())


def structure_snapshot(
    structure_id: str | None = None,
    kind: str = "PUBLIQUE",
    public_category: str | None = "ETAT",
    name: str = "Ministère",
    version: int = 1,
) -> StructureSnapshot:
    return StructureSnapshot.model_validate(
        {
            "structure_id": structure_id or new_siret(),
            "cpp_id": 25000001,
            "identifier_type": "SIRET",
            "name": name,
            "kind": kind,
            "public_category": public_category if kind == "PUBLIQUE" else None,
            "email": "contact@example.fr",
            "active": True,
            "parameters": StructureParameters(
                service_code_required=False,
                engagement_required=False,
                engagement_or_service_required=False,
                moa_only=False,
            ),
            "version": version,
            "updated_at": datetime.now(UTC),
        }
    )


async def into_replica(engine: AsyncEngine, *snapshots: Any) -> None:
    """Apply directory snapshots to the read model of the service whose database `engine` is."""
    async with engine.begin() as conn:
        for snapshot in snapshots:
            await apply_snapshot(conn, REPLICA, snapshot)


async def public_structure(engine: AsyncEngine, category: str = "ETAT") -> str:
    """A new public structure, known to this service's read model."""
    snapshot = structure_snapshot(public_category=category)
    await into_replica(engine, snapshot)
    return snapshot.structure_id


async def registered(
    http: httpx.AsyncClient,
    platform: Platform,
    admin: dict[str, str],
    read_by: Iterable[str],
    kind: str = "PUBLIQUE",
    public_category: str | None = "ETAT",
    name: str = "Ministère",
) -> str:
    """A new structure registered at the platform's directory by its operator (`admin` headers), once
    the read models of the services `read_by` have it."""
    structure_id = new_siret()
    body: dict[str, Any] = {
        "identifier": structure_id,
        "name": name,
        "kind": kind,
        "email": "contact@example.fr",
    }
    if kind == "PUBLIQUE":
        body["public_category"] = public_category
    created = await http.post(platform.url("directory") + "/structures", json=body, headers=admin)
    assert created.status_code == 201, created.text
    for service in read_by:
        await eventually(
            lambda s=service: _known(platform, s, structure_id),
            within=30,
            what=f"{structure_id} in {service}",
        )
    return structure_id


async def _known(platform: Platform, service: str, structure_id: str) -> bool:
    conn = await asyncpg.connect(platform.database_dsn(service))
    try:
        found = await conn.fetchval(
            "SELECT 1 FROM directory_structures WHERE structure_id = $1", structure_id
        )
    finally:
        await conn.close()
    return found is not None
