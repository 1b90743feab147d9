"""What a push node sends: one message, encoded to JSON once per node and shared by every
queue it goes to. Which message stands in for a moderators-only event, and for a
deleted post's, is decided here; how the bytes go on the wire (WebSocket frames, SSE) is
the shell's (wire.py), which keeps what it builds in the message's `wire` cache.
"""

from __future__ import annotations

import json
from typing import Any

from contract import events


def encode_json(message: dict[str, Any]) -> str:
    # Compact and without newlines, so it is also one valid SSE `data:` line.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class Encoded:
    """One outgoing message, encoded once and shared by every queue it goes to."""

    __slots__ = ("seq", "ts", "data", "moderators_only", "public", "shows", "deletes",
                 "room", "wire")

    def __init__(self, message: dict[str, Any]):
        seq = message.get("seq")
        self.seq: int | None = seq if isinstance(seq, int) else None
        ts = message.get("ts")
        self.ts: str = ts if isinstance(ts, str) else ""  # ISO 8601 UTC: sorts as text
        self.room = message.get("room")
        # The message this event shows (created, pending) or removes (deleted), by id.
        kind = message.get("type")
        data = message.get("data")
        message_id = data.get("id") if isinstance(data, dict) else None
        self.shows = message_id if kind in (events.MESSAGE_CREATED,
                                            events.MESSAGE_PENDING) else None
        self.deletes = message_id if kind == events.MESSAGE_DELETED else None
        self.moderators_only = kind in events.MODERATORS_ONLY
        self.data = encode_json(message).encode("utf-8")  # what every wire format carries
        # The shell's encoders keep each wire form here the first time a connection
        # needs it (wire.py): every connection then writes the same bytes.
        self.wire: dict[int, bytes] = {}
        # What everyone else gets instead of a moderators-only event: a `skip` that
        # carries only its seq, so their seq count stays unbroken (no false gap, no
        # history read per held post). Encoded once, like the event itself.
        self.public: Encoded | None = None
        if self.moderators_only and self.seq is not None:
            self.public = Encoded({"type": events.SKIP, "room": self.room, "seq": self.seq})

    def redacted(self) -> Encoded:
        """A `skip` in this event's place: its seq (and ts) without what it showed."""
        stand_in = Encoded({"type": events.SKIP, "room": self.room, "seq": self.seq})
        stand_in.ts = self.ts
        return stand_in

    def for_connection(self, moderator: bool) -> Encoded | None:
        if self.moderators_only and not moderator:
            return self.public
        return self

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")
