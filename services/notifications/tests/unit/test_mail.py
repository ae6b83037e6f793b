from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from notifications.domain import PlannedMail
from notifications.mail import compose_message
from notifications.settings import NotificationsSettings

BODY = (
    "Bonjour,\n\nLa facture n° F-1 d'un montant de 1\u202f500,00 EUR vous a été soumise.\n.\nCordialement,\n"
)


def composed(subject: str, to_name: str) -> EmailMessage:
    mail = PlannedMail("DELEGATE", "delegue@example.fr", to_name, "delegation_routed", {})
    raw = compose_message(
        NotificationsSettings(mail_from="Chorus Pro Envoi à la Régie <ne-pas-repondre@chorus-pro.local>"),
        mail,
        subject,
        BODY,
        "<abc@chorus-pro.local>",
        "event-1",
        datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
    )
    assert all(len(line) <= 78 for line in raw.split(b"\r\n")), "lines within RFC 5322's 78"
    message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_composed_mail_reads_back_as_written():
    subject = "Facture n° F-1 à valider par délégation de l'Hôpital Édouard-Herriot de Lyon, service achats"
    message = composed(subject, "Délégué Dupont")
    assert message["Subject"] == subject
    assert message["To"].addresses[0].display_name == "Délégué Dupont"
    assert message["To"].addresses[0].addr_spec == "delegue@example.fr"
    assert message["From"].addresses[0].display_name == "Chorus Pro Envoi à la Régie"
    assert message["Message-ID"] == "<abc@chorus-pro.local>"
    assert message["X-Chorus-Event-Id"] == "event-1"
    assert message["X-Chorus-Recipient-Role"] == "DELEGATE"
    assert message["Date"].datetime == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    body = message.get_body()
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == BODY


def test_a_line_break_in_a_name_or_subject_cannot_add_a_header():
    message = composed("Objet\r\nBcc: victim@example.fr", "Nom\nBcc: victim@example.fr")
    assert message["Bcc"] is None
    assert message["Subject"] == "Objet Bcc: victim@example.fr"
