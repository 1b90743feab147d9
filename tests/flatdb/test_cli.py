"""The `flatdb` command as real processes on port 0, spoken to over HTTP with requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from contract import signing

from .processes import SECRET, TIME_SCALE, Server, run_flatdb

TIMEOUT = 10 * TIME_SCALE


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def put_many(http: requests.Session, server: Server, items: dict[str, str]) -> None:
    body = {"put": [{"key": k, "value": v} for k, v in items.items()]}
    response = http.post(f"{server.url}/v1/batch", json=body, timeout=TIMEOUT)
    assert response.status_code == 200, response.text


def everything(http: requests.Session, server: Server) -> list[dict]:
    response = http.get(f"{server.url}/v1/range?encoding=base64", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()


def assert_clean_failure(result, *fragments: str) -> None:
    """Exit code != 0, one clear line on stderr, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_serves_health_put_and_get(start_server, http, tmp_path: Path):
    server = start_server(tmp_path / "db")
    health = http.get(f"{server.url}/healthz", timeout=TIMEOUT)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert http.put(f"{server.url}/v1/keys/a/b", json={"value": "1"},
                    timeout=TIMEOUT).status_code == 200
    assert http.get(f"{server.url}/v1/keys/a/b", timeout=TIMEOUT).json() == {
        "key": "a/b", "value": "1"}
    # The 0.1 calls, as an old client makes them.
    assert http.get(f"{server.url}/put?k=v&k2=w", timeout=TIMEOUT).status_code == 201
    assert http.get(f"{server.url}/get?key=k&key=k2", timeout=TIMEOUT).json() == {
        "k": "v", "k2": "w"}
    assert http.get(f"{server.url}/get", timeout=TIMEOUT).status_code == 204
    assert server.stop() == 0


def test_only_the_hosts_it_is_known_by_are_answered(start_server, http, tmp_path: Path):
    """DNS rebinding: a page on evil.example resolves its name to 127.0.0.1 and calls
    flatdb from the victim's browser, with Host: evil.example. That gets a 400."""
    server = start_server(tmp_path / "db", "--allowed-host", "clouddb.internal")
    for host in ("127.0.0.1", f"127.0.0.1:{server.port}", "localhost", "clouddb.internal:1"):
        response = http.get(f"{server.url}/healthz", headers={"Host": host}, timeout=TIMEOUT)
        assert response.status_code == 200, host
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.evil.example",
                 "clouddb.internal.evil.example", "", "a b"):
        for method, path in (("GET", "/v1/keys/a"), ("PUT", "/v1/keys/a"),
                             ("GET", "/get?key=a"), ("POST", "/backup")):
            response = http.request(method, f"{server.url}{path}", json={"value": "x"},
                                    headers={"Host": host}, timeout=TIMEOUT)
            assert response.status_code == 400, (host, method, path)
            assert response.json()["error"]["message"]
    assert http.get(f"{server.url}/v1/keys/a", timeout=TIMEOUT).status_code == 404  # not put
    assert server.stop() == 0


def test_raw_bytes_pass_through_waitress(start_server, http, tmp_path: Path):
    server = start_server(tmp_path / "db")
    assert http.get(f"{server.url}/put?%FF=%00", timeout=TIMEOUT).status_code == 201
    # b"\xff" is "_w==" in URL-safe base64.
    got = http.get(f"{server.url}/v1/keys/_w==?encoding=base64", timeout=TIMEOUT)
    assert got.json() == {"key": "_w==", "value": "AA=="}
    refused = http.get(f"{server.url}/v1/keys/%FF", timeout=TIMEOUT)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_encoding"


def test_a_second_server_on_the_same_database_fails_clearly(start_server, tmp_path: Path):
    start_server(tmp_path / "db")
    result = run_flatdb("--port", "0", "--database", str(tmp_path / "db"))
    assert_clean_failure(result, "locked by another process")
    assert "listening" not in result.stdout


def test_an_unusable_database_path_fails_clearly(tmp_path: Path):
    (tmp_path / "a-file").write_text("")
    result = run_flatdb("--port", "0", "--database", str(tmp_path / "a-file" / "db"))
    assert_clean_failure(result, "cannot create database", "not a directory")


def test_a_port_in_use_fails_clearly(start_server, tmp_path: Path):
    server = start_server(tmp_path / "db")
    result = run_flatdb("--port", str(server.port), "--database", str(tmp_path / "db2"))
    assert_clean_failure(result, f"cannot listen on 127.0.0.1:{server.port}")


def test_backup_over_http_then_restore_into_a_new_path(start_server, http, tmp_path: Path):
    server = start_server(tmp_path / "db", "--backup-root", str(tmp_path / "backups"))
    put_many(http, server, {f"key{n:04d}": f"value {n}" for n in range(2_000)})
    http.get(f"{server.url}/put?%FF=%FE", timeout=TIMEOUT)  # and one binary pair
    before = everything(http, server)

    body = json.dumps({"target": "snap"}).encode()
    headers = {signing.HEADER: signing.sign(SECRET, "POST", "/backup", body),
               "Content-Type": "application/json"}
    made = http.post(f"{server.url}/backup", data=body, headers=headers, timeout=TIMEOUT)
    assert made.status_code == 201 and made.json()["keys"] == 2_001
    # Writes after the backup are not in it.
    put_many(http, server, {"later": "x"})
    assert server.stop() == 0

    restored = run_flatdb("restore", "--from", str(tmp_path / "backups" / "snap"),
                          "--database", str(tmp_path / "restored"))
    assert restored.returncode == 0, restored.stderr
    assert "restored 2001 keys" in restored.stdout

    again = start_server(tmp_path / "restored")
    assert everything(http, again) == before


def test_cli_backup_and_restore_refuses_to_overwrite(start_server, http, tmp_path: Path):
    server = start_server(tmp_path / "db")
    put_many(http, server, {"a": "1", "b": "2"})
    locked = run_flatdb("backup", "--database", str(tmp_path / "db"), "--to",
                        str(tmp_path / "bk"))
    assert_clean_failure(locked, "locked by another process", "POST /backup")
    assert server.stop() == 0

    made = run_flatdb("backup", "--database", str(tmp_path / "db"), "--to", str(tmp_path / "bk"))
    assert made.returncode == 0 and "backed up 2 keys" in made.stdout
    exists = run_flatdb("backup", "--database", str(tmp_path / "db"), "--to",
                        str(tmp_path / "bk"))
    assert_clean_failure(exists, "already exists")

    other = start_server(tmp_path / "other")
    put_many(http, other, {"z": "26"})
    in_use = run_flatdb("restore", "--from", str(tmp_path / "bk"),
                        "--database", str(tmp_path / "other"), "--force")
    assert_clean_failure(in_use, "locked by another process")
    assert other.stop() == 0

    refused = run_flatdb("restore", "--from", str(tmp_path / "bk"),
                         "--database", str(tmp_path / "other"))
    assert_clean_failure(refused, "not empty", "--force")
    forced = run_flatdb("restore", "--from", str(tmp_path / "bk"),
                        "--database", str(tmp_path / "other"), "--force")
    assert forced.returncode == 0, forced.stderr

    replaced = start_server(tmp_path / "other")
    assert [item["key"] for item in everything(http, replaced)] == ["YQ==", "Yg=="]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_restore_from_something_that_is_not_a_backup(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    result = run_flatdb("restore", "--from", str(tmp_path / "empty"),
                        "--database", str(tmp_path / "db"))
    assert_clean_failure(result, "not a flatdb backup")


def test_a_large_range_streams_complete(start_server, http, tmp_path: Path):
    server = start_server(tmp_path / "db")
    count = 50_000
    put_many(http, server, {f"tick:{n:08d}": json.dumps({"n": n}) for n in range(count)})

    with http.get(f"{server.url}/v1/range?format=ndjson&prefix=tick:", stream=True,
                  timeout=TIMEOUT) as response:
        assert response.status_code == 200
        # No Content-Length: the body is made while it is sent.
        assert response.headers.get("Transfer-Encoding") == "chunked"
        seen = 0
        for line in response.iter_lines(chunk_size=64 * 1024):
            item = json.loads(line)
            assert item["key"] == f"tick:{seen:08d}"
            seen += 1
    assert seen == count

    with http.get(f"{server.url}/v1/range?reverse=1", stream=True, timeout=TIMEOUT) as response:
        items = json.loads(response.content)
    assert len(items) == count and items[0]["key"] == f"tick:{count - 1:08d}"

    old = http.get(f"{server.url}/getrange?from=tick:00049990", timeout=TIMEOUT)
    assert len(old.json()) == 10


def test_help_and_usage_errors(tmp_path: Path):
    assert run_flatdb("--help").returncode == 0
    usage = run_flatdb("restore", "--database", str(tmp_path / "db"))
    assert usage.returncode == 2 and "--from" in usage.stderr
