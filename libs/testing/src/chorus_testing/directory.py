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

from chorus_common.db import create_engine
from chorus_common.events import (
    ServiceSnapshot,
    StructureParameters,
    StructureSnapshot,
    UserAttachment,
    UserSnapshot,
)
from chorus_common.replica import NO_SERVICE, apply_snapshot, replica_tables
from chorus_testing.auth import bearer
from chorus_testing.fixtures import eventually
from chorus_testing.identifiers import new_siret
from chorus_testing.platform import Platform, admin

# The read-model tables have the same names in every service's database.
REPLICA = replica_tables(sa.MetaData())


def structure_snapshot(
    structure_id: str | None = None,
    kind: str = "PUBLIQUE",
    public_category: str | None = "ETAT",
    name: str = "Ministère",
    version: int = 1,
    email: str | None = "contact@example.fr",
    parameters: dict[str, bool] | None = None,
) -> StructureSnapshot:
    return StructureSnapshot.model_validate(
        {
            "structure_id": structure_id or new_siret(),
            "cpp_id": 25000001,
            "identifier_type": "SIRET",
            "name": name,
            "kind": kind,
            "public_category": public_category if kind == "PUBLIQUE" else None,
            "email": email,
            "active": True,
            "parameters": StructureParameters(
                **{
                    "service_code_required": False,
                    "engagement_required": False,
                    "engagement_or_service_required": False,
                    "moa_only": False,
                    **(parameters or {}),
                }
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


async def known_structure(
    engine: AsyncEngine,
    kind: str = "PRIVEE",
    name: str | None = None,
    services: Iterable[str] = (),
    email: str | None = None,
    parameters: dict[str, bool] | None = None,
) -> str:
    """A new structure (private unless told), with these active services, known to this service's
    read model; named and addressed after its identifier unless told, with these of its parameters
    (`engagement_required`, ...) on."""
    structure_id = new_siret()
    snapshot = structure_snapshot(
        structure_id,
        kind=kind,
        name=name or f"Structure {structure_id}",
        email=email or f"contact-{structure_id}@example.fr",
        parameters=parameters,
    )
    await into_replica(engine, snapshot, *(service_snapshot(structure_id, code) for code in services))
    return structure_id


def service_snapshot(
    structure_id: str, code: str, active: bool = True, version: int = 1, engagement_required: bool = False
) -> ServiceSnapshot:
    """The directory's snapshot of a structure's service `code`, named `Service <code>`."""
    return ServiceSnapshot(
        structure_id=structure_id,
        code=code,
        name=f"Service {code}",
        active=active,
        engagement_required=engagement_required,
        version=version,
        updated_at=datetime.now(UTC),
    )


async def user(
    engine: AsyncEngine,
    sub: str,
    *structures: str,
    role: str = "UTILISATEUR",
    notifications: bool = True,
    roles: Iterable[str] = (),
    service_code: str | None = None,
) -> dict[str, str]:
    """Bearer headers of user `sub` once this service's read model attaches it to `structures` (or
    to their service `service_code`) too, besides its attachments so far. The token's `structures`
    claim names `structures`, so it acts for those of its attachments only (as a token for one
    structure among several does). A structure the read model does not know yet is added to it as a
    private one. `roles` are platform roles carried by the token."""
    async with engine.begin() as conn:
        for structure_id in structures:  # version 1: never replaces what the read model has
            await apply_snapshot(
                conn, REPLICA, structure_snapshot(structure_id, kind="PRIVEE", name=structure_id)
            )
        version = await conn.scalar(
            sa.select(REPLICA.users.c.version).where(REPLICA.users.c.sub == sub).with_for_update()
        )
        rows = await conn.execute(sa.select(REPLICA.attachments).where(REPLICA.attachments.c.sub == sub))
        attachments = {
            (row.structure_id, row.service_code): UserAttachment(
                structure_id=row.structure_id,
                service_code=row.service_code or None,
                role=row.role,
                notifications=row.notifications,
            )
            for row in rows
        }
        for structure_id in structures:
            attachments[(structure_id, service_code or NO_SERVICE)] = UserAttachment.model_validate(
                {
                    "structure_id": structure_id,
                    "service_code": service_code,
                    "role": role,
                    "notifications": notifications,
                }
            )
        snapshot = UserSnapshot(
            sub=sub,
            email=f"{sub}@example.fr",
            name=sub.title(),
            attachments=list(attachments.values()),
            version=(version or 0) + 1,
            updated_at=datetime.now(UTC),
        )
        await apply_snapshot(conn, REPLICA, snapshot)
    return bearer(sub, *structures, roles=list(roles))


async def registered(
    http: httpx.AsyncClient,
    platform: Platform,
    admin: dict[str, str],
    read_by: Iterable[str],
    kind: str = "PUBLIQUE",
    public_category: str | None = "ETAT",
    name: str = "Ministère",
    services: Iterable[str] = (),
) -> str:
    """A new structure registered at the platform's directory by its operator (`admin` headers), its
    contact address `contact-<identifier>@example.fr`, with these services, once the read models of
    the services `read_by` have it and them."""
    structure_id = new_siret()
    body: dict[str, Any] = {
        "identifier": structure_id,
        "name": name,
        "kind": kind,
        "email": f"contact-{structure_id}@example.fr",
    }
    if kind == "PUBLIQUE":
        body["public_category"] = public_category
    directory = platform.url("directory") + "/structures"
    created = await http.post(directory, json=body, headers=admin)
    assert created.status_code == 201, created.text
    codes = list(services)
    for code in codes:
        added = await http.post(
            f"{directory}/{structure_id}/services",
            json={"code": code, "name": f"Service {code}"},
            headers=admin,
        )
        assert added.status_code == 201, added.text
    for service in read_by:
        await eventually(
            lambda s=service: row_exists(
                platform,
                s,
                "SELECT 1 FROM directory_structures WHERE structure_id = $1 AND"
                " (SELECT count(*) FROM directory_services WHERE structure_id = $1) = $2",
                structure_id,
                len(codes),
            ),
            within=30,
            what=f"{structure_id} and its services in {service}",
        )
    return structure_id


async def attached(
    http: httpx.AsyncClient,
    platform: Platform,
    admin: dict[str, str],
    structure_id: str,
    sub: str,
    read_by: Iterable[str],
    role: str = "UTILISATEUR",
    notifications: bool = True,
    service_code: str | None = None,
) -> dict[str, str]:
    """Bearer headers of user `sub` once the platform's directory attaches it to the structure (or
    one of its services) and the read models of the services `read_by` have that attachment."""
    body: dict[str, Any] = {
        "role": role,
        "notifications": notifications,
        "email": f"{sub}@example.fr",
        "name": sub.title(),
    }
    if service_code:
        body["service_code"] = service_code
    url = platform.url("directory") + f"/structures/{structure_id}/users/{sub}"
    response = await http.put(url, json=body, headers=admin)
    assert response.status_code == 200, response.text
    for service in read_by:
        await eventually(
            lambda s=service: row_exists(
                platform,
                s,
                "SELECT 1 FROM directory_attachments WHERE sub = $1 AND structure_id = $2",
                sub,
                structure_id,
            ),
            within=30,
            what=f"{sub} attached to {structure_id} in {service}",
        )
    return bearer(sub)


async def row_exists(platform: Platform, service: str, query: str, *arguments: Any) -> bool:
    """Whether `query` finds a row in the database of one of the platform's services."""
    conn = await asyncpg.connect(platform.database_dsn(service))
    try:
        found = await conn.fetchval(query, *arguments)
    finally:
        await conn.close()
    return found is not None


async def parties_known(engine: AsyncEngine, event: dict[str, Any]) -> None:
    """Make the read model of the directory (in the database `engine` is) know every party an event
    names, by its structure identifier, each with one user: its principal manager, whose address is
    the e-mail the event gives for the party. Mail about a party then goes to that address."""
    now = datetime.now(UTC)
    snapshots: list[Any] = []
    for value in event["data"].values():
        if not (isinstance(value, dict) and "structure_id" in value):
            continue
        structure_id = value["structure_id"]
        snapshots.append(
            structure_snapshot(structure_id, kind="PRIVEE", name=str(value.get("name") or structure_id))
        )
        snapshots.append(
            UserSnapshot(
                sub=f"manager-of-{structure_id}",
                email=value.get("email") or f"manager-of-{structure_id}@example.fr",
                name=f"Manager of {structure_id}",
                attachments=[
                    UserAttachment(
                        structure_id=structure_id, role="GESTIONNAIRE_PRINCIPAL", notifications=True
                    )
                ],
                version=1,
                updated_at=now,
            )
        )
    await into_replica(engine, *snapshots)


async def in_directory(
    http: httpx.AsyncClient,
    platform: Platform,
    event: dict[str, Any],
    read_by: Iterable[str] = ("notifications",),
) -> dict[str, Any]:
    """`event` once each party it names is a structure registered at the platform's directory, with a
    user `user-<identifier>` whose notifications are on (and known to the read models of `read_by`):
    each party's `structure_id` becomes that structure's identifier, and its `email` that user's
    address, the one its mail goes to."""
    services = list(read_by)
    for value in event["data"].values():
        if not (isinstance(value, dict) and "structure_id" in value):
            continue
        structure_id = await registered(
            http, platform, admin(), services, kind="PRIVEE", name=value.get("name", "Structure")
        )
        sub = f"user-{structure_id}"
        await attached(http, platform, admin(), structure_id, sub, services)
        value.update(structure_id=structure_id, email=f"{sub}@example.fr")
    return event


def database_of(platform: Platform, service: str) -> AsyncEngine:
    """An engine on one service's database of a launched platform (for tests that set up its rows)."""
    database = f"{platform.db_prefix}{service.replace('-', '_')}"
    return create_engine(f"{platform.env['POSTGRES_URL']}/{database}", 2)
