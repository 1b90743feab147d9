"""Reading what a client sends: JSON bodies, and the limits on keys and values.

The limits come from the app config (app.py sets the defaults):
MAX_CONTENT_LENGTH for a whole request body (Werkzeug raises 413 while reading it),
MAX_VALUE_BYTES and MAX_KEY_BYTES for each stored value and key, counted in bytes after
decoding, so base64 does not eat into them.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request

from flatdb.errors import ApiError


def read_json() -> Any:
    """The request body parsed as JSON, whatever its Content-Type; 400 when it is not."""
    data = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    if not data.strip():
        raise ApiError(400, "malformed_json", "the request body is empty; JSON expected")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    except ValueError:  # an integer past Python's 4300-digit limit
        raise ApiError(400, "malformed_json", "the body holds a number too long to read") from None
    except RecursionError:  # "[[[[...]]]]" nested past the parser's depth
        raise ApiError(400, "malformed_json", "the body nests too deeply") from None


def check_key(key: bytes, what: str = "key") -> bytes:
    if not key:
        raise ApiError(400, "empty_key", f"{what}: keys cannot be empty")
    limit = current_app.config["MAX_KEY_BYTES"]
    if len(key) > limit:
        raise ApiError(413, "key_too_large", f"{what}: keys are limited to {limit} bytes")
    return key


def check_value(value: bytes, what: str = "value") -> bytes:
    limit = current_app.config["MAX_VALUE_BYTES"]
    if len(value) > limit:
        raise ApiError(413, "value_too_large", f"{what}: values are limited to {limit} bytes")
    return value
