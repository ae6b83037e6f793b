"""Chorus Pro's billing frames (cadres de facturation), under both the names they travel by.

Chorus Pro's API and EDI channels name a frame by its long code (`codeCadreFacturation`,
`A1_FACTURE_FOURNISSEUR`); its screens, and this platform's documents, by the short one (`A1`). Both
are accepted on HTTP and on the bus, and normalised to the short one; events publish the long code
beside it. A frame that does not exist (`A0`, `A99`) is refused, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field

from chorus_common.auth import CurrentPrincipal

Depositor = Literal["FOURNISSEUR", "SOUS_TRAITANT", "COTRAITANT", "MOE", "MOA", "BENEFICIAIRE"]


@dataclass(frozen=True)
class Frame:
    code: str  # the short form, "A1"
    name: str  # Chorus Pro's codeCadreFacturation, "A1_FACTURE_FOURNISSEUR"
    label: str  # what Chorus Pro's screens say
    depositor: Depositor  # who deposits a document of this frame
    works: bool  # a works (travaux) frame, handled by invoicing-works with its MOE and MOA


_FRAMES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("A1", "A1_FACTURE_FOURNISSEUR", "Dépôt par un fournisseur d'une facture", "FOURNISSEUR", False),
    (
        "A2",
        "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
        "Dépôt par un fournisseur d'une facture déjà payée",
        "FOURNISSEUR",
        False,
    ),
    (
        "A3",
        "A3_MEMOIRE_JUSTICE",
        "Dépôt par un fournisseur d'un mémoire de frais de justice",
        "FOURNISSEUR",
        False,
    ),
    (
        "A4",
        "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
        "Dépôt par un fournisseur d'un projet de décompte mensuel",
        "FOURNISSEUR",
        True,
    ),
    (
        "A5",
        "A5_ETAT_ACOMPTE_FOURNISSEUR",
        "Dépôt par un fournisseur d'un état d'acompte",
        "FOURNISSEUR",
        True,
    ),
    (
        "A6",
        "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR",
        "Dépôt par un fournisseur d'un état d'acompte validé",
        "FOURNISSEUR",
        True,
    ),
    (
        "A7",
        "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
        "Dépôt par un fournisseur d'un projet de décompte final",
        "FOURNISSEUR",
        True,
    ),
    (
        "A8",
        "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR",
        "Dépôt par un fournisseur d'un décompte général et définitif",
        "FOURNISSEUR",
        True,
    ),
    ("A9", "A9_FACTURE_SOUSTRAITANT", "Dépôt par un sous-traitant d'une facture", "SOUS_TRAITANT", False),
    (
        "A10",
        "A10_PROJET_DECOMPTE_MENSUEL_SOUSTRAITANT",
        "Dépôt par un sous-traitant d'un projet de décompte mensuel",
        "SOUS_TRAITANT",
        True,
    ),
    (
        "A11",
        "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT",
        "Dépôt par un sous-traitant d'un projet de décompte final",
        "SOUS_TRAITANT",
        True,
    ),
    ("A12", "A12_FACTURE_COTRAITANT", "Dépôt par un cotraitant d'une facture", "COTRAITANT", False),
    (
        "A13",
        "A13_PROJET_DECOMPTE_MENSUEL_COTRAITANT",
        "Dépôt par un cotraitant d'un projet de décompte mensuel",
        "COTRAITANT",
        True,
    ),
    (
        "A14",
        "A14_PROJET_DECOMPTE_FINAL_COTRAITANT",
        "Dépôt par un cotraitant d'un projet de décompte final",
        "COTRAITANT",
        True,
    ),
    ("A15", "A15_ETAT_ACOMPTE_MOE", "Dépôt par une maîtrise d'œuvre d'un état d'acompte", "MOE", True),
    (
        "A16",
        "A16_ETAT_ACOMPTE_VALIDE_MOE",
        "Dépôt par une maîtrise d'œuvre d'un état d'acompte validé",
        "MOE",
        True,
    ),
    (
        "A17",
        "A17_PROJET_DECOMPTE_GENERAL_MOE",
        "Dépôt par une maîtrise d'œuvre d'un projet de décompte général",
        "MOE",
        True,
    ),
    ("A18", "A18_DECOMPTE_GENERAL_MOE", "Dépôt par une maîtrise d'œuvre d'un décompte général", "MOE", True),
    (
        "A19",
        "A19_ETAT_ACOMPTE_VALIDE_MOA",
        "Dépôt par une maîtrise d'ouvrage d'un état d'acompte validé",
        "MOA",
        True,
    ),
    (
        "A20",
        "A20_DECOMPTE_GENERAL_MOA",
        "Dépôt par une maîtrise d'ouvrage d'un décompte général",
        "MOA",
        True,
    ),
    (
        "A21",
        "A21_DEMANDE_REMBOURSEMENT_TIC",
        "Dépôt par un bénéficiaire d'une demande de remboursement de la TIC",
        "BENEFICIAIRE",
        False,
    ),
    (
        "A22",
        "A22_PROJET_DECOMPTE_GENERAL_FOURNISSEUR_PROCEDURE_TACITE",
        "Dépôt par un fournisseur d'un projet de décompte général dans le cadre d'une procédure tacite",
        "FOURNISSEUR",
        True,
    ),
    (
        "A23",
        "A23_DECOMPTE_GENERAL_DEFINITIF_TACITE_FOURNISSEUR",
        "Dépôt par un fournisseur d'un décompte général et définitif tacite",
        "FOURNISSEUR",
        True,
    ),
    (
        "A24",
        "A24_DECOMPTE_GENERAL_DEFINITIF_TACITE_MOE",
        "Dépôt par une maîtrise d'œuvre d'un décompte général et définitif tacite",
        "MOE",
        True,
    ),
    (
        "A25",
        "A25_DECOMPTE_GENERAL_DEFINITIF_MOE_PROCEDURE_TACITE",
        "Dépôt par une maîtrise d'ouvrage d'un décompte général et définitif dans le cadre d'une "
        "procédure tacite",
        "MOA",
        True,
    ),
)

FRAMES: dict[str, Frame] = {row[0]: Frame(*row) for row in _FRAMES}  # type: ignore[arg-type]
_BY_NAME = {frame.name: frame for frame in FRAMES.values()}


def frame(value: str) -> Frame:
    """The frame named `value`, in either form (ValueError, saying so, for one that does not exist)."""
    found = FRAMES.get(value) or _BY_NAME.get(value)
    if found is None:
        raise ValueError(f"unknown billing frame {value!r}: Chorus Pro's frames are A1 to A25")
    return found


def short_code(value: str) -> str:
    return frame(value).code


def long_code(value: str) -> str:
    return frame(value).name


# A billing frame in a request or an event: either form accepted, the short one kept.
FrameCode = Annotated[
    str, Field(max_length=60, examples=["A1", "A1_FACTURE_FOURNISSEUR"]), AfterValidator(short_code)
]


class FrameOut(BaseModel):
    """A frame as `GET /billing-frames` lists it."""

    code: str
    name: str
    label: str
    depositor: Depositor


def frames_out(works: bool) -> list[FrameOut]:
    """The frames of works invoices, or the others, in Chorus Pro's order."""
    return [
        FrameOut(code=f.code, name=f.name, label=f.label, depositor=f.depositor)
        for f in FRAMES.values()
        if f.works is works
    ]


def billing_frames_router(works: bool) -> APIRouter:
    """`GET /billing-frames`: the frames a service handles, with their codes and labels, for any
    signed-in caller (Chorus Pro's referential, read before a deposit)."""
    router = APIRouter(tags=["billing frames"])

    @router.get(
        "/billing-frames",
        response_model=list[FrameOut],
        summary="The billing frames this service handles, in both forms, with their labels",
    )
    async def billing_frames(caller: CurrentPrincipal) -> list[FrameOut]:
        del caller  # signed in, whoever it is
        return frames_out(works)

    return router
