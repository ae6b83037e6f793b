"""What the gateway decides for Chorus Pro's resources, apart from their field names: which objects a
technical account's structure may see, how a search's criteria read, where an action goes and what
each owning service answered. The `api` modules turn requests into these calls and their results into
Chorus Pro's answers."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from stdnum.fr import siret as stdnum_siret

from chorus_common.clock import PARIS
from chorus_common.rejections import DETAILS, RejectionOutcome
from piste_gateway import flows, repository
from piste_gateway.access import Caller
from piste_gateway.domain import invalid, not_found
from piste_gateway.forwarding import Forwarder

# The invoice's column the caller's structure fills in each role of factures/v1 and facturesTravaux/v1.
INVOICE_PARTIES = {"fournisseur": "supplier_id", "recipiendaire": "recipient_id", "valideur": "delegate_id"}
WORKS_PARTIES = {"FOURNISSEUR": "supplier_id", "MOE": "moe_id", "MOA": "moa_id"}
RECEIVED, WORKS = "received-invoices", "invoicing-works"
SERVICE = "service"  # the kind of integer id a directory service gets (repository.numbers_of)


# --- Structures and services ---------------------------------------------------------------------


def may_see(caller: Caller, structure: RowMapping | None) -> bool:
    """As on Chorus Pro: any public structure, and the caller's own private one."""
    return structure is not None and (
        structure["kind"] == "PUBLIQUE" or structure["structure_id"] == caller.structure_id
    )


async def _visible_structure(conn: AsyncConnection, caller: Caller, cpp_id: int) -> RowMapping:
    row = await repository.structure_by_cpp_id(conn, cpp_id)
    if row is None or not may_see(caller, row):
        raise not_found(f"Structure {cpp_id} introuvable")
    return row


async def structure_for(uow: Any, caller: Caller, cpp_id: int) -> RowMapping:
    """The structure numbered `cpp_id`, if the caller may see it; 20002 otherwise."""
    async with uow.reading() as conn:
        return await _visible_structure(conn, caller, cpp_id)


async def search_structures(
    uow: Any, caller: Caller, offset: int, limit: int, **criteria: Any
) -> tuple[list[RowMapping], int]:
    """One page of the structures matching `criteria` that the caller may see, and their total."""
    async with uow.reading() as conn:
        return await repository.search_structures(
            conn, visible_private=caller.structure_id, offset=offset, limit=limit, **criteria
        )


def service_key(row: Any) -> str:
    return f"{row['structure_id']}/{row['code']}"


async def services_of(
    uow: Any, caller: Caller, structure_cpp_id: int, offset: int, limit: int
) -> tuple[list[RowMapping], int, dict[str, int]]:
    """One page of the services of a structure the caller may see (20002 otherwise), their total, and
    the stable integer id of each by `service_key` (given now to a service that has none yet)."""
    async with uow:
        structure = await _visible_structure(uow.conn, caller, structure_cpp_id)
        rows, total = await repository.services_of(uow.conn, structure["structure_id"], offset, limit)
        ids = await repository.numbers_of(uow.conn, SERVICE, [service_key(row) for row in rows])
    return rows, total, ids


async def service_for(uow: Any, caller: Caller, structure_cpp_id: int, service_cpp_id: int) -> RowMapping:
    """The service numbered `service_cpp_id` of the structure numbered `structure_cpp_id`, if the caller
    may see that structure; 20002 otherwise."""
    async with uow.reading() as conn:
        structure = await repository.structure_by_cpp_id(conn, structure_cpp_id)
        key = await repository.key_of(conn, SERVICE, service_cpp_id)
        row = None
        if may_see(caller, structure) and key is not None:
            structure_id, _, code = key.partition("/")
            if structure is not None and structure_id == structure["structure_id"]:
                row = await repository.service(conn, structure_id, code)
    if row is None:
        raise not_found(f"Service {service_cpp_id} de la structure {structure_cpp_id} introuvable")
    return row


async def siret_information(uow: Any, caller: Caller, siret: str) -> RowMapping:
    """consulter/information/siret: the directory's structure of this SIRET (Chorus Pro asks INSEE;
    the platform's source of structures is its directory), if the caller may see it; 20001 for a
    number that is no SIRET, 20002 for one the directory does not hold."""
    if not stdnum_siret.is_valid(siret):
        raise invalid(f"siretStructure : {siret[:20]} n'est pas un SIRET valide")
    async with uow.reading() as conn:
        row = await repository.structure(conn, stdnum_siret.compact(siret))
    if row is None or row["identifier_type"] != "SIRET" or not may_see(caller, row):
        raise not_found(f"SIRET {siret[:20]} inconnu de l'annuaire")
    return row


RECIPIENTS_COLUMNS = (
    "IDENTIFIANT",
    "TYPE_IDENTIFIANT",
    "ID_STRUCTURE_CPP",
    "RAISON_SOCIALE",
    "STATUT",
    "CODE_SERVICE_OBLIGATOIRE",
    "NUMERO_EJ_OBLIGATOIRE",
    "NUMERO_EJ_OU_CODE_SERVICE_OBLIGATOIRE",
    "CODE_SERVICE",
    "NOM_SERVICE",
    "STATUT_SERVICE",
    "SERVICE_NUMERO_EJ_OBLIGATOIRE",
)


def _status(active: bool | None) -> str:
    return "" if active is None else "ACTIF" if active else "INACTIF"


def _yes(value: bool | None) -> str:
    return "" if value is None else "OUI" if value else "NON"


async def recipients_directory(uow: Any) -> bytes:
    """telecharger/annuaire/destinataire: the public structures a supplier may invoice and their
    services, with what each requires on an invoice, as one CSV (UTF-8, `;`) in a ZIP."""
    lines = io.StringIO()
    writer = csv.writer(lines, delimiter=";", lineterminator="\r\n")
    writer.writerow(RECIPIENTS_COLUMNS)
    async with uow.reading() as conn:
        recipients = await repository.recipients(conn)
    for row in recipients:
        parameters = row["parameters"]
        writer.writerow(
            (
                row["structure_id"],
                row["identifier_type"],
                row["cpp_id"],
                row["name"],
                _status(row["active"]),
                _yes(parameters.get("service_code_required", False)),
                _yes(parameters.get("engagement_required", False)),
                _yes(parameters.get("engagement_or_service_required", False)),
                row["service_code"] or "",
                row["service_name"] or "",
                _status(row["service_active"]),
                _yes(row["service_engagement_required"]),
            )
        )
    return zipped([("annuaire_destinataires.csv", lines.getvalue().encode())])


@dataclass(frozen=True)
class Parties:
    """The directory's structures an answer names, by structure id (`repository.structures_by_id`)."""

    known: dict[str, RowMapping]

    @classmethod
    async def of(cls, conn: AsyncConnection, rows: Iterable[RowMapping], columns: Iterable[str]) -> Parties:
        wanted = list(columns)
        return cls(await repository.structures_by_id(conn, [row[c] for row in rows for c in wanted]))

    def get(self, structure_id: str | None, field: str) -> Any:
        """`field` of the structure (its `cpp_id`, `name`, ...), None for one the directory has not told."""
        found = self.known.get(structure_id or "")
        return found[field] if found is not None else None


async def structure_ids(conn: AsyncConnection, cpp_ids: Iterable[int]) -> tuple[str, ...]:
    """The structure ids of these integer ids; an unknown one matches nothing, as a criterion does."""
    wanted = list(cpp_ids)
    found = await repository.structures_by_cpp_id(conn, wanted)
    return tuple(found[cpp_id]["structure_id"] if cpp_id in found else f"#{cpp_id}" for cpp_id in wanted)


# --- Invoices --------------------------------------------------------------------------------------


def day_start(day: date | None, after: bool = False) -> datetime | None:
    """The Paris midnight starting `day` (ending it with `after`), as a search's bound of deposit."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if after else day, time(0), PARIS)


@dataclass(frozen=True)
class InvoiceSearch:
    """A factures/v1 search as a caller asks it: the other party by its integer ids, the days of
    deposit as Paris days."""

    number: str | None = None
    external_id: str | None = None
    statuses: tuple[str, ...] = ()
    frame: str | None = None
    counterparts: tuple[int, ...] = ()
    deposited_from: date | None = None
    deposited_to: date | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    engagement_number: str | None = None


async def search_invoices(
    uow: Any, caller: Caller, role: str, search: InvoiceSearch, offset: int, limit: int
) -> tuple[list[RowMapping], int, Parties]:
    """One page of the invoices whose party in `role` is the caller's structure that match, their
    total, and the structures they name."""
    async with uow.reading() as conn:
        criteria = repository.InvoiceCriteria(
            party=INVOICE_PARTIES[role],
            structure_id=caller.structure_id,
            number=search.number,
            external_id=search.external_id,
            statuses=search.statuses,
            frame=search.frame,
            counterparts=await structure_ids(conn, search.counterparts),
            deposited_from=day_start(search.deposited_from),
            deposited_before=day_start(search.deposited_to, after=True),
            issued_from=search.issued_from,
            issued_to=search.issued_to,
            engagement_number=search.engagement_number,
        )
        rows, total = await repository.search_invoices(conn, criteria, offset, limit)
        return rows, total, await Parties.of(conn, rows, INVOICE_PARTIES.values())


async def search_works_invoices(
    uow: Any,
    caller: Caller,
    role: str,
    number: str | None,
    statuses: tuple[str, ...],
    frame: str | None,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int, Parties]:
    async with uow.reading() as conn:
        rows, total = await repository.search_works_invoices(
            conn, WORKS_PARTIES[role], caller.structure_id, number, statuses, frame, offset, limit
        )
        return rows, total, await Parties.of(conn, rows, WORKS_PARTIES.values())


def visible(caller: Caller, row: RowMapping | None, role: str | None = None) -> bool:
    """Whether the caller's structure is the invoice's party in `role` (any of its parties without)."""
    columns = [INVOICE_PARTIES[role]] if role is not None else list(INVOICE_PARTIES.values())
    return row is not None and caller.structure_id in [row[column] for column in columns]


async def _visible_invoice(
    conn: AsyncConnection, caller: Caller, cpp_id: int, role: str | None = None
) -> RowMapping:
    row = await repository.invoice_by_cpp_id(conn, cpp_id)
    if row is None or not visible(caller, row, role):
        raise not_found(f"Facture {cpp_id} inconnue")
    return row


async def invoice_for(
    uow: Any, caller: Caller, cpp_id: int, role: str | None = None
) -> tuple[RowMapping, Parties]:
    """The invoice numbered `cpp_id` if the caller's structure is its party in `role` (any of its
    parties without one), with the structures it names; 20002 otherwise."""
    async with uow.reading() as conn:
        row = await _visible_invoice(conn, caller, cpp_id, role)
        return row, await Parties.of(conn, [row], INVOICE_PARTIES.values())


async def invoice_history(uow: Any, caller: Caller, cpp_id: int) -> tuple[RowMapping, list[RowMapping]]:
    """The invoice numbered `cpp_id`, for any of its parties (20002 otherwise), and its transitions."""
    async with uow.reading() as conn:
        row = await _visible_invoice(conn, caller, cpp_id)
        return row, await repository.invoice_history_of(conn, row["invoice_id"])


def flow_of(row: RowMapping) -> str | None:
    """The numeroFluxDepot of an invoice that came in a flow of the gateway's."""
    number = flows.own_number(row["external_id"])
    return flows.flow_number(number) if number is not None else None


def deposit_mode(row: RowMapping) -> str:
    """FLUX for an invoice that came in a flow of the gateway's; API for one deposited otherwise
    (received-invoices' own API, an EDI channel's event)."""
    return "FLUX" if flow_of(row) else "API"


async def main_documents(uow: Any, caller: Caller, cpp_ids: list[int]) -> list[tuple[str, bytes]]:
    """Each invoice's file as its flow carried it, named for an archive; 20002 for an invoice the
    caller may not see or that came in no flow of the gateway's."""
    async with uow.reading() as conn:
        rows = await repository.invoices_by_cpp_id(conn, cpp_ids)
        for cpp_id in cpp_ids:
            if not visible(caller, rows.get(cpp_id)):
                raise not_found(f"Facture {cpp_id} inconnue")
        numbers = {cpp_id: flows.own_number(rows[cpp_id]["external_id"]) for cpp_id in cpp_ids}
        deposited = await repository.flows_by_number(conn, [n for n in numbers.values() if n is not None])
    files = []
    for cpp_id in cpp_ids:
        flow = deposited.get(numbers[cpp_id] or 0)
        if flow is None or flow["content"] is None:
            raise not_found(f"Facture {cpp_id} : pas de fichier déposé par un flux de la passerelle")
        files.append((f"{cpp_id}_{safe_name(flow['file_name'])}", flow["content"]))
    return files


def safe_name(name: str) -> str:
    """A file name for an archive: its base name, without a path to climb out of."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable() and c not in ':*?"<>|').strip(". ") or "facture"


def zipped(files: list[tuple[str, bytes]]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files:
            bundle.writestr(name, data)
    return archive.getvalue()


async def recipient_targets(forwarder: Forwarder, caller: Caller, status: str) -> list[str]:
    """What a recipient may move a received invoice to from `status`, as received-invoices' lifecycle
    says; 20001 for a status that is none of an invoice's."""
    steps = await forwarder.lifecycle(caller)
    step = next((s for s in steps if s["status"] == status), None)
    if step is None:
        raise invalid(f"statutCourant : {status[:60]} n'est pas un statut de facture")
    targets: list[str] = step["targets"].get("RECIPIENT", [])
    return targets


# --- Support categories ---------------------------------------------------------------------------

CATEGORY, SUBCATEGORY = "categorie", "sous-categorie"  # kinds of integer ids (repository.numbers_of)


@dataclass(frozen=True)
class Category:
    id: int
    code: str
    label: str
    subcategories: list[Subcategory]


@dataclass(frozen=True)
class Subcategory:
    id: int
    code: str
    label: str


async def categories(forwarder: Forwarder, uow: Any) -> list[Category]:
    """support-portal's active ticket categories and subcategories, each with a stable integer id."""
    found = await forwarder.categories()
    keys = [c["code"] for c in found]
    sub_keys = [f"{c['code']}/{s['code']}" for c in found for s in c["subcategories"]]
    async with uow:
        ids = await repository.numbers_of(uow.conn, CATEGORY, keys)
        sub_ids = await repository.numbers_of(uow.conn, SUBCATEGORY, sub_keys)
    return [
        Category(
            ids[c["code"]],
            c["code"],
            c["label"],
            [
                Subcategory(sub_ids[f"{c['code']}/{s['code']}"], s["code"], s["label"])
                for s in c["subcategories"]
            ],
        )
        for c in found
    ]


# --- Engagements ---------------------------------------------------------------------------------

# As engagements decides it: a supplier sees an engagement once it left its draft.
HIDDEN_FROM_SUPPLIER = ("BROUILLON",)


async def _named(conn: AsyncConnection, identifier: str | None, cpp_id: int | None) -> str | None:
    """A structure named by its identifier, else by its integer id (None: not named)."""
    if identifier is None and cpp_id is not None:
        [identifier] = await structure_ids(conn, [cpp_id])
    return identifier


async def search_engagements(
    uow: Any,
    caller: Caller,
    number: str | None,
    issuer: tuple[str | None, int | None],
    supplier: tuple[str | None, int | None],
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[RowMapping], int, Parties]:
    """One page of the engagements the caller's structure issued or supplies (as `HIDDEN_FROM_SUPPLIER`
    allows) that match, their total, and the structures they name; the issuer and the supplier each
    named by (identifier, integer id), either or neither."""
    async with uow.reading() as conn:
        criteria = repository.EngagementCriteria(
            structure_id=caller.structure_id,
            hidden_from_supplier=HIDDEN_FROM_SUPPLIER,
            number=number,
            issuer_id=await _named(conn, *issuer),
            supplier_id=await _named(conn, *supplier),
            status=status,
        )
        rows, total = await repository.search_engagements(conn, criteria, offset, limit)
        return rows, total, await Parties.of(conn, rows, ("issuer_id", "supplier_id"))


# --- Actions, forwarded to the owning service -------------------------------------------------------


async def forward(
    forwarder: Forwarder, uow: Any, caller: Caller, cpp_id: int, operation: str, body: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """POST `body` to the invoice's `operation` at received-invoices, for an invoice the caller is one
    of the parties of (20002 otherwise: the owning service decides what it may do); the invoice's
    number and the service's answer."""
    async with uow.reading() as conn:
        row = await _visible_invoice(conn, caller, cpp_id)
    path = f"/invoices/{row['invoice_id']}/{operation}"
    answer: dict[str, Any] = await forwarder.call(RECEIVED, "POST", path, caller, body)
    return row["number"], answer


@dataclass(frozen=True)
class Outcome:
    cpp_id: int
    result: str  # PROCESSED, NOT_FOUND, NOT_REJECTED, ALREADY_PROCESSED
    detail: str


REJECTIONS = {RECEIVED: "/invoices/rejections/process", WORKS: "/works-invoices/rejections/process"}


async def process_rejections(
    forwarder: Forwarder, uow: Any, caller: Caller, cpp_ids: list[int]
) -> list[Outcome]:
    """traiterRejet: each id is a received invoice's or a works invoice's (their integers are one
    space); each owner processes the caller's own, in one call each. In the order asked."""
    owned: dict[str, dict[int, str]] = {RECEIVED: {}, WORKS: {}}
    async with uow.reading() as conn:
        received = await repository.invoices_by_cpp_id(conn, cpp_ids)
        works = await repository.works_invoices_by_cpp_id(conn, [i for i in cpp_ids if i not in received])
    for cpp_id, row in received.items():
        if row["supplier_id"] == caller.structure_id:
            owned[RECEIVED][cpp_id] = str(row["invoice_id"])
    for cpp_id, row in works.items():
        if row["supplier_id"] == caller.structure_id:
            owned[WORKS][cpp_id] = str(row["works_invoice_id"])
    unknown = DETAILS[RejectionOutcome.NOT_FOUND]
    outcomes = {cpp_id: Outcome(cpp_id, RejectionOutcome.NOT_FOUND, unknown) for cpp_id in cpp_ids}
    for service, mine in owned.items():
        if not mine:
            continue
        answer = await forwarder.call(
            service, "POST", REJECTIONS[service], caller, {"ids": list(mine.values())}
        )
        by_id = {result["id"]: result for result in answer["results"]}
        for cpp_id, invoice_id in mine.items():
            if (found := by_id.get(invoice_id)) is not None:
                outcomes[cpp_id] = Outcome(cpp_id, found["outcome"], found["detail"])
    return [outcomes[cpp_id] for cpp_id in cpp_ids]
