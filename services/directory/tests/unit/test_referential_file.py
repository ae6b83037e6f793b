"""Reading a referential file of structures: columns by header, a bad line named by its number."""

import pytest

from directory.domain import IdentifierType, PublicCategory, StructureKind
from directory.jobs import read_structures

HEADER = "identifier;identifier_type;name;kind;public_category;email;engagement_required\n"


def test_lines_become_structures_with_their_line_numbers():
    text = (
        HEADER
        + "11004601800013;SIRET;Ministère de la Culture;PUBLIQUE;ETAT;daf@example.fr;oui\n"
        + "21690123100011;SIRET;Ville de Lyon;PUBLIQUE;COLLECTIVITE;;0\n"
    )
    (line2, culture), (line3, lyon) = read_structures(text)
    assert (line2, line3) == (2, 3)
    assert culture.kind is StructureKind.PUBLIQUE and culture.public_category is PublicCategory.ETAT
    assert culture.identifier_type is IdentifierType.SIRET and culture.parameters.engagement_required
    assert lyon.email is None and not lyon.parameters.engagement_required


def test_commas_are_separators_too():
    [(_, structure)] = read_structures(
        "identifier,identifier_type,name,kind\n90000001900019,SIRET,BTP SA,PRIVEE\n"
    )
    assert structure.name == "BTP SA" and structure.public_category is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "11004601800013;SIRET;Culture;PUBLIQUE;ETAT;daf@example.fr;peut-être\n",
            "line 3: engagement_required",
        ),
        ("11004601800013;SIRET;Culture;PUBLIC;ETAT;daf@example.fr;0\n", "line 3: kind"),
        ("11004601800013;SIRET;Culture;PUBLIQUE\n", "line 3: 7 columns expected"),
    ],
)
def test_a_bad_line_is_named(line: str, expected: str):
    good = "21690123100011;SIRET;Ville de Lyon;PUBLIQUE;COLLECTIVITE;;0\n"
    with pytest.raises(ValueError, match=expected):
        read_structures(HEADER + good + line)


def test_an_unknown_column_is_refused():
    with pytest.raises(ValueError, match="unknown columns"):
        read_structures("identifier;identifier_type;name;kind;siren\n")
