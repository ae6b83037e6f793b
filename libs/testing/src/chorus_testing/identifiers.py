"""Valid structure identifiers for tests, each new: a test's structures never collide with another's."""

from __future__ import annotations

import random

from stdnum import luhn
from stdnum.fr import siret


def new_siret() -> str:
    """A SIRET no other test uses, whose SIREN and establishment keys are right."""
    siren8 = f"{random.randrange(10_000_000, 99_999_999)}"
    if siren8.startswith("356"):  # La Poste's SIREN follows another rule
        siren8 = "4" + siren8[1:]
    siren = siren8 + luhn.calc_check_digit(siren8)
    body = siren + f"{random.randrange(1, 9_999):04d}"
    number = body + luhn.calc_check_digit(body)
    assert siret.is_valid(number)
    return number
