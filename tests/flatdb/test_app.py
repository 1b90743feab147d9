"""Every flatdb endpoint through Flask's test client, against a real LevelDB under tmp_path."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import plyvel
import pytest
from flask import Flask
from flask.testing import FlaskClient

from contract import signing
from flatdb import create_app
from flatdb.db import DatabaseUnavailable, close_db, get_db

from .processes import SECRET

MIB = 1024 * 1024


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def error_code(response) -> str:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


@pytest.fixture
def leveldb(app: Flask) -> plyvel.DB:
    """The app's own handle, to look under the API."""
    with app.app_context():
        return get_db()


def fill(client: FlaskClient, *keys: str) -> None:
    response = client.post("/v1/batch", json={"put": [{"key": k, "value": k.upper()}
                                                      for k in keys]})
    assert response.status_code == 200, response.get_json()


def keys_of(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["key"] for item in response.get_json()]


# -- one key ----------------------------------------------------------------------------

def test_put_get_delete_one_key(client: FlaskClient):
    assert client.put("/v1/keys/room:1", json={"value": "héllo"}).get_json() == {"key": "room:1"}
    response = client.get("/v1/keys/room:1")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"key": "room:1", "value": "héllo"}

    assert client.put("/v1/keys/room:1", json={"value": ""}).status_code == 200
    assert client.get("/v1/keys/room:1").get_json()["value"] == ""  # empty values are fine

    assert client.delete("/v1/keys/room:1").get_json() == {"key": "room:1"}
    missing = client.get("/v1/keys/room:1")
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    assert client.delete("/v1/keys/room:1").status_code == 200  # deleting twice is fine


@pytest.mark.parametrize("key", ["a/b", "a//b", "/leading", "trailing/", "sp ace", "ключ"])
def test_keys_with_slashes_and_unicode_live_in_the_path(client: FlaskClient, key: str):
    assert client.put(f"/v1/keys/{key}", json={"value": "v"}).status_code == 200
    assert client.get(f"/v1/keys/{key}").get_json() == {"key": key, "value": "v"}
    assert keys_of(client.get("/v1/range")) == [key]


def test_empty_key_is_refused(client: FlaskClient):
    for method in ("get", "put", "delete"):
        response = getattr(client, method)("/v1/keys/", json={"value": "v"})
        assert response.status_code == 400 and error_code(response) == "empty_key"


@pytest.mark.parametrize(("body", "code"), [
    (b"", "malformed_json"),
    (b"{nope", "malformed_json"),
    (b"\xff\xfe", "malformed_json"),
    (b"[" * 100_000 + b"]" * 100_000, "malformed_json"),
    (b'"just a string"', "bad_request"),
    (b"{}", "missing_value"),
    (b'{"value": 3}', "bad_request"),
    (b'{"value": "x", "extra": 1}', "bad_request"),
    (b'{"value": "\\ud800"}', "bad_encoding"),
    (b'{"value": "x", "value_b64": "eA"}', "bad_request"),
])
def test_bad_put_bodies_are_400(client: FlaskClient, body: bytes, code: str):
    response = client.put("/v1/keys/k", data=body, content_type="application/json")
    assert response.status_code == 400 and error_code(response) == code
    assert client.get("/v1/keys/k").status_code == 404


def test_value_limit_is_one_mib_and_request_limit_eight(client: FlaskClient):
    assert client.put("/v1/keys/k", json={"value": "x" * MIB}).status_code == 200
    too_big = client.put("/v1/keys/k", json={"value": "y" * (MIB + 1)})
    assert too_big.status_code == 413 and error_code(too_big) == "value_too_large"
    assert client.get("/v1/keys/k").get_json()["value"] == "x" * MIB

    # The limit counts bytes after decoding: base64 of exactly 1 MiB is accepted.
    ok = client.put(f"/v1/keys/{b64(b'b')}?encoding=base64", json={"value": b64(b"\0" * MIB)})
    assert ok.status_code == 200

    body = json.dumps({"put": [{"key": f"k{n}", "value": "z" * (MIB - 10)}
                               for n in range(9)]})
    whole = client.post("/v1/batch", data=body, content_type="application/json")
    assert whole.status_code == 413 and error_code(whole) == "payload_too_large"
    assert client.get("/v1/keys/k0").status_code == 404

    long_key = client.put("/v1/keys/" + "k" * (64 * 1024 + 1), json={"value": "v"})
    assert long_key.status_code == 413 and error_code(long_key) == "key_too_large"


# -- batches ----------------------------------------------------------------------------

def test_batch_puts_and_deletes(client: FlaskClient):
    fill(client, "a", "b", "c")
    response = client.post("/v1/batch", json={
        "put": [{"key": "d", "value": "D"}, {"key": "a", "value": "A2"}],
        "delete": ["b", {"key": "c"}, "never-there"],
    })
    assert response.get_json() == {"put": 2, "deleted": 3}
    assert [(i["key"], i["value"]) for i in client.get("/v1/range").get_json()] == [
        ("a", "A2"), ("d", "D")]


def test_batch_delete_comes_after_put(client: FlaskClient):
    client.post("/v1/batch", json={"put": [{"key": "x", "value": "1"}], "delete": ["x"]})
    assert client.get("/v1/keys/x").status_code == 404


@pytest.mark.parametrize(("bad_item", "status", "code"), [
    ({"key": "", "value": "v"}, 400, "empty_key"),
    ({"value": "v"}, 400, "missing_key"),
    ({"key": "k"}, 400, "missing_value"),
    ({"key": "k", "value": None}, 400, "bad_request"),
    ({"key": "k", "value": "v", "ttl": 5}, 400, "bad_request"),
    ({"key_b64": "!!", "value": "v"}, 400, "bad_encoding"),
    ("not an object", 400, "bad_request"),
    ({"key": "k", "value": "v" * (MIB + 1)}, 413, "value_too_large"),
])
def test_a_batch_with_one_bad_item_changes_nothing(client: FlaskClient, bad_item, status, code):
    fill(client, "keep")
    response = client.post("/v1/batch", json={
        "put": [{"key": "new1", "value": "1"}, bad_item, {"key": "new2", "value": "2"}],
        "delete": ["keep"],
    })
    assert response.status_code == status and error_code(response) == code
    assert keys_of(client.get("/v1/range")) == ["keep"]


@pytest.mark.parametrize("body", [
    [], {"puts": []}, {"put": {"key": "k"}}, {"delete": "k"}, {"delete": [""]}, {"delete": [3]},
])
def test_malformed_batches_are_400(client: FlaskClient, body):
    fill(client, "keep")
    response = client.post("/v1/batch", json=body)
    assert response.status_code == 400, response.get_json()
    assert keys_of(client.get("/v1/range")) == ["keep"]


def test_empty_batch_is_a_no_op(client: FlaskClient):
    assert client.post("/v1/batch", json={}).get_json() == {"put": 0, "deleted": 0}


# -- ranges -----------------------------------------------------------------------------

@pytest.fixture
def ranged(client: FlaskClient) -> FlaskClient:
    fill(client, "a", "b", "b1", "b2", "c", "d")
    return client


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["a", "b", "b1", "b2", "c", "d"]),
    ("start=b", ["b", "b1", "b2", "c", "d"]),            # start is inclusive
    ("start=b0", ["b1", "b2", "c", "d"]),                # and need not exist
    ("stop=c", ["a", "b", "b1", "b2"]),                   # stop is exclusive
    ("start=b&stop=c", ["b", "b1", "b2"]),
    ("prefix=b", ["b", "b1", "b2"]),
    ("prefix=b&limit=2", ["b", "b1"]),
    ("limit=1", ["a"]),
    ("limit=100", ["a", "b", "b1", "b2", "c", "d"]),
    ("reverse=true", ["d", "c", "b2", "b1", "b", "a"]),
    ("reverse=1&start=b&stop=c", ["b2", "b1", "b"]),      # bounds stay lower/upper
    ("reverse&prefix=b&limit=2", ["b2", "b1"]),
    ("reverse=false&limit=2", ["a", "b"]),
    ("start=b&stop=b", []),                               # start == stop: empty
    ("prefix=zz", []),
    ("start=e", []),
])
def test_range_edges(ranged: FlaskClient, query: str, expected: list[str]):
    assert keys_of(ranged.get(f"/v1/range?{query}")) == expected


def test_range_items_carry_values(ranged: FlaskClient):
    assert ranged.get("/v1/range?prefix=b2").get_json() == [{"key": "b2", "value": "B2"}]


@pytest.mark.parametrize(("query", "code"), [
    ("start=c&stop=b", "reversed_range"),
    ("start=c&stop=b&reverse=1", "reversed_range"),
    ("prefix=b&start=a", "bad_range"),
    ("limit=0", "bad_range"),
    ("limit=-1", "bad_range"),
    ("limit=ten", "bad_range"),
    ("reverse=maybe", "bad_request"),
    ("format=xml", "bad_request"),
    ("encoding=latin-1", "bad_encoding"),
])
def test_bad_ranges_are_400(ranged: FlaskClient, query: str, code: str):
    response = ranged.get(f"/v1/range?{query}")
    assert response.status_code == 400 and error_code(response) == code


def test_range_as_ndjson(ranged: FlaskClient):
    response = ranged.get("/v1/range?format=ndjson&prefix=b")
    assert response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["b", "b1", "b2"]
    assert ranged.get("/v1/range?format=ndjson&prefix=q").get_data() == b""


def test_range_streams_in_chunks(client: FlaskClient):
    client.post("/v1/batch", json={"put": [{"key": f"k{n:06d}", "value": "v" * 20}
                                           for n in range(20_000)]})
    response = client.get("/v1/range", buffered=False)
    assert response.is_streamed
    chunks = list(response.response)
    response.close()
    assert len(chunks) > 5  # produced piece by piece, not as one document
    items = json.loads(b"".join(chunks))
    assert len(items) == 20_000 and items[-1]["key"] == "k019999"


def test_head_on_a_range_has_no_body(ranged: FlaskClient):
    response = ranged.head("/v1/range")
    assert response.status_code == 200 and response.get_data() == b""


# -- binary keys and values -------------------------------------------------------------

BINARY_KEY = b"\x00\xff/../\n\x80"
BINARY_VALUE = bytes(range(256))


def test_binary_round_trip_with_base64(client: FlaskClient, leveldb: plyvel.DB):
    put = client.put(f"/v1/keys/{b64(BINARY_KEY)}?encoding=base64",
                     json={"value": base64.b64encode(BINARY_VALUE).decode()})  # + and / too
    assert put.get_json() == {"key": b64(BINARY_KEY)}
    got = client.get(f"/v1/keys/{b64(BINARY_KEY).rstrip('=')}?encoding=base64").get_json()
    assert base64.urlsafe_b64decode(got["value"]) == BINARY_VALUE
    assert client.get("/v1/range?encoding=base64").get_json() == [
        {"key": b64(BINARY_KEY), "value": b64(BINARY_VALUE)}]
    assert leveldb.get(BINARY_KEY) == BINARY_VALUE


def test_utf8_mode_falls_back_to_b64_fields_and_they_round_trip(
        client: FlaskClient, leveldb: plyvel.DB):
    leveldb.put(BINARY_KEY, BINARY_VALUE)
    leveldb.put(b"text", b"\xe2\x82\xac")
    items = client.get("/v1/range").get_json()
    assert items == [{"key_b64": b64(BINARY_KEY), "value_b64": b64(BINARY_VALUE)},
                     {"key": "text", "value": "€"}]
    # What the server sent can be sent back as it is.
    leveldb.delete(BINARY_KEY)
    assert client.post("/v1/batch", json={"put": items}).status_code == 200
    assert leveldb.get(BINARY_KEY) == BINARY_VALUE
    assert client.get(f"/v1/keys/{b64(BINARY_KEY)}?encoding=base64").status_code == 200
    assert client.post("/v1/batch", json={"delete": [{"key_b64": b64(BINARY_KEY)}]}
                       ).status_code == 200
    assert keys_of(client.get("/v1/range")) == ["text"]


def test_binary_range_bounds_with_base64(client: FlaskClient, leveldb: plyvel.DB):
    for key in (b"\x01a", b"\x01b", b"\x02"):
        leveldb.put(key, b"")
    prefix = b64(b"\x01")
    response = client.get(f"/v1/range?encoding=base64&prefix={prefix}")
    assert [base64.urlsafe_b64decode(i["key"]) for i in response.get_json()] == [
        b"\x01a", b"\x01b"]


def test_non_utf8_path_bytes_are_refused_in_utf8_mode(client: FlaskClient):
    # Werkzeug's test client rewrites %FF to U+FFFD; a real server passes the byte on,
    # as the environ override does here (test_cli.py checks it through waitress).
    response = client.get("/v1/keys/x", environ_overrides={"PATH_INFO": "/v1/keys/\xff"})
    assert response.status_code == 400 and error_code(response) == "bad_encoding"


@pytest.mark.parametrize("key", ["!!!", "a", "YQ=x"])
def test_bad_base64_is_400(client: FlaskClient, key: str):
    response = client.get(f"/v1/keys/{key}?encoding=base64")
    assert response.status_code == 400 and error_code(response) == "bad_encoding"


# -- the flatdb 0.1 calls ---------------------------------------------------------------

def test_v01_get(client: FlaskClient):
    fill(client, "a", "b")
    no_key = client.get("/get")
    assert no_key.status_code == 204 and no_key.get_data() == b""
    none_found = client.get("/get?key=x&key=y")
    assert none_found.status_code == 404 and error_code(none_found) == "not_found"
    some = client.get("/get?key=a&key=x&key=b")
    assert some.status_code == 200 and some.get_json() == {"a": "A", "b": "B"}
    empty = client.get("/get?key=")
    assert empty.status_code == 400 and error_code(empty) == "empty_key"


def test_v01_put_is_one_atomic_batch(client: FlaskClient):
    response = client.get("/put?k=v&k2=v%202&sp%20ace=%E2%82%AC")
    assert response.status_code == 201
    assert client.get("/get?key=k&key=k2&key=sp ace").get_json() == {
        "k": "v", "k2": "v 2", "sp ace": "€"}
    bad = client.get("/put?k3=v&=oops")
    assert bad.status_code == 400 and error_code(bad) == "empty_key"
    assert client.get("/get?key=k3").status_code == 404
    assert client.get("/put").status_code == 201  # 0.1 accepted an empty put


def test_v01_put_keeps_raw_bytes(client: FlaskClient, leveldb: plyvel.DB):
    assert client.get("/put?%FF=%00%FE").status_code == 201
    assert leveldb.get(b"\xff") == b"\x00\xfe"


def test_v01_delete(client: FlaskClient):
    fill(client, "a", "b", "c")
    response = client.get("/delete?key=a&key=b&key=zzz")
    assert response.status_code == 200
    assert keys_of(client.get("/v1/range")) == ["c"]
    assert client.get("/delete").status_code == 200
    assert client.get("/delete?key=").status_code == 400


def test_v01_getrange(client: FlaskClient):
    fill(client, "a", "b", "b1", "c")
    response = client.get("/getrange?from=b")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert list(response.get_json().items()) == [("b", "B"), ("b1", "B1"), ("c", "C")]
    assert list(client.get("/getrange?from=").get_json()) == ["a", "b", "b1", "c"]
    assert list(client.get("/getrange?from=a&to=b1").get_json()) == ["a", "b"]
    assert list(client.get("/getrange?from=a&limit=3").get_json()) == ["a", "b", "b1"]
    empty = client.get("/getrange?from=d")
    assert empty.status_code == 404 and error_code(empty) == "not_found"
    missing = client.get("/getrange")
    assert missing.status_code == 400 and error_code(missing) == "missing_parameter"
    assert client.get("/getrange?from=c&to=a").status_code == 400


def test_v01_calls_take_get_only(client: FlaskClient):
    response = client.post("/put?k=v")
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


# -- health, errors, backup -------------------------------------------------------------

def test_healthz(client: FlaskClient):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_unknown_paths_answer_json(client: FlaskClient):
    response = client.get("/v2/nothing")
    assert response.status_code == 404 and error_code(response) == "not_found"


def signed_backup(client: FlaskClient, body: dict | None, secret: str = SECRET):
    raw = json.dumps(body).encode() if body is not None else b""
    header = signing.sign(secret, "POST", "/backup", raw)
    return client.post("/backup", data=raw, content_type="application/json",
                       headers={signing.HEADER: header})


def test_backup_refuses_unsigned_and_wrongly_signed_calls(client: FlaskClient, tmp_path: Path):
    unsigned = client.post("/backup", json={"target": "b1"})
    assert unsigned.status_code == 401 and error_code(unsigned) == "unauthorized"
    wrong = signed_backup(client, {"target": "b1"}, secret="not-the-secret")
    assert wrong.status_code == 401
    assert not (tmp_path / "backups" / "b1").exists()


def test_backup_writes_a_copy_under_the_root(client: FlaskClient, tmp_path: Path):
    fill(client, "a", "b")
    response = signed_backup(client, {"target": "nightly/one"})
    target = tmp_path / "backups" / "nightly" / "one"
    assert response.status_code == 201
    assert response.get_json() == {"target": str(target.resolve()), "keys": 2}
    copy = plyvel.DB(str(target))
    try:
        assert list(copy) == [(b"a", b"A"), (b"b", b"B")]
    finally:
        copy.close()
    again = signed_backup(client, {"target": "nightly/one"})
    assert again.status_code == 409 and error_code(again) == "target_exists"
    named = signed_backup(client, None)
    assert named.status_code == 201 and "/backups/flatdb-" in named.get_json()["target"]


@pytest.mark.parametrize("target", ["../escape", "/etc/flatdb", ".", "a/../../b"])
def test_backup_target_must_stay_inside_the_root(client: FlaskClient, target: str):
    response = signed_backup(client, {"target": target})
    assert response.status_code == 400 and error_code(response) == "bad_target"


def test_backup_without_a_root_is_disabled(tmp_path: Path):
    app = create_app({"DATABASE": str(tmp_path / "db2"), "INTERNAL_SECRET": SECRET,
                      "BACKUP_ROOT": None})
    try:
        response = signed_backup(app.test_client(), {"target": "x"})
        assert response.status_code == 403 and error_code(response) == "backup_disabled"
    finally:
        close_db(app)


def test_a_locked_database_fails_with_a_clear_message(tmp_path: Path):
    holder = plyvel.DB(str(tmp_path / "held"), create_if_missing=True)
    try:
        with pytest.raises(DatabaseUnavailable, match="locked by another process"):
            create_app({"DATABASE": str(tmp_path / "held")})
    finally:
        holder.close()
