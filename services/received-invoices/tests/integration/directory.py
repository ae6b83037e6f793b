"""Structures of the directory for the tests, put straight into the service's read model, each with
a user attached to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from chorus_testing.directory import into_replica, known_structure, service_snapshot, user

from .conftest import RunningReceivedInvoices

KINDS = {"PUBLIC": "PUBLIQUE", "PRIVATE": "PRIVEE"}


@dataclass
class Structure:
    id: str
    kind: str
    user: dict[str, str]

    @property
    def name(self) -> str:
        return f"Structure {self.id}"

    @property
    def email(self) -> str:
        return f"contact-{self.id}@example.fr"

    def party(self, service_code: str | None = None) -> dict[str, Any]:
        return {"structure_id": self.id, "name": self.name, "email": self.email, "service_code": service_code}


def unknown(structure_id: str) -> Structure:
    """A structure the directory does not know."""
    return Structure(structure_id, "PUBLIC", {})


async def register(
    service: RunningReceivedInvoices,
    kind: str = "PUBLIC",
    services: tuple[str, ...] = (),
    parameters: dict[str, bool] | None = None,
) -> Structure:
    """A new structure of the directory (public unless told), with these services, these parameters
    on, and a user."""
    engine = service.runtime.engine
    structure_id = await known_structure(engine, kind=KINDS[kind], services=services, parameters=parameters)
    return Structure(structure_id, kind, await user(engine, f"user-of-{structure_id}", structure_id))


async def deactivate(service: RunningReceivedInvoices, structure: Structure, code: str) -> None:
    """The directory's snapshot of the service, now inactive."""
    snapshot = service_snapshot(structure.id, code, active=False, version=2)
    await into_replica(service.runtime.engine, snapshot)


async def delegate(
    client: httpx.AsyncClient,
    delegator: Structure,
    delegate_to: Structure,
    right: str,
    services: list[str] | None = None,
    start: str = "2026-01-01",
    end: str | None = None,
) -> httpx.Response:
    return await client.post(
        "/delegations",
        json={
            "delegator_structure_id": delegator.id,
            "delegate_structure_id": delegate_to.id,
            "right": right,
            "scope": "SERVICES" if services else "STRUCTURE",
            "service_codes": services or [],
            "start_date": start,
            "end_date": end,
        },
        headers=delegator.user,
    )


def invoice_data(
    supplier: Structure, recipient: Structure, service: str | None, frame: str = "A1"
) -> dict[str, Any]:
    return {
        "external_id": f"EXT-{uuid.uuid4().hex[:10]}",
        "number": f"F-{uuid.uuid4().hex[:8]}",
        "billing_frame": frame,
        "supplier": supplier.party(),
        "recipient": recipient.party(service),
        "amount_ht": "1000.00",
        "vat_amount": "200.00",
        "amount_ttc": "1200.00",
        "currency": "EUR",
        "issue_date": "2026-10-30",
    }
