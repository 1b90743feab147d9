"""The REST API under /v1: one key, atomic batches, and streamed range scans.

    GET    /v1/keys/<key>      -> 200 {"key", "value"} | 404
    PUT    /v1/keys/<key>      {"value"} -> 200 {"key"}
    DELETE /v1/keys/<key>      -> 200 {"key"} (deleting a missing key is not an error)
    POST   /v1/batch           {"put": [{"key", "value"}...], "delete": [key...]}
                               -> 200 {"put": n, "deleted": n}, all or nothing
    GET    /v1/range?start=&stop=&prefix=&limit=&reverse=&format=json|ndjson
                               -> 200, streamed [{"key", "value"}...]

Every call takes `?encoding=utf-8|base64` (flatdb/encoding.py). Keys in the path are
the percent-decoded path bytes after /v1/keys/, so "a/b" and "a//b" are keys too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from flatdb import encoding
from flatdb.db import get_db
from flatdb.errors import ApiError, json_response
from flatdb.inputs import check_key, check_value, read_json
from flatdb.ranges import RangeSpec, Scan, json_array, ndjson, parse_flag, parse_limit

bp = Blueprint("api", __name__, url_prefix="/v1")

KEYS_PREFIX = "/v1/keys/"


def _path_key(enc: str) -> bytes:
    return check_key(encoding.raw_to_bytes(encoding.raw_path_after(KEYS_PREFIX), enc, "key"))


# `anypath` (app.py) also matches an empty key and keys starting with "/", so they get
# this view's 400 instead of a bare 404.
@bp.get("/keys/<anypath:key>")
def get_key(key: str) -> Response:
    enc = encoding.request_encoding()
    raw = _path_key(enc)
    value = get_db().get(raw)
    if value is None:
        raise ApiError(404, "not_found", "no such key")
    return json_response(encoding.item(raw, value, enc))


@bp.put("/keys/<anypath:key>")
def put_key(key: str) -> Response:
    enc = encoding.request_encoding()
    raw = _path_key(enc)
    body = read_json()
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object with a value")
    _only(body, {"value", "value_b64"}, "the body")
    value = check_value(encoding.from_item(body, "value", enc, "the body"))
    get_db().put(raw, value)
    return json_response(encoding.fields("key", raw, enc))


@bp.delete("/keys/<anypath:key>")
def delete_key(key: str) -> Response:
    enc = encoding.request_encoding()
    raw = _path_key(enc)
    get_db().delete(raw)
    return json_response(encoding.fields("key", raw, enc))


@bp.post("/batch")
def batch() -> Response:
    enc = encoding.request_encoding()
    body = read_json()
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", 'the body must be {"put": [...], "delete": [...]}')
    _only(body, {"put", "delete"}, "the batch")
    puts, deletes = body.get("put", []), body.get("delete", [])
    if not isinstance(puts, list) or not isinstance(deletes, list):
        raise ApiError(400, "bad_request", "put and delete must be lists")
    # Every item is checked before anything is written: one bad item changes nothing.
    pairs = [_put_item(item, enc, n) for n, item in enumerate(puts)]
    keys = [_delete_item(item, enc, n) for n, item in enumerate(deletes)]
    with get_db().write_batch(transaction=True) as wb:
        for key, value in pairs:
            wb.put(key, value)
        for key in keys:  # deletes after puts: a put then delete of one key deletes it
            wb.delete(key)
    return json_response({"put": len(pairs), "deleted": len(keys)})


@bp.get("/range")
def scan_range() -> Response:
    enc = encoding.request_encoding()
    args = request.args
    fmt = args.get("format", "json")
    if fmt not in ("json", "ndjson"):
        raise ApiError(400, "bad_request", "format must be json or ndjson")
    spec = RangeSpec(
        start=_bound("start", enc), stop=_bound("stop", enc), prefix=_bound("prefix", enc),
        limit=parse_limit(args.get("limit")), reverse=parse_flag(args.get("reverse"), "reverse"),
    )
    scan = Scan(get_db(), spec)

    def render(key: bytes, value: bytes) -> dict[str, str]:
        return encoding.item(key, value, enc)

    if fmt == "ndjson":
        return Response(ndjson(scan, render), mimetype="application/x-ndjson")
    return Response(json_array(scan, render), mimetype="application/json")


def _bound(name: str, enc: str) -> bytes | None:
    values = encoding.raw_query_values(name)
    if not values:
        return None
    return encoding.raw_to_bytes(values[-1], enc, name)


def _only(obj: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:  # a typo such as "puts" would otherwise be a silent no-op
        raise ApiError(400, "bad_request", f"{what} has unknown fields: {', '.join(unknown)}")


def _put_item(item: Any, enc: str, n: int) -> tuple[bytes, bytes]:
    what = f"put[{n}]"
    if isinstance(item, dict):
        _only(item, {"key", "key_b64", "value", "value_b64"}, what)
    key = check_key(encoding.from_item(item, "key", enc, what), what)
    return key, check_value(encoding.from_item(item, "value", enc, what), what)


def _delete_item(item: Any, enc: str, n: int) -> bytes:
    what = f"delete[{n}]"
    if isinstance(item, str):
        return check_key(encoding.text_to_bytes(item, enc, what), what)
    if isinstance(item, dict):
        _only(item, {"key", "key_b64"}, what)
    return check_key(encoding.from_item(item, "key", enc, what), what)

