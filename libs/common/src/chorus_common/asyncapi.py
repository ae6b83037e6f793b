"""The AsyncAPI document of a service, generated from its FastStream broker (DESIGN.md §4).

Subscribers take raw messages (the consumer wrapper validates them itself) and the outbox relay
publishes raw bytes, so every payload is filled in here from the event catalogue.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI

from chorus_common.events import CATALOGUE, CLOUDEVENTS_CONTENT_TYPE
from chorus_common.events.catalogue import typed_envelope

SCHEMA_REF = "#/components/schemas/{model}"


def _add_schema(schemas: dict[str, Any], event_type: str) -> dict[str, str]:
    model = typed_envelope(event_type)
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": SCHEMA_REF.format(model=model.__name__)}


def asyncapi_document(broker: RabbitBroker, service: str, title: str, version: str) -> dict[str, Any]:
    specification = AsyncAPI(broker, title=title, version=version, description=f"Events of {service}")
    document: dict[str, Any] = json.loads(specification.to_specification().to_json())
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, message in components.get("messages", {}).items():
        channel = name.split(":")[0]
        event_type = channel.removeprefix(f"{service}.")
        if event_type in CATALOGUE:
            message["payload"] = _add_schema(schemas, event_type)
            message["contentType"] = CLOUDEVENTS_CONTENT_TYPE
    schemas.pop("EmptyPayload", None)
    return document
