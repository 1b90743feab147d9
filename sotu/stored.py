"""Values the collector reads back from flatdb, which anything else could have written."""

from __future__ import annotations

import json
from typing import Any


def json_object(raw: str) -> dict[str, Any] | None:
    """`raw` as the JSON object the collector writes, or None for anything else (not
    JSON, or JSON but not an object): a value it cannot read is one it replaces."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
