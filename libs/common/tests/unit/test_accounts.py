"""The RabbitMQ accounts built from the catalogue: each producer may publish its event types only."""

import base64
import hashlib
import re

import pytest

from chorus_common.events import CATALOGUE, PRODUCERS, EventType, may_publish
from chorus_common.messaging.accounts import (
    SERVICES,
    accounts,
    definitions,
    password_hash,
    user_of,
    with_account,
)


def test_every_event_type_has_producers_and_every_producer_an_account():
    names = {account.name for account in accounts()}
    assert set(PRODUCERS) == set(CATALOGUE)
    assert all(PRODUCERS[event_type] <= names for event_type in CATALOGUE)


@pytest.mark.parametrize("account", accounts(), ids=lambda account: account.name)
def test_an_accounts_topic_permission_lets_it_publish_exactly_its_event_types(account):
    pattern = re.compile(account.topic_write())
    for event_type in EventType:
        assert bool(pattern.fullmatch(event_type)) is may_publish(account.name, event_type), event_type


def test_the_issues_examples():
    assert may_publish("engagements", "engagement-validated") and may_publish(
        "erp-etat", "engagement-validated"
    )
    assert may_publish("edi-depot", "invoice-submitted") and may_publish(
        "received-invoices", "invoice-submitted"
    )
    assert not may_publish("erp-etat", "delegation-routed") and not may_publish(None, "delegation-routed")
    assert [a for a in SERVICES if may_publish(a, "delegation-routed")] == ["received-invoices"]


def test_definitions_hold_every_account_on_every_vhost_with_a_rabbitmq_password_hash():
    passwords = {account.name: f"secret-{account.name}" for account in accounts()}
    document = definitions(["/", "staging"], passwords)
    assert {user["name"] for user in document["users"]} == set(passwords)
    assert len(document["permissions"]) == len(document["topic_permissions"]) == 2 * len(passwords)
    user = next(u for u in document["users"] if u["name"] == "erp-etat")
    raw = base64.b64decode(user["password_hash"])
    salt, digest = raw[:4], raw[4:]
    assert digest == hashlib.sha256(salt + b"secret-erp-etat").digest()
    external = next(p for p in document["permissions"] if p["user"] == "erp-etat")
    assert (external["configure"], external["write"], external["read"]) == (
        "^chorus\\.events$",
        "^chorus\\.events$",
        "^$",
    )


def test_password_hash_is_salted():
    assert password_hash("same") != password_hash("same")
    assert password_hash("same", b"salt") == password_hash("same", b"salt")


def test_an_accounts_url_keeps_the_broker_and_vhost():
    url = with_account("amqp://guest:guest@10.0.0.5:5673/chorus-test", "received-invoices", "p@ss")
    assert url == "amqp://received-invoices:p%40ss@10.0.0.5:5673/chorus-test"
    assert user_of(url) == "received-invoices" and user_of("amqp://host/") == "guest"
