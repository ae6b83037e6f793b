"""The use cases of received-invoices called directly, without HTTP, against the real PostgreSQL."""

import uuid
from datetime import date
from decimal import Decimal

import pytest

from chorus_common.actions import ActionRefused, Refusal
from chorus_common.auth import Principal
from chorus_common.events import InvoiceSubmitted, Party
from chorus_common.runtime import ServiceRuntime
from received_invoices import use_cases
from received_invoices.domain import Action, IdentifierType, InvoiceStatus, Right, Scope, StructureKind

from .conftest import RunningReceivedInvoices
from .directory import new_siret


async def registered(runtime: ServiceRuntime, kind: StructureKind) -> tuple[str, Principal]:
    siret = new_siret()
    user = Principal(sub=f"user-{siret}", structures=frozenset({siret}))
    new = use_cases.NewStructure(
        siret, IdentifierType.SIRET, f"Structure {siret}", kind, "contact@example.fr"
    )
    await use_cases.register_structure(runtime.unit_of_work(user), new)
    return siret, user


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
    ministry, marie = await registered(runtime, StructureKind.PUBLIC)
    company, paul = await registered(runtime, StructureKind.PRIVATE)
    supplier, sam = await registered(runtime, StructureKind.PRIVATE)
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
    validated = await use_cases.act_on_invoice(
        runtime.unit_of_work(paul), invoice["id"], Action.VALIDATION, None
    )

    assert validated["status"] == InvoiceStatus.MISE_A_DISPOSITION
    assert [(h["action"], h["capacity"]) for h in validated["history"]] == [
        ("DEPOT", "FOURNISSEUR"),
        ("VALIDATION", "VALIDEUR_DELEGUE"),
    ]
    received, total = await use_cases.invoices(runtime.unit_of_work(marie), "received", None, 0, 10)
    assert total == 1 and received[0]["validation_decision"] == "VALIDEE"


async def test_only_a_public_structure_delegates_and_never_to_itself(service: RunningReceivedInvoices):
    runtime = service.runtime
    company, paul = await registered(runtime, StructureKind.PRIVATE)
    ministry, marie = await registered(runtime, StructureKind.PUBLIC)

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
