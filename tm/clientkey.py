"""A client's rate-limit key: a keyed hash of its address with a salt that rotates.

An unsalted hash of an IPv4 address is reversed by hashing all 2^32 of them, so the
hash is keyed with TM_CLIENT_KEY_SECRET and a salt derived from it and today's date:
yesterday's keys cannot be joined to today's, and without the secret none can be
reversed. The address itself is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime

from django.conf import settings
from django.http import HttpRequest


def _daily_salt(day: date) -> bytes:
    secret = settings.TM_CLIENT_KEY_SECRET.encode()
    return hmac.new(secret, f"salt:{day.isoformat()}".encode(), hashlib.sha256).digest()


def client_address(request: HttpRequest) -> str:
    # Behind a proxy, configure it to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def client_key(request: HttpRequest, day: date | None = None) -> str:
    day = day or datetime.now(UTC).date()
    digest = hmac.new(_daily_salt(day), client_address(request).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
