import pytest

from chorus_common.text import control_character


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"number": "F\x001"}, ("number", "U+0000")),
        ({"supplier": {"name": "BTP\x1bSA"}}, ("supplier.name", "U+001B")),
        ({"lines": [{"description": "ok"}, {"description": "\x7f"}]}, ("lines.1.description", "U+007F")),
        ({"bad\x00key": "x"}, ("bad\x00key", "U+0000")),
        ({"reason": "ligne 1\nligne 2\tcolonne\r\n"}, None),  # tab, line feed, carriage return pass
        ({"name": "Ministère de la Culture, DAF ✓"}, None),
        ([1, 2.5, None, True], None),
    ],
)
def test_the_first_control_character_is_found_with_its_field(value, found):
    assert control_character(value) == found
