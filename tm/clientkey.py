"""A client's rate-limit key: a keyed hash of its address with a salt that rotates.

An unsalted hash of an IPv4 address is reversed by hashing all 2^32 of them, so the
hash is keyed with TM_CLIENT_KEY_SECRET and a salt derived from it and today's date:
yesterday's keys cannot be joined to today's, and without the secret none can be
reversed. The address itself is never stored or logged.

Behind a reverse proxy every request comes from the proxy's address, so a whole site
would share one key: the client's address is read from `X-Forwarded-For` for requests
from the proxies in TM_TRUSTED_PROXIES, right to left (contract/addresses.py).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime

from django.conf import settings
from django.http import HttpRequest

from contract.addresses import IpNetwork, limit_key, parse_networks
from contract.addresses import client_address as address_behind_proxies


def _daily_salt(day: date) -> bytes:
    secret = settings.TM_CLIENT_KEY_SECRET.encode()
    return hmac.new(secret, f"salt:{day.isoformat()}".encode(), hashlib.sha256).digest()


def trusted_networks() -> tuple[IpNetwork, ...]:
    """TM_TRUSTED_PROXIES parsed (tm/apps.py checks them at start-up)."""
    return parse_networks(settings.TM_TRUSTED_PROXIES)


def client_address(request: HttpRequest) -> str:
    """The address the request came from: the peer's, or behind trusted proxies the
    last one that is not a trusted proxy in X-Forwarded-For (contract/addresses.py)."""
    peer = request.META.get("REMOTE_ADDR", "") or "unknown"
    return address_behind_proxies(peer, request.META.get("HTTP_X_FORWARDED_FOR"),
                                  trusted_networks())


def client_key(request: HttpRequest, day: date | None = None) -> str:
    day = day or datetime.now(UTC).date()
    counted = limit_key(client_address(request))  # an IPv6 client by its /64
    digest = hmac.new(_daily_salt(day), counted.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
