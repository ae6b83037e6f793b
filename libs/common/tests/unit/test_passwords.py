"""Technical accounts' passwords: stored salted, checked against their hash."""

from chorus_common.passwords import hash_password, new_password, password_matches


def test_a_technical_password_is_stored_salted_and_checked_against_its_hash():
    password = new_password()
    stored = hash_password(password)
    assert password not in stored and stored.startswith("scrypt$16384$8$5$")
    assert hash_password(password) != stored  # a new salt each time
    assert password_matches(password, stored)
    assert not password_matches(password + "x", stored)
    assert not password_matches(password, "not a hash")
