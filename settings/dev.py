"""Development: the default. SQLite under var/, local memcached when it answers."""

import logging
import os
import socket
import time

from . import csp
from .base import *  # noqa: F403
from .base import VAR_DIR
from .local_secrets import load_or_create

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

_secrets = load_or_create(VAR_DIR)
SECRET_KEY = _secrets["SECRET_KEY"]
TM_INTERNAL_SECRET = _secrets["TM_INTERNAL_SECRET"]
TM_CLIENT_KEY_SECRET = _secrets["TM_CLIENT_KEY_SECRET"]

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# `make run` starts one ekg push node here (Procfile).
TM_PUSH_URLS = [os.environ.get("TM_PUSH_URL", "http://127.0.0.1:8200")]
TM_EVENT_VIDEOS = csp.parse_pairs(os.environ.get("TM_EVENT_VIDEOS", ""))
CONTENT_SECURITY_POLICY = csp.policy(TM_PUSH_URLS)


def _memcached_answers(location: str, wait_seconds: float) -> bool:
    host, _, port = location.rpartition(":")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=0.2):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


_memcached = os.environ.get("TM_MEMCACHED", "127.0.0.1:11211")
# `make run` starts memcached beside tm; give it a moment to open its port.
if _memcached_answers(_memcached, wait_seconds=1.5):
    CACHES = {
        "default": {
            "BACKEND": "tm.memcache.MemcachedCache",
            "LOCATION": _memcached,
            "KEY_PREFIX": "tm-dev",
        }
    }
else:
    logging.getLogger("tm.settings").warning(
        "no memcached answers at %s: using the local-memory cache (per process; "
        "install memcached for shared rate limits and room caching)",
        _memcached,
    )
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Static files straight from the app folders, no collectstatic step.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
