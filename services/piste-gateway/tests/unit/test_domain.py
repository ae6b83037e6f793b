"""Chorus Pro's forms: the cpro-account header, dates, currencies."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest

from chorus_common.frames import FRAMES
from piste_gateway.access import _account
from piste_gateway.domain import (
    WORKS_INVOICE_TYPES,
    CproError,
    cpro_date,
    cpro_datetime,
    currencies,
    works_invoice_type,
)


def test_the_cpro_account_header_is_base64_of_login_and_password():
    assert _account(base64.b64encode(b"TECH_1_AB:pa:ss").decode()) == ("TECH_1_AB", "pa:ss")
    for bad in (
        None,
        "",
        "%%%",
        base64.b64encode(b"no-colon").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
    ):
        with pytest.raises(CproError) as refused:
            _account(bad)
        assert refused.value.refusal.code == 20006


def test_dates_are_paris_days_and_minutes():
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already 2027 in Paris
    assert cpro_date(late) == "2027-01-01" and cpro_date(date(2026, 3, 1)) == "2026-03-01"
    assert cpro_datetime(late) == "2027-01-01 00:30" and cpro_date(None) is None


def test_currencies_are_named_in_the_language_asked():
    assert dict(currencies("FR"))["USD"] == "Dollar américain"
    assert dict(currencies("EN"))["USD"] == "US Dollar"


def test_each_works_frame_deposits_one_of_chorus_pros_kinds_of_works_invoice():
    works = [f.name for f in FRAMES.values() if f.works]
    kinds = {name: works_invoice_type(name) for name in works}
    assert None not in kinds.values(), kinds
    assert set(kinds.values()) == set(WORKS_INVOICE_TYPES)
    # The longest kind the name holds: a final general statement is not a general statement.
    assert kinds["A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR"] == "DECOMPTE_GENERAL_DEFINITIF"
    assert kinds["A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR"] == "ETAT_ACOMPTE_VALIDE"
    assert works_invoice_type("A1_FACTURE_FOURNISSEUR") is None
