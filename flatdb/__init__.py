"""flatdb: a small HTTP service over one LevelDB (Flask + plyvel), served by waitress.

One process per database (LevelDB's LOCK allows no other). JSON in and out:

- `/v1/keys/<key>` GET, PUT {"value"}, DELETE one key; `POST /v1/batch` puts and
  deletes atomically; `GET /v1/range` streams a range (start inclusive, stop exclusive,
  prefix, limit, reverse) as a JSON array or NDJSON.
- The flatdb 0.1 calls: `/get?key=`, `/getrange?from=`, `/put?k=v`, `/delete?key=`.
- `GET /healthz`; signed `POST /backup` into a configured backup root.

Encoding: keys and values are UTF-8 text in JSON and URLs by default; `?encoding=base64`
makes them base64 (URL-safe alphabet) for arbitrary bytes, and `key_b64`/`value_b64`
fields carry bytes in either mode (flatdb/encoding.py). Limits: 1 MiB per value,
64 KiB per key, 8 MiB per request body (413 past them). A range with start after stop
is a 400. Errors are {"error": {"code", "message"}}. See flatdb/README.md.

Modules: app (factory, config), db (the LevelDB handle), api (/v1), compat (0.1),
admin (health, backup over HTTP), ranges (scans, streamed bodies), encoding (bytes <->
text), inputs (bodies, limits), errors (the error shape), backup (snapshot copy,
restore), cli (the `flatdb` command).
"""

from flatdb.app import create_app

__all__ = ["create_app"]
