import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chorus_common.events import (
    CATALOGUE,
    EngagementValidated,
    EventType,
    InvalidEvent,
    build_event,
    encode_event,
    parse_event,
)
from chorus_common.events.catalogue import json_schemas

PARTY = {"structure_id": "S1", "name": "Structure", "email": "s1@example.fr"}


def engagement_event(**data_overrides: object) -> dict[str, object]:
    data = {
        "number": "EJ-1",
        "issuer": {**PARTY, "kind": "ETAT"},
        "supplier": {**PARTY, "structure_id": "S2"},
        "total_ht": "100.10",
        "total_ttc": "120.12",
        "currency": "EUR",
        "validated_at": "2026-11-27T10:00:00+01:00",
        **data_overrides,
    }
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/erp/chorus",
        "type": "engagement-validated",
        "time": "2026-11-27T10:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }


def test_a_valid_event_parses_into_its_catalogue_model_with_exact_decimals():
    envelope, data = parse_event(json.dumps(engagement_event()).encode())
    assert envelope.id == "evt-1"
    assert isinstance(data, EngagementValidated)
    assert data.total_ht == Decimal("100.10")


def test_unknown_fields_are_ignored_so_additive_changes_stay_compatible():
    _, data = parse_event(json.dumps(engagement_event(new_field="x")).encode())
    assert isinstance(data, EngagementValidated)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not valid JSON"),
        (b'{"hello": "world"}', "not a CloudEvent"),
        (json.dumps({**engagement_event(), "type": "no-such-event"}).encode(), "unknown event type"),
        (json.dumps(engagement_event(total_ht="abc")).encode(), "invalid data: data.total_ht"),
        (json.dumps(engagement_event(currency="euros")).encode(), "invalid data: data.currency"),
        (json.dumps({**engagement_event(), "specversion": "0.3"}).encode(), "not a CloudEvent"),
    ],
)
def test_invalid_messages_are_refused_with_a_reason(body: bytes, reason: str):
    with pytest.raises(InvalidEvent) as refused:
        parse_event(body)
    assert reason in refused.value.reason


def test_built_events_carry_money_as_strings_and_round_trip():
    _, data = parse_event(json.dumps(engagement_event()).encode())
    event = build_event(EventType.ENGAGEMENT_VALIDATED, "/services/engagements", data, datetime.now(UTC))
    document = json.loads(encode_event(event))
    assert document["data"]["total_ht"] == "100.10"
    assert document["specversion"] == "1.0"
    assert parse_event(encode_event(event))[1] == data


def test_every_event_type_of_the_contract_has_a_schema():
    assert set(CATALOGUE) == {t.value for t in EventType}
    schemas = json_schemas()
    assert set(schemas) == set(CATALOGUE)
    assert "days_overdue" in schemas["deadline-exceeded"]["properties"]
