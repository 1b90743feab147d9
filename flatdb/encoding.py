"""How keys and values travel between bytes in LevelDB and text in HTTP.

LevelDB stores bytes; JSON and URLs carry text. One rule per request, chosen with the
query parameter `encoding`:

- `utf-8` (the default): a key or value is its UTF-8 text. Input that is not valid
  UTF-8 is refused (400), never silently replaced with U+FFFD.
- `base64`: a key or value is base64 of its bytes, RFC 4648 URL-safe alphabet
  (`-` and `_`), so a key fits in a URL path as it is. Input may use either alphabet
  and may leave out the `=` padding; output is URL-safe and padded.

Whatever the request's encoding, a JSON item may give `key_b64` / `value_b64` (always
base64) instead of `key` / `value`. Output in `utf-8` mode uses those fields for stored
bytes that are not UTF-8, so a range scan never fails half way and every item the server
sends can be sent back as it is.

URL paths and query strings are read from the raw WSGI environ (latin-1 strings of the
bytes on the wire) rather than from Werkzeug's decoded values, which replace invalid
UTF-8 without telling anyone.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

from flask import request

from flatdb.errors import ApiError

UTF8 = "utf-8"
BASE64 = "base64"
_NAMES = {"utf-8": UTF8, "utf8": UTF8, "base64": BASE64}
# Map the standard alphabet onto the URL-safe one so one strict decoder takes both.
_TO_URLSAFE = str.maketrans("+/", "-_")


def request_encoding() -> str:
    """The encoding this request asked for with `?encoding=`, utf-8 when absent."""
    name = request.args.get("encoding", UTF8).strip().lower()
    try:
        return _NAMES[name]
    except KeyError:
        raise ApiError(400, "bad_encoding",
                       f"encoding must be utf-8 or base64, not {name!r}") from None


def b64decode(text: str, what: str) -> bytes:
    """Strict base64 (either alphabet, padding optional) to bytes; 400 when it is not."""
    cleaned = text.translate(_TO_URLSAFE).rstrip("=")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), altchars=b"-_",
                                validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_encoding", f"{what} is not valid base64") from None


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def text_to_bytes(text: Any, encoding: str, what: str) -> bytes:
    """A key or value as the client wrote it in JSON, to the bytes to store."""
    if not isinstance(text, str):
        raise ApiError(400, "bad_request", f"{what} must be a string")
    if encoding == BASE64:
        return b64decode(text, what)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800" in the JSON
        raise ApiError(400, "bad_encoding", f"{what} is not valid Unicode") from None


def raw_to_bytes(raw: bytes, encoding: str, what: str) -> bytes:
    """A key taken from the URL (already percent-decoded) to the bytes to store."""
    if encoding == BASE64:
        try:
            return b64decode(raw.decode("ascii"), what)
        except UnicodeDecodeError:
            raise ApiError(400, "bad_encoding", f"{what} is not valid base64") from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_encoding",
                       f"{what} is not valid UTF-8; send it with encoding=base64") from None
    return raw


def fields(name: str, data: bytes, encoding: str) -> dict[str, str]:
    """`{name: text}` for output, or `{name_b64: ...}` for non-UTF-8 bytes in utf-8 mode."""
    if encoding == BASE64:
        return {name: b64encode(data)}
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_b64": b64encode(data)}


def item(key: bytes, value: bytes, encoding: str) -> dict[str, str]:
    return fields("key", key, encoding) | fields("value", value, encoding)


def from_item(obj: Any, name: str, encoding: str, what: str) -> bytes:
    """Read `name` or `name_b64` (exactly one) from a JSON object sent by a client."""
    if not isinstance(obj, dict):
        raise ApiError(400, "bad_request", f"{what} must be a JSON object")
    has_text, has_b64 = name in obj, f"{name}_b64" in obj
    if has_text and has_b64:
        raise ApiError(400, "bad_request", f"{what} gives both {name} and {name}_b64")
    if has_b64:
        return text_to_bytes(obj[f"{name}_b64"], BASE64, f"{what}: {name}_b64")
    if has_text:
        return text_to_bytes(obj[name], encoding, f"{what}: {name}")
    raise ApiError(400, f"missing_{name}", f"{what} has no {name}")


def raw_path_after(prefix: str) -> bytes:
    """The request path's bytes after `prefix`, exactly as the client sent them."""
    path = request.environ.get("PATH_INFO", "").encode("latin-1")
    return path[len(prefix):] if path.startswith(prefix.encode()) else b""


def raw_query() -> list[tuple[bytes, bytes]]:
    """Query parameters as (name, value) bytes, in order, repeats and blanks kept."""
    query = request.environ.get("QUERY_STRING", "")
    return [(name.encode("latin-1"), value.encode("latin-1"))
            for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1")]


def raw_query_values(name: str) -> list[bytes]:
    wanted = name.encode()
    return [value for param, value in raw_query() if param == wanted]
