"""Builders of directory entries for the tests."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from chorus_testing.auth import bearer
from received_invoices.domain import is_valid_siret


def new_siret() -> str:
    """A random SIRET with a valid Luhn key (one of the ten last digits always fits)."""
    body = "".join(random.choices("0123456789", k=13))
    return next(body + key for key in "0123456789" if is_valid_siret(body + key))


@dataclass
class Structure:
    id: str
    kind: str
    name: str

    @property
    def user(self) -> dict[str, str]:
        return bearer(f"user-of-{self.id}", self.id)

    @property
    def email(self) -> str:
        return f"contact-{self.id}@example.fr"

    def party(self, service_code: str | None = None) -> dict[str, Any]:
        return {"structure_id": self.id, "name": self.name, "email": self.email, "service_code": service_code}


async def register(
    client: httpx.AsyncClient, kind: str = "PUBLIC", services: tuple[str, ...] = ()
) -> Structure:
    structure = Structure(new_siret(), kind, f"Structure {uuid.uuid4().hex[:6]}")
    response = await client.post(
        "/structures",
        json={"identifier": structure.id, "name": structure.name, "kind": kind, "email": structure.email},
        headers=structure.user,
    )
    assert response.status_code == 201, response.text
    for code in services:
        added = await client.post(
            f"/structures/{structure.id}/services",
            json={"code": code, "name": f"Service {code}"},
            headers=structure.user,
        )
        assert added.status_code == 201, added.text
    return structure


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
