"""Production: every secret and address comes from the environment.

A missing variable stops start-up with a message that names it.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from . import csp
from .base import *  # noqa: F403


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise ImproperlyConfigured(f"settings.prod: environment variable {name} is not set")
    return value


def _env_list(name: str, default: str | None = None) -> list[str]:
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


# name in the environment -> what it is
SECRET_KEY = _env("TM_SECRET_KEY")  # Django's signing key
TM_INTERNAL_SECRET = _env("TM_INTERNAL_SECRET")  # HMAC key for internal calls
TM_CLIENT_KEY_SECRET = _env("TM_CLIENT_KEY_SECRET")  # keys the client-address hash
ALLOWED_HOSTS = _env_list("TM_ALLOWED_HOSTS")  # e.g. tm.example.org
CSRF_TRUSTED_ORIGINS = _env_list("TM_CSRF_TRUSTED_ORIGINS")  # e.g. https://tm.example.org
TM_PUBLIC_URL = _env("TM_PUBLIC_URL")  # https://tm.example.org, for share links
TM_REFLEKTOR_URLS = _env_list("TM_REFLEKTOR_URLS", "http://127.0.0.1:8100")
TM_PUSH_URLS = _env_list("TM_PUSH_URLS")  # https://push.example.org (wss:// derived)
TM_EVENT_VIDEOS = csp.parse_pairs(os.environ.get("TM_EVENT_VIDEOS", ""))  # sotu=https://...
CONTENT_SECURITY_POLICY = csp.policy(TM_PUSH_URLS)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _env("TM_DB_NAME"),
        "USER": _env("TM_DB_USER"),
        "PASSWORD": _env("TM_DB_PASSWORD"),
        "HOST": _env("TM_DB_HOST"),
        "PORT": os.environ.get("TM_DB_PORT", "5432"),
        "CONN_MAX_AGE": 60,
    }
}
CACHES = {
    "default": {
        "BACKEND": "tm.memcache.MemcachedCache",
        "LOCATION": _env_list("TM_MEMCACHED"),  # host:port,host:port
        "KEY_PREFIX": "tm",
    }
}
EMAIL_HOST = _env("TM_EMAIL_HOST")
DEFAULT_FROM_EMAIL = _env("TM_DEFAULT_FROM_EMAIL")

SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
