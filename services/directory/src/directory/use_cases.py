"""What the directory does: register and change structures and their services, attach users, import
a referential file, replay the whole directory onto the bus.

Each use case takes a unit of work and plain values, decides with the domain and stores through the
repository; every change writes the changed object's snapshot to the outbox in the same transaction.
Who may change a structure is decided here, from the caller's attachments in this directory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.clock import paris_day
from chorus_common.events import DelegationSnapshot, EventType
from chorus_common.passwords import hash_password, new_password
from chorus_common.problems import Problem, field_problem, not_found
from chorus_common.unit_of_work import UnitOfWork
from directory import events, repository
from directory.domain import (
    ADMIN_ROLE,
    Attachment,
    IdentifierType,
    Parameters,
    PublicCategory,
    Role,
    StructureKind,
    check_attachment,
    check_category,
    check_detachment,
    check_new_structure,
    identifier_error,
    may_manage,
    new_login,
    roles_in,
    vat_number_error,
)


@dataclass(frozen=True)
class NewStructure:
    identifier: str
    identifier_type: IdentifierType
    name: str
    kind: StructureKind
    public_category: PublicCategory | None = None
    email: str | None = None
    vat_number: str | None = None
    parameters: Parameters = field(default_factory=Parameters)

    def problem(self) -> str | None:
        """The first rule this structure's identifiers break, as "field: rule"."""
        error = identifier_error(self.identifier, self.identifier_type)
        if error is not None:
            return f"identifier: {error}"
        if self.vat_number is not None and (error := vat_number_error(self.vat_number)) is not None:
            return f"vat_number: {error}"
        return None

    def values(self) -> dict[str, Any]:
        return {
            "structure_id": self.identifier,
            "identifier_type": self.identifier_type,
            "name": self.name,
            "kind": self.kind,
            "public_category": self.public_category,
            "email": self.email,
            "vat_number": self.vat_number,
            "active": True,
            **asdict(self.parameters),
        }


@dataclass(frozen=True)
class StructureChanges:
    """What a change of a structure sets; None leaves a value as it is."""

    name: str | None = None
    email: str | None = None
    vat_number: str | None = None
    parameters: Parameters | None = None
    kind: StructureKind | None = None  # the operator's only
    public_category: PublicCategory | None = None  # the operator's only
    active: bool | None = None  # the operator's only


@dataclass(frozen=True)
class NewService:
    code: str
    name: str
    active: bool = True
    valid_from: date | None = None
    valid_to: date | None = None
    engagement_required: bool = False


@dataclass(frozen=True)
class ServiceChanges:
    name: str | None = None
    active: bool | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    engagement_required: bool | None = None


@dataclass(frozen=True)
class Attach:
    """Attach a user (created with `email` and `name` if the directory does not know it yet)."""

    role: Role
    notifications: bool
    service_code: str | None = None
    email: str | None = None
    name: str | None = None


@dataclass
class ImportReport:
    registered: int = 0
    updated: int = 0
    unchanged: int = 0


def _is_admin(uow: UnitOfWork) -> bool:
    return uow.caller.has_role(ADMIN_ROLE)


async def _caller_attachments(uow: UnitOfWork) -> list[Attachment]:
    """What the caller may act for: its attachments in the directory. A token's non-empty `structures`
    claim narrows them (a token for one structure among several); it never adds one."""
    caller = uow.caller
    async with uow.reading() as conn:
        rows = await repository.user_attachments(conn, caller.sub)
    return [
        Attachment(r["structure_id"], r["service_code"], Role(r["role"]), r["notifications"])
        for r in rows
        if not caller.structures or r["structure_id"] in caller.structures
    ]


async def _manager_roles(uow: UnitOfWork, structure_id: str) -> set[Role]:
    """The caller's roles in the structure, read once; 403 unless it manages it (or is the operator)."""
    attachments = await _caller_attachments(uow)
    if not may_manage(attachments, structure_id, _is_admin(uow)):
        raise ActionRefused(
            "you do not manage this structure", Refusal.FORBIDDEN, slug="not-a-manager", title="Forbidden"
        )
    return roles_in(attachments, structure_id)


async def _managed(uow: UnitOfWork, structure_id: str) -> tuple[RowMapping, set[Role]]:
    """The structure, locked, and the caller's roles in it: 404 if unknown, 403 if not the caller's."""
    row = await repository.get_structure(uow.conn, structure_id, lock=True)
    if row is None:
        raise not_found("Structure")
    return row, await _manager_roles(uow, structure_id)


# Structures


async def register_structure(uow: UnitOfWork, new: NewStructure) -> dict[str, Any]:
    """Register a structure. A company registering itself becomes its principal manager."""
    admin = _is_admin(uow)
    check_new_structure(new.kind, new.public_category, admin)
    if (error := new.problem()) is not None:
        field_name, message = error.split(": ", 1)
        raise field_problem(field_name, "invalid-identifier", "Invalid identifier", message)
    caller = uow.caller
    manager_email = caller.email or new.email
    if not admin and manager_email is None:
        raise field_problem(
            "email", "email-required", "E-mail required", "your token has no e-mail: give the structure's"
        )
    now = uow.now()
    async with uow:
        values = {**new.values(), "created_by": caller.sub, "created_at": now, "updated_at": now}
        row = await repository.insert_structure(uow.conn, values)
        if row is None:
            raise Problem(
                409,
                "structure-exists",
                "Structure already registered",
                f"a structure with identifier {new.identifier} is already registered",
            )
        await uow.publish(events.structure_event(EventType.STRUCTURE_REGISTERED, row, uow.source))
        if not admin:
            assert manager_email is not None
            principal = Attach(Role.GESTIONNAIRE_PRINCIPAL, True, email=manager_email, name=caller.sub)
            await _attach(uow, row["structure_id"], caller.sub, principal)
        [derived] = await _with_derived(uow.conn, uow, [row])
    return derived


async def import_structures(uow: UnitOfWork, rows: list[tuple[int, NewStructure]]) -> ImportReport:
    """Register or update every structure of a referential file, in one transaction (all or nothing).

    `rows` carries each structure with its line number; a line that breaks a rule stops the import with
    that line named. A structure already as the file says is left alone (no new version, no event).
    """
    for line, new in rows:
        error = new.problem()
        if error is None:
            try:
                check_category(new.kind, new.public_category)
            except ActionRefused as refused:
                error = str(refused)
        if error is not None:
            raise ValueError(f"line {line}: {error}")
    seen: dict[str, int] = {}
    for line, new in rows:
        if new.identifier in seen:
            raise ValueError(f"line {line}: {new.identifier} is already on line {seen[new.identifier]}")
        seen[new.identifier] = line
    report = ImportReport()
    now = uow.now()
    async with uow:
        existing = await repository.existing_structures(uow.conn, [new.identifier for _, new in rows])
        for _, new in rows:
            values = new.values()
            current = existing.get(new.identifier)
            if current is None:
                row = await repository.insert_structure(
                    uow.conn, {**values, "created_by": "import", "created_at": now, "updated_at": now}
                )
                assert row is not None  # the identifiers were locked above, or are new in this file
                await uow.publish(events.structure_event(EventType.STRUCTURE_REGISTERED, row, uow.source))
                report.registered += 1
            elif any(current[key] != value for key, value in values.items()):
                row = await repository.update_structure(
                    uow.conn, new.identifier, {**values, "updated_at": now}
                )
                await uow.publish(events.structure_event(EventType.STRUCTURE_UPDATED, row, uow.source))
                report.updated += 1
            else:
                report.unchanged += 1
    return report


async def _with_derived(
    conn: AsyncConnection, uow: UnitOfWork, rows: list[RowMapping]
) -> list[dict[str, Any]]:
    """The structures with what is derived from elsewhere: `delegated_validator` (Chorus Pro's
    `estValideurDelegue`), whether an active delegation of received-invoices designates it today."""
    today = paris_day(uow.now())
    validators = await repository.delegated_validators(conn, [r["structure_id"] for r in rows], today)
    return [{**row, "delegated_validator": row["structure_id"] in validators} for row in rows]


async def structure(uow: UnitOfWork, structure_id: str) -> dict[str, Any]:
    """Any signed-in caller reads the directory's structures (Chorus Pro's annuaire is public)."""
    uow.caller  # noqa: B018  (401 without a caller)
    async with uow.reading() as conn:
        row = await repository.get_structure(conn, structure_id)
        if row is None:
            raise not_found("Structure")
        [derived] = await _with_derived(conn, uow, [row])
    return derived


async def structures(
    uow: UnitOfWork,
    identifier: str | None,
    name: str | None,
    kind: StructureKind | None,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    uow.caller  # noqa: B018
    async with uow.reading() as conn:
        rows, total = await repository.list_structures(conn, identifier, name, kind, offset, limit)
        return await _with_derived(conn, uow, rows), total


async def delegation_changed(uow: UnitOfWork, snapshot: DelegationSnapshot) -> None:
    """received-invoices made or revoked a delegation: keep it (older snapshots change nothing)."""
    await repository.apply_delegation(uow.conn, snapshot)


async def change_structure(uow: UnitOfWork, structure_id: str, changes: StructureChanges) -> dict[str, Any]:
    """Managers change a structure's name, e-mail and parameters; its kind and status are the operator's."""
    admin = _is_admin(uow)
    reserved = {"kind": changes.kind, "public_category": changes.public_category, "active": changes.active}
    if not admin and any(value is not None for value in reserved.values()):
        raise ActionRefused(
            "only the platform's operator changes a structure's kind, category or status",
            Refusal.FORBIDDEN,
            slug="public-structure-reserved",
            title="Reserved to the operator",
        )
    if changes.vat_number is not None and (error := vat_number_error(changes.vat_number)) is not None:
        raise field_problem("vat_number", "invalid-identifier", "Invalid identifier", error)
    async with uow:
        current, _ = await _managed(uow, structure_id)
        values: dict[str, Any] = {
            key: value
            for key, value in {
                "name": changes.name,
                "email": changes.email,
                "vat_number": changes.vat_number,
                **reserved,
                **(asdict(changes.parameters) if changes.parameters else {}),
            }.items()
            if value is not None
        }
        kind = StructureKind(values.get("kind", current["kind"]))
        category = values.get("public_category", current["public_category"])
        if kind is StructureKind.PRIVEE and "kind" in values:
            values["public_category"] = category = None
        check_category(kind, PublicCategory(category) if category else None)
        row = current
        if any(current[key] != value for key, value in values.items()):
            row = await repository.update_structure(
                uow.conn, structure_id, {**values, "updated_at": uow.now()}
            )
            await uow.publish(events.structure_event(EventType.STRUCTURE_UPDATED, row, uow.source))
        [derived] = await _with_derived(uow.conn, uow, [row])
    return derived


# Services


def _check_validity(valid_from: date | None, valid_to: date | None) -> None:
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise field_problem("valid_to", "invalid-period", "Invalid period", "valid_to is before valid_from")


async def add_service(uow: UnitOfWork, structure_id: str, new: NewService) -> RowMapping:
    _check_validity(new.valid_from, new.valid_to)
    async with uow:
        await _managed(uow, structure_id)
        row = await repository.insert_service(
            uow.conn, {"structure_id": structure_id, **asdict(new), "updated_at": uow.now()}
        )
        if row is None:
            raise Problem(
                409,
                "service-exists",
                "Service already exists",
                f"{structure_id} already has a service {new.code}",
            )
        await uow.publish(events.service_event(row, uow.source))
    return row


async def change_service(
    uow: UnitOfWork, structure_id: str, code: str, changes: ServiceChanges
) -> RowMapping:
    async with uow:
        await _managed(uow, structure_id)
        current = await repository.get_service(uow.conn, structure_id, code, lock=True)
        if current is None:
            raise not_found("Service")
        values = {key: value for key, value in asdict(changes).items() if value is not None}
        _check_validity(
            values.get("valid_from", current["valid_from"]), values.get("valid_to", current["valid_to"])
        )
        if all(current[key] == value for key, value in values.items()):
            return current
        row = await repository.update_service(
            uow.conn, structure_id, code, {**values, "updated_at": uow.now()}
        )
        await uow.publish(events.service_event(row, uow.source))
    return row


async def services(uow: UnitOfWork, structure_id: str) -> list[RowMapping]:
    await structure(uow, structure_id)
    async with uow.reading() as conn:
        return await repository.list_services(conn, structure_id)


# Users


async def _user_snapshot_event(uow: UnitOfWork, event_type: EventType, user: RowMapping) -> dict[str, Any]:
    attachments = await repository.user_attachments(uow.conn, user["sub"])
    await uow.publish(events.user_event(event_type, user, attachments, uow.source))
    return {**user, "attachments": attachments}


async def _attach(uow: UnitOfWork, structure_id: str, sub: str, attach: Attach) -> dict[str, Any]:
    """Store the attachment and publish the user's new snapshot (in the caller's transaction)."""
    known = await repository.get_user(uow.conn, sub, lock=True)
    email = attach.email or (known["email"] if known else None)
    if email is None:
        raise field_problem("email", "email-required", "E-mail required", f"{sub} is new to the directory")
    name = attach.name or (known["name"] if known else sub)
    user = await repository.save_user(uow.conn, sub, email, name, uow.now())
    await repository.save_attachment(
        uow.conn,
        {
            "sub": sub,
            "structure_id": structure_id,
            "service_code": attach.service_code,
            "role": attach.role,
            "notifications": attach.notifications,
            "attached_by": uow.caller.sub,
            "attached_at": uow.now(),
        },
    )
    return await _user_snapshot_event(uow, EventType.USER_ATTACHED, user)


async def attach_user(uow: UnitOfWork, structure_id: str, sub: str, attach: Attach) -> dict[str, Any]:
    """A manager of the structure attaches a user to it or to one of its services, or changes that
    attachment's role and "Notification Facturation" setting."""
    wanted = Attachment(structure_id, attach.service_code, attach.role, attach.notifications)
    async with uow:
        _, manager_roles = await _managed(uow, structure_id)
        if attach.service_code is not None:
            service = await repository.get_service(uow.conn, structure_id, attach.service_code)
            if service is None:
                raise field_problem(
                    "service_code",
                    "unknown-service",
                    "Unknown service",
                    f"{structure_id} has no service {attach.service_code}",
                )
        principal = await repository.principal_manager(uow.conn, structure_id)
        check_attachment(manager_roles, _is_admin(uow), wanted, principal, sub)
        if (
            principal == sub
            and attach.service_code is None
            and attach.role is not Role.GESTIONNAIRE_PRINCIPAL
        ):
            raise ActionRefused(
                "the principal manager is replaced by naming another one, not demoted",
                Refusal.CONFLICT,
                slug="principal-manager-stays",
                title="A structure keeps its principal manager",
            )
        return await _attach(uow, structure_id, sub, attach)


async def detach_user(
    uow: UnitOfWork, structure_id: str, sub: str, service_code: str | None
) -> dict[str, Any]:
    """A manager detaches a user from one service of the structure, or from the structure altogether."""
    async with uow:
        _, manager_roles = await _managed(uow, structure_id)
        user = await repository.get_user(uow.conn, sub, lock=True)
        attached = [
            a
            for a in (await repository.user_attachments(uow.conn, sub) if user is not None else [])
            if a["structure_id"] == structure_id and service_code in (None, a["service_code"])
        ]
        if user is None or not attached:
            raise not_found("Attachment")
        for a in attached:
            check_detachment(
                manager_roles,
                _is_admin(uow),
                Attachment(structure_id, a["service_code"], Role(a["role"]), a["notifications"]),
            )
        await repository.delete_attachments(uow.conn, sub, structure_id, service_code)
        user = await repository.save_user(uow.conn, sub, user["email"], user["name"], uow.now())
        return await _user_snapshot_event(uow, EventType.USER_DETACHED, user)


async def structure_users(uow: UnitOfWork, structure_id: str) -> list[dict[str, Any]]:
    """The users attached to a structure and its services: its managers' (and the operator's) to read."""
    async with uow.reading() as conn:
        if await repository.get_structure(conn, structure_id) is None:
            raise not_found("Structure")
        await _manager_roles(uow, structure_id)
        return await repository.structure_users(conn, structure_id)


async def me(uow: UnitOfWork) -> dict[str, Any]:
    """The caller as the directory knows it: e-mail, name and attachments (none when unknown)."""
    caller = uow.caller
    async with uow.reading() as conn:
        user = await repository.get_user(conn, caller.sub)
        attachments = await repository.user_attachments(conn, caller.sub) if user else []
    if user is None:
        return {"sub": caller.sub, "email": caller.email, "name": None, "version": 0, "attachments": []}
    return {**user, "attachments": attachments}


# Technical accounts


async def create_technical_account(uow: UnitOfWork, structure_id: str) -> dict[str, Any]:
    """A new technical account of the structure, for its managers; the password is in this answer only."""
    password = new_password()
    async with uow:
        structure_row, _ = await _managed(uow, structure_id)
        row = await repository.insert_technical_account(
            uow.conn,
            {
                "login": new_login(structure_row["cpp_id"]),
                "structure_id": structure_id,
                "password_hash": hash_password(password),
                "active": True,
                "created_by": uow.caller.sub,
                "created_at": uow.now(),
                "version": 1,
                "updated_at": uow.now(),
            },
        )
        await uow.publish(events.technical_account_event(row, uow.source))
    return {**row, "password": password}


async def technical_accounts(uow: UnitOfWork, structure_id: str) -> list[RowMapping]:
    async with uow:
        await _managed(uow, structure_id)
        return await repository.list_technical_accounts(uow.conn, structure_id)


async def deactivate_technical_account(uow: UnitOfWork, structure_id: str, login: str) -> RowMapping:
    async with uow:
        await _managed(uow, structure_id)
        row, changed = await repository.deactivate_technical_account(uow.conn, structure_id, login, uow.now())
        if changed and row is not None:
            await uow.publish(events.technical_account_event(row, uow.source))
    if row is None:
        raise not_found("Technical account")
    return row


# Replay


@dataclass
class ReplayReport:
    structures: int = 0
    services: int = 0
    users: int = 0
    technical_accounts: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{f.name}: {getattr(self, f.name)}" for f in fields(self))


async def replay(uow: UnitOfWork) -> ReplayReport:
    """Write every structure, service, user and technical account of the directory to the outbox as
    `*-updated` snapshots with their current versions, so that a new or rebuilt read model catches up
    (and one that is up to date ignores them: their versions are not newer than what it holds)."""
    report = ReplayReport()
    async with uow:
        async for row in repository.stream_structures(uow.conn):
            await uow.publish(events.structure_event(EventType.STRUCTURE_UPDATED, row, uow.source))
            report.structures += 1
        async for row in repository.stream_services(uow.conn):
            await uow.publish(events.service_event(row, uow.source))
            report.services += 1
        async for user in repository.stream_users(uow.conn):
            await uow.publish(
                events.user_event(EventType.USER_UPDATED, user, user["attachments"], uow.source)
            )
            report.users += 1
        async for row in repository.stream_technical_accounts(uow.conn):
            await uow.publish(events.technical_account_event(row, uow.source))
            report.technical_accounts += 1
    return report
