"""What the gateway answers as Chorus Pro does: its return codes, its referentials, its dates."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

import pycountry

from chorus_common.clock import PARIS

# Chorus Pro's answer to a call that worked.
SUCCESS_CODE, SUCCESS_LABEL = 0, "GCU_MSG_01_000"


@dataclass(frozen=True)
class Refusal:
    """A call refused: its HTTP status, and Chorus Pro's `codeRetour` and `libelle`."""

    status: int
    code: int
    label: str


# The gateway's return codes beside 0 (the README's table lists them with what a client does).
INVALID_REQUEST = 20001  # a field missing, of the wrong type, or beyond its bounds
NOT_FOUND = 20002  # no such object, or not one the technical account's structure may see
REFUSED = 20003  # the owning service refused the action: not the structure's to take, or not now
UNAUTHENTICATED = 20005  # no valid access token
INVALID_ACCOUNT = 20006  # no valid `cpro-account` header, or an account of another structure
UNAVAILABLE = 20007  # the service owning the invoice did not answer; the action may be tried again


class CproError(Exception):
    def __init__(self, status: int, code: int, label: str) -> None:
        super().__init__(label)
        self.refusal = Refusal(status, code, label)


def invalid(label: str) -> CproError:
    return CproError(400, INVALID_REQUEST, label)


def not_found(label: str) -> CproError:
    return CproError(400, NOT_FOUND, label)


def cpro_date(value: date | datetime | None) -> str | None:
    """Chorus Pro's dates: `YYYY-MM-DD` (an instant as its Paris day)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return value.isoformat()


def cpro_instant(value: datetime) -> str:
    """Instants of consulterCR and of the searches' `dateHeureEtatCourant`: ISO 8601 with the Paris
    offset (clients parse them as RFC 3339)."""
    return value.astimezone(PARIS).isoformat(timespec="milliseconds")


def cpro_datetime(value: datetime | None) -> str | None:
    """Chorus Pro's instants: `YYYY-MM-DD HH:MM`, Paris time."""
    return value.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") if value is not None else None


@cache
def currencies(language: str) -> list[tuple[str, str]]:
    """(ISO 4217 code, name) of every current currency, named in `language` (FR or EN) by pycountry's
    translations, in code order."""
    translation = gettext.translation(
        "iso4217",
        pycountry.LOCALES_DIR,
        languages=["fr"] if language.upper() == "FR" else ["en"],
        fallback=True,
    )
    return sorted((c.alpha_3, translation.gettext(c.name)) for c in pycountry.currencies)


# The structures' identifier types Chorus Pro knows (typeIdentifiantStructure).
IDENTIFIER_TYPES = ("SIRET", "UE_HORS_FRANCE", "HORS_UE", "RIDET", "TAHITI", "AUTRE", "PARTICULIER")


# Chorus Pro's kinds of works invoice (typeFactureTravaux): what the works frames A4 to A25 deposit,
# each frame named after its kind (A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR).
WORKS_INVOICE_TYPES = (
    "PROJET_DECOMPTE_MENSUEL",
    "ETAT_ACOMPTE",
    "ETAT_ACOMPTE_VALIDE",
    "PROJET_DECOMPTE_FINAL",
    "PROJET_DECOMPTE_GENERAL",
    "DECOMPTE_GENERAL",
    "DECOMPTE_GENERAL_DEFINITIF",
    "DECOMPTE_GENERAL_DEFINITIF_TACITE",
)


def works_invoice_type(frame_name: str) -> str | None:
    """The kind of works invoice a frame deposits: the longest of WORKS_INVOICE_TYPES its name holds."""
    held = [kind for kind in WORKS_INVOICE_TYPES if f"_{kind}_" in f"{frame_name}_"]
    return max(held, key=len) if held else None


@dataclass(frozen=True)
class RefusalReason:
    id: int
    code: str
    label: str


# Why a delegated validator refuses an invoice it was given to validate (traiter/factureAValider's
# REFUS): the platform's list, the same for every billing frame. Its code or label goes in motifRefus.
VALIDATION_REFUSALS = (
    RefusalReason(1, "MONTANT_ERRONE", "Montant de la facture erroné"),
    RefusalReason(2, "PRESTATION_NON_CONFORME", "Prestation non réalisée ou non conforme à la commande"),
    RefusalReason(3, "ENGAGEMENT_ERRONE", "Numéro d'engagement absent ou erroné"),
    RefusalReason(4, "DESTINATAIRE_ERRONE", "Structure ou service destinataire erroné"),
    RefusalReason(5, "DOUBLON", "Facture déjà reçue"),
    RefusalReason(6, "AUTRE", "Autre motif, précisé en commentaire"),
)
