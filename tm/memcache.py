"""Django's pymemcache backend, made fit for serving posts.

Two changes to `django.core.cache.backends.memcached.PyMemcacheCache`:

- **One connection per worker, kept.** Django closes every cache connection at the end
  of each request (`close_caches` on `request_finished`), so each post paid a TCP
  connect and close to memcached. pymemcache reconnects by itself after an error, so
  `close` keeps the connection open. (Django keeps PyLibMCCache's connections for the
  same reason.)
- **memcached is a cache, not a dependency.** With memcached down or hung, a request
  must not fail: the defaults below bound each call (connect and I/O timeouts) and
  turn errors into misses (`ignore_exc`). `Room.get` then reads the database, and the
  rate limits count nothing and let the request through (`RATELIMIT_FAIL_OPEN`), which
  beats refusing a whole class because a cache process died. Each failure is logged by
  pymemcache's HashClient, which also stops trying a dead server for `dead_timeout`
  seconds so requests do not each wait out a timeout.

Settings give OPTIONS as usual; they override these defaults key by key.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.memcached import PyMemcacheCache

DEFAULT_OPTIONS: dict[str, Any] = {
    "connect_timeout": 0.25,  # seconds; memcached is on loopback or the same rack
    "timeout": 0.5,
    "no_delay": True,  # small request/answer pairs: do not wait for Nagle
    "ignore_exc": True,
    "retry_attempts": 1,
    "dead_timeout": 5,  # seconds before a failed server is tried again
}


class MemcachedCache(PyMemcacheCache):
    def __init__(self, server: Any, params: dict[str, Any]):
        params = dict(params)
        params["OPTIONS"] = {**DEFAULT_OPTIONS, **params.get("OPTIONS", {})}
        super().__init__(server, params)

    def close(self, **kwargs: Any) -> None:
        """Keep the connection for the next request (see the module docstring)."""
