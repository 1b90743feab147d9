"""A small asyncio client of flatdb's /v1 API (flatdb/README.md): the calls sotu uses.

Owns the wire format (JSON, UTF-8 keys and values, percent-encoded key paths) and
turns every failure (connection refused, timeout, an error status, a cut-off body)
into one `FlatDBError`, so callers have one thing to retry on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from urllib.parse import quote

import aiohttp

# flatdb refuses bodies over 8 MiB; batches are split well below it.
MAX_BATCH_BYTES = 4 * 1024 * 1024


class FlatDBError(Exception):
    pass


class FlatDB:
    def __init__(self, base_url: str, session: aiohttp.ClientSession, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:
        return f"FlatDB({self.base_url})"

    async def _call(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    body: object = None, ok: Iterable[int] = (200,)) -> tuple[int, object]:
        try:
            async with self.session.request(
                    method, self.base_url + path, params=params,
                    data=None if body is None else json.dumps(body, ensure_ascii=False),
                    headers={"Content-Type": "application/json"} if body is not None else None,
                    timeout=self.timeout) as response:
                raw = await response.read()
                if response.status not in ok:
                    raise FlatDBError(f"{method} {path}: HTTP {response.status} "
                                      f"{raw[:200].decode(errors='replace')}")
                return response.status, json.loads(raw) if raw else None
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            raise FlatDBError(f"{method} {path}: {error!r}") from error

    async def get(self, key: str) -> str | None:
        """The value of `key`, or None when it is not stored."""
        status, body = await self._call("GET", "/v1/keys/" + quote(key, safe=""),
                                        ok=(200, 404))
        if status == 404:
            return None
        assert isinstance(body, dict) and isinstance(body["value"], str)
        return body["value"]

    async def get_many(self, keys: Iterable[str], concurrency: int = 8) -> dict[str, str | None]:
        keys = list(dict.fromkeys(keys))
        limit = asyncio.Semaphore(concurrency)

        async def one(key: str) -> str | None:
            async with limit:
                return await self.get(key)

        values = await asyncio.gather(*(one(key) for key in keys))
        return dict(zip(keys, values, strict=True))

    async def put_batch(self, items: list[tuple[str, str]]) -> None:
        """Store all of `items` ((key, value) pairs) in one atomic flatdb batch."""
        await self._call("POST", "/v1/batch",
                         body={"put": [{"key": k, "value": v} for k, v in items]})

    async def delete(self, keys: list[str]) -> None:
        """Delete `keys` in one atomic flatdb batch (a key not stored is no error)."""
        await self._call("POST", "/v1/batch", body={"delete": [{"key": k} for k in keys]})

    async def delete_range(self, start: str, stop: str, page: int = 200) -> int:
        """Delete every key from `start` (inclusive) to `stop` (exclusive), a page of
        keys per atomic batch; returns how many went."""
        deleted = 0
        while True:
            keys = [key for key, _ in await self.scan(start=start, stop=stop, limit=page)]
            if not keys:
                return deleted
            await self.delete(keys)
            deleted += len(keys)

    async def scan(self, *, start: str | None = None, stop: str | None = None,
                   prefix: str | None = None, limit: int | None = None,
                   reverse: bool = False) -> list[tuple[str, str]]:
        """(key, value) pairs of a range, start inclusive, stop exclusive."""
        params: dict[str, str] = {}
        for name, value in (("start", start), ("stop", stop), ("prefix", prefix)):
            if value is not None:
                params[name] = value
        if limit is not None:
            params["limit"] = str(limit)
        if reverse:
            params["reverse"] = "true"
        _, body = await self._call("GET", "/v1/range", params=params)
        if not isinstance(body, list):
            raise FlatDBError("GET /v1/range: not a JSON list")
        return [(item["key"], item["value"]) for item in body
                if isinstance(item, dict) and "key" in item and "value" in item]


def split_batches(items: list[tuple[str, str]],
                  max_bytes: int = MAX_BATCH_BYTES) -> list[list[tuple[str, str]]]:
    """Cut (key, value) pairs into batches whose JSON stays under `max_bytes`."""
    batches: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for key, value in items:
        # Escaping can grow a value; 2x plus the item's punctuation is a safe bound.
        item_size = 2 * (len(key.encode()) + len(value.encode())) + 32
        if current and size + item_size > max_bytes:
            batches.append(current)
            current, size = [], 0
        current.append((key, value))
        size += item_size
    if current:
        batches.append(current)
    return batches
