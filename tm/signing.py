"""Signatures on internal calls (tm -> reflektor -> ekg / sotu).

Header `X-TM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.method.path.body">`.
Pure Python: every service imports this one module, so both sides agree byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import time

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
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return "malformed signature"
    current = time.time() if now is None else now
    if abs(current - timestamp) > max_age:
        return "stale signature"
    if not hmac.compare_digest(given, _mac(secret, timestamp, method, path, body)):
        return "wrong signature"
    return None


# -- moderator tokens for push nodes ---------------------------------------------------
# tm hands a room's moderators a token; ekg checks it before sending them
# message.pending. Format: "<room>.<expiry unix seconds>.<hex HMAC>", the MAC over
# "moderator.<room>.<expiry>" so it can never be confused with a request signature.
MODERATOR_TOKEN_SECONDS = 12 * 3600


def moderator_token(secret: str, room: str, now: float | None = None,
                    ttl: int = MODERATOR_TOKEN_SECONDS) -> str:
    if not secret:
        raise ValueError("no internal secret configured")
    expiry = int(time.time() if now is None else now) + ttl
    mac = hmac.new(secret.encode(), f"moderator.{room}.{expiry}".encode(), hashlib.sha256)
    return f"{room}.{expiry}.{mac.hexdigest()}"


def check_moderator_token(secret: str, token: str | None, room: str,
                          now: float | None = None) -> bool:
    """True when `token` is a live moderator token for `room`."""
    if not secret or not token or token.count(".") < 2:
        return False
    token_room, expiry_text, given = token.rsplit(".", 2)
    if token_room != room or not expiry_text.isdigit():
        return False
    if int(expiry_text) < (time.time() if now is None else now):
        return False
    mac = hmac.new(secret.encode(), f"moderator.{room}.{expiry_text}".encode(), hashlib.sha256)
    return hmac.compare_digest(given, mac.hexdigest())
