"""A service's read model of the directory: the structures, services and users it decides against.

The directory publishes a full snapshot of an object after each change, with that object's version.
A service that needs the directory declares these tables in its own metadata (`replica_tables`),
creates them in a migration, and subscribes `apply_snapshots`: each snapshot is applied only when it is
newer than the row the replica holds, so a duplicate, a replay, or an older snapshot arriving after a
newer one changes nothing. The consumer's inbox makes redelivery harmless besides.

The replica is also what such a service decides against: the structures a caller acts for are its
attachments (`rights_from_replica`), and a party named by its identifier is the directory's structure
(`resolve_parties`), never what a request body says of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.auth import Principal
from chorus_common.events import EventType, Party, ServiceSnapshot, StructureSnapshot, UserSnapshot
from chorus_common.messaging.consumer import ReceivedEvent
from chorus_common.problems import field_problem
from chorus_common.unit_of_work import UnitOfWork

if TYPE_CHECKING:  # the runtime's HTTP layer names PartyRef
    from chorus_common.runtime import ServiceRuntime

SNAPSHOT_EVENTS = (
    EventType.STRUCTURE_REGISTERED,
    EventType.STRUCTURE_UPDATED,
    EventType.SERVICE_UPDATED,
    EventType.USER_ATTACHED,
    EventType.USER_DETACHED,
    EventType.USER_UPDATED,
)
NO_SERVICE = ""  # an attachment to the structure itself (a key column cannot be NULL)


@dataclass(frozen=True)
class DirectoryReplica:
    structures: sa.Table
    services: sa.Table
    users: sa.Table
    attachments: sa.Table


def replica_tables(metadata: sa.MetaData) -> DirectoryReplica:
    """The replica's tables, named `directory_*` in the service's own database."""
    structures = sa.Table(
        "directory_structures",
        metadata,
        sa.Column("structure_id", sa.String(100), primary_key=True),
        sa.Column("cpp_id", sa.BigInteger, nullable=False),
        sa.Column("identifier_type", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("public_category", sa.String(20)),
        sa.Column("email", sa.String(320)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("parameters", JSONB, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    services = sa.Table(
        "directory_services",
        metadata,
        sa.Column("structure_id", sa.String(100), primary_key=True),
        sa.Column("code", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
        sa.Column("engagement_required", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    users = sa.Table(
        "directory_users",
        metadata,
        sa.Column("sub", sa.String(200), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    attachments = sa.Table(
        "directory_attachments",
        metadata,
        sa.Column("sub", sa.String(200), primary_key=True),
        sa.Column("structure_id", sa.String(100), primary_key=True),
        sa.Column("service_code", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("notifications", sa.Boolean, nullable=False),
        sa.Index("ix_directory_attachments_structure", "structure_id", "service_code"),
    )
    return DirectoryReplica(structures, services, users, attachments)


async def upsert_if_newer(
    conn: AsyncConnection, table: sa.Table, keys: Sequence[str], values: dict[str, Any]
) -> bool:
    """Insert the row, or replace it when `values` has a higher version; True if it was written."""
    statement = insert(table).values(**values)
    written = await conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in values if name not in keys},
            where=table.c.version < statement.excluded.version,
        ).returning(table.c.version)
    )
    return written.first() is not None


async def apply_structure(
    conn: AsyncConnection, replica: DirectoryReplica, snapshot: StructureSnapshot
) -> bool:
    values = snapshot.model_dump(mode="json", include=set(replica.structures.c.keys()))
    values["updated_at"] = snapshot.updated_at
    return await upsert_if_newer(conn, replica.structures, ["structure_id"], values)


async def apply_service(conn: AsyncConnection, replica: DirectoryReplica, snapshot: ServiceSnapshot) -> bool:
    values = snapshot.model_dump(include=set(replica.services.c.keys()))
    return await upsert_if_newer(conn, replica.services, ["structure_id", "code"], values)


async def apply_user(conn: AsyncConnection, replica: DirectoryReplica, snapshot: UserSnapshot) -> bool:
    """The user and, when this snapshot is newer, exactly the attachments it lists."""
    values = snapshot.model_dump(include={"sub", "email", "name", "version", "updated_at"})
    if not await upsert_if_newer(conn, replica.users, ["sub"], values):
        return False
    await conn.execute(replica.attachments.delete().where(replica.attachments.c.sub == snapshot.sub))
    if snapshot.attachments:
        await conn.execute(
            replica.attachments.insert(),
            [
                {
                    "sub": snapshot.sub,
                    "structure_id": a.structure_id,
                    "service_code": a.service_code or NO_SERVICE,
                    "role": a.role,
                    "notifications": a.notifications,
                }
                for a in snapshot.attachments
            ],
        )
    return True


async def apply_snapshot(conn: AsyncConnection, replica: DirectoryReplica, data: Any) -> bool:
    """Apply one directory snapshot (of any kind); True if the replica changed."""
    if isinstance(data, StructureSnapshot):
        return await apply_structure(conn, replica, data)
    if isinstance(data, ServiceSnapshot):
        return await apply_service(conn, replica, data)
    if isinstance(data, UserSnapshot):
        return await apply_user(conn, replica, data)
    raise TypeError(f"not a directory snapshot: {type(data).__name__}")


def subscribe_replica(runtime: ServiceRuntime, replica: DirectoryReplica) -> None:
    """Keep `replica` fed from the directory's snapshot events, a batch per transaction (a replay of
    the whole directory is many events at once)."""

    async def apply_snapshots(events: list[ReceivedEvent], uow: UnitOfWork) -> None:
        for event in events:
            await apply_snapshot(uow.conn, replica, event.data)

    runtime.subscribe_batched(SNAPSHOT_EVENTS, apply_snapshots)


def rights_from_replica(runtime: ServiceRuntime, replica: DirectoryReplica) -> None:
    """Make the caller of every authenticated request act for its attachments in `replica` (to an
    active structure), narrowed by the token's `structures` claim when it has a non-empty one; a call
    the PISTE gateway forwards (`Principal.vouched`) acts for the technical account's structure."""
    attached = (
        sa.select(replica.attachments.c.structure_id)
        .distinct()
        .join(replica.structures, replica.structures.c.structure_id == replica.attachments.c.structure_id)
        .where(replica.attachments.c.sub == sa.bindparam("sub"), replica.structures.c.active)
    )
    reads = runtime.direct_reads

    async def rights(principal: Principal) -> Principal:
        if principal.vouched:  # the PISTE gateway checked the technical account of that structure
            return principal
        rows = await reads.fetch(attached, sub=principal.sub)
        structures = frozenset(row["structure_id"] for row in rows)
        if principal.structures:
            structures &= principal.structures
        return replace(principal, structures=structures)

    runtime.rights = rights


@dataclass(frozen=True)
class PartyRef:
    """A party as a request names it: a structure of the directory, and optionally one of its services."""

    structure_id: str
    service_code: str | None = None


async def resolve_parties(
    conn: AsyncConnection, replica: DirectoryReplica, refs: Mapping[str, PartyRef]
) -> dict[str, Party]:
    """Each named party as the directory has it (name, contact e-mail), keyed like `refs` (by the
    request field that names it); a 422 naming the field when its structure or service is unknown or
    inactive."""
    ids = {ref.structure_id for ref in refs.values()}
    structures = {
        row["structure_id"]: row
        for row in (
            await conn.execute(
                sa.select(replica.structures).where(replica.structures.c.structure_id.in_(ids))
            )
        ).mappings()
    }
    codes = {ref.service_code for ref in refs.values() if ref.service_code}
    services = (
        {
            (row["structure_id"], row["code"]): row
            for row in (
                await conn.execute(
                    sa.select(replica.services).where(
                        replica.services.c.structure_id.in_(ids), replica.services.c.code.in_(codes)
                    )
                )
            ).mappings()
        }
        if codes
        else {}
    )
    parties: dict[str, Party] = {}
    for field_name, ref in refs.items():
        structure = structures.get(ref.structure_id)
        if structure is None or not structure["active"]:
            raise field_problem(
                f"{field_name}.structure_id",
                "unknown-structure",
                "Unknown structure",
                f"no active structure {ref.structure_id!r} in the directory",
            )
        if ref.service_code:
            service = services.get((ref.structure_id, ref.service_code))
            if service is None or not service["active"]:
                raise field_problem(
                    f"{field_name}.service_code",
                    "unknown-service",
                    "Unknown service",
                    f"structure {ref.structure_id} has no active service {ref.service_code!r}",
                )
        parties[field_name] = Party(
            structure_id=ref.structure_id,
            name=structure["name"],
            email=structure["email"],
            service_code=ref.service_code,
        )
    return parties


# The replica's schema, which the migrations of every service holding one apply to its own database
# (frozen here as it was first created: a later change is a new step).


def create_replica_tables() -> None:
    """Migration step: the `directory_*` tables of `replica_tables`."""
    from alembic import op

    op.create_table(
        "directory_attachments",
        sa.Column("sub", sa.String(length=200), nullable=False),
        sa.Column("structure_id", sa.String(length=100), nullable=False),
        sa.Column("service_code", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("notifications", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("sub", "structure_id", "service_code"),
    )
    op.create_index(
        "ix_directory_attachments_structure",
        "directory_attachments",
        ["structure_id", "service_code"],
        unique=False,
    )
    op.create_table(
        "directory_services",
        sa.Column("structure_id", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("engagement_required", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("structure_id", "code"),
    )
    op.create_table(
        "directory_structures",
        sa.Column("structure_id", sa.String(length=100), nullable=False),
        sa.Column("cpp_id", sa.BigInteger(), nullable=False),
        sa.Column("identifier_type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("public_category", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("parameters", JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("structure_id"),
    )
    op.create_table(
        "directory_users",
        sa.Column("sub", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sub"),
    )


def drop_replica_tables() -> None:
    """Its reverse."""
    from alembic import op

    op.drop_table("directory_users")
    op.drop_table("directory_structures")
    op.drop_table("directory_services")
    op.drop_index("ix_directory_attachments_structure", table_name="directory_attachments")
    op.drop_table("directory_attachments")
