"""The flatdb 0.1 calls, kept so old clients work: same paths, parameters, status codes.

    GET /get?key=a&key=b       200 {"a": "1", ...} with the keys found; 404 when none is
                               found; 204 (no body) when no key is asked
    GET /getrange?from=k       200 {"k": "v", ...} from k onwards, streamed; 404 when empty.
                               New and optional: to=<exclusive stop>, limit=<n>
    GET /put?k=v&k2=v2         201, all pairs written atomically as one batch
    GET /delete?key=a&key=b    200, all keys deleted atomically as one batch

0.1 spoke text only. Parameters are taken as raw bytes (flatdb/encoding.py), so nothing
is lost on the way in; on the way out bytes that are not UTF-8 show as U+FFFD, since a
JSON object key has no room for a base64 marker. Use /v1 for binary data.

What 0.1 did not define, this answers with the JSON error shape: an empty key (400),
a missing `from` (0.1 crashed with a 500; now 400), oversized values (413).
"""

from __future__ import annotations

from flask import Blueprint, Response

from flatdb import encoding
from flatdb.db import get_db
from flatdb.errors import ApiError, json_response
from flatdb.inputs import check_key, check_value
from flatdb.ranges import RangeSpec, Scan, json_object, parse_limit

bp = Blueprint("compat", __name__)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _keys(param: str) -> list[bytes]:
    return [check_key(key, f"{param}={_text(key)!r}")
            for key in encoding.raw_query_values(param)]


@bp.get("/get")
def get() -> Response:
    keys = _keys("key")
    if not keys:
        return Response(status=204)
    db = get_db()
    # One snapshot so the keys asked together are read as of one moment.
    with db.snapshot() as snapshot:
        found = {_text(key): _text(value) for key in keys
                 if (value := snapshot.get(key)) is not None}
    if not found:
        raise ApiError(404, "not_found", "none of the keys was found")
    return json_response(found)


@bp.get("/getrange")
def getrange() -> Response:
    starts = encoding.raw_query_values("from")
    if not starts:
        raise ApiError(400, "missing_parameter", "getrange needs from=<first key>")
    stops = encoding.raw_query_values("to")
    limits = encoding.raw_query_values("limit")
    spec = RangeSpec(start=starts[-1], stop=stops[-1] if stops else None,
                     limit=parse_limit(_text(limits[-1])) if limits else None)
    scan = Scan(get_db(), spec)
    if not scan.has_items():
        scan.close()
        raise ApiError(404, "not_found", "no keys in that range")

    def render(key: bytes, value: bytes) -> tuple[str, str]:
        return _text(key), _text(value)

    return Response(json_object(scan, render), mimetype="application/json")


@bp.get("/put")
def put() -> Response:
    pairs = [(check_key(name, "parameter name"), value) for name, value in encoding.raw_query()]
    for name, value in pairs:
        check_value(value, _text(name))
    with get_db().write_batch(transaction=True) as wb:
        for name, value in pairs:
            wb.put(name, value)
    return json_response({"written": len(pairs)}, 201)


@bp.get("/delete")
def delete() -> Response:
    keys = _keys("key")
    with get_db().write_batch(transaction=True) as wb:
        for key in keys:
            wb.delete(key)
    return json_response({"deleted": len(keys)})
