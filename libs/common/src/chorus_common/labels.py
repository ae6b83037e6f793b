"""What the platform's codes read as in French, wherever a person reads them (pages, e-mails)."""

from __future__ import annotations

# A support ticket's status (`sollicitation`), as the portal's pages and the requester's mails say it.
TICKET_STATUS_LABELS = {
    "BROUILLON": "Brouillon",
    "SOUMIS": "Soumise",
    "EN_COURS": "En cours de traitement",
    "COMPLEMENT_DEMANDE": "Complément demandé",
    "COMPLEMENT_APPORTE": "Complément apporté",
    "SOLUTION_PROPOSEE": "Solution proposée",
    "RENVOYE": "Renvoyée",
    "CLOTURE": "Clôturée",
}


def ticket_status_label(code: str) -> str:
    """The French words for a ticket's status (the code itself for one this table does not know)."""
    return TICKET_STATUS_LABELS.get(code, code)
