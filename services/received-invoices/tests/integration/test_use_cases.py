"""The use cases of received-invoices called directly, without HTTP, against the real PostgreSQL."""

import json
import uuid
from datetime import date
from decimal import Decimal

import pytest

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.auth import Principal
from chorus_common.events import InvoiceSubmitted, Party
from chorus_common.runtime import ServiceRuntime
from chorus_testing.directory import known_structure
from chorus_testing.fixtures import BusProbe, take
from received_invoices import use_cases
from received_invoices.domain import InvoiceStatus, Right, Scope

from .conftest import RunningReceivedInvoices


async def registered(runtime: ServiceRuntime, kind: str) -> tuple[str, Principal]:
    """A structure of the directory (`PUBLIQUE` or `PRIVEE`) in the read model, and a user acting for it."""
    structure_id = await known_structure(runtime.engine, kind=kind)
    return structure_id, Principal(sub=f"user-{structure_id}", structures=frozenset({structure_id}))


def a1_invoice(supplier: str, recipient: str) -> InvoiceSubmitted:
    return InvoiceSubmitted(
        external_id=f"EXT-{uuid.uuid4().hex[:8]}",
        number="FA-1",
        billing_frame="A1",
        supplier=Party(structure_id=supplier, name="Fournitures SA", email="compta@example.fr"),
        recipient=Party(structure_id=recipient, name="Ministère", email="factures@example.fr"),
        amount_ht=Decimal("500.00"),
        vat_amount=Decimal("100.00"),
        amount_ttc=Decimal("600.00"),
        currency="EUR",
        issue_date=date(2026, 11, 20),
    )


async def test_a_delegated_a1_invoice_is_validated_by_the_delegate_and_reaches_the_recipient(
    service: RunningReceivedInvoices,
):
    runtime = service.runtime
    ministry, marie = await registered(runtime, "PUBLIQUE")
    company, paul = await registered(runtime, "PRIVEE")
    supplier, sam = await registered(runtime, "PRIVEE")
    await use_cases.create_delegation(
        runtime.unit_of_work(marie),
        use_cases.NewDelegation(
            ministry, company, Right.VALIDATION, Scope.STRUCTURE, [], date(2026, 1, 1), None
        ),
    )

    invoice, created = await use_cases.deposit_invoice(
        runtime.unit_of_work(sam), a1_invoice(supplier, ministry)
    )
    assert created and invoice["status"] == InvoiceStatus.A_VALIDER_1
    validated = await use_cases.process_invoice(
        runtime.unit_of_work(paul), invoice["id"], use_cases.Processing(InvoiceStatus.VALIDEE_1)
    )

    assert validated["status"] == InvoiceStatus.MISE_A_DISPOSITION
    assert [(h["action"], h["to_status"], h["capacity"]) for h in validated["history"]] == [
        ("DEPOT", "DEPOSEE", "FOURNISSEUR"),
        ("ACHEMINEMENT", "A_VALIDER_1", "PLATEFORME"),
        ("TRAITEMENT", "VALIDEE_1", "VALIDEUR_DELEGUE"),
        ("TRANSMISSION", "MISE_A_DISPOSITION", "VALIDEUR_DELEGUE"),
    ]
    received, total = await use_cases.invoices(runtime.unit_of_work(marie), "received", None, 0, 10)
    assert total == 1 and received[0]["validation_decision"] == "VALIDEE"


async def test_only_a_public_structure_delegates_and_never_to_itself(service: RunningReceivedInvoices):
    runtime = service.runtime
    company, paul = await registered(runtime, "PRIVEE")
    ministry, marie = await registered(runtime, "PUBLIQUE")

    def delegation(delegator: str, delegate: str) -> use_cases.NewDelegation:
        return use_cases.NewDelegation(
            delegator, delegate, Right.VALIDATION, Scope.STRUCTURE, [], date(2026, 1, 1), None
        )

    with pytest.raises(ActionRefused) as private:
        await use_cases.create_delegation(runtime.unit_of_work(paul), delegation(company, ministry))
    assert private.value.slug == "private-delegator"
    with pytest.raises(ActionRefused) as itself:
        await use_cases.create_delegation(runtime.unit_of_work(marie), delegation(ministry, ministry))
    assert itself.value.slug == "self-delegation"
    await use_cases.create_delegation(runtime.unit_of_work(marie), delegation(ministry, company))
    with pytest.raises(ActionRefused) as overlap:
        await use_cases.create_delegation(runtime.unit_of_work(marie), delegation(ministry, company))
    assert (overlap.value.slug, overlap.value.refusal) == ("delegation-overlap", Refusal.CONFLICT)
    given, total = await use_cases.delegations(runtime.unit_of_work(marie), True, None, 0, 10)
    assert total == 1 and given[0]["delegate_structure_id"] == company


async def test_replaying_the_delegations_publishes_each_with_its_current_version(
    service: RunningReceivedInvoices, bus: BusProbe
):
    runtime = service.runtime
    ministry, marie = await registered(runtime, "PUBLIQUE")
    first, _ = await registered(runtime, "PRIVEE")
    second, _ = await registered(runtime, "PRIVEE")
    kept = await use_cases.create_delegation(
        runtime.unit_of_work(marie),
        use_cases.NewDelegation(
            ministry, first, Right.VALIDATION, Scope.STRUCTURE, [], date(2026, 1, 1), None
        ),
    )
    ended = await use_cases.create_delegation(
        runtime.unit_of_work(marie),
        use_cases.NewDelegation(
            ministry, second, Right.TRAITEMENT, Scope.STRUCTURE, [], date(2025, 1, 1), date(2025, 12, 31)
        ),
    )
    await use_cases.revoke_delegation(runtime.unit_of_work(marie), ended["id"])
    tap = await bus.tap("delegation-updated")

    assert await use_cases.replay_delegations(runtime.unit_of_work()) >= 2

    # What a read model keeps: the highest version of each (the first publications, retried until a
    # queue took them, may arrive after the replay's).
    expected = {str(kept["id"]): ("ACTIVE", 1), str(ended["id"]): ("REVOKED", 2)}
    seen: dict[str, tuple[str, int]] = {}
    while seen != expected and (messages := await take(tap, 1)):
        data = json.loads(messages[0].body)["data"]
        if (
            data["delegation_id"] in expected
            and data["version"] >= seen.get(data["delegation_id"], ("", 0))[1]
        ):
            seen[data["delegation_id"]] = (data["status"], data["version"])
    assert seen == expected
