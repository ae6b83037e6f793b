import pytest
from pydantic import ValidationError

from chorus_common.events import InvoiceSubmitted
from chorus_common.frames import FRAMES, frame, frames_out, long_code, short_code


def test_all_twenty_five_frames_of_chorus_pro_under_both_names():
    assert list(FRAMES) == [f"A{n}" for n in range(1, 26)]
    assert short_code("A1_FACTURE_FOURNISSEUR") == short_code("A1") == "A1"
    assert long_code("A4") == "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR"
    assert long_code("A11") == "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT"
    assert frame("A25_DECOMPTE_GENERAL_DEFINITIF_MOE_PROCEDURE_TACITE").depositor == "MOA"


@pytest.mark.parametrize("value", ["A0", "A99", "A26", "a1", "A1_FACTURE", ""])
def test_a_frame_that_does_not_exist_is_refused_with_its_name(value):
    with pytest.raises(ValueError, match="unknown billing frame"):
        frame(value)


def test_works_frames_and_the_others_are_listed_apart():
    works = [f.code for f in frames_out(works=True)]
    others = [f.code for f in frames_out(works=False)]
    assert others == ["A1", "A2", "A3", "A9", "A12", "A21"]
    assert set(works) | set(others) == set(FRAMES) and not set(works) & set(others)


def invoice(billing_frame: str) -> dict[str, object]:
    return {
        "external_id": "E1",
        "number": "F1",
        "billing_frame": billing_frame,
        "supplier": {"structure_id": "S", "name": "S"},
        "recipient": {"structure_id": "R", "name": "R"},
        "amount_ht": "1.00",
        "vat_amount": "0.20",
        "amount_ttc": "1.20",
        "currency": "EUR",
        "issue_date": "2026-11-20",
    }


def test_an_event_names_its_frame_in_either_form_and_keeps_the_short_one():
    assert InvoiceSubmitted.model_validate(invoice("A1_FACTURE_FOURNISSEUR")).billing_frame == "A1"
    assert InvoiceSubmitted.model_validate(invoice("A9")).billing_frame == "A9"
    with pytest.raises(ValidationError, match="unknown billing frame 'A99'"):
        InvoiceSubmitted.model_validate(invoice("A99"))
