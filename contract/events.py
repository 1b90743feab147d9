"""The event envelope of ARCHITECTURE.md, defined once for tm, ekg_py and sotu.

Pure Python (no Django): the push nodes and the analytics collector import it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

VERSION = 1
MESSAGE_CREATED = "message.created"
MESSAGE_DELETED = "message.deleted"
MESSAGE_PENDING = "message.pending"  # moderators only
# Moderators only: students reported a post (how many so far; never who).
MESSAGE_REPORTED = "message.reported"
ROOM_UPDATED = "room.updated"
# What only the room's moderators receive; everyone else gets a `skip` in its place.
MODERATORS_ONLY = frozenset({MESSAGE_PENDING, MESSAGE_REPORTED})
PRESENCE = "presence"  # ekg's own, carries no seq
# ekg's own: stands in for a moderators-only event (seq only), so other clients see
# no gap in the room's numbering.
SKIP = "skip"

# type -> the keys its `data` must carry (extra keys are refused by `check`).
DATA_KEYS: dict[str, frozenset[str]] = {
    MESSAGE_CREATED: frozenset({"id", "nickname", "text", "html", "created"}),
    MESSAGE_PENDING: frozenset({"id", "nickname", "text", "html", "created", "held_for"}),
    MESSAGE_DELETED: frozenset({"id"}),
    MESSAGE_REPORTED: frozenset({"id", "reports"}),
    ROOM_UPDATED: frozenset({"topic", "state", "paused_until", "moderated", "expires_at",
                             "analytics", "event_scope"}),
}
# type -> data keys that may be missing: added since, an older tm does not send them
# (receivers read a missing one as false), so neither side has to deploy first.
OPTIONAL_DATA_KEYS: dict[str, frozenset[str]] = {
    MESSAGE_CREATED: frozenset({"by_teacher"}),  # posted by one of the room's teachers
    MESSAGE_PENDING: frozenset({"by_teacher"}),
    ROOM_UPDATED: frozenset({"spotlight"}),  # the post on the projector: an id or null
}


def _flag(value: object) -> bool:
    return isinstance(value, bool)


def _message_id_or_null(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool)
                             and 1 <= value <= MAX_SEQ)


# optional data key -> (its check, what the error says it must be)
OPTIONAL_VALUES: dict[str, tuple[Callable[[object], bool], str]] = {
    "by_teacher": (_flag, "true or false"),
    "spotlight": (_message_id_or_null, "a message id or null"),
}
ENVELOPE_KEYS = frozenset({"v", "type", "room", "seq", "ts", "data"})
MAX_SEQ = 2**63 - 1  # a room's seq is a 64-bit integer in tm's database


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, the one timestamp format on the wire."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


# What iso_utc writes, milliseconds and all: the `deleted_at` of a room deletion is
# checked against it. Exactly that form, since receivers compare these times as strings
# (with events' `ts` and tickets' incarnations), and "10:00:00Z" sorts after
# "10:00:00.500Z".
ISO_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def deletion_body(deleted_at: datetime) -> bytes:
    """The body of `DELETE /internal/rooms/<room>`: when tm deleted the room."""
    return json.dumps({"deleted_at": iso_utc(deleted_at)}).encode()


def deleted_at_of(body: bytes) -> str | None:
    """The `deleted_at` of a deletion body, or None when the body is not one."""
    try:
        value = json.loads(body).get("deleted_at")
    except (ValueError, RecursionError, AttributeError):  # not JSON, too deep, no object
        return None
    return value if isinstance(value, str) and ISO_UTC_RE.fullmatch(value) else None


def make(event_type: str, room: str, seq: int, data: dict[str, Any],
         ts: datetime) -> dict[str, Any]:
    envelope = {"v": VERSION, "type": event_type, "room": room, "seq": seq,
                "ts": iso_utc(ts), "data": data}
    check(envelope)
    return envelope


class InvalidEvent(ValueError):
    pass


def check(envelope: Any) -> None:
    """Raise InvalidEvent unless `envelope` is a well-formed event of a known type."""
    if not isinstance(envelope, dict) or set(envelope) != ENVELOPE_KEYS:
        raise InvalidEvent(f"envelope keys must be {sorted(ENVELOPE_KEYS)}")
    if envelope["v"] != VERSION:
        raise InvalidEvent(f"unknown version {envelope['v']!r}")
    event_type = envelope["type"]
    if event_type not in DATA_KEYS:
        raise InvalidEvent(f"unknown event type {event_type!r}")
    seq = envelope["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise InvalidEvent(f"seq must be an integer from 1 to {MAX_SEQ}")
    if not isinstance(envelope["room"], str) or not envelope["room"]:
        raise InvalidEvent("room must be a non-empty string")
    data = envelope["data"]
    required = DATA_KEYS[event_type]
    optional = OPTIONAL_DATA_KEYS.get(event_type, frozenset())
    if not isinstance(data, dict) or not required <= set(data) <= required | optional:
        raise InvalidEvent(f"{event_type} data keys must be {sorted(required)}"
                           + (f" and may be {sorted(optional)}" if optional else ""))
    for key in sorted(optional & set(data)):
        valid, what = OPTIONAL_VALUES[key]
        if not valid(data[key]):
            raise InvalidEvent(f"{key} must be {what}")
