"""Whose request is it: the client's address behind the proxies we trust.

Behind a reverse proxy or a load balancer every request comes from the proxy's address,
so a whole site would look like one client. The client's address is then taken from
`X-Forwarded-For`, but only when the request comes from a trusted proxy (addresses or
networks the operator lists), read right to left: each trusted proxy appends the
address it got the request from, so the first address from the right that is not a
trusted proxy is the client. Anything left of it is what the client wrote itself and
is not believed. tm (TM_TRUSTED_PROXIES) and ekg (--trusted-proxy) both use this.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 20  # of X-Forwarded-For read: a sane bound on a header anyone can write
IPV6_CLIENT_PREFIX = 64  # one home or school network: its hosts pick any address in it


@functools.cache
def networks(proxies: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    """The trusted proxies parsed; ValueError for an entry that is not one."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in proxies if item.strip())


def parse_networks(proxies: Iterable[str]) -> tuple[IpNetwork, ...]:
    return networks(tuple(proxies))


def _is_trusted(address: str, trusted: tuple[IpNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str, forwarded: str | None,
                   trusted: tuple[IpNetwork, ...]) -> str:
    """The client's address: `peer` unless it is a trusted proxy, else the last
    address in `forwarded` (X-Forwarded-For) that is not a trusted proxy."""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    address = peer
    for hop in reversed([hop.strip() for hop in (forwarded or "").split(",")][-MAX_HOPS:]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address: the chain is broken here; trust what came before
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address


def limit_key(address: str) -> str:
    """What limits count an address as: an IPv4 address itself, an IPv6 one by its /64
    (a network hands each host 2^64 addresses, and a host may take a new one at will)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:198.51.100.1 is 198.51.100.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)
