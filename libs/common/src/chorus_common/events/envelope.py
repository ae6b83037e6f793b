"""The CloudEvents 1.0 structured-mode envelope carried on the bus."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode document; `data` is validated by the catalogue."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500)
    type: str = Field(min_length=1, max_length=200)
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    subject: str | None = None
    data: dict[str, Any]


def build_event(
    event_type: str,
    source: str,
    data: BaseModel,
    time: datetime,
    subject: str | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    """A new envelope around `data`, serialised the way the contract says (decimals as strings)."""
    return CloudEvent(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        time=time,
        subject=subject,
        data=data.model_dump(mode="json"),
    )


def encode_event(event: CloudEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()
