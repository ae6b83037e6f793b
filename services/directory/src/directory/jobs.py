"""The directory's commands: import a referential file, replay the directory, seed the examples, mint
a token. Each writes through the use cases; events go to the outbox and the service's relay publishes
them."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from chorus_common.auth import Principal, mint_dev_token
from chorus_common.events import Email
from chorus_common.runtime import ServiceRuntime, command_runtime
from chorus_common.unit_of_work import UnitOfWork
from directory import repository, use_cases
from directory.db import inbox, outbox
from directory.domain import ADMIN_ROLE, IdentifierType, Parameters, PublicCategory, Role, StructureKind
from directory.settings import DirectorySettings

T = TypeVar("T")

OPERATOR = Principal(sub="directory-operator", roles=frozenset({ADMIN_ROLE}))
TRUE, FALSE = {"1", "true", "oui", "yes", "o", "y"}, {"", "0", "false", "non", "no", "n"}


def _flag(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Flag = Annotated[bool, BeforeValidator(_flag)]


class StructureLine(BaseModel):
    """One line of a referential file; the header names the columns, in any order."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    identifier: Annotated[str, Field(min_length=1, max_length=100)]
    identifier_type: IdentifierType
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: StructureKind
    public_category: Annotated[PublicCategory | None, BeforeValidator(_blank_is_none)] = None
    email: Annotated[Email | None, BeforeValidator(_blank_is_none)] = None
    vat_number: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    service_code_required: Flag = False
    engagement_required: Flag = False
    engagement_or_service_required: Flag = False
    moa_only: Flag = False

    def structure(self) -> use_cases.NewStructure:
        return use_cases.NewStructure(
            identifier=self.identifier,
            identifier_type=self.identifier_type,
            name=self.name,
            kind=self.kind,
            public_category=self.public_category,
            email=self.email,
            vat_number=self.vat_number,
            parameters=Parameters(
                self.service_code_required,
                self.engagement_required,
                self.engagement_or_service_required,
                self.moa_only,
            ),
        )


def read_structures(text: str) -> list[tuple[int, use_cases.NewStructure]]:
    """The structures of a CSV text (`;` or `,` separated, a header first) with their line numbers.

    Raises ValueError naming the first bad line.
    """
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    unknown = set(header) - set(StructureLine.model_fields)
    if unknown:
        raise ValueError(f"line 1: unknown columns {sorted(unknown)}")
    found = []
    for row in reader:
        line = reader.line_num
        if None in row or any(value is None for value in row.values()):
            raise ValueError(f"line {line}: {len(header)} columns expected")
        try:
            found.append((line, StructureLine.model_validate(row).structure()))
        except ValidationError as exc:
            error = exc.errors()[0]
            field_name = ".".join(str(part) for part in error["loc"])
            raise ValueError(f"line {line}: {field_name}: {error['msg']}") from exc
    return found


async def _with_runtime(settings: DirectorySettings, work: Callable[[ServiceRuntime], Awaitable[T]]) -> T:
    async with command_runtime(settings, outbox, inbox) as runtime:
        return await work(runtime)


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a CSV file with a header line (see the service's README)")


async def import_command(args: argparse.Namespace, settings: DirectorySettings) -> int:
    try:
        rows = read_structures(args.file.read_text(encoding="utf-8-sig"))

        async def run(runtime: ServiceRuntime) -> use_cases.ImportReport:
            return await use_cases.import_structures(runtime.unit_of_work(OPERATOR), rows)

        report = await _with_runtime(settings, run)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: nothing imported: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: {report.registered} registered, {report.updated} updated, {report.unchanged} unchanged"
    )
    return 0


async def replay_command(args: argparse.Namespace, settings: DirectorySettings) -> int:
    async def run(runtime: ServiceRuntime) -> use_cases.ReplayReport:
        return await use_cases.replay(runtime.unit_of_work(OPERATOR))

    print(f"replayed {await _with_runtime(settings, run)}")
    return 0


# What README.md's examples use. The identifiers are valid ones (SIRET keys included).
SEED_STRUCTURES = [
    (
        "11000201100044",
        "Ministère des Armées",
        StructureKind.PUBLIQUE,
        PublicCategory.ETAT,
        "achats@example.fr",
    ),
    (
        "11004601800013",
        "Ministère de la Culture",
        StructureKind.PUBLIQUE,
        PublicCategory.ETAT,
        "daf@example.fr",
    ),
    (
        "21690123100011",
        "Ville de Lyon",
        StructureKind.PUBLIQUE,
        PublicCategory.COLLECTIVITE,
        "travaux@example.fr",
    ),
    ("35600000000048", "La Poste", StructureKind.PRIVEE, None, "factures@laposte.example.fr"),
    ("90000001900019", "BTP SA", StructureKind.PRIVEE, None, "contact@btp.example.fr"),
    ("90000002700012", "Cabinet Archi", StructureKind.PRIVEE, None, "moe@archi.example.fr"),
    ("90000003500015", "Fournitures SA", StructureKind.PRIVEE, None, "compta@fournitures.example.fr"),
    ("90000004300019", "Conseil et Associés", StructureKind.PRIVEE, None, "contact@conseil.example.fr"),
]
SEED_SERVICES = [
    ("11004601800013", "DAF", "Direction des affaires financières"),
    ("11004601800013", "DRAC", "Direction régionale des affaires culturelles"),
    ("21690123100011", "TRAVAUX", "Direction des travaux"),
]
# sub, e-mail, structure, service, role, notifications
SEED_USERS = [
    ("alice", "alice@armees.example.fr", "11000201100044", None, Role.GESTIONNAIRE_PRINCIPAL, True),
    ("marie", "marie@culture.example.fr", "11004601800013", None, Role.GESTIONNAIRE_PRINCIPAL, True),
    ("jules", "jules@culture.example.fr", "11004601800013", "DAF", Role.UTILISATEUR, True),
    ("lina", "lina@lyon.example.fr", "21690123100011", None, Role.GESTIONNAIRE_PRINCIPAL, True),
    ("hugo", "hugo@lyon.example.fr", "21690123100011", "TRAVAUX", Role.UTILISATEUR, True),
    ("sam", "sam@btp.example.fr", "90000001900019", None, Role.GESTIONNAIRE_PRINCIPAL, True),
    ("max", "max@archi.example.fr", "90000002700012", None, Role.GESTIONNAIRE_PRINCIPAL, True),
    ("fred", "fred@fournitures.example.fr", "90000003500015", None, Role.GESTIONNAIRE_PRINCIPAL, True),
    ("paul", "paul@conseil.example.fr", "90000004300019", None, Role.GESTIONNAIRE_PRINCIPAL, True),
]


async def seed(uow: UnitOfWork) -> None:
    """Create (or bring back to) the example directory; running it twice changes nothing."""
    rows = [
        (line, use_cases.NewStructure(identifier, IdentifierType.SIRET, name, kind, category, email))
        for line, (identifier, name, kind, category, email) in enumerate(SEED_STRUCTURES, start=1)
    ]
    await use_cases.import_structures(uow, rows)
    for structure_id, code, name in SEED_SERVICES:
        async with uow.reading() as conn:
            known = await repository.get_service(conn, structure_id, code)
        if known is None:
            await use_cases.add_service(uow, structure_id, use_cases.NewService(code, name))
    for sub, email, structure_id, service_code, role, notifications in SEED_USERS:
        attach = use_cases.Attach(role, notifications, service_code, email, sub.capitalize())
        async with uow.reading() as conn:
            current = [
                a
                for a in await repository.user_attachments(conn, sub)
                if (a["structure_id"], a["service_code"], a["role"], a["notifications"])
                == (structure_id, service_code, role, notifications)
            ]
        if not current:
            await use_cases.attach_user(uow, structure_id, sub, attach)


async def seed_command(args: argparse.Namespace, settings: DirectorySettings) -> int:
    async def run(runtime: ServiceRuntime) -> None:
        await seed(runtime.unit_of_work(OPERATOR))

    await _with_runtime(settings, run)
    print(f"seeded {len(SEED_STRUCTURES)} structures, {len(SEED_SERVICES)} services, {len(SEED_USERS)} users")
    return 0


def add_mint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sub", required=True, help="a user of the directory (see `seed-dev`)")
    parser.add_argument("--role", action="append", default=[], help="repeatable, e.g. admin")
    parser.add_argument("--ttl", type=int, default=3600)


async def mint_command(args: argparse.Namespace, settings: DirectorySettings) -> int:
    """A token for CHORUS_APP_ENV=dev carrying the user's e-mail and the structures it is attached to."""
    secret = settings.jwt_secret
    if secret is None:
        print("mint-token needs CHORUS_APP_ENV=dev or CHORUS_AUTH_JWT_SECRET", file=sys.stderr)
        return 2

    async def run(runtime: ServiceRuntime) -> tuple[Any, list[dict[str, Any]]]:
        async with runtime.engine.connect() as conn:
            user = await repository.get_user(conn, args.sub)
            return user, await repository.user_attachments(conn, args.sub)

    user, attachments = await _with_runtime(settings, run)
    if user is None:
        print(f"{args.sub} is not a user of the directory (run `seed-dev`, or attach it)", file=sys.stderr)
        return 1
    structures = sorted({a["structure_id"] for a in attachments})
    print(mint_dev_token(args.sub, structures, args.role, user["email"], secret, args.ttl))
    return 0
