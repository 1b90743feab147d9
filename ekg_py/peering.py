"""Sends this node's presence counts to its peers (`--peer`); peers.py has the protocol.

Once per presence interval: a peer that needs a full report (the first, one after a
failed send, one it asked for, every FULL_EVERY intervals) gets one; the others get the
rooms whose counts changed, when any did. On shutdown, once the node's clients are
gone, every peer gets an empty full report, so its counts drop at once rather than when
their ttl runs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import aiohttp

from contract import signing

from .peers import FULL_EVERY, TTL_FULL_REPORTS, Report
from .rooms import Registry

log = logging.getLogger("ekg.peering")

PATH = "/internal/presence"
SEND_TIMEOUT = 2.0  # seconds; a peer slower than this is treated as down


class PresenceReporter:
    def __init__(self, registry: Registry, peers: list[str], *, secret: str, node_id: str,
                 instance: str, interval: float):
        self.registry = registry
        self.secret = secret
        self.node_id = node_id
        self.instance = instance
        self.interval = interval
        self.ttl = interval * FULL_EVERY * TTL_FULL_REPORTS
        # peer base URL -> whether its next report must be a full one
        self.needs_full = {url.rstrip("/"): True for url in peers}
        self._failing: set[str] = set()
        self._duplicate: set[str] = set()  # peers that answered 409: our id is theirs
        self._n = 0  # the last report's number: microseconds since the epoch, or above
        self._rounds = 0
        self._stopped = False
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        try:
            while not self._stopped:
                await asyncio.sleep(self.interval)
                if not self._stopped:
                    await self.report()
        finally:
            await self._close()

    async def report(self, *, final: bool = False) -> None:
        """One round of reports (see the module docstring)."""
        self._rounds += 1
        full_due = final or self._rounds % FULL_EVERY == 0
        changes = self.registry.take_presence_changes()
        full_to = [peer for peer, needs_full in self.needs_full.items()
                   if full_due or needs_full]
        counts = self.registry.presence_counts() if full_to and not final else {}
        sends = [self._send(peer, full=True, rooms=counts) for peer in full_to]
        if changes:
            sends += [self._send(peer, full=False, rooms=changes)
                      for peer in self.needs_full if peer not in full_to]
        if sends:
            await asyncio.gather(*sends)

    async def final_report(self) -> None:
        """On shutdown, once the clients are gone: an empty full report to every peer,
        and no more reports after it."""
        self._stopped = True
        await self.report(final=True)
        await self._close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT))
        return self._session

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _send(self, peer: str, *, full: bool, rooms: dict[str, int]) -> None:
        # From the clock, so that a node restarted under the same id (a crash, then the
        # same host and port) goes on above its last report, and its first full report
        # replaces what it had reported before instead of adding to it.
        self._n = max(self._n + 1, time.time_ns() // 1000)
        report = Report(self.node_id, self._n, full, self.ttl, rooms, self.instance)
        body = json.dumps(report.body(), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   signing.HEADER: signing.sign(self.secret, "POST", PATH, body)}
        try:
            async with self._client().post(peer + PATH, data=body,
                                           headers=headers) as response:
                answer = await response.json(content_type=None)
                if response.status == 409 and peer not in self._duplicate:
                    self._duplicate.add(peer)
                    log.error("peer %s has this node's id %r: give each node its own "
                              "--node-id", peer, self.node_id)
                if response.status != 202 or not isinstance(answer, dict):
                    raise ValueError(f"{response.status} {answer}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            self.needs_full[peer] = True  # it may have missed changes: tell it all next
            if peer not in self._failing:
                self._failing.add(peer)
                log.warning("presence report to peer %s failed: %s", peer, error)
            return
        if peer in self._failing:
            self._failing.discard(peer)
            log.info("presence reports to peer %s go through again", peer)
        if answer.get("self"):
            log.info("peer %s is this node; not reporting to it", peer)
            del self.needs_full[peer]
            return
        self.needs_full[peer] = bool(answer.get("full_wanted"))
