"""A client's rate-limit key: a keyed hash of its address with a salt that rotates.

An unsalted hash of an IPv4 address is reversed by hashing all 2^32 of them, so the
hash is keyed with TM_CLIENT_KEY_SECRET and a salt derived from it and today's date:
yesterday's keys cannot be joined to today's, and without the secret none can be
reversed. The address itself is never stored or logged.

Behind a reverse proxy every request comes from the proxy's address, so a whole site
would share one key. The client's address is then taken from `X-Forwarded-For`, but
only when the request comes from a proxy listed in TM_TRUSTED_PROXIES (addresses or
networks), and read right to left: each trusted proxy appends the address it got the
request from, so the first address from the right that is not a trusted proxy is the
client. Anything to its left is what the client wrote itself and is not believed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from datetime import UTC, date, datetime

from django.conf import settings
from django.http import HttpRequest


def _daily_salt(day: date) -> bytes:
    secret = settings.TM_CLIENT_KEY_SECRET.encode()
    return hmac.new(secret, f"salt:{day.isoformat()}".encode(), hashlib.sha256).digest()


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(proxies: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in proxies if item.strip())


def trusted_networks() -> tuple[IpNetwork, ...]:
    """TM_TRUSTED_PROXIES parsed (settings checks the entries at start-up)."""
    return _networks(tuple(settings.TM_TRUSTED_PROXIES))


def _is_trusted(address: str, networks: tuple[IpNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The address the request came from: the peer's, or behind trusted proxies the
    last one that is not a trusted proxy in X-Forwarded-For (module docstring)."""
    peer = request.META.get("REMOTE_ADDR", "") or "unknown"
    networks = trusted_networks()
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",")][-20:]  # a sane bound
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address: the chain is broken here; trust what came before
        address = hop
        if not _is_trusted(hop, networks):
            break
    return address


def client_key(request: HttpRequest, day: date | None = None) -> str:
    day = day or datetime.now(UTC).date()
    digest = hmac.new(_daily_salt(day), client_address(request).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
