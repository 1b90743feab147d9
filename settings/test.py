"""Tests: a real memcached (started by tests/support/memcached_server.py) and a
random key prefix, so two runs sharing a memcached never see each other's keys."""

import os
import secrets
import tempfile

from . import csp
from .base import *  # noqa: F403
from .base import BASE_DIR

# Random per process unless given: a server in a subprocess (browser tests) passes them
# so that all its gunicorn workers sign sessions and hash client keys alike.
SECRET_KEY = os.environ.get("TM_SECRET_KEY") or "test-" + secrets.token_urlsafe(32)
TM_INTERNAL_SECRET = os.environ.get("TM_INTERNAL_SECRET") or secrets.token_urlsafe(32)
TM_CLIENT_KEY_SECRET = os.environ.get("TM_CLIENT_KEY_SECRET") or secrets.token_urlsafe(32)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # Subprocess servers in browser tests get their own file through TM_DB_PATH.
        "NAME": os.environ.get("TM_DB_PATH", BASE_DIR / "var" / "test.sqlite3"),
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        # A file, not shared-cache memory: concurrency tests then see SQLite's real
        # locking (busy timeout) instead of shared-cache "table is locked" errors.
        "CONN_MAX_AGE": None,  # as in base.py
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"tm-test-{os.getpid()}.sqlite3")},
    }
}

if os.environ.get("TM_DB_ENGINE") == "postgresql":
    # PostgreSQL, as in production (settings/prod.py); bench/post_endpoint.py uses it.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["TM_DB_NAME"],
            "USER": os.environ["TM_DB_USER"],
            "PASSWORD": os.environ.get("TM_DB_PASSWORD", ""),
            "HOST": os.environ["TM_DB_HOST"],
            "PORT": os.environ["TM_DB_PORT"],
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
        }
    }

_memcached = os.environ.get("TM_MEMCACHED")
if not _memcached:
    raise RuntimeError(
        "settings.test needs TM_MEMCACHED=host:port; run the tests with `make test`, "
        "which starts a memcached for them"
    )
CACHES = {
    "default": {
        "BACKEND": "tm.memcache.MemcachedCache",
        "LOCATION": _memcached,
        "KEY_PREFIX": os.environ.get("TM_CACHE_PREFIX") or "t" + secrets.token_hex(6),
    }
}
# Rates as in base.py unless the environment says otherwise: the benchmarks in bench/
# post from one address far faster than a class does ("100000/s" lifts a limit while
# still counting every hit in memcached, as production does).
TM_RATE_POST_PER_PARTICIPANT = os.environ.get(
    "TM_RATE_POST_PER_PARTICIPANT", TM_RATE_POST_PER_PARTICIPANT)  # noqa: F405
TM_RATE_POST_PER_CLIENT = os.environ.get(
    "TM_RATE_POST_PER_CLIENT", TM_RATE_POST_PER_CLIENT)  # noqa: F405
TM_RATE_JOIN_PER_CLIENT = os.environ.get(
    "TM_RATE_JOIN_PER_CLIENT", TM_RATE_JOIN_PER_CLIENT)  # noqa: F405
TM_RATE_CREATE_ROOM_PER_CLIENT = os.environ.get(
    "TM_RATE_CREATE_ROOM_PER_CLIENT", TM_RATE_CREATE_ROOM_PER_CLIENT)  # noqa: F405
TM_RATE_JOIN_PER_ROOM = os.environ.get(
    "TM_RATE_JOIN_PER_ROOM", TM_RATE_JOIN_PER_ROOM)  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Integration tests point these at their own reflektor and ekg subprocesses.
TM_REFLEKTOR_URLS = [u for u in os.environ.get("TM_REFLEKTOR_URLS", "").split(",") if u]
TM_PUSH_URLS = [u for u in os.environ.get("TM_PUSH_URLS", "").split(",") if u]
TM_EVENT_VIDEOS = csp.parse_pairs(os.environ.get("TM_EVENT_VIDEOS", ""))
CONTENT_SECURITY_POLICY = csp.policy(TM_PUSH_URLS)

# Static files straight from the app folders, no collectstatic step.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
