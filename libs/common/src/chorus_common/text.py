"""Text a client may send: no control characters (tab, line feed and carriage return aside).

JSON lets them through as escapes, and pydantic after it; PostgreSQL refuses NUL, and the others have
no business in a name or a reason. Request bodies and events are checked here, before any model, so
that the refusal names the field (a 422 on HTTP, a dead letter with the reason on the bus).
"""

from __future__ import annotations

import re
from typing import Any

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character(value: Any, path: str = "") -> tuple[str, str] | None:
    """The dotted path of the first string in `value` holding a control character, and the character
    (written `U+` and its four hex digits, as `U+0000`); None when there is none. Keys are checked as
    well as values."""
    if isinstance(value, str):
        found = CONTROL.search(value)
        return (path, f"U+{ord(found.group()):04X}") if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            hit = control_character(key, where) if isinstance(key, str) else None
            if hit is None:
                hit = control_character(item, where)
            if hit is not None:
                return hit
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            hit = control_character(item, f"{path}.{index}" if path else str(index))
            if hit is not None:
                return hit
    return None
