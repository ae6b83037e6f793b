from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chorus_common.events import DeadlineExceeded, DelegationEnded, DelegationRouted, EngagementValidated
from notifications.domain import (
    Attachment,
    Flag,
    Recipient,
    follow_link_refusal,
    message_id,
    plan_notifications,
    recipients,
)
from notifications.mail import MailRenderer, montant

PORTAL = "https://support.example"

PARTY = {"structure_id": "S", "name": "Nom", "email": "x@example.fr"}
SOMEONE = Recipient("u1", "someone@example.fr", "Someone")


def deadline_event() -> DeadlineExceeded:
    return DeadlineExceeded.model_validate(
        {
            "works_invoice_id": "w1",
            "number": "PDM-42",
            "billing_frame": "A4",
            "supplier": {**PARTY, "structure_id": "SUP", "email": "fournisseur@btp.fr", "name": "BTP SA"},
            "moe": {**PARTY, "structure_id": "MOE", "email": "moe@archi.fr", "name": "Cabinet Archi"},
            "moa": {**PARTY, "structure_id": "MOA", "email": "moa@ville.fr", "name": "Ville de Lyon"},
            "made_available_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
            "deadline": date(2026, 11, 9),
            "days_overdue": 3,
            "notice_date": date(2026, 11, 12),
        }
    )


def test_deadline_exceeded_mails_the_moa_first_then_the_supplier():
    plan = plan_notifications("deadline-exceeded", "/services/invoicing-works", deadline_event(), PORTAL)
    assert plan.flag is Flag.DEADLINE_EXCEEDED
    # to the users of each structure of the directory, not to the addresses the event gives
    assert [(m.role, m.party and m.party.structure_id, m.email) for m in plan.mails] == [
        ("MOA", "MOA", None),
        ("SUPPLIER", "SUP", None),
    ]
    assert plan.flag_attributes["structure_id"] == "MOA"


def test_the_french_mails_name_the_deadline_the_parties_and_the_ccag_article():
    plan = plan_notifications("deadline-exceeded", "/s", deadline_event(), PORTAL)
    renderer = MailRenderer()
    subject, body = renderer.render(plan.mails[0].to(SOMEONE))
    assert "PDM-42" in subject and "délai" in subject
    assert "article 12.2.2" in body and "09/11/2026" in body and "3 jours" in body
    assert "prendre la main" in body
    _, supplier_body = renderer.render(plan.mails[1].to(SOMEONE))
    assert "un courriel a été adressé ce jour à la maîtrise d'ouvrage Ville de Lyon" in supplier_body


def test_engagement_validated_carries_the_issuer_kind_for_flag_targeting():
    event = EngagementValidated.model_validate(
        {
            "number": "EJ-1",
            "issuer": {**PARTY, "structure_id": "MIN-ARMEES", "kind": "ETAT"},
            "supplier": PARTY,
            "total_ht": "3086.42",
            "total_ttc": "3703.70",
            "currency": "EUR",
            "validated_at": datetime(2026, 11, 2, tzinfo=UTC),
        }
    )
    plan = plan_notifications("engagement-validated", "/erp", event, PORTAL)
    assert plan.flag is Flag.ENGAGEMENT_VALIDATED
    assert plan.flag_attributes["structure_id"] == "MIN-ARMEES"
    assert plan.flag_attributes["structure_kind"] == "ETAT"
    _, body = MailRenderer().render(plan.mails[0].to(SOMEONE))
    assert "3\u202f086,42 EUR" in body and "3\u202f703,70 EUR" in body


def test_delegation_routed_mails_the_delegate_with_its_right():
    event = DelegationRouted.model_validate(
        {
            "invoice_id": "i1",
            "number": "F-1",
            "billing_frame": "A1",
            "supplier": PARTY,
            "recipient": {**PARTY, "name": "Hôpital", "service_code": "PHARMACIE"},
            "delegate": {**PARTY, "email": "delegue@ght.fr"},
            "right": "TRAITEMENT",
            "delegation_id": "d1",
            "amount_ttc": "1200.00",
            "currency": "EUR",
            "routed_at": datetime(2026, 11, 2, tzinfo=UTC),
        }
    )
    plan = plan_notifications("delegation-routed", "/s", event, PORTAL)
    assert [(m.role, m.party and m.party.structure_id) for m in plan.mails] == [("DELEGATE", "S")]
    _, body = MailRenderer().render(plan.mails[0].to(SOMEONE))
    assert "droit de traitement" in body and "ne sera pas transmise" in body
    assert "Hôpital (service PHARMACIE) vous a désigné valideur délégué" in body


@pytest.mark.parametrize(
    ("reason", "returned", "says"),
    [
        ("REVOCATION", 2, "Hôpital a révoqué la délégation"),
        ("ECHEANCE", 1, "a pris fin à son échéance, le 30/11/2026"),
    ],
)
def test_a_delegation_ended_mails_the_former_delegate_what_went_back(reason, returned, says):
    event = DelegationEnded.model_validate(
        {
            "delegation_id": "d1",
            "delegator": {**PARTY, "structure_id": "HOP", "name": "Hôpital"},
            "delegate": {**PARTY, "structure_id": "GHT"},
            "right": "VALIDATION",
            "reason": reason,
            "end_date": "2026-11-30",
            "invoices_returned": returned,
            "ended_at": datetime(2026, 12, 1, tzinfo=UTC),
        }
    )
    plan = plan_notifications("delegation-ended", "/s", event, PORTAL)
    assert plan.flag is Flag.DELEGATION_ENDED
    assert [(m.role, m.party and m.party.structure_id) for m in plan.mails] == [("DELEGATE", "GHT")]
    subject, body = MailRenderer().render(plan.mails[0].to(SOMEONE))
    assert subject == "Fin de votre délégation de validation des factures reçues de Hôpital"
    assert says in body
    assert ("Les 2 factures qui étaient en attente" in body) is (returned == 2)
    assert "Vous ne pouvez plus agir sur les factures de cette délégation." in body


def test_message_id_is_stable_per_event_role_and_recipient():
    first = message_id("evt-1", "MOA", "a@example.fr", "example.org")
    assert first == message_id("evt-1", "MOA", "a@example.fr", "example.org")
    assert first != message_id("evt-1", "SUPPLIER", "a@example.fr", "example.org")
    assert first != message_id("evt-1", "MOA", "b@example.fr", "example.org")
    assert first.startswith("<") and first.endswith("@example.org>")


def test_amounts_are_formatted_the_french_way():
    assert montant(Decimal("1234567.5")) == "1\u202f234\u202f567,50"
    assert montant(Decimal("0.1")) == "0,10"


def test_a_signed_out_requester_gets_the_reference_and_the_follow_link():
    from chorus_common.events import TicketSubmitted

    event = TicketSubmitted.model_validate(
        {
            "ticket_id": "t1",
            "reference": "SOL-2026-000042",
            "category": "FACTURATION",
            "status": "SOUMIS",
            "requester_email": "jean@example.fr",
            "recipient": {"kind": "SUPPORT", "name": "Support Chorus Pro"},
            "follow_url": "https://support.example/suivi/secret-token",
        }
    )
    plan = plan_notifications("ticket-submitted", "/services/support-portal", event, PORTAL)
    assert plan.flag is Flag.TICKET_UPDATES and plan.refused is None
    assert [(m.party, m.email) for m in plan.mails] == [(None, "jean@example.fr")]
    subject, body = MailRenderer().render(plan.mails[0].to_address())
    assert "SOL-2026-000042" in subject
    assert "https://support.example/suivi/secret-token" in body


@pytest.mark.parametrize(
    "link",
    [
        "https://phishing.example/suivi/secret-token",
        "https://support.example.evil/suivi/x",  # the portal's host as a prefix of another
        "https://support.example@evil.example/suivi/x",
        "https://support.example",  # the bare host, no path of the portal
        "https://support.example/suivi/x y",
    ],
)
def test_a_ticket_mail_whose_follow_link_leads_elsewhere_is_refused(link: str):
    from chorus_common.events import TicketUpdated

    event = TicketUpdated.model_validate(
        {
            "ticket_id": "t1",
            "reference": "SOL-2026-000042",
            "category": "FACTURATION",
            "status": "EN_COURS",
            "requester_email": "jean@example.fr",
            "recipient": {"kind": "SUPPORT", "name": "Support Chorus Pro"},
            "follow_url": link,
        }
    )
    plan = plan_notifications("ticket-updated", "/services/support-portal", event, PORTAL)
    assert plan.refused == "follow link outside the support portal (https://support.example)"


def test_a_ticket_mail_without_a_follow_link_is_not_refused():
    assert follow_link_refusal(None, PORTAL) is None
    assert follow_link_refusal("https://support.example/suivi/abc", PORTAL + "/") is None


def attachment(sub: str, service: str | None, role: str = "UTILISATEUR", on: bool = True) -> Attachment:
    return Attachment(sub, f"{sub}@example.fr", sub.title(), service, role, on)


USERS = [
    attachment("chef", None, "GESTIONNAIRE_PRINCIPAL", on=False),
    attachment("compta", None),
    attachment("muet", None, on=False),
    attachment("daf", "DAF"),
    attachment("drh", "DRH"),
    attachment("daf", "DRH"),  # the same user attached to two services: mailed once
]


@pytest.mark.parametrize(
    ("service", "mailed"),
    [
        ("DAF", ["chef", "compta", "daf"]),
        (None, ["chef", "compta", "daf", "drh"]),
        ("SG", ["chef", "compta"]),
    ],
)
def test_recipients_are_the_principal_manager_and_the_users_with_notifications_on(
    service: str | None, mailed: list[str]
):
    assert [r.sub for r in recipients(USERS, service)] == mailed


def test_a_structure_without_principal_manager_nor_opted_in_user_has_no_recipient():
    assert recipients([attachment("muet", None, on=False), attachment("x", "DRH")], "DAF") == []


def test_a_ticket_update_mail_says_the_status_in_french_words():
    from chorus_common.events import TicketUpdated

    event = TicketUpdated.model_validate(
        {
            "ticket_id": "t1",
            "reference": "SOL-2026-000042",
            "category": "COMPTE",
            "status": "COMPLEMENT_DEMANDE",
            "requester_email": "jean@example.fr",
            "recipient": {"kind": "SUPPORT", "name": "Support Chorus Pro"},
            "message": "Quel navigateur ?",
        }
    )
    plan = plan_notifications("ticket-updated", "/services/support-portal", event, PORTAL)
    _, body = MailRenderer().render(plan.mails[0].to_address())
    assert "est désormais au statut « Complément demandé »." in body
    assert "COMPLEMENT_DEMANDE" not in body


def test_a_ticket_submitted_mail_names_the_category_as_the_requester_chose_it():
    from chorus_common.events import TicketSubmitted

    event = TicketSubmitted.model_validate(
        {
            "ticket_id": "t1",
            "reference": "SOL-2026-000043",
            "category": "COMPTE",
            "category_label": "Compte et habilitations",
            "status": "SOUMIS",
            "requester_email": "jean@example.fr",
            "recipient": {"kind": "SUPPORT", "name": "Support Chorus Pro"},
        }
    )
    plan = plan_notifications("ticket-submitted", "/services/support-portal", event, PORTAL)
    _, body = MailRenderer().render(plan.mails[0].to_address())
    assert "Votre sollicitation SOL-2026-000043 (Compte et habilitations) a bien été soumise" in body
