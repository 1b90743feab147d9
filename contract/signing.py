"""Signatures on internal calls (tm -> reflektor -> ekg / sotu), and the follow tickets
that let browsers follow a room on a push node.

Header `X-TM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.method.path.body">`.
Pure Python: every service imports this one module, so both sides agree byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .events import iso_utc
from .names import is_room_name

HEADER = "X-TM-Signature"
MAX_AGE_SECONDS = 60


def _mac(secret: str, timestamp: int, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, body: bytes, now: float | None = None) -> str:
    """The header value for a request."""
    if not secret:
        raise ValueError("no internal secret configured")
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={_mac(secret, timestamp, method, path, body)}"


def verify(
    secret: str, header: str | None, method: str, path: str, body: bytes,
    now: float | None = None, max_age: int = MAX_AGE_SECONDS,
) -> str | None:
    """None when the signature is good, else the reason it is refused."""
    if not secret:
        return "receiver has no secret configured"
    if not header:
        return "missing signature"
    if len(header) > 200:
        return "malformed signature"
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    text, given = parts.get("t", ""), parts.get("v1", "")
    # Digits only, and few of them: "t=" and 400 digits must not overflow the float
    # arithmetic below (a 500 in every service that takes signed calls).
    if not (text.isascii() and text.isdigit() and len(text) <= 12) or not given.isascii():
        return "malformed signature"
    timestamp = int(text)
    current = time.time() if now is None else now
    if abs(current - timestamp) > max_age:
        return "stale signature"
    if not hmac.compare_digest(given, _mac(secret, timestamp, method, path, body)):
        return "wrong signature"
    return None


# -- follow tickets: who may follow a room on a push node ----------------------------------
# tm signs a ticket wherever it may show a room (page data, the join answer, POST
# /api/v1/rooms/<room>/ticket); a push node lets a browser follow the room only with one.
# Format: "ft1.<room>.<incarnation>.<role>.<expiry>.<hex HMAC>", every part plain ASCII
# (room names are a-z 0-9 -), the MAC over "follow." and the parts before it, so it can
# never be confused with a request signature.
# - incarnation: when the room was created, in milliseconds since the epoch. A room
#   deleted and created again under its name is another room: a node refuses tickets
#   for an incarnation older than one it has seen or than the name's last deletion.
# - role: "student" (a participant), "viewer" (read-only: projector, share link,
#   embed before joining) or "moderator" (also gets the posts held for approval).
# - expiry: unix seconds. Checked when a stream opens, not while it stays open; a page
#   that reconnects after it asks tm for a fresh ticket first.
TICKET_PREFIX = "ft1"
TICKET_SECONDS = 10 * 60
ROLES = ("student", "viewer", "moderator")
MAX_TICKET_LENGTH = 200  # a real one is under 130 characters
_DIGITS = 16  # incarnation and expiry: at most this many digits (no huge ints to parse)


@dataclass(frozen=True)
class Ticket:
    room: str
    incarnation_ms: int
    role: str
    expires: int

    @property
    def moderator(self) -> bool:
        return self.role == "moderator"

    @property
    def incarnation(self) -> str:
        """The incarnation as tm writes timestamps (ISO 8601 UTC, milliseconds), so it
        compares with events' `ts` and deletions' `deleted_at` as strings do."""
        return iso_utc(datetime(1970, 1, 1, tzinfo=UTC)
                       + timedelta(milliseconds=self.incarnation_ms))


def incarnation_ms(created_at: datetime) -> int:
    """A room's incarnation: its creation time in whole milliseconds since the epoch."""
    return (created_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _ticket_mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), f"follow.{body}".encode(), hashlib.sha256).hexdigest()


def follow_ticket(secret: str, room: str, incarnation: int, role: str,
                  now: float | None = None, ttl: int = TICKET_SECONDS) -> str:
    """A ticket to follow `room` (its incarnation `incarnation`, incarnation_ms) as `role`."""
    if not secret:
        raise ValueError("no internal secret configured")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if not is_room_name(room):  # so a ticket's parts never hold a "."
        raise ValueError(f"not a room name: {room!r}")
    expiry = int(time.time() if now is None else now) + ttl
    body = f"{TICKET_PREFIX}.{room}.{int(incarnation)}.{role}.{expiry}"
    return f"{body}.{_ticket_mac(secret, body)}"


def check_follow_ticket(secret: str, ticket: str | None, room: str,
                        now: float | None = None) -> tuple[Ticket | None, str]:
    """(the ticket, "") when `ticket` is a live ticket for `room`, else (None, why not)."""
    if not secret:
        return None, "this node has no secret configured"
    if not ticket:
        return None, "missing ticket"
    if len(ticket) > MAX_TICKET_LENGTH or not ticket.isascii():
        return None, "malformed ticket"
    parts = ticket.split(".")
    if len(parts) != 6 or parts[0] != TICKET_PREFIX:
        return None, "malformed ticket"
    _, ticket_room, incarnation, role, expiry, given = parts
    if (not incarnation.isdigit() or not expiry.isdigit() or len(incarnation) > _DIGITS
            or len(expiry) > _DIGITS or role not in ROLES):
        return None, "malformed ticket"
    body = ticket[: -len(given) - 1]
    if not hmac.compare_digest(given, _ticket_mac(secret, body)):
        return None, "forged ticket"
    if ticket_room != room:
        return None, "ticket for another room"
    if int(expiry) < (time.time() if now is None else now):
        return None, "expired ticket: ask tm for a new one"
    return Ticket(ticket_room, int(incarnation), role, int(expiry)), ""
