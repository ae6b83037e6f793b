"""Event documents written by PostgreSQL itself, for set-based writers: one statement, many events.

The SQL is generated from the catalogue's models, so that a bulk writer (the deadline sweep) cannot
drift from the contract: every required field must be given, no unknown one may be, and each value is
formatted as `model_dump(mode="json")` formats it (RFC 3339 UTC instants, ISO dates, decimals as strings).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel

from chorus_common.events.envelope import CloudEvent


def _plain(annotation: Any) -> Any:
    """`X` of `X | None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = [arg for arg in get_args(annotation) if arg is not type(None)]
    return annotation


def _formatted(annotation: Any, expression: str) -> str:
    kind = _plain(annotation)
    if kind is AwareDatetime or (isinstance(kind, type) and issubclass(kind, datetime)):
        # Pydantic writes an instant in UTC with "Z", and its microseconds only when there are some.
        utc = f"(({expression}) AT TIME ZONE 'UTC')"
        return (
            f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS')"""
            f" || CASE WHEN extract(microseconds FROM {utc})::bigint % 1000000 = 0 THEN ''"
            f" ELSE to_char({utc}, '.US') END || 'Z'"
        )
    if isinstance(kind, type) and issubclass(kind, date):
        return f"to_char({expression}, 'YYYY-MM-DD')"
    if isinstance(kind, type) and issubclass(kind, Decimal):
        return f"({expression})::text"
    return expression


def json_object_sql(model: type[BaseModel], values: Mapping[str, str]) -> str:
    """A `json_build_object(...)` expression making a document of `model` from SQL `values`, by field."""
    fields = model.model_fields
    missing = sorted(name for name, field in fields.items() if field.is_required() and name not in values)
    unknown = sorted(set(values) - set(fields))
    if missing or unknown:
        raise ValueError(f"{model.__name__} document: missing {missing}, unknown {unknown}")
    pairs = (
        f"'{name}', {_formatted(fields[name].annotation, values[name])}" for name in fields if name in values
    )
    return "json_build_object(" + ", ".join(pairs) + ")"


def cloudevent_sql(
    *, id: str, source: str, type: str, time: str, data: str, subject: str | None = None
) -> str:
    """A `json_build_object(...)` expression making a CloudEvents envelope around the `data` expression."""
    values = {
        "specversion": "'1.0'",
        "id": id,
        "source": source,
        "type": type,
        "time": time,
        "datacontenttype": "'application/json'",
        "data": data,
    }
    if subject is not None:
        values["subject"] = subject
    return json_object_sql(CloudEvent, values)
