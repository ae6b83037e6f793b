"""The directory's rules: identifiers, who may attach whom, the principal manager."""

import pytest

from chorus_common.actions import ActionRefused, Refusal
from directory.domain import (
    Attachment,
    IdentifierType,
    PublicCategory,
    Role,
    StructureKind,
    check_attachment,
    check_detachment,
    check_new_structure,
    identifier_error,
    may_manage,
    new_login,
)
from directory.jobs import SEED_STRUCTURES


@pytest.mark.parametrize(
    "siret",
    [
        "35600000000048",  # La Poste: the digit sum is a multiple of 5, the Luhn key is not right
        "35600000049837",
        "11004601800013",
        "73282932000074",
    ],
)
def test_valid_sirets_are_accepted_la_poste_included(siret: str):
    assert identifier_error(siret, IdentifierType.SIRET) is None


@pytest.mark.parametrize(
    ("siret", "rule"),
    [
        ("35600000000049", "check digit"),
        ("11004601800014", "check digit"),
        ("1100460180001", "14 digits"),
        ("1100460180001A", "digits only"),
    ],
)
def test_a_siret_breaking_a_rule_is_refused_with_that_rule(siret: str, rule: str):
    error = identifier_error(siret, IdentifierType.SIRET)
    assert error is not None and rule in error


def test_readme_and_seed_identifiers_are_valid_ones():
    for identifier, *_ in SEED_STRUCTURES:
        assert identifier_error(identifier, IdentifierType.SIRET) is None, identifier


def test_a_foreign_eu_structure_is_identified_by_its_vat_number_with_its_checksum():
    assert identifier_error("BE0411905847", IdentifierType.UE_HORS_FRANCE) is None
    assert identifier_error("DE136695976", IdentifierType.UE_HORS_FRANCE) is None
    bad = identifier_error("DE136695977", IdentifierType.UE_HORS_FRANCE)
    assert bad is not None and "check digits" in bad
    french = identifier_error("FR40303265045", IdentifierType.UE_HORS_FRANCE)
    assert french is not None and "SIRET" in french


def test_identifiers_without_a_checksum_have_a_format():
    assert identifier_error("1234567001", IdentifierType.RIDET) is None
    assert identifier_error("12-34", IdentifierType.RIDET) is not None
    assert identifier_error("A12345001", IdentifierType.TAHITI) is None
    assert identifier_error("US-EIN-12-3456789", IdentifierType.HORS_UE) is None
    assert identifier_error("with space", IdentifierType.AUTRE) is not None


def test_only_the_operator_creates_a_public_structure():
    check_new_structure(StructureKind.PRIVEE, None, admin=False)
    check_new_structure(StructureKind.PUBLIQUE, PublicCategory.ETAT, admin=True)
    with pytest.raises(ActionRefused) as refused:
        check_new_structure(StructureKind.PUBLIQUE, PublicCategory.ETAT, admin=False)
    assert refused.value.refusal is Refusal.FORBIDDEN
    with pytest.raises(ActionRefused):
        check_new_structure(StructureKind.PUBLIQUE, None, admin=True)
    with pytest.raises(ActionRefused):
        check_new_structure(StructureKind.PRIVEE, PublicCategory.ETAT, admin=False)


MINE = [Attachment("S1", None, Role.GESTIONNAIRE, True), Attachment("S2", "DAF", Role.UTILISATEUR, True)]


def test_managers_manage_their_own_structure_only():
    assert may_manage(MINE, "S1", admin=False)
    assert not may_manage(MINE, "S2", admin=False)  # a user, not a manager
    assert not may_manage(MINE, "S3", admin=False)
    assert may_manage(MINE, "S3", admin=True)


def user(role: Role = Role.UTILISATEUR, notifications: bool = True, service: str | None = None) -> Attachment:
    return Attachment("S1", service, role, notifications)


def test_a_manager_attaches_users_and_a_user_attaches_no_one():
    check_attachment({Role.GESTIONNAIRE}, False, user(), None, "bob")
    with pytest.raises(ActionRefused) as refused:
        check_attachment({Role.UTILISATEUR}, False, user(), None, "bob")
    assert refused.value.refusal is Refusal.FORBIDDEN


def test_one_principal_manager_named_by_the_principal_and_always_notified():
    principal = user(Role.GESTIONNAIRE_PRINCIPAL)
    check_attachment({Role.GESTIONNAIRE_PRINCIPAL}, False, principal, "ann", "ann")
    check_attachment(set(), True, principal, None, "ann")
    with pytest.raises(ActionRefused) as refused:
        check_attachment({Role.GESTIONNAIRE}, False, principal, None, "bob")
    assert refused.value.refusal is Refusal.FORBIDDEN
    with pytest.raises(ActionRefused) as refused:
        check_attachment({Role.GESTIONNAIRE_PRINCIPAL}, False, principal, "ann", "bob")
    assert refused.value.refusal is Refusal.CONFLICT
    with pytest.raises(ActionRefused) as refused:
        check_attachment(set(), True, user(Role.GESTIONNAIRE_PRINCIPAL, notifications=False), None, "ann")
    assert refused.value.slug == "principal-manager-notified"
    with pytest.raises(ActionRefused):
        check_attachment(set(), True, user(Role.GESTIONNAIRE_PRINCIPAL, service="DAF"), None, "ann")


def test_other_users_may_turn_their_notifications_off():
    check_attachment({Role.GESTIONNAIRE}, False, user(notifications=False), None, "bob")
    check_attachment({Role.GESTIONNAIRE}, False, user(Role.GESTIONNAIRE, notifications=False), None, "bob")


def test_the_principal_manager_is_not_detached_but_by_the_operator():
    check_detachment({Role.GESTIONNAIRE}, False, user())
    with pytest.raises(ActionRefused) as refused:
        check_detachment({Role.GESTIONNAIRE_PRINCIPAL}, False, user(Role.GESTIONNAIRE_PRINCIPAL))
    assert refused.value.refusal is Refusal.CONFLICT
    check_detachment(set(), True, user(Role.GESTIONNAIRE_PRINCIPAL))
    with pytest.raises(ActionRefused):
        check_detachment({Role.UTILISATEUR}, False, user())


def test_a_technical_login_names_the_structures_number():
    assert new_login(25000001).startswith("TECH_25000001_")
