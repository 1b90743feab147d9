"""Shared fixtures: a JSON API client and ready-made rooms and participants.

Every test runs against the real memcached started by tests/support/memcached_server.py;
the cache is cleared between tests so one test's cached rooms never leak into another.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


class ApiClient:
    """Django's test client with JSON bodies, bearer tokens and JSON answers."""

    def __init__(self, client: Client | None = None):
        self.client = client or Client(enforce_csrf_checks=True)
        self.token: str | None = None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        merged = dict(headers or {})
        if self.token and "HTTP_AUTHORIZATION" not in merged:
            merged["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        return merged

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             content_type: str = "application/json", headers: dict[str, str] | None = None):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body))
        return self.client.generic(method, path, data=data, content_type=content_type,
                                   **self._headers(headers))

    def get(self, path: str, **kwargs):
        return self.client.get(path, **self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, body: Any = None, **kwargs):
        return self.call("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs):
        return self.call("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def api() -> ApiClient:
    return ApiClient()


@pytest.fixture
def make_room(db):
    """Create a room through the API; returns (room JSON, owner key)."""

    def make(name: str = "bio-101", **fields: Any) -> tuple[dict, str]:
        response = ApiClient().post("/api/v1/rooms", {"name": name, **fields})
        assert response.status_code == 201, response.content
        body = response.json()
        return body, body["owner_key"]

    return make


@pytest.fixture
def room(make_room) -> dict:
    body, owner_key = make_room()
    body["owner_key"] = owner_key
    return body


@pytest.fixture
def join(db):
    """Join a room through the API; returns an ApiClient holding the token."""

    def do_join(room_name: str, nickname: str = "ann", **fields: Any) -> ApiClient:
        client = ApiClient()
        response = client.post(f"/api/v1/rooms/{room_name}/join", {"nickname": nickname, **fields})
        assert response.status_code == 201, response.content
        client.token = response.json()["token"]
        return client

    return do_join


@pytest.fixture
def moderator(room) -> ApiClient:
    """An API client that moderates `room` with its owner key."""
    client = ApiClient()
    client.token = room["owner_key"]
    return client
