"""The directory (annuaire): structures, their services, the users attached to them, and the rules.

No I/O here. A structure is named on the platform by its identifier (`structure_id`); identifiers are
checked with python-stdnum where a checksum exists. Who may change what in the directory is decided by
`may_manage` and `check_attachment` from the caller's own attachments.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat
from stdnum.fr import siret

from chorus_common.actions import ActionRefused, Refusal

ADMIN_ROLE = "admin"  # the platform's operator: creates public structures, acts on any structure


class IdentifierType(StrEnum):
    """Chorus Pro's `typeIdentifiantStructure` codes."""

    SIRET = "SIRET"
    UE_HORS_FRANCE = "UE_HORS_FRANCE"
    HORS_UE = "HORS_UE"
    RIDET = "RIDET"
    TAHITI = "TAHITI"
    AUTRE = "AUTRE"
    PARTICULIER = "PARTICULIER"


class StructureKind(StrEnum):
    """Chorus Pro's `structurePriveePublique` codes."""

    PUBLIQUE = "PUBLIQUE"
    PRIVEE = "PRIVEE"


class PublicCategory(StrEnum):
    """What kind of public body a `PUBLIQUE` structure is (feature flags target it)."""

    ETAT = "ETAT"
    COLLECTIVITE = "COLLECTIVITE"
    HOSPITALIER = "HOSPITALIER"
    AUTRE = "AUTRE"


class Role(StrEnum):
    """A user's role in a structure (Chorus Pro's user profiles)."""

    GESTIONNAIRE_PRINCIPAL = "GESTIONNAIRE_PRINCIPAL"
    GESTIONNAIRE = "GESTIONNAIRE"
    UTILISATEUR = "UTILISATEUR"


MANAGERS = frozenset({Role.GESTIONNAIRE_PRINCIPAL, Role.GESTIONNAIRE})

# Identifier types with no checksum: a format only (Chorus Pro's own length limits).
_FORMATS = {
    IdentifierType.RIDET: (re.compile(r"^\d{9,10}$"), "a RIDET has 9 or 10 digits"),
    IdentifierType.TAHITI: (re.compile(r"^[A-Z0-9]{9}$"), "a TAHITI number has 9 letters or digits"),
    IdentifierType.HORS_UE: (re.compile(r"^[A-Za-z0-9_.-]{1,80}$"), "letters, digits, '_', '.' or '-'"),
    IdentifierType.AUTRE: (re.compile(r"^[A-Za-z0-9_.-]{1,80}$"), "letters, digits, '_', '.' or '-'"),
    IdentifierType.PARTICULIER: (re.compile(r"^[A-Za-z0-9_.-]{1,80}$"), "letters, digits, '_', '.' or '-'"),
}


def identifier_error(identifier: str, identifier_type: IdentifierType) -> str | None:
    """The rule `identifier` breaks for its type, or None when it is a valid one.

    SIRET: 14 digits, the SIREN's and the establishment's Luhn keys (La Poste's establishments, SIREN
    356000000, use a digit sum that is a multiple of 5 instead; python-stdnum knows it).
    UE_HORS_FRANCE: an intra-EU VAT number of another member state, with its country's checksum.
    """
    if identifier_type is IdentifierType.SIRET:
        try:
            siret.validate(identifier)
        except stdnum_errors.InvalidLength:
            return "a SIRET has 14 digits"
        except stdnum_errors.InvalidFormat:
            return "a SIRET has digits only"
        except stdnum_errors.ValidationError:
            return "the SIRET's check digit is wrong (Luhn key)"
        if siret.compact(identifier) != identifier:
            return "a SIRET is written without spaces"
        return None
    if identifier_type is IdentifierType.UE_HORS_FRANCE:
        return vat_number_error(identifier, foreign=True)
    pattern, rule = _FORMATS[identifier_type]
    return None if pattern.match(identifier) else rule


def vat_number_error(number: str, foreign: bool = False) -> str | None:
    """The rule an intra-EU VAT number breaks, or None (`foreign`: of a member state other than France)."""
    try:
        vat.validate(number)
    except stdnum_errors.ValidationError:
        return "not a valid intra-EU VAT number (country prefix and check digits)"
    if vat.compact(number) != number:
        return "an intra-EU VAT number is written in capitals, without spaces"
    if foreign and number.startswith("FR"):
        return "a French structure is identified by its SIRET"
    return None


@dataclass(frozen=True)
class Parameters:
    """The parameters a client reads on Chorus Pro's `structures/v1/consulter`."""

    service_code_required: bool = False  # codeServiceDoitEtreRenseigne
    engagement_required: bool = False  # numeroEJDoitEtreRenseigne
    engagement_or_service_required: bool = False  # gestionNumeroEJOuCodeService
    moa_only: bool = False  # estMoaUniquement


@dataclass(frozen=True)
class Attachment:
    """A user attached to a structure (service_code None) or to one of its services, in a role."""

    structure_id: str
    service_code: str | None
    role: Role
    notifications: bool  # "Notification Facturation"


def check_new_structure(kind: StructureKind, category: PublicCategory | None, admin: bool) -> None:
    """A private company registers itself; only the platform's operator creates a public structure."""
    if kind is StructureKind.PUBLIQUE and not admin:
        raise ActionRefused(
            "only the platform's operator creates a public structure (or imports it)",
            Refusal.FORBIDDEN,
            slug="public-structure-reserved",
            title="Public structures are created by the operator",
        )
    check_category(kind, category)


def check_category(kind: StructureKind, category: PublicCategory | None) -> None:
    if kind is StructureKind.PUBLIQUE and category is None:
        raise ActionRefused("a public structure needs its public_category", Refusal.INVALID)
    if kind is StructureKind.PRIVEE and category is not None:
        raise ActionRefused("a private structure has no public_category", Refusal.INVALID)


def roles_in(attachments: Iterable[Attachment], structure_id: str) -> set[Role]:
    return {a.role for a in attachments if a.structure_id == structure_id}


def may_manage(attachments: Iterable[Attachment], structure_id: str, admin: bool) -> bool:
    """Managers (principal or not) of the structure, and the operator, change it and attach its users."""
    return admin or bool(roles_in(attachments, structure_id) & MANAGERS)


def check_attachment(
    manager_roles: set[Role],
    admin: bool,
    wanted: Attachment,
    current_principal: str | None,
    user: str,
) -> None:
    """Whether a manager with `manager_roles` in the structure may attach `user` as `wanted`.

    One principal manager per structure; only the principal (or the operator) names one. The
    principal manager's "Notification Facturation" is always on.
    """
    if not admin and not manager_roles & MANAGERS:
        raise ActionRefused(
            "you do not manage this structure", Refusal.FORBIDDEN, slug="not-a-manager", title="Forbidden"
        )
    if wanted.role is Role.GESTIONNAIRE_PRINCIPAL:
        if wanted.service_code is not None:
            raise ActionRefused("the principal manager is attached to the structure itself", Refusal.INVALID)
        if not admin and Role.GESTIONNAIRE_PRINCIPAL not in manager_roles:
            raise ActionRefused(
                "only the principal manager names a principal manager",
                Refusal.FORBIDDEN,
                slug="not-the-principal-manager",
                title="Forbidden",
            )
        if current_principal is not None and current_principal != user:
            raise ActionRefused(
                f"the structure's principal manager is already {current_principal}",
                Refusal.CONFLICT,
                slug="principal-manager-exists",
                title="The structure has a principal manager",
            )
        if not wanted.notifications:
            raise ActionRefused(
                "the principal manager's notifications cannot be turned off",
                Refusal.INVALID,
                slug="principal-manager-notified",
                title="The principal manager is always notified",
            )


def check_detachment(manager_roles: set[Role], admin: bool, detached: Attachment) -> None:
    if not admin and not manager_roles & MANAGERS:
        raise ActionRefused(
            "you do not manage this structure", Refusal.FORBIDDEN, slug="not-a-manager", title="Forbidden"
        )
    if detached.role is Role.GESTIONNAIRE_PRINCIPAL and not admin:
        raise ActionRefused(
            "the principal manager is replaced, not detached (ask the operator)",
            Refusal.CONFLICT,
            slug="principal-manager-stays",
            title="A structure keeps its principal manager",
        )


# Technical accounts: a login and a password (chorus_common.passwords) per system a structure connects
# (an ERP calling the API).


def new_login(cpp_id: int) -> str:
    """Chorus Pro's technical logins name the structure's number: TECH_<idStructureCPP>_<random>."""
    return f"TECH_{cpp_id}_{secrets.token_hex(4).upper()}"
